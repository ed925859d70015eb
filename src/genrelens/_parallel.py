"""One way to spread independent per-file work over worker processes, results in order.

Used by :func:`genrelens.cache.prepare` and :func:`genrelens.data.check.check_dataset`
(``--jobs``). Processes rather than threads: decoding, framing and HDF5 writes hold the GIL
often enough that 2 threads gave 1.35x one thread on 2 cores (``benchmarks/bench_features.py``).
Linux forks the workers (no re-import of torch); other systems spawn them, so ``func`` and the
items must be picklable (module-level functions, :func:`functools.partial` of them).

Workers die with the process that started them (:func:`process_pool`), even when it is killed
with ``kill -KILL``: no orphan keeps computing and writing into a folder nobody holds.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from genrelens.errors import ParameterError

__all__ = ["ordered_map", "check_jobs", "default_jobs", "process_pool", "single_threaded_torch"]

#: prctl(2) option: the signal a Linux process receives when its parent dies.
_PR_SET_PDEATHSIG = 1

_In = TypeVar("_In")
_Out = TypeVar("_Out")


def default_jobs() -> int:
    """Workers of batch commands by default: the CPUs this process may use, at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def check_jobs(jobs: object) -> int:
    """Return ``jobs`` if it is a positive integer, else raise :class:`ParameterError`."""
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ParameterError(f"jobs={jobs!r} is invalid: expected a positive integer.")
    return jobs


def ordered_map(
    func: Callable[[_In], _Out],
    items: Iterable[_In],
    *,
    jobs: int,
    initializer: Callable[[], None] | None = None,
) -> Iterator[_Out]:
    """Yield ``func(item)`` for each item, in the items' order.

    Parameters
    ----------
    func : callable
        Must not raise for a bad item: return a value describing the failure instead (an
        exception ends the whole map, as in the serial case).
    items : iterable
    jobs : int
        1 runs ``func`` in this process (``initializer`` is not called); more uses that many
        worker processes, each started with ``initializer``.
    initializer : callable, optional
        Run once at the start of each worker process.

    Yields
    ------
    The results, in order, as soon as each one and all before it are done. Closing the
    generator early (or Ctrl-C) cancels the items not yet started.
    """
    check_jobs(jobs)
    if jobs == 1:
        yield from map(func, items)
        return
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    pool = process_pool(jobs, method=method, initializer=initializer)
    try:
        futures = [pool.submit(func, item) for item in items]
        for future in futures:
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def process_pool(
    workers: int, *, method: str, initializer: Callable[[], None] | None = None
) -> concurrent.futures.ProcessPoolExecutor:
    """A process pool whose workers exit as soon as this process dies, however it dies.

    Parameters
    ----------
    workers : int
        Worker processes.
    method : {"fork", "spawn", "forkserver"}
        The multiprocessing start method.
    initializer : callable, optional
        Run once at the start of each worker (picklable for "spawn").

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
    """
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context(method),
        initializer=functools.partial(_start_worker, os.getpid(), initializer),
    )


def _start_worker(parent: int, initializer: Callable[[], None] | None) -> None:
    # A worker's first step: die with ``parent``, then the caller's initializer.
    _die_with(parent)
    if initializer is not None:
        initializer()


def _die_with(parent: int) -> None:
    """End this process when process ``parent`` is gone: SIGKILL from the kernel on Linux
    (``PR_SET_PDEATHSIG``), elsewhere a thread checking the parent twice a second."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run torch operators in the calling thread; restore the thread count afterwards.

    Parallelism in :func:`genrelens.cache.prepare` comes from ``jobs`` (one track per process). torch's own
    intra-op threads help little on one track's few segments, and on a busy machine their
    spin-waiting made the log-mels about 5x slower (measured: 25 vs 133 segments/s with
    2 threads vs 1 on 2 cores at load 8).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
