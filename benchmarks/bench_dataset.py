"""Cost of explaining a dataset: seconds per track per method, and serial vs. local vs. Dask.

A temporary run directory gets a random-weight ``cnn`` checkpoint (10 classes, default
FeatureConfig: 3-s segments of 128 x 130 log-mel) and ``--tracks`` synthetic tracks of
``--seconds`` seconds (tones and noise, a class-per-folder dataset); the same code path as
``genrelens explain-dataset`` (:func:`genrelens.explain.batch.explain_dataset`) then explains

1. every track with each method alone at ``--n-samples`` (default 1000, the default budget),
   serially: seconds per track and per 3-s segment (the cost scales with the number of
   segments, so a 30-s track costs 10 segments);
2. all tracks with ``--scaling-methods`` at ``--scaling-samples`` with the serial executor,
   local processes and a Dask ``LocalCluster`` of ``--workers`` processes: wall-clock time
   and speed-up (the results are identical; the test suite checks it).

From (1) it extrapolates the serial CPU time of GTZAN (1000 tracks of 30 s) and FMA-large
(106,574 clips of 30 s) on this machine; divide by the number of workers of a cluster.

The script re-executes itself with ``genrelens.cli.MALLOC_ENV`` unless ``--default-malloc``;
worker processes inherit the environment. Usage::

    python benchmarks/bench_dataset.py [--quick] [--json out.json]

Prints the JSON record to stdout (or ``--json``) and a table to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import allocator, emit, ensure_malloc_env  # noqa: E402
from bench_engine import _model  # noqa: E402  (shared benchmark helpers)

GTZAN_TRACKS, FMA_LARGE_TRACKS, TRACK_SECONDS = 1000, 106_574, 30.0


def _make_run(root: Path, n_tracks: int, seconds: float) -> Path:
    import numpy as np
    import soundfile as sf

    from genrelens.config import FeatureConfig
    from genrelens.data import Split
    from genrelens.models import save_checkpoint

    config = FeatureConfig()
    rng = np.random.default_rng(0)
    ids = []
    for i in range(n_tracks):
        label = f"g{i % 2}"
        t = np.arange(int(seconds * config.sr)) / config.sr
        y = sum(0.2 * np.sin(2 * np.pi * f * t) for f in rng.uniform(80, 4000, 4))
        y = y + 0.05 * rng.standard_normal(t.size)
        path = root / "data" / label / f"t{i:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y.astype(np.float32), config.sr)
        ids.append(f"{label}/t{i:03d}")
    run = root / "run"
    save_checkpoint(run / "checkpoint.pt", model=_model("cnn", 10), model_name="cnn",
                    model_args={"n_classes": 10}, feature_config=config,
                    class_names=[f"c{i}" for i in range(10)])
    Split(name="bench", train=(), valid=(), test=tuple(ids)).save(run / "split.json")
    (run / "train_config.json").write_text(json.dumps({"data": str(root / "data")}))
    return run


def run(args: argparse.Namespace) -> dict:
    import torch

    from genrelens.explain.batch import explain_dataset, load_track_result

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_dir = _make_run(root, max(args.tracks, args.scaling_tracks), args.seconds)
        ids = [f"g{i % 2}/t{i:03d}" for i in range(max(args.tracks, args.scaling_tracks))]
        # warm-up (first calls: numba compilation in librosa, model loading, torch kernels)
        explain_dataset(run_dir, methods=args.methods, kinds=["tf"], track_ids=ids[:1],
                        n_samples=100, executor="serial", out=root / "warm-up", progress=False)
        per_method = {}
        for method in args.methods:
            rep = explain_dataset(run_dir, methods=[method], kinds=["tf"],
                                  track_ids=ids[:args.tracks],
                                  n_samples=args.n_samples, executor="serial",
                                  out=root / f"m-{method}", progress=False)
            records = [load_track_result(rep.out, t)[0] for t in rep.computed]
            n_seg = statistics.median(len(r["segment_index"]) for r in records)
            track_s = statistics.median(r["seconds"] for r in records)
            # explain() time per segment, and the rest of a task (loading the audio, log-mel,
            # folding the model, components, writing files), which does not scale with length
            explain_s = statistics.median(
                sum(e["seconds"] for e in r["results"]) / len(r["segment_index"])
                for r in records)
            fixed_s = statistics.median(
                r["seconds"] - sum(e["seconds"] for e in r["results"]) for r in records)
            per_method[method] = {
                "seconds_per_track": track_s,
                "segments_per_track": n_seg,
                "seconds_per_segment": explain_s,
                "fixed_seconds_per_track": fixed_s,
                "seconds_per_30s_track": explain_s * TRACK_SECONDS / 3.0 + fixed_s,
                "evaluations_per_segment": statistics.median(
                    r["n_evaluations"] / len(r["segment_index"]) for r in records),
            }
        scaling = {}
        for executor in args.executors:
            rep = explain_dataset(run_dir, methods=args.scaling_methods, kinds=["tf"],
                                  track_ids=ids[:args.scaling_tracks],
                                  n_samples=args.scaling_samples, executor=executor,
                                  workers=1 if executor == "serial" else args.workers,
                                  out=root / f"x-{executor}", progress=False)
            scaling[executor] = {"seconds": rep.seconds, "workers": rep.workers,
                                 "failed": len(rep.failed)}
    base = scaling.get("serial", {}).get("seconds")
    for v in scaling.values():
        v["speedup_vs_serial"] = base / v["seconds"] if base else None
    extrapolated = {
        m: {"gtzan_cpu_hours": v["seconds_per_30s_track"] * GTZAN_TRACKS / 3600,
            "fma_large_cpu_hours": v["seconds_per_30s_track"] * FMA_LARGE_TRACKS / 3600}
        for m, v in per_method.items()
    }
    return {
        "benchmark": "dataset explanations: cost per track and executors",
        "model": "cnn (random weights, 10 classes)",
        "components": "tf_grid 10 x 8 (80)",
        "n_samples": args.n_samples,
        "tracks": args.tracks,
        "scaling_tracks": args.scaling_tracks,
        "track_seconds": args.seconds,
        "allocator": allocator() + " (worker processes inherit it)",
        "torch_threads_serial": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "per_method": per_method,
        "extrapolated_serial": extrapolated,
        "scaling": {"methods": args.scaling_methods, "n_samples": args.scaling_samples,
                    **scaling},
    }


def _table(r: dict) -> str:
    lines = [
        f"allocator: {r['allocator']}; {r['torch_threads_serial']} torch threads serial, "
        f"{r['cpu_count']} CPUs, load {r['load_average_1min']:.1f}",
        f"{r['model']}, {r['components']}, n_samples={r['n_samples']}, {r['tracks']} tracks of "
        f"{r['track_seconds']:g} s",
        "",
        "| method | s / 3-s segment | fixed s / track | s / 30-s track | evaluations / segment "
        "| GTZAN CPU-h | FMA-large CPU-h |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m, v in r["per_method"].items():
        e = r["extrapolated_serial"][m]
        lines.append(f"| {m} | {v['seconds_per_segment']:.2f} | "
                     f"{v['fixed_seconds_per_track']:.2f} | {v['seconds_per_30s_track']:.1f} "
                     f"| {v['evaluations_per_segment']:.0f} | {e['gtzan_cpu_hours']:.1f} | "
                     f"{e['fma_large_cpu_hours']:.0f} |")
    sc = r["scaling"]
    lines += ["", f"executors ({','.join(sc['methods'])}, n_samples={sc['n_samples']}):",
              "| executor | workers | seconds | speed-up |", "|---|---:|---:|---:|"]
    for k, v in sc.items():
        if isinstance(v, dict):
            lines.append(f"| {k} | {v['workers']} | {v['seconds']:.1f} | "
                         f"{v['speedup_vs_serial']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    csv = lambda t: [x.strip() for x in t.split(",") if x.strip()]  # noqa: E731
    parser.add_argument("--tracks", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--methods", type=csv,
                        default=csv("shap,lime,hybrid,occlusion,gradcam,ig"))
    parser.add_argument("--executors", type=csv, default=csv("serial,local,dask"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scaling-methods", type=csv, default=csv("shap"))
    parser.add_argument("--scaling-samples", type=int, default=200)
    parser.add_argument("--scaling-tracks", type=int, default=8)
    parser.add_argument("--quick", action="store_true",
                        help="2 tracks of 3 s (1 segment each; costs scaled to 30 s), "
                        "scaling on 6 tracks at 100 samples")
    parser.add_argument("--json", default=None)
    parser.add_argument("--default-malloc", action="store_true",
                        help="do not re-execute with genrelens.cli.MALLOC_ENV set")
    args = parser.parse_args(argv)
    if args.quick:
        args.tracks, args.seconds, args.scaling_samples, args.scaling_tracks = 2, 3.0, 100, 6
    ensure_malloc_env(default_malloc=args.default_malloc)
    return emit(run(args), table=_table, json_path=args.json)


if __name__ == "__main__":
    sys.exit(main())
