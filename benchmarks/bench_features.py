"""Feature extraction speed: ``genrelens prepare`` against librosa, file by file.

Sides, each timed in its own fresh subprocess on the same files (segments per second, median
of ``--runs`` runs, the sides interleaved run by run so machine load hits them alike):

``genrelens-prepare``
    :func:`genrelens.cache.prepare` into an empty cache: sha256 of each file, decoding,
    segmentation, batched torch log-mel of all segments of a track (STFT in float64), atomic
    HDF5 writes, index. What ``genrelens prepare --jobs 1`` does.
``genrelens-prepare-parallel``
    The same with ``jobs`` = the number of CPUs (tracks spread over worker processes), what
    ``genrelens prepare`` does by default.
``genrelens-prepare-parallel-fft32``
    The same with ``FeatureConfig(fft_precision="float32")`` (a float32 FFT: faster, not
    librosa-exact on quiet bands).
``genrelens-compute``
    The same features without the cache: ``load_audio`` -> ``segment_audio`` -> ``log_mel``
    of all segments of a file at once, into memory.
``librosa-file``
    ``librosa.load`` -> segments -> one ``librosa.feature.melspectrogram`` + ``power_to_db``
    call on all segments of the file (librosa's strongest file-by-file use), into memory.
``librosa-segment``
    As above with one call per segment (the loop of most tutorials).

Each worker first runs its pipeline once on one file (imports, numba compilation, MKL
initialisation) and then times the whole set. The ``librosa-file`` worker also reports the
largest absolute difference in dB between its features and genrelens' on the same segments
(one track), and so does the float32 side.

Allocator: every worker runs with the ``genrelens.cli.MALLOC_ENV`` variables set (as the
``genrelens`` command runs), or with them removed (``--malloc none``); the table says which.
Threads: ``prepare`` runs torch single-threaded and spreads tracks over ``--jobs`` worker
processes; the genrelens-compute side runs one thread. librosa's FFT (numpy pocketfft) is
single-threaded; its mel product goes through numpy's BLAS with its default thread count.
CPU time counts the worker processes too (``os.times``, children included).

Usage::

    python benchmarks/bench_features.py [--data DIR] [--tracks 100] [--runs 3] [--jobs 1]
        [--malloc env|none] [--json results.json]

Without ``--data``, a synthetic GTZAN-layout set (10 tracks per genre, 30 s) is written to a
temporary folder first. Prints one JSON record on stdout and a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_PER_GENRE = 10
SIDES = (
    "genrelens-prepare",
    "genrelens-prepare-parallel",
    "genrelens-prepare-parallel-fft32",
    "genrelens-compute",
    "librosa-file",
    "librosa-segment",
)


def _tracks(data: str, n: int):
    from genrelens.data import open_dataset

    dataset = open_dataset(data)
    step = max(1, len(dataset.tracks) // n)
    return dataset, dataset.tracks[::step][:n]


def _librosa_features(y, *, config, per_segment: bool):
    import librosa
    import numpy as np

    frames = librosa.util.frame(
        y, frame_length=config.segment_samples, hop_length=config.segment_hop_samples, axis=0
    )

    def one(x):
        mel = librosa.feature.melspectrogram(
            y=x, sr=config.sr, n_fft=config.n_fft, hop_length=config.hop_length,
            n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax, power=2.0,
        )
        return librosa.power_to_db(mel, ref=config.ref, amin=config.amin, top_db=None)

    return np.stack([one(x) for x in frames]) if per_segment else one(frames)


def _worker(args: argparse.Namespace) -> dict:
    import torch

    from genrelens.config import FeatureConfig

    fft32 = args.worker.endswith("-fft32")
    config = FeatureConfig(fft_precision="float32" if fft32 else "float64")
    dataset, tracks = _tracks(args.data, args.tracks)
    record: dict = {"side": args.worker, "n_tracks": len(tracks)}
    jobs = _cpu_count() if "-parallel" in args.worker else args.jobs
    if args.worker.startswith("genrelens-prepare"):
        import dataclasses

        from genrelens.cache import prepare

        subset = dataclasses.replace(dataset, tracks=tuple(tracks))
        with tempfile.TemporaryDirectory() as tmp:
            warm = dataclasses.replace(dataset, tracks=tuple(tracks[:1]))
            prepare(warm, cache_dir=Path(tmp) / "warm", config=config, progress=False)
            start, cpu_start = time.perf_counter(), _cpu_seconds()
            report = prepare(
                subset, cache_dir=Path(tmp) / "cache", config=config, progress=False,
                jobs=jobs,
            )
            seconds = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu_start
        n_segments = report.n_segments
        record.update(jobs=jobs, skipped=report.skipped)
        if fft32:
            record["max_abs_db_difference_vs_librosa"] = _difference_vs_librosa(tracks[0],
                                                                                config=config)
        torch.set_num_threads(1)  # what prepare ran with (it restores the count afterwards)
    elif args.worker == "genrelens-compute":
        from genrelens.audio import load_audio, segment_audio
        from genrelens.features import log_mel

        torch.set_num_threads(1)  # as prepare runs it

        def run(batch):
            out = [log_mel(segment_audio(load_audio(t.path, sr=config.sr), config=config),
                           config=config) for t in batch]
            return sum(len(x) for x in out)

        run(tracks[:1])
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        n_segments = run(tracks)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start
    else:
        import librosa

        per_segment = args.worker == "librosa-segment"

        def run(batch):
            out = [_librosa_features(librosa.load(t.path, sr=config.sr, mono=True)[0],
                                     config=config, per_segment=per_segment) for t in batch]
            return out

        run(tracks[:1])
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        n_segments = sum(len(x) for x in run(tracks))
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start
        if not per_segment:
            record["max_abs_db_difference_vs_librosa"] = _difference_vs_librosa(tracks[0],
                                                                                config=config)
    record.update(
        seconds=seconds,
        n_segments=n_segments,
        segments_per_second=n_segments / seconds,
        cpu_ms_per_segment=1e3 * cpu / n_segments,
        torch_threads=torch.get_num_threads() if args.worker.startswith("genrelens") else None,
        malloc={k: os.environ.get(k) for k in _malloc_keys()},
    )
    return record


def _difference_vs_librosa(track, *, config) -> float:
    """Largest |genrelens - librosa| in dB over the segments of one track."""
    import librosa
    import numpy as np

    from genrelens.features import log_mel

    y = librosa.load(track.path, sr=config.sr, mono=True)[0]
    frames = librosa.util.frame(y, frame_length=config.segment_samples,
                                hop_length=config.segment_hop_samples, axis=0)
    ours = log_mel(np.ascontiguousarray(frames), config=config)
    return float(np.abs(ours - _librosa_features(y, config=config, per_segment=False)).max())


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished child processes (prepare's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _cpu_count() -> int:
    from genrelens._parallel import default_jobs

    return default_jobs()


def _malloc_keys() -> list[str]:
    from genrelens.cli import MALLOC_ENV

    return list(MALLOC_ENV)


def _env(malloc: str) -> dict[str, str]:
    from genrelens.cli import MALLOC_ENV

    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
    if malloc == "env":
        env.update(MALLOC_ENV)
    return env


def _synthesize(out: Path) -> Path:
    from genrelens.data.synthetic import synthesize_dataset

    return Path(synthesize_dataset(out, n_per_genre=N_PER_GENRE, duration=30.0, seed=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset folder (default: synthetic, written to a tmp)")
    parser.add_argument("--tracks", type=int, default=100, help="tracks timed (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--jobs", type=int, default=1, help="prepare --jobs (default 1)")
    parser.add_argument("--malloc", choices=["env", "none"], default="env")
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated subset")
    parser.add_argument("--json", metavar="PATH", help="also write the JSON record here")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or str(_synthesize(Path(tmp) / "synthetic"))
        sides = [s for s in args.sides.split(",") if s]
        runs: dict[str, list[dict]] = {s: [] for s in sides}
        for _ in range(args.runs):
            for side in sides:
                cmd = [sys.executable, __file__, "--worker", side, "--data", data,
                       "--tracks", str(args.tracks), "--jobs", str(args.jobs)]
                done = subprocess.run(cmd, env=_env(args.malloc), capture_output=True,
                                      text=True, check=True)
                runs[side].append(json.loads(done.stdout.strip().splitlines()[-1]))

    summary = {}
    for side, records in runs.items():
        rates = [r["segments_per_second"] for r in records]
        summary[side] = {
            "median_segments_per_second": statistics.median(rates),
            "runs_segments_per_second": rates,
            "median_cpu_ms_per_segment": statistics.median(
                r["cpu_ms_per_segment"] for r in records
            ),
            "jobs": records[0].get("jobs"),
            "n_segments": records[0]["n_segments"],
            "torch_threads": records[0]["torch_threads"],
            "malloc": "MALLOC_ENV" if args.malloc == "env" else "default glibc",
            **{k: records[0][k] for k in ("max_abs_db_difference_vs_librosa",)
               if k in records[0]},
        }
    base = summary.get("librosa-file", {}).get("median_segments_per_second")
    for side in summary:
        if base:
            summary[side]["speedup_vs_librosa_file"] = (
                summary[side]["median_segments_per_second"] / base
            )
    import torch

    record = {
        "benchmark": "bench_features",
        "data": f"synthetic ({N_PER_GENRE} per genre, 30 s)" if not args.data else "user folder",
        "n_tracks": next(iter(runs.values()))[0]["n_tracks"],
        "runs": args.runs,
        "jobs": args.jobs,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "sides": summary,
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    lines = [
        f"{'side':<34} {'segments/s (median)':>20} {'runs':>18} {'vs librosa-file':>16} "
        f"{'CPU ms/segment':>15} {'jobs':>5} {'torch threads':>14} {'allocator':>14}"
    ]
    for side, s in summary.items():
        runs_txt = ",".join(f"{r:.0f}" for r in s["runs_segments_per_second"])
        lines.append(
            f"{side:<34} {s['median_segments_per_second']:>20.1f} {runs_txt:>18} "
            f"{s.get('speedup_vs_librosa_file', float('nan')):>15.2f}x "
            f"{s['median_cpu_ms_per_segment']:>15.2f} {str(s['jobs'] or '-'):>5} "
            f"{str(s['torch_threads'] or '-'):>14} {s['malloc']:>14}"
        )
    print("\n".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
