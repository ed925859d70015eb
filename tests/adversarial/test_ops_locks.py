"""Issue 13, item 3: one writer per run directory and per cache entry.

A second writing command fails at once (exit status 3) with a message naming the folder and
the PID of the process that holds it, and writes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from genrelens.cli import main
from genrelens.lock import LockError, lock_holder, locked

HOLDER = textwrap.dedent("""
    import sys
    from genrelens.lock import locked
    with locked(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.read()
""")


@pytest.fixture
def other_process():
    """Start a process that holds ``locked(folder)`` until it is killed; returns its Popen."""
    started = []

    def hold(folder):
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        started.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in started:
        proc.kill()
        proc.wait()


def test_second_train_into_a_run_directory_is_refused_naming_the_holder(
        tmp_path, capsys, other_process):
    run = tmp_path / "run"
    holder = other_process(run)
    status = main(["train", "--data", str(tmp_path / "data"), "--out", str(run), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 3
    assert f"process {holder.pid} is writing to it" in err and str(run) in err
    assert list(run.iterdir()) == [] and not (tmp_path / "cache").exists()


def test_lock_is_released_when_its_holder_is_killed(tmp_path, other_process):
    holder = other_process(tmp_path / "run")
    assert lock_holder(tmp_path / "run") == holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with locked(tmp_path / "run") as folder:
        assert lock_holder(folder) == os.getpid()
    assert lock_holder(tmp_path / "run") is None


# Every writing command, with the folder it holds (RUN, OUT and DATA are placeholders).
COMMANDS = [
    (["train", "--data", "DATA", "--out", "RUN"], "RUN"),
    (["evaluate", "RUN"], "RUN"),
    (["explain", "RUN", "DATA", "--out", "OUT"], "OUT"),
    (["explain-dataset", "RUN"], "RUN/explanations"),
    (["global", "RUN"], "RUN/global"),
    (["evaluate-xai", "RUN", "--out", "OUT"], "OUT"),
    (["bench-xai", "DATA", "--out", "OUT"], "OUT"),
    (["tabular", "train", "--features", "DATA", "--out", "OUT"], "OUT"),
    (["demo", "--data", "DATA", "--out", "RUN"], "RUN"),
    (["data", "synth", "--out", "OUT", "--per-genre", "1", "--duration", "1", "--no-stems"],
     "OUT"),
]


@pytest.mark.parametrize("argv,held", COMMANDS, ids=[" ".join(a[:2]) for a, _ in COMMANDS])
def test_every_writing_command_takes_the_lock_of_its_output(tmp_path, capsys, argv, held):
    names = {"RUN": tmp_path / "run", "OUT": tmp_path / "out", "DATA": tmp_path / "data"}
    folder = names[held.split("/")[0]].joinpath(*held.split("/")[1:])
    with locked(folder):
        status = main([str(names.get(arg, arg)) for arg in argv])
        assert list(folder.iterdir()) == []
    err = capsys.readouterr().err
    assert status == 3
    assert f"output folder {folder} is in use: process {os.getpid()}" in err


def test_cache_entry_is_locked_while_prepared(tmp_path, make_wav):
    from genrelens.cache import config_dir, prepare
    from genrelens.config import FeatureConfig
    from genrelens.data import open_dataset

    for label in ("a", "b"):
        make_wav(tmp_path / "data" / label / f"{label}.wav", seconds=3.2)
    config = FeatureConfig(segment_seconds=3.0, segment_hop_seconds=3.0)
    entry = config_dir(tmp_path / "cache", config)
    with locked(entry):
        with pytest.raises(LockError, match=rf"feature cache entry .* process {os.getpid()} "):
            prepare(open_dataset(tmp_path / "data"), cache_dir=tmp_path / "cache",
                    config=config, progress=False)
        assert list(entry.iterdir()) == []
    report = prepare(open_dataset(tmp_path / "data"), cache_dir=tmp_path / "cache",
                     config=config, progress=False)
    assert report.n_segments == 2


def test_folder_that_cannot_be_locked_warns_and_runs_unlocked(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    with pytest.warns(RuntimeWarning, match=r"run .* cannot be locked \(No locks available\)"):
        with locked(tmp_path / "run", what="run") as folder:
            (folder / "written").touch()
    assert (tmp_path / "run" / "written").exists()
