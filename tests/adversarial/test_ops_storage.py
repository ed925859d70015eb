"""Issue 13, items 9 and 15: full disks, read-only folders and file permissions.

A write that fails for lack of space or permission gives one clear error naming the path
(and, for a full disk, the space needed and free), not a traceback of OSError, h5py or torch;
commands check their output folders before computing. Files follow the umask.

The disk tests mount a small tmpfs in a private mount namespace (``unshare -m``) and are
skipped where that is not allowed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from genrelens._io import atomic_path, check_writable, umask, write_text
from genrelens.errors import StorageError


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        assert umask() == mask
        path = write_text(tmp_path / "a.json", "{}")
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == mode


def test_read_errors_of_inputs_are_not_called_storage_errors(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "out.txt"):
        (tmp_path / "missing-input.txt").read_text()


#: Run in the namespace with the folder holding ``ro/`` (a read-only tmpfs), ``full/`` (a
#: full one) and ``small/`` (an empty one of 64 KiB); prints one JSON object of results.
SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys
    from pathlib import Path
    from genrelens._io import write_text
    from genrelens.cli import main
    from genrelens.config import FeatureConfig
    from genrelens.errors import StorageError
    from genrelens.models import get_model, save_checkpoint

    here = Path(sys.argv[1])

    def run(argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            return [main(argv), err.getvalue()]

    def commands(disk):
        return {
            "train": ["train", "--data", f"{here}/data", "--out", f"{disk}/run"],
            "evaluate": ["evaluate", f"{disk}/run"],
            "explain": ["explain", f"{here}/run", f"{here}/a.wav", "--out", f"{disk}/e"],
            "explain-dataset": ["explain-dataset", f"{here}/run", "--out", f"{disk}/e"],
            "global": ["global", f"{here}/run", "--out", f"{disk}/global"],
            "evaluate-xai": ["evaluate-xai", f"{here}/run", "--out", f"{disk}/xai"],
            "bench-xai": ["bench-xai", f"{here}/music", "--out", f"{disk}/bench"],
            "tabular": ["tabular", "train", "--features", f"{here}/f.csv", "--out", f"{disk}/t"],
            "demo": ["demo", "--data", f"{here}/data", "--out", f"{disk}/demo"],
            "report": ["report", f"{here}/run", "--out", f"{disk}/report.html"],
            "prepare": ["prepare", "--data", f"{here}/data", "--cache", f"{disk}/cache"],
            "data synth": ["data", "synth", "--out", f"{disk}/synth"],
            "data split": ["data", "split", f"{here}/data", "--out", f"{disk}/split.json"],
            "data check": ["data", "check", f"{here}/data", "--json", f"{disk}/check.json"],
        }

    out = {name: {c: run(argv) for c, argv in commands(here / name).items()}
           for name in ("ro", "full")}
    small = here / "small"
    for name, write in {
        "text": lambda: write_text(small / "big.txt", "x" * 100_000),
        "torch": lambda: save_checkpoint(
            small / "checkpoint.pt", model=get_model("cnn", n_classes=2), model_name="cnn",
            model_args={"n_classes": 2}, feature_config=FeatureConfig(), class_names=["a", "b"]),
    }.items():
        try:
            write()
            out[name] = "written"
        except StorageError as exc:
            out[name] = str(exc)
    out["prepare"] = run(["prepare", "--data", f"{here}/data", "--cache", f"{small}/cache",
                          "--jobs", "1", "--no-progress"])  # h5py, through the feature cache
    out["left"] = sorted(p.name for p in small.rglob("*.tmp"))
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, make_wav) -> tuple:
    """Run :data:`SCRIPT` in a private mount namespace; return (its folder, its results)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    here = tmp_path_factory.mktemp("disks")
    make_wav(here / "data" / "a" / "a.wav", seconds=3.2)
    make_wav(here / "data" / "b" / "b.wav", seconds=3.2, freq=220)
    for name in ("ro", "full", "small"):
        (here / name).mkdir()
    shell = (f"for d in ro full small; do mount -t tmpfs -o size=64k tmpfs {here}/$d || exit 97;"
             f" done; dd if=/dev/zero of={here}/full/filler bs=4k 2>/dev/null;"
             f' mount -o remount,ro {here}/ro && exec "{sys.executable}" -c "$0" "{here}"')
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", shell, SCRIPT], capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    if done.returncode == 97 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return here, json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("disk,cause", [
    ("ro", "read-only file system"),
    ("full", "no space left on its file system"),
])
def test_commands_check_their_outputs_before_any_work(outcomes, disk, cause):
    here, results = outcomes
    assert len(results[disk]) == 14
    for name, (status, err) in results[disk].items():
        assert status == 3, (name, err)
        assert f"cannot write {here / disk}" in err and cause in err, (name, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (name, err)


def test_full_disk_names_the_path_and_the_space_needed(outcomes):
    here, results = outcomes
    small = here / "small"
    assert results["text"].startswith(f"cannot write {small / 'big.txt'}: no space left")
    assert "it needs more than " in results["text"] and " free)" in results["text"]
    assert results["torch"].startswith(f"cannot write {small / 'checkpoint.pt'}: no space left")
    status, err = results["prepare"]
    assert status == 3 and "Traceback" not in err
    assert f"cannot write {small / 'cache'}" in err and "no space left" in err
    assert results["left"] == []  # no temporary file stays behind


def test_check_writable_does_not_create_the_folder(tmp_path):
    assert check_writable(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()
    with pytest.raises(StorageError, match="cannot write"):
        check_writable("/proc/genrelens-test")


def test_explain_dataset_stops_at_a_full_disk_instead_of_failing_every_track(
        tmp_path, monkeypatch):
    import errno
    import types

    import numpy as np

    from genrelens.explain import batch

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", no_space)
    task = types.SimpleNamespace(out=str(tmp_path / "explanations"), track_id="blues.00001")
    segment = types.SimpleNamespace(scores=np.zeros((2, 3)), prediction=np.array([0.3, 0.7]))
    results = {("shap", "tf"): types.SimpleNamespace(
        prediction=segment.prediction, segments=[segment], segment_index=np.arange(1),
        mean_scores=segment.scores)}
    with pytest.raises(StorageError, match=r"cannot write .*blues\.00001: no space left"):
        batch._write_track_result(task, None, results, seconds=1.0)
    assert list((tmp_path / "explanations").iterdir()) == []  # no temporary folder left

    calls = []

    def full_disk(task):
        calls.append(task)
        raise StorageError("cannot write OUT/t: no space left on its file system")

    monkeypatch.setattr(batch, "explain_track_task", full_disk)
    tasks = [types.SimpleNamespace(track_id=f"t{i}") for i in (1, 2)]
    with pytest.raises(StorageError):
        batch._execute(tasks, executor="serial", workers=1, scheduler=None, retries=2,
                       progress=False)
    assert calls == tasks  # run once each (the serial executor runs all as submitted), no retry


def test_an_output_folder_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    from genrelens.cli import main

    (tmp_path / "file").write_text("x")
    assert main(["global", str(tmp_path / "run"), "--out", str(tmp_path / "file" / "g")]) == 3
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'file' / 'g'}: a file is in the way" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()
