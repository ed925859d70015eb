"""What every benchmark script shares: the allocator it ran with, the re-execution with
genrelens' malloc settings, and printing the JSON record and the table."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def allocator() -> str:
    """Describe the allocator this process runs with (stated in every record)."""
    from genrelens.cli import MALLOC_ENV

    preload = os.environ.get("LD_PRELOAD", "")
    if "tcmalloc" in preload:
        return f"tcmalloc (LD_PRELOAD={preload})"
    if all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return "glibc malloc with MALLOC_ENV " + " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items())
    return "glibc malloc, default settings"


def ensure_malloc_env(*, default_malloc: bool) -> None:
    """Re-execute this script once with genrelens.cli.MALLOC_ENV set, unless ``default_malloc``."""
    from genrelens.cli import MALLOC_ENV

    if not default_malloc and any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})


def environment() -> dict[str, Any]:
    """The first fields of a record: versions, allocator, threads, cores and the load average
    (the machine may be shared); add ``load_average_after`` at the end of the run."""
    import torch

    import genrelens

    return {
        "genrelens": genrelens.__version__,
        "torch": torch.__version__,
        "allocator": allocator(),
        "torch_threads": torch.get_num_threads(),
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_before": list(os.getloadavg()),
    }


def bench_main(
    parser: Any,
    argv: list[str] | None,
    *,
    run: Callable[[Any], dict[str, Any]],
    table: Callable[[dict[str, Any]], str],
) -> int:
    """Add ``--json`` and ``--default-malloc`` to ``parser``, parse ``argv``, re-execute with
    the malloc settings if needed, run and :func:`emit`."""
    parser.add_argument("--json", metavar="PATH", help="write the JSON record here")
    parser.add_argument("--default-malloc", action="store_true",
                        help="do not re-execute with genrelens.cli.MALLOC_ENV set")
    args = parser.parse_args(argv)
    ensure_malloc_env(default_malloc=args.default_malloc)
    return emit(run(args), table=table, json_path=args.json)


def timed(
    step: Callable[[], object],
    *,
    items: int,
    seconds: float,
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median items/second of ``step()`` over ``repeats`` windows of at least ``seconds``.

    ``clock`` is wall time by default; ``time.process_time`` gives items per CPU-second of the
    process (all its threads), which depends less on a shared machine's load.
    """
    step()  # warm-up
    rates = []
    for _ in range(repeats):
        count, start = 0, clock()
        while True:
            step()
            count += 1
            elapsed = clock() - start
            if elapsed >= seconds:
                break
        rates.append(count * items / elapsed)
    return statistics.median(rates)


def emit(record: dict[str, Any], *, table: Callable[[dict[str, Any]], str], json_path: str | None) -> int:
    """Write the JSON record to ``json_path`` (atomically) or stdout, the table to stderr."""
    text = json.dumps(record, indent=2, default=lambda o: o.tolist())
    if json_path:
        from genrelens._io import write_text

        write_text(json_path, text + "\n")
    else:
        print(text)
    print(table(record), file=sys.stderr)
    return 0
