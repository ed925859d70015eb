"""Inference throughput of a model: eager vs. :func:`genrelens.models.fold.inference_copy`.

Measures segments per second of the registered model (default ``cnn``, the 4-block CNN) on
``1 x n_mels x n_frames`` log-mel inputs (default 1 x 128 x 130, 3 s at 22,050 Hz) at several
batch sizes, for the eager model in eval mode and for the folded channels-last copy, under
``torch.inference_mode``.

Each allocator setting runs in its own fresh subprocess, because glibc reads its malloc
variables only at process start: once with the environment as given minus the
``genrelens.cli.MALLOC_ENV`` variables ("default glibc malloc"), once with them set
("MALLOC_ENV"). The table says which row ran with which.

Usage::

    python benchmarks/bench_fold.py [--model cnn] [--batch-sizes 1,8,64] [--seconds 3]
        [--json results.json]

Writes a JSON document (to ``--json`` or stdout) and prints a table to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _measure(model, batch_size: int, *, n_mels: int, n_frames: int, seconds: float) -> float:
    import torch

    x = torch.randn(batch_size, 1, n_mels, n_frames) * 20 - 40
    with torch.inference_mode():
        for _ in range(2):  # warm-up: oneDNN primitive creation, allocator growth
            model(x)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(x)
            n += batch_size
        return n / (time.perf_counter() - start)


def _worker(args: argparse.Namespace) -> dict:
    import torch

    from genrelens.models import get_model
    from genrelens.models.fold import find_conv_bn_pairs, inference_copy

    torch.manual_seed(0)
    model = get_model(args.model, n_classes=10).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, as after training
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    folded = inference_copy(model)
    x = torch.randn(4, 1, args.n_mels, args.n_frames) * 20 - 40
    with torch.no_grad():
        ref, out = model(x), folded(x)
    max_rel = float(((out - ref).abs().max() / ref.abs().max()).item())
    rows = []
    for batch_size in args.batch_sizes:
        for variant, net in (("eager", model), ("folded+channels_last", folded)):
            rate = _measure(
                net, batch_size, n_mels=args.n_mels, n_frames=args.n_frames, seconds=args.seconds
            )
            rows.append({"variant": variant, "batch_size": batch_size, "segments_per_second": rate})
    return {
        "n_folded_pairs": len(find_conv_bn_pairs(model)),
        "max_relative_output_difference": max_rel,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument(
        "--batch-sizes", default="1,8,64", type=lambda s: [int(v) for v in s.split(",")]
    )
    parser.add_argument("--n-mels", type=int, default=128)
    parser.add_argument("--n-frames", type=int, default=130)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    parser.add_argument("--json", help="write results here instead of stdout")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        json.dump(_worker(args), sys.stdout)
        return 0

    from genrelens._io import write_json
    from genrelens.cli import MALLOC_ENV

    base_env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
    worker_argv = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--model",
        args.model,
        "--batch-sizes",
        ",".join(map(str, args.batch_sizes)),
        "--n-mels",
        str(args.n_mels),
        "--n-frames",
        str(args.n_frames),
        "--seconds",
        str(args.seconds),
    ]
    results = {
        "model": args.model,
        "input_shape": [1, args.n_mels, args.n_frames],
        "cpu_count": os.cpu_count(),
    }
    for allocator, env in (
        ("default glibc malloc", base_env),
        ("MALLOC_ENV", {**base_env, **MALLOC_ENV}),
    ):
        out = subprocess.run(
            worker_argv, env=env, check=True, capture_output=True, text=True
        ).stdout
        results[allocator] = json.loads(out)

    lines = [
        f"model={args.model} input=1x{args.n_mels}x{args.n_frames} segments/s (higher is better)",
        f"{'allocator':<22} {'variant':<22} "
        + " ".join(f"{'batch ' + str(b):>9}" for b in args.batch_sizes),
    ]
    for allocator in ("default glibc malloc", "MALLOC_ENV"):
        for variant in ("eager", "folded+channels_last"):
            rates = {
                r["batch_size"]: r["segments_per_second"]
                for r in results[allocator]["rows"]
                if r["variant"] == variant
            }
            lines.append(
                f"{allocator:<22} {variant:<22} "
                + " ".join(f"{rates[b]:9.0f}" for b in args.batch_sizes)
            )
    print("\n".join(lines), file=sys.stderr)
    if args.json:
        write_json(args.json, results)
    else:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
