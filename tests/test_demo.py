"""``genrelens demo`` and ``genrelens report`` from the command line."""

from __future__ import annotations

import json

import pytest
from report_fixtures import full_run, partial_run  # noqa: F401  (session fixture)

from genrelens.cli import main
from genrelens.demo import DemoSettings, run_demo


def test_report_command_prints_the_path(tmp_path, capsys, full_run):  # noqa: F811
    run = partial_run(full_run, tmp_path / "run", ["manifest.json", "split.json", "metrics.json"])
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out.strip()
    assert out.endswith("r.html") and (tmp_path / "r.html").stat().st_size > 10_000


def test_report_command_on_a_missing_run_is_one_clear_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "absent")]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("genrelens report: error:") and "does not exist" in err
    assert "\n" not in err


def test_demo_on_a_missing_data_folder_fails_clearly(tmp_path, capsys):
    assert main(["demo", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run")]) == 3
    assert "is not a folder" in capsys.readouterr().err


TINY = DemoSettings(n_per_genre=6, duration=6.0, epochs=1, patience=1, batch_size=16,
                    n_explain=1, n_samples=90, global_per_class=1, ale_per_class=1,
                    n_bootstrap=2, quality_per_class=1, quality_checks=1, quality_subsets=8,
                    quality_fills=("min", "mean"), bench_per_level=1, bench_per_file=3,
                    bench_epochs=1)


@pytest.mark.slow
def test_tiny_demo_end_to_end_then_cached(tmp_path, capsys, make_music_folder):
    out = tmp_path / "runs" / "demo"
    music = make_music_folder(tmp_path / "music", n_files=3, seconds=7)
    report = run_demo(out=out, settings=TINY, real_music=music, progress=False)
    assert report == out / "report.html" and report.stat().st_size > 50_000
    manifest = json.loads((out / "manifest.json").read_text())
    stages = manifest["stages"]
    assert all(s["status"] == "done" for s in stages.values()), stages
    for name in ("synthesize", "data", "prepare", "train", "evaluate", "explain", "global",
                 "quality", "real-music", "report"):
        assert name in stages and stages[name]["seconds"] > 0
    assert manifest["feature_config"]["n_mels"] == 128
    assert manifest["split"]["test"] >= 1 and manifest["versions"]["torch"].startswith("2.13.0")
    for path in ("dataset.json", "split.json", "checkpoint.pt", "history.csv", "metrics.json",
                 "explanations/index.json", "global/summary.json", "xai/summary.json",
                 "bench-xai/summary.json"):
        assert (out / path).is_file(), path
    text = report.read_text(encoding="utf-8")
    assert "Not computed" not in text
    capsys.readouterr()
    run_demo(out=out, settings=TINY, real_music=music, progress=False)  # all cached but report
    err = capsys.readouterr().err
    assert err.count("skipped (cached)") == len(stages) - 1
    with pytest.raises(Exception, match="other parameters"):
        run_demo(out=out, settings=DemoSettings(**{**TINY.to_dict(), "epochs": 2}),
                 real_music=music, progress=False)


def test_quality_stage_takes_its_seeds_from_the_settings(tmp_path, monkeypatch):
    """The demo's stability check compared a hard-coded 2 seeds; now ``quality_seeds``."""
    from genrelens import demo
    from genrelens.evaluate import xai
    from genrelens.run import RunDir

    seen = {}

    def fake_evaluate_xai(root, **kwargs):
        from genrelens.evaluate.quality import TABLES, QualityResult

        seen.update(kwargs)
        return QualityResult(params={"n_segments": 1, "kinds": ["time"]},
                             **{name: () for name in TABLES}, curves={}, findings={},
                             seconds=2.5)

    monkeypatch.setattr(xai, "evaluate_xai", fake_evaluate_xai)
    settings = DemoSettings(quality_seeds=5, quality_checks=3)
    out = demo._quality(RunDir(tmp_path), cache=tmp_path / "cache", settings=settings,
                        progress=False)
    assert out == {"n_segments": 1, "seconds": 2.5}  # the numbers of the result's summary
    assert seen["seeds"] == 5 and seen["n_check"] == 3
    assert DemoSettings().quality_seeds == 2  # the demo's measured default is unchanged


def test_train_stage_trains_with_the_chosen_logger_and_closes_it(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from genrelens import demo, loggers
    from genrelens.config import FeatureConfig
    from genrelens.data.splits import Split
    from genrelens.run import RunDir
    from genrelens.training import run as training_run

    made, seen = [], {}

    class Recording:
        def __init__(self, log_dir):
            self.log_dir, self.closed = log_dir, False
            made.append(self)

        def log_scalars(self, values, *, step): ...
        def log_figure(self, name, figure, *, step): ...

        def close(self):
            self.closed = True

    def fake_train_run(data, **kwargs):
        seen.update(kwargs)
        assert kwargs["logger"] is None or not kwargs["logger"].closed  # open while training
        return SimpleNamespace(fit=SimpleNamespace(best_epoch=1, epochs_run=2, seconds=0.5))

    monkeypatch.setitem(loggers.LOGGERS, "tensorboard", Recording)
    monkeypatch.setattr(training_run, "train_run", fake_train_run)
    run = RunDir(tmp_path / "run")
    Split(name="random", train=("a",), valid=("b",), test=("c",)).save(run.path("split.json"))
    out = demo._train(run, tmp_path, cache=tmp_path / "cache", settings=DemoSettings(),
                      config=FeatureConfig(), progress=False, logger="tensorboard")
    assert out == {"best_epoch": 1, "epochs_run": 2, "seconds": 0.5}
    (logger,) = made
    assert seen["logger"] is logger and logger.closed
    assert logger.log_dir == run.root / "tensorboard"
    demo._train(run, tmp_path, cache=tmp_path / "cache", settings=DemoSettings(),
                config=FeatureConfig(), progress=False)
    assert seen["logger"] is None and len(made) == 1  # the default: no logger
