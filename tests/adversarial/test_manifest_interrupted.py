"""A stage whose process was killed (``kill -KILL``) reads "interrupted", not "running" forever."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import genrelens
from genrelens.report import build_context
from genrelens.run import RunDir, stage_status

_SLOW_STAGE = textwrap.dedent("""
    import sys, time
    from genrelens.run import RunDir
    RunDir(sys.argv[1]).run_stage("train", lambda: time.sleep(60), params={"epochs": 1})
""")


def _wait_for_running(manifest: Path, proc: subprocess.Popen, *, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if manifest.is_file():
            record = json.loads(manifest.read_text(encoding="utf-8"))["stages"].get("train")
            if record and record["status"] == "running":
                return record
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    pytest.fail("the stage never recorded itself as running")


def test_a_killed_stage_reads_interrupted_and_resumes(tmp_path):
    root = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(genrelens.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_STAGE, str(root)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        record = _wait_for_running(root / "manifest.json", proc)
        assert record["pid"] == proc.pid and record["host"] == socket.gethostname()
        assert RunDir(root).status("train") == "running"  # alive: really running
    finally:
        proc.kill()
        proc.wait()

    run = RunDir(root)
    assert run.stage("train")["status"] == "running"  # the file cannot know
    assert run.status("train") == "interrupted"
    assert run.status("never-ran") is None
    outcome = run.run_stage("train", lambda: {"epochs": 1}, params={"epochs": 1})
    assert outcome.status == "done" and run.status("train") == "done"


def test_a_stage_of_a_live_or_unknown_process_stays_running(tmp_path):
    run = RunDir(tmp_path / "run")
    seen = []
    run.run_stage("train", lambda: seen.append(run.status("train")), params={})
    assert seen == ["running"]  # this process is alive
    other_host = {"status": "running", "pid": 999_999_999, "host": "elsewhere.invalid"}
    assert stage_status(other_host) == "running"  # nothing tells on another host
    assert stage_status({"status": "running"}) == "running"  # manifests without a PID
    assert stage_status({"status": "failed", "pid": 999_999_999,
                         "host": socket.gethostname()}) == "failed"


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux's /proc")
def test_a_reused_pid_does_not_keep_a_killed_stage_running(tmp_path):
    run = RunDir(tmp_path / "run")
    recorded = []
    run.run_stage("train", lambda: recorded.append(dict(run.stage("train"))), params={})
    (record,) = recorded
    assert record["pid"] == os.getpid() and record["process"]  # when this process started
    assert stage_status(record) == "running"
    reused = {**record, "process": "another-boot:12345"}  # same PID, another process
    assert stage_status(reused) == "interrupted"


def test_report_shows_the_killed_stage_as_interrupted(tmp_path):
    root = tmp_path / "run"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    run = RunDir(root)
    run.manifest["stages"]["train"] = {"status": "running", "pid": int(gone.stdout),
                                       "host": socket.gethostname(), "params": {}}
    run.save()

    stage = build_context(root)["manifest"]["stages"][0]

    assert stage["status"] == "interrupted"
    assert f"PID {int(gone.stdout)}" in stage["error"] and "run the same command" in stage["error"]
