"""Issue 13, item 13: worker processes die with their parent, even after ``kill -KILL``.

``explain-dataset --executor local`` (spawned workers) and ``prepare`` / ``data check``
(forked workers) run their tasks on :func:`genrelens._parallel.process_pool`; a parent killed
with SIGKILL must not leave workers computing and writing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PARENT = textwrap.dedent("""
    import os, signal, sys, time
    from genrelens._parallel import process_pool
    pool = process_pool(2, method=sys.argv[1])
    futures = [pool.submit(time.sleep, 120) for _ in range(2)]
    while len(pool._processes) < 2 or not all(f.running() for f in futures):
        time.sleep(0.05)
    print(" ".join(str(pid) for pid in pool._processes), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_workers_die_when_their_parent_is_killed(method):
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, method], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert parent.returncode == -9, parent.stderr
    workers = [int(pid) for pid in parent.stdout.split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not any(_alive(pid) for pid in workers)
    finally:
        for pid in workers:  # the old behaviour: orphans sleeping for two minutes
            if _alive(pid):
                os.kill(pid, 9)


def test_explain_dataset_local_executor_uses_the_pool_whose_workers_die(monkeypatch):
    from genrelens.explain import batch

    made = []
    monkeypatch.setattr(batch, "process_pool", lambda workers, *, method: made.append(
        (workers, method)) or _Pool())
    with batch._submitter("local", workers=3, scheduler=None) as (submit, _):
        assert submit("task") == "submitted"
    assert made == [(3, "spawn")]


class _Pool:
    def submit(self, func, task):
        return "submitted"

    def shutdown(self, **kwargs):
        pass
