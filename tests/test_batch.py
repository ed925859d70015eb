"""Tests of genrelens.explain.batch: dataset explanations, serial == local processes == Dask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genrelens.errors import ParameterError
from genrelens.explain import batch
from genrelens.explain.batch import explain_dataset, load_track_result, track_seed

SETTINGS = dict(methods=("lime", "kernel_shap"), kinds=("time",), n_samples=24, batch_size=8,
                progress=False)
IDS = ("a/t0", "a/t1", "b/t0", "b/t1")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, make_wav) -> Path:
    """A run directory: random-weight CNN checkpoint, split.json (all tracks in test) and
    train_config.json naming a class-per-folder dataset of four 3.2-s tones."""
    import torch

    from genrelens.config import FeatureConfig
    from genrelens.data import Split
    from genrelens.models import get_model, save_checkpoint

    root = tmp_path_factory.mktemp("batch")
    data = root / "data"
    for n, track_id in enumerate(IDS):
        make_wav(data / f"{track_id}.wav", seconds=3.2, freq=220.0 * (n + 1), noise=0.05, seed=n)
    run = root / "run"
    torch.manual_seed(0)
    save_checkpoint(run / "checkpoint.pt", model=get_model("cnn", n_classes=2).eval(),
                    model_name="cnn", model_args={"n_classes": 2},
                    feature_config=FeatureConfig(), class_names=("a", "b"))
    Split(name="all-test", train=(), valid=(), test=IDS).save(run / "split.json")
    (run / "train_config.json").write_text(json.dumps({"data": str(data)}), encoding="utf-8")
    return run


def _arrays(out: Path, ids=IDS) -> dict:
    return {t: load_track_result(out, t)[1] for t in ids}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for t in a:
        assert a[t].keys() == b[t].keys()
        for key in a[t]:
            for name in a[t][key]:
                np.testing.assert_array_equal(a[t][key][name], b[t][key][name], err_msg=name)


@pytest.fixture(scope="module")
def serial_out(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serial")
    report = explain_dataset(run_dir, executor="serial", out=out, **SETTINGS)
    assert report.computed == IDS and not report.failed and not report.skipped
    return out


def test_serial_writes_results(serial_out):
    record, arrays = load_track_result(serial_out, "a/t0")
    assert record["track_id"] == "a/t0" and record["label"] == "a"
    assert record["seed"] == track_seed(0, "a/t0")
    assert set(arrays) == {("lime", "time"), ("kernel_shap", "time")}
    shap = arrays[("kernel_shap", "time")]
    n_seg, n_classes, m = shap["segment_scores"].shape
    assert (n_seg, n_classes) == (1, 2) and m == len(record["results"][0]["component_names"])
    # probabilities sum to 1; KernelSHAP efficiency (scores sum to f(x) - f(fill) per class)
    # makes the scores of all classes sum to 1 - 1 = 0
    np.testing.assert_allclose(shap["segment_predictions"].sum(axis=1), 1.0, rtol=1e-12)
    assert abs(shap["segment_scores"][0, 0].sum()) > 1e-3
    np.testing.assert_allclose(shap["segment_scores"].sum(axis=(1, 2)), 0.0, atol=1e-12)
    np.testing.assert_array_equal(shap["mean_scores"], shap["segment_scores"][0])
    index = json.loads((serial_out / "index.json").read_text())
    assert index["n_tracks"] == 4 and index["failed"] == []
    assert index["settings"]["n_samples"] == 24
    assert index["format"] == batch.INDEX_FORMAT and index["written_by"] == "explain-dataset"
    assert index["tracks"][0] == {"track_id": "a/t0", "label": "a", "folder": "a_t0"}
    assert [t["track_id"] for t in index["tracks"]] == list(IDS)
    assert all((serial_out / t["folder"] / "result.json").is_file() for t in index["tracks"])
    # no temporary folder left behind
    assert not [p for p in serial_out.iterdir() if p.name.startswith(".")]


def test_dask_local_cluster_equals_serial(run_dir, serial_out, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        report = explain_dataset(run_dir, executor="dask", scheduler=cluster.scheduler_address,
                                 out=tmp_path, **SETTINGS)
    assert report.computed == IDS and not report.failed
    _assert_same(_arrays(serial_out), _arrays(tmp_path))


@pytest.mark.slow  # spawning two processes that import torch: ~20 s on 2 busy cores
def test_local_processes_equal_serial(run_dir, serial_out, tmp_path):
    report = explain_dataset(run_dir, executor="local", workers=2, out=tmp_path, **SETTINGS)
    assert report.executor == "local" and report.workers == 2 and report.computed == IDS
    _assert_same(_arrays(serial_out), _arrays(tmp_path))


@pytest.mark.slow  # a LocalCluster of two worker processes made by explain_dataset itself
def test_dask_own_cluster_equals_serial(run_dir, serial_out, tmp_path):
    pytest.importorskip("distributed")
    report = explain_dataset(run_dir, executor="dask", workers=2, out=tmp_path, **SETTINGS)
    assert report.executor == "dask" and report.computed == IDS
    _assert_same(_arrays(serial_out), _arrays(tmp_path))


def test_subset_has_same_results_as_full_run(run_dir, serial_out, tmp_path):
    # a track's result does not depend on which other tracks run, nor in which order
    explain_dataset(run_dir, executor="serial", out=tmp_path, track_ids=["b/t1"], **SETTINGS)
    _assert_same(_arrays(serial_out, ["b/t1"]), _arrays(tmp_path, ["b/t1"]))


def test_resume_skips_finished_tracks(run_dir, serial_out, tmp_path):
    first = explain_dataset(run_dir, executor="serial", out=tmp_path, track_ids=IDS[:2],
                            **SETTINGS)
    assert first.computed == IDS[:2]
    stamp = (tmp_path / "a_t0" / "result.json").stat().st_mtime_ns
    second = explain_dataset(run_dir, executor="serial", out=tmp_path, **SETTINGS)
    assert second.skipped == IDS[:2] and second.computed == IDS[2:]
    assert (tmp_path / "a_t0" / "result.json").stat().st_mtime_ns == stamp
    _assert_same(_arrays(serial_out), _arrays(tmp_path))
    # other settings: refused, then recomputed with overwrite=True
    other = {**SETTINGS, "n_samples": 30}
    with pytest.raises(ParameterError, match="other settings"):
        explain_dataset(run_dir, executor="serial", out=tmp_path, **other)
    redo = explain_dataset(run_dir, executor="serial", out=tmp_path, overwrite=True,
                           track_ids=["a/t0"], **other)
    assert redo.computed == ("a/t0",)
    assert load_track_result(tmp_path, "a/t0")[0]["settings_key"] != json.loads(
        (tmp_path / "a_t1" / "result.json").read_text())["settings_key"]


@pytest.fixture()
def run_with_bad_file(run_dir, tmp_path) -> Path:
    """A copy of the dataset with one undecodable file added (and the run pointing at it)."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(json.loads((run_dir / "train_config.json").read_text())["data"], data)
    (data / "b" / "broken.wav").write_bytes(b"RIFF\x00\x00garbage" * 50)
    return data


