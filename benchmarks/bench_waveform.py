"""Cost of explaining a model that reads waveforms (:class:`genrelens.WaveformModel`).

Every perturbed input of a waveform model is an edited STFT resynthesised by overlap-add, so
its explanation pays, beside the model, the STFT mixing and one inverse STFT per input.

* **Explanation time**: wall-clock seconds of ``explain(..., method="kernel_shap")`` with
  ``--n-samples`` coalitions of the default 10 x 8 ``tf_grid`` on one clip (median of
  ``--repeats``).
* **Input time**: building the same distinct inputs (STFT mixing and inverse STFT) alone.
* **Pure model time**: the model alone on those inputs, built beforehand, at the batch size the
  explanation settled on.

The model is a small 1-D convolutional classifier of 16 kHz waveforms (a learned front end of
400-sample filters with hop 160, two convolutions, mean pooling, 10 classes; untrained), far
cheaper than a pretrained transformer, so the overhead ratio is an upper bound for those.

Usage::

    python benchmarks/bench_waveform.py [--seconds 3] [--n-samples 1000] [--repeats 3]
        [--json out.json] [--default-malloc]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

from _common import bench_main, environment


def _model() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(1, 32, 400, stride=160), nn.ReLU(), nn.Conv1d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 10),
    ).eval()
    return lambda waveforms: net(waveforms[:, None, :])


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    from genrelens import WaveformModel
    from genrelens.explain import explain
    from genrelens.explain.engine import evaluate, mask_inputs

    record = environment()
    model = WaveformModel(_model(), sample_rate=16000, segment_seconds=args.seconds)
    y = (0.1 * np.random.default_rng(0).standard_normal(int(16000 * args.seconds))).astype(
        np.float32)
    times, exp = [], None
    for _ in range(args.repeats):
        exp = explain(model, y, method="kernel_shap", n_samples=args.n_samples, random_state=0)
        times.append(exp.cost["seconds"])
    assert exp is not None
    n, batch = int(exp.cost["n_evaluations"]), int(exp.cost["batch_size"])
    z = np.random.default_rng(1).integers(0, 2, (n, exp.components.n_components))
    start = time.perf_counter()
    make = mask_inputs(None, exp.components, z, exp.fill, waveform=y)
    inputs = torch.cat([make(i, min(i + batch, n)) for i in range(0, n, batch)])
    build = time.perf_counter() - start
    pure = []
    for _ in range(args.repeats):
        result = evaluate(model, lambda a, b: inputs[a:b], n, batch_size=batch, output="logits")
        pure.append(result.seconds)
    record.update(
        clip_seconds=args.seconds, n_samples=args.n_samples, n_evaluations=n, batch_size=batch,
        explanation_seconds=statistics.median(times), input_seconds=build,
        model_seconds=statistics.median(pure),
        overhead_ratio=statistics.median(times) / statistics.median(pure),
        load_average_after=list(os.getloadavg()),
    )
    return record


def _table(r: dict[str, Any]) -> str:
    return (f"{r['n_evaluations']} evaluations of a {r['clip_seconds']:g}-s clip, batch "
            f"{r['batch_size']}: explanation {r['explanation_seconds']:.2f} s, inputs "
            f"{r['input_seconds']:.2f} s, model {r['model_seconds']:.2f} s, ratio "
            f"{r['overhead_ratio']:.2f} ({r['allocator']}; load {r['load_average_before']} -> "
            f"{r['load_average_after']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    return bench_main(parser, argv, run=run, table=_table)


if __name__ == "__main__":
    sys.exit(main())
