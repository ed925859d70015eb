"""One way to spread independent per-file work over worker processes, results in order.

Used by :func:`genrelens.cache.prepare` and :func:`genrelens.data.check.check_dataset`
(``--jobs``). Processes rather than threads: decoding, framing and HDF5 writes hold the GIL
often enough that 2 threads gave 1.35x one thread on 2 cores (``benchmarks/bench_features.py``).
Linux forks the workers (no re-import of torch); other systems spawn them, so ``func`` and the
items must be picklable (module-level functions, :func:`functools.partial` of them).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from genrelens.errors import ParameterError

__all__ = ["ordered_map", "check_jobs", "default_jobs"]

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
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context(method),
        initializer=initializer,
    )
    try:
        futures = [pool.submit(func, item) for item in items]
        for future in futures:
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
