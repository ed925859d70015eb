"""Speed of the pretrained musicnn ports on CPU: reading the checkpoints and tagging clips.

* **Read** (seconds): :func:`genrelens.models.tf_checkpoint.read_tf_checkpoint` of each wheel
  checkpoint (index, data, every CRC32C checked), median of ``--repeats`` reads.
* **Forward** (clips/second): the port in evaluation mode under ``torch.inference_mode`` on
  random (batch, 1, 96, 187) patches (one clip = one 3-s patch), at ``--batches`` (default 1
  and 16), after one warm-up call; median over ``--repeats`` timed windows of ``--seconds``,
  per second of wall time and per CPU-second of the process (``time.process_time``, all
  threads). On a shared machine the CPU rate depends less on the other processes' load than
  the wall rate (it still drops with contention for caches and shared cores).

glibc reads its malloc variables only at process start, so the script re-executes itself once
with ``genrelens.cli.MALLOC_ENV`` set (as the ``genrelens`` command does) unless
``--default-malloc`` is given; the allocator, torch's thread count and the load average are
written in the output, since the machine may be shared. Needs the musicnn wheel
(``pip install --no-deps "musicnn==0.1.0"``).

Usage::

    python benchmarks/bench_pretrained.py [--models MSD_musicnn MSD_vgg] [--batches 1 16]
        [--threads N] [--repeats 3] [--seconds 2] [--json out.json] [--default-malloc]

Prints a JSON record to ``--json`` (or stdout) and a table to stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _common import bench_main, environment, timed

MODELS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")


def read_seconds(name: str, *, repeats: int) -> float:
    from genrelens.models.musicnn import musicnn_wheel_dir
    from genrelens.models.tf_checkpoint import read_tf_checkpoint

    folder = musicnn_wheel_dir() / name
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        read_tf_checkpoint(folder)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_rates(name: str, *, batches: list[int], seconds: float, repeats: int) -> dict:
    import torch

    from genrelens.models import get_model

    torch.manual_seed(0)
    model = get_model(name).eval()
    rates = {}
    for batch in batches:
        x = torch.rand(batch, 1, 96, 187) * 3  # log10(1e4 S + 1) values lie in about 0..6

        def step() -> None:
            with torch.inference_mode():
                model(x)

        rates[str(batch)] = {
            "wall": timed(step, items=batch, seconds=seconds, repeats=repeats),
            "cpu": timed(step, items=batch, seconds=seconds, repeats=repeats,
                         clock=time.process_time),
        }
    return rates


def run(args: argparse.Namespace) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    record = {
        "benchmark": "pretrained",
        **environment(),
        "input": [1, 96, 187],
        "models": {
            name: {
                "read_seconds": read_seconds(name, repeats=args.repeats),
                "clips_per_second": forward_rates(name, batches=args.batches,
                                                  seconds=args.seconds, repeats=args.repeats),
            }
            for name in args.models
        },
        "load_average_after": list(os.getloadavg()),
    }
    return record


def table(record: dict) -> str:
    batches = list(next(iter(record["models"].values()))["clips_per_second"])
    lines = [
        f"allocator: {record['allocator']}; torch threads {record['torch_threads']}; load "
        f"{record['load_average_before'][0]:.1f} -> {record['load_average_after'][0]:.1f}",
        "",
        "clips per second of wall time / per CPU-second of the process",
        f"{'model':<13}{'read s':>8}" + "".join(f"{'batch ' + b:>16}" for b in batches),
    ]
    for name, r in record["models"].items():
        rates = r["clips_per_second"]
        lines.append(f"{name:<13}{r['read_seconds']:>8.2f}" + "".join(
            f"{rates[b]['wall']:>8.1f} /{rates[b]['cpu']:>6.1f}" for b in batches))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a timed window")
    return bench_main(parser, argv, run=run, table=table)


if __name__ == "__main__":
    sys.exit(main())
