"""Run directories: manifest, stage caching by inputs, failures recorded, nothing overwritten."""

from __future__ import annotations

import json

import pytest

from genrelens.config import FeatureConfig
from genrelens.run import MANIFEST_NAME, RunDir, RunDirError, package_versions, stage_key


def _writer(run: RunDir, name: str, text: str, calls: list[str]):
    def func():
        calls.append(name)
        run.path(name).write_text(text)
        return {"wrote": name}

    return func


def test_stage_runs_once_then_is_skipped(tmp_path):
    run, calls = RunDir(tmp_path / "run"), []
    first = run.run_stage("a", _writer(run, "a.txt", "1", calls), params={"x": 1},
                          outputs=["a.txt"])
    again = RunDir(tmp_path / "run").run_stage("a", _writer(run, "a.txt", "1", calls),
                                               params={"x": 1}, outputs=["a.txt"])
    assert (first.status, again.status) == ("done", "skipped")
    assert calls == ["a.txt"]
    assert again.summary == {"wrote": "a.txt"}
    record = json.loads((tmp_path / "run" / MANIFEST_NAME).read_text())["stages"]["a"]
    assert record["status"] == "done" and record["params"] == {"x": 1}
    assert record["seconds"] >= 0 and record["outputs"] == ["a.txt"]


def test_missing_output_or_changed_input_reruns(tmp_path):
    run, calls = RunDir(tmp_path / "run"), []
    source = tmp_path / "in.txt"
    source.write_text("v1")
    kwargs = dict(params={"x": 1}, inputs=[source], outputs=["a.txt"])
    run.run_stage("a", _writer(run, "a.txt", "1", calls), **kwargs)
    run.path("a.txt").unlink()
    run.run_stage("a", _writer(run, "a.txt", "1", calls), **kwargs)  # output gone: rerun
    assert calls == ["a.txt", "a.txt"]
    source.write_text("v2")
    with pytest.raises(RunDirError, match="other parameters or inputs"):
        run.run_stage("a", _writer(run, "a.txt", "2", calls), **kwargs)
    assert run.path("a.txt").read_text() == "1"  # nothing overwritten silently
    RunDir(tmp_path / "run", overwrite=True).run_stage("a", _writer(run, "a.txt", "2", calls),
                                                       **kwargs)
    assert run.path("a.txt").read_text() == "2"


def test_failed_stage_is_recorded_and_resumed(tmp_path):
    run, calls = RunDir(tmp_path / "run"), []
    run.run_stage("a", _writer(run, "a.txt", "1", calls), params={}, outputs=["a.txt"])

    def boom():
        raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"):
        run.run_stage("b", boom, params={}, outputs=["b.txt"])
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["stages"]["b"]["status"] == "failed"
    assert manifest["stages"]["b"]["error"] == "ValueError: disk full"
    assert manifest["stages"]["a"]["status"] == "done" and run.path("a.txt").read_text() == "1"
    resumed = RunDir(tmp_path / "run")
    assert resumed.run_stage("a", _writer(run, "a.txt", "1", calls), params={},
                             outputs=["a.txt"]).status == "skipped"
    assert resumed.run_stage("b", _writer(run, "b.txt", "2", calls), params={},
                             outputs=["b.txt"]).status == "done"
    assert calls == ["a.txt", "b.txt"]


def test_stage_that_writes_nothing_fails(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(RunDirError, match=r"without writing \['x.txt'\]"):
        run.run_stage("x", lambda: None, params={}, outputs=["x.txt"])
    assert run.stage("x")["status"] == "failed"


def test_stage_key_hashes_params_and_inputs(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x.wav").write_bytes(b"1")
    base = stage_key({"a": 1, "b": [1, 2]}, [f, d])
    assert base == stage_key({"b": [1, 2], "a": 1}, [d, f])  # order-free
    assert len(base) == 16
    assert stage_key({"a": 2, "b": [1, 2]}, [f, d]) != base
    assert stage_key({"config": FeatureConfig()}) == stage_key({"config": FeatureConfig().to_dict()})
    f.write_bytes(b"abd")
    assert stage_key({"a": 1, "b": [1, 2]}, [f, d]) != base
    changed = stage_key({"a": 1, "b": [1, 2]}, [f, d])
    (d / "sub" / "y.wav").write_bytes(b"2")
    assert stage_key({"a": 1, "b": [1, 2]}, [f, d]) != changed
    assert stage_key({}, [tmp_path / "absent"]) != stage_key({}, [f])


def test_manifest_records_entries_and_versions(tmp_path):
    run = RunDir(tmp_path)
    run.record(feature_config=FeatureConfig(n_mels=64), seeds={"train": 3})
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["feature_config"]["n_mels"] == 64
    assert manifest["seeds"] == {"train": 3}
    assert manifest["versions"]["torch"].startswith("2.13.0")
    assert set(package_versions()) >= {"python", "numpy", "torch", "genrelens"}
    with pytest.raises(RunDirError, match="stages"):
        run.record(stages={})


def test_corrupt_or_foreign_manifest_is_a_clear_error(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(RunDirError, match="cannot be read"):
        RunDir(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"something": 1}')
    with pytest.raises(RunDirError, match="not a genrelens manifest"):
        RunDir(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="not a folder"):
        RunDir(tmp_path / "file")


def test_interrupted_stage_is_recorded_as_failed(tmp_path):
    # SIGTERM reaches a stage as KeyboardInterrupt (genrelens.cli.entry): never left "running".
    run = RunDir(tmp_path / "run")

    def killed():
        raise KeyboardInterrupt("signal 15")

    with pytest.raises(KeyboardInterrupt):
        run.run_stage("b", killed, params={}, outputs=["b.txt"])
    record = json.loads(run.manifest_path.read_text())["stages"]["b"]
    assert record["status"] == "failed" and record["error"] == "KeyboardInterrupt: signal 15"
