"""Explaining through a pretrained backbone: engine overhead and seconds per explanation.

For a frozen-backbone transfer model (:class:`genrelens.models.transfer.TransferModel`, the
wheel's weights, a random linear head over 10 classes) and one musicnn patch (1 x 96 x 187):

* **Explanation time**: wall-clock seconds of ``explain(..., method="hybrid")`` with
  ``tf_grid`` 10 x 8 components and ``--n-samples`` samples (inference copy, batch-size
  probing, building the masked inputs, running the model, both surrogate fits), median of
  ``--repeats`` runs.
* **Pure model time**: the same number of distinct perturbed inputs (random coalitions of the
  same components, built beforehand) fed to the same inference copy
  (:func:`genrelens.models.fold.inference_copy`) under ``torch.inference_mode`` at its best
  batch size: each candidate size is timed on ``--probe`` inputs, the fastest then runs all of
  them; median of ``--repeats`` runs, alternated with the explanations so that load drift
  hits both alike.
* **Overhead ratio** = explanation time / pure model time (target <= 1.10, as for the ``cnn``
  in ``bench_engine.py``).
* **Seconds per 1000 samples**: the explanation time scaled to 1000 samples (the model
  evaluations dominate; give ``--n-samples 1000`` on a quiet machine to time it directly).

Run it once with the code before and once after a change (``PYTHONPATH`` pointing at each
tree) at the same time, so that the machine's load hits both alike.

The machine may be shared: the load average before and after each model is recorded. glibc
reads its malloc variables only at process start, so the script re-executes itself once with
``genrelens.cli.MALLOC_ENV`` set (as the ``genrelens`` command does) unless
``--default-malloc`` is given; the allocator is written in the record. Needs the musicnn
wheel (``pip install --no-deps "musicnn==0.1.0"``).

Usage::

    python benchmarks/bench_backbone.py [--models MSD_musicnn MSD_vgg] [--threads 1]
        [--n-samples 1000] [--repeats 3] [--probe 32] [--json out.json] [--default-malloc]

Prints a JSON record to ``--json`` (or stdout) and a table to stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _common import bench_main, environment

MODELS = ("MSD_musicnn", "MSD_vgg")
CANDIDATES = (1, 2, 4, 8, 16, 32)


def _pure_seconds(model, inputs, batch_size: int) -> float:
    import torch

    with torch.inference_mode():
        model(inputs[:batch_size])  # warm-up for this shape
        start = time.perf_counter()
        for a in range(0, inputs.shape[0], batch_size):
            model(inputs[a:a + batch_size])
        return time.perf_counter() - start


def _measure(name: str, args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from genrelens.explain import components, explain
    from genrelens.explain.engine import mask_inputs
    from genrelens.explain.fill import resolve_fill
    from genrelens.models import get_model
    from genrelens.models.fold import inference_copy
    from genrelens.models.musicnn import MUSICNN_FEATURES, MUSICNN_PATCH_FRAMES

    load_before = os.getloadavg()[0]
    torch.manual_seed(0)
    model = get_model("transfer", backbone=name, n_classes=10, weights="wheel").eval()
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 4.0, (MUSICNN_FEATURES.n_mels, MUSICNN_PATCH_FRAMES)).astype(
        np.float32)
    comps = components.tf_grid(n_time=10, n_freq=8, config=MUSICNN_FEATURES)

    def explanation() -> dict:
        exp = explain(model, x, method="hybrid", components=comps, n_samples=args.n_samples,
                      config=MUSICNN_FEATURES, random_state=0)
        return dict(exp.cost)

    runs = [explanation()]
    n_eval = int(runs[0]["n_evaluations"])
    z = rng.integers(0, 2, (n_eval, comps.n_components)).astype(bool)
    fill = resolve_fill("min", x, config=MUSICNN_FEATURES, rng=np.random.default_rng(0))
    inputs = mask_inputs(x, comps, z, fill)(0, n_eval).contiguous()
    fast = inference_copy(model)
    probe = {b: _pure_seconds(fast, inputs[:max(args.probe, b)], b) / max(args.probe, b)
             for b in CANDIDATES}
    best = min(probe, key=probe.__getitem__)
    pure = [_pure_seconds(fast, inputs, best)]
    for _ in range(args.repeats - 1):
        runs.append(explanation())
        pure.append(_pure_seconds(fast, inputs, best))
    wall = statistics.median(r["seconds"] for r in runs)
    pure_wall = statistics.median(pure)
    return {
        "backbone": name,
        "n_evaluations": n_eval,
        "explain_runs": runs,
        "explain_seconds_median": wall,
        "explain_batch_sizes": [r["batch_size"] for r in runs],
        "pure_seconds_per_input_by_batch_size": {str(b): s for b, s in probe.items()},
        "pure_best_batch_size": best,
        "pure_runs_seconds": pure,
        "pure_seconds_median": pure_wall,
        "overhead_ratio": wall / pure_wall,
        "seconds_per_1000_samples": wall * 1000 / args.n_samples,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }


def run(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    record = {
        "benchmark": "explaining a frozen-backbone transfer model: hybrid explanation vs pure "
                     "model time",
        **environment(),
        "components": "tf_grid 10 x 8 (80)",
        "input_shape": [1, 96, 187],
        "n_samples": args.n_samples,
        "repeats": args.repeats,
        "target_ratio": 1.10,
    }
    record["models"] = [_measure(name, args) for name in args.models]
    record["load_average_after"] = list(os.getloadavg())
    return record


def _table(r: dict) -> str:
    lines = [
        f"allocator: {r['allocator']}; torch {r['torch']}, {r['torch_threads']} threads, "
        f"{r['cpus']} CPUs; hybrid, {r['components']}, n_samples={r['n_samples']}, median of "
        f"{r['repeats']}",
        "",
        "| backbone | evaluations | explain s | pure s (batch) | overhead | s / 1000 samples "
        "| load |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in r["models"]:
        lines.append(
            f"| {m['backbone']} | {m['n_evaluations']} | {m['explain_seconds_median']:.1f} | "
            f"{m['pure_seconds_median']:.1f} ({m['pure_best_batch_size']}) | "
            f"{m['overhead_ratio']:.3f} | {m['seconds_per_1000_samples']:.1f} | "
            f"{m['load_average_before']:.1f}-{m['load_average_after']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--probe", type=int, default=32,
                        help="inputs timed per candidate batch size for the pure model")
    return bench_main(parser, argv, run=run, table=_table)


if __name__ == "__main__":
    sys.exit(main())
