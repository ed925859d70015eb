"""Throughput of the registered models on CPU: training steps and CNN inference by batch size.

* **Training throughput** (segments/second) of each model: Adam steps (forward, cross-entropy,
  backward, update) on random 1 x 128 x 130 log-mel batches in training mode, after one
  warm-up step; median over ``--repeats`` timed windows.
* **CNN forward throughput** (segments/second) of the default ``cnn`` in evaluation mode
  under ``torch.inference_mode`` at batch sizes 1, 2, 4, ..., 256 (no batch-norm folding: that
  is ``genrelens.models.fold.inference_copy``'s benchmark).

glibc reads its malloc variables only at process start, so the script re-executes itself
once with ``genrelens.cli.MALLOC_ENV`` set (as the ``genrelens`` command does) unless
``--default-malloc`` is given; the allocator, torch's thread count and the load average are
written in the output, since the machine may be shared.

Usage::

    python benchmarks/bench_models.py [--repeats 3] [--seconds 2] [--json out.json]
        [--models cnn shortchunk vgg16] [--default-malloc]

Prints a JSON record to ``--json`` (or stdout) and a table to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys

from _common import bench_main, environment, timed

#: Training batch size per model (vgg16's 138 M parameters make large batches impractical).
TRAIN_BATCH = {"cnn": 32, "shortchunk": 16, "vgg16": 8}
FORWARD_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)



def train_throughput(name: str, *, seconds: float, repeats: int) -> dict:
    import torch
    import torch.nn.functional as F

    from genrelens.models import get_model

    torch.manual_seed(0)
    model = get_model(name, n_classes=10).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = TRAIN_BATCH[name]
    x = torch.randn(batch, 1, 128, 130) * 20 - 40
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    n_params = sum(p.numel() for p in model.parameters())
    rate = timed(step, items=batch, seconds=seconds, repeats=repeats)
    return {"batch_size": batch, "parameters": n_params, "segments_per_second": rate}


def forward_throughput(*, seconds: float, repeats: int) -> dict:
    import torch

    from genrelens.models import get_model

    torch.manual_seed(0)
    model = get_model("cnn", n_classes=10).eval()
    result = {}
    for batch in FORWARD_BATCHES:
        x = torch.randn(batch, 1, 128, 130) * 20 - 40

        def step() -> None:
            with torch.inference_mode():
                model(x)

        result[str(batch)] = timed(step, items=batch, seconds=seconds, repeats=repeats)
    return result


def run(args: argparse.Namespace) -> dict:
    record = {
        "benchmark": "models",
        **environment(),
        "input": [1, 128, 130],
        "train": {m: train_throughput(m, seconds=args.seconds, repeats=args.repeats)
                  for m in args.models},
        "cnn_forward_segments_per_second": forward_throughput(
            seconds=args.seconds, repeats=args.repeats
        ),
        "load_average_after": list(os.getloadavg()),
    }
    return record


def table(record: dict) -> str:
    lines = [
        f"allocator: {record['allocator']}; torch threads {record['torch_threads']}; load "
        f"{record['load_average_before'][0]:.1f} -> {record['load_average_after'][0]:.1f}",
        "",
        f"{'model':<12}{'params':>12}{'batch':>7}{'train seg/s':>13}",
    ]
    for name, r in record["train"].items():
        lines.append(f"{name:<12}{r['parameters']:>12,}{r['batch_size']:>7}"
                     f"{r['segments_per_second']:>13.1f}")
    lines += ["", f"{'cnn batch':<12}{'forward seg/s':>14}"]
    for batch, rate in record["cnn_forward_segments_per_second"].items():
        lines.append(f"{batch:<12}{rate:>14.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(TRAIN_BATCH), choices=list(TRAIN_BATCH))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a timed window")
    return bench_main(parser, argv, run=run, table=table)


if __name__ == "__main__":
    sys.exit(main())
