"""``genrelens demo`` and ``genrelens report`` from the command line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

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
    # the first explained track is explained over its whole length (6 s: 2 segments) and the
    # report draws its timeline
    (entry,) = json.loads((out / "explanations" / "index.json").read_text())["tracks"]
    assert entry["segment"] == 0 and entry["n_segments"] == 2
    assert sorted(p.name for p in (out / "explanations" / entry["folder"] / "segments").iterdir()
                  ) == ["000", "001"]
    assert f'alt="timeline of {entry["track_id"]}"' in text
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
                      config=FeatureConfig(), model="cnn", progress=False,
                      logger="tensorboard")
    assert out == {"model": "cnn", "best_epoch": 1, "epochs_run": 2, "seconds": 0.5}
    (logger,) = made
    assert seen["logger"] is logger and logger.closed
    assert logger.log_dir == run.root / "tensorboard"
    demo._train(run, tmp_path, cache=tmp_path / "cache", settings=DemoSettings(),
                config=FeatureConfig(), model="cnn", progress=False)
    assert seen["logger"] is None and len(made) == 1  # the default: no logger


needs_wheel = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                 reason="musicnn wheel absent (pip install --no-deps "
                                 "musicnn==0.1.0)")


def _two_class_folder(root: Path) -> Path:
    """Steady tones vs noise bursts, 3 tracks of 3 s each at 16 kHz (one musicnn patch)."""
    import numpy as np
    import soundfile as sf

    sr = 16000
    t = np.arange(3 * sr) / sr
    for i in range(3):
        rng = np.random.default_rng(i)
        for label, y in (("tones", 0.3 * np.sin(2 * np.pi * (220 + 60 * i) * t)),
                         ("noise", 0.4 * (np.sin(2 * np.pi * (4 + i) * t) > 0.3)
                          * rng.standard_normal(t.size))):
            (root / label).mkdir(parents=True, exist_ok=True)
            sf.write(root / label / f"{label}{i}.wav", y.astype(np.float32), sr)
    return root


@needs_wheel
def test_demo_model_trains_a_frozen_backbone_and_the_report_names_it(tmp_path):
    """The smallest path through ``demo --model``: its train stage and the report."""
    from genrelens import demo
    from genrelens.config import preset
    from genrelens.data import Split
    from genrelens.models import get_model, load_checkpoint
    from genrelens.models.transfer import state_digest
    from genrelens.report import render_report
    from genrelens.run import RunDir

    data = _two_class_folder(tmp_path / "data")
    run = RunDir(tmp_path / "run")
    Split(name="fixed", train=("noise/noise0", "noise/noise1", "tones/tones0", "tones/tones1"),
          valid=("noise/noise2", "tones/tones2"), test=()).save(run.path("split.json"))
    summary = demo._train(run, data, cache=tmp_path / "cache", settings=TINY,
                          config=preset("musicnn"), model="MSD_musicnn", progress=False)
    assert summary["model"] == "MSD_musicnn" and summary["epochs_run"] == 1
    loaded = load_checkpoint(run.path("checkpoint.pt"))
    assert loaded.model_name == "transfer" and loaded.feature_config == preset("musicnn")
    digest = state_digest(get_model("MSD_musicnn"))
    assert loaded.extra["backbone"] == "MSD_musicnn" and loaded.extra["backbone_sha256"] == digest
    html = render_report(run.root).read_text(encoding="utf-8")
    model_table = html[html.index(">Model<"):html.index(">Training configuration<")]
    assert "MSD_musicnn (pretrained)" in model_table and digest in model_table
    assert "yes: only the head was trained" in model_table


def test_demo_model_sets_the_front_end_and_keeps_cnn_runs_cached(tmp_path, monkeypatch, capsys):
    from genrelens import demo
    from genrelens.config import FeatureConfig, preset
    from genrelens.errors import ParameterError
    from genrelens.run import RunDir

    def stages(model, config):
        return {name: params for name, _, params, *_ in demo._stages(
            RunDir(tmp_path / model), settings=TINY, config=config, cache=tmp_path / "cache",
            data_path=tmp_path / "data", model=model, synthetic=True, progress=False,
            real_music=tmp_path)}

    cnn = stages("cnn", FeatureConfig())
    assert "model" not in cnn["train"] and "model" not in cnn["real-music"]  # as before
    vgg = stages("MSD_vgg", preset("musicnn"))
    assert vgg["train"]["model"] == "MSD_vgg" and vgg["real-music"]["model"] == "MSD_vgg"
    assert vgg["train"]["config"]["sr"] == 16000 and vgg["data"]["config"]["n_mels"] == 96
    with pytest.raises(ParameterError, match="'musicnn' front end"):
        run_demo(out=tmp_path / "x", model="MSD_musicnn", feature_config=FeatureConfig())
    with pytest.raises(ParameterError, match="unknown"):
        run_demo(out=tmp_path / "y", model="resnet")
    seen = {}
    monkeypatch.setattr(demo, "run_demo", lambda **kw: seen.update(kw) or tmp_path / "r.html")
    assert main(["demo", "--model", "MSD_musicnn", "--out", str(tmp_path / "z"),
                 "--no-progress"]) == 0
    assert seen["model"] == "MSD_musicnn"
    capsys.readouterr()