def test_bad_audio_is_reported_and_others_finish(run_dir, run_with_bad_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        report = explain_dataset(run_dir, data=run_with_bad_file, split="all", executor="dask",
                                 scheduler=cluster.scheduler_address, out=out, retries=1,
                                 **SETTINGS)
    assert report.computed == IDS
    assert [f.track_id for f in report.failed] == ["b/broken"]
    failure = report.failed[0]
    assert failure.reason == "undecodable" and failure.attempts == 1  # data errors: no retry
    assert "broken.wav" in failure.message
    index = json.loads((out / "index.json").read_text())
    assert index["failed"][0]["track_id"] == "b/broken"
    assert not (out / "b_broken").exists()
    # re-running retries only the failed track
    again = explain_dataset(run_dir, data=run_with_bad_file, split="all", executor="serial",
                            out=out, **SETTINGS)
    assert again.skipped == IDS and len(again.failed) == 1 and again.computed == ()


def test_crashing_task_is_retried(run_dir, tmp_path, monkeypatch):
    from genrelens.explain import track

    real = track.explain_track
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(track, "explain_track", flaky)
    report = explain_dataset(run_dir, executor="serial", out=tmp_path, track_ids=["a/t0"],
                             retries=1, **SETTINGS)
    assert report.computed == ("a/t0",) and not report.failed and calls["n"] == 2

    def broken(*args, **kwargs):
        raise RuntimeError("always fails")

    monkeypatch.setattr(track, "explain_track", broken)
    report = explain_dataset(run_dir, executor="serial", out=tmp_path / "2",
                             track_ids=["a/t1"], retries=2, **SETTINGS)
    assert report.computed == () and report.failed[0].attempts == 3
    assert report.failed[0].reason == "error: RuntimeError"
    assert report.failed[0].message == "always fails"


def test_track_seed():
    assert track_seed(0, "blues.00001") == track_seed(0, "blues.00001")
    seeds = {track_seed(s, t) for s in (0, 1) for t in ("blues.00001", "blues.00002", "x")}
    assert len(seeds) == 6 and all(0 <= s < 2**63 for s in seeds)
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(ParameterError, match="random_state"):
            track_seed(bad, "x")


def test_cli(run_dir, tmp_path, capsys):
    from genrelens.cli import main

    args = ["explain-dataset", str(run_dir), "--executor", "serial", "--methods", "shap",
            "--components", "time", "--samples", "24", "--tracks", "a/t0", "--out",
            str(tmp_path), "--no-progress"]
    assert main(args) == 0
    assert "1 explained" in capsys.readouterr().out
    assert main(args) == 0
    assert "1 already done" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"executor": "spark"}, "executor='spark'"),
        ({"split": "valid"}, "split='valid'"),
        ({"executor": "local", "scheduler": "tcp://x:1"}, "scheduler"),
        ({"retries": -1}, "retries=-1"),
        ({"workers": 0}, "workers=0"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"methods": ("magic",)}, "methods"),
        ({"kinds": ()}, "kinds"),
        ({"random_state": -3}, "random_state"),
        ({"track_ids": ["nope"]}, "track_ids"),
    ],
)
def test_errors(run_dir, tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        explain_dataset(run_dir, out=tmp_path, progress=False, **kwargs)


def test_missing_checkpoint_and_result(tmp_path):
    with pytest.raises(ParameterError, match="checkpoint.pt"):
        explain_dataset(tmp_path, progress=False)
    with pytest.raises(batch.GenrelensError, match="no finished explanation"):
        load_track_result(tmp_path, "a/t0")


def test_one_index_schema_for_every_writer(tmp_path):
    """The demo and explain-dataset write RUN/explanations/index.json through one writer."""
    path = batch.write_index(tmp_path, written_by="demo", tracks=[
        {"track_id": "jazz/x", "label": "jazz", "folder": "jazz_x", "segment": 4}])
    index = json.loads(path.read_text())
    assert index == {"format": batch.INDEX_FORMAT, "written_by": "demo", "tracks": [
        {"track_id": "jazz/x", "label": "jazz", "folder": "jazz_x", "segment": 4}]}
    with pytest.raises(ParameterError, match=r"lacks \['folder'\]"):
        batch.write_index(tmp_path, written_by="demo", tracks=[{"track_id": "a", "label": "b"}])
