"""Memory of loading a dataset from the feature cache: in RAM vs. memory-mapped (``--stream``).

Makes a folder of synthetic 30-s tracks (two classes of tones), prepares their log-mels in a
cache, then, each in a fresh subprocess, runs ``load_features`` in RAM and with ``memmap=True``
(first call: writes ``assembled/<key>.npy``; second call: reuses it) and reports its anonymous
resident memory (``RssAnon`` of ``/proc/self/status``) before and after. Each worker then reads
every segment once in shuffled batches of 32, as a training epoch does, and reports its
anonymous and file-backed resident memory again: the pages of a memory map are file-backed and
the kernel reclaims them under memory pressure, anonymous memory it cannot. (The peak
``ru_maxrss`` is also recorded, but importing torch peaks above a small dataset.)

Usage::

    python benchmarks/bench_stream.py [--tracks 200] [--workdir DIR] [--json results.json]

Writes a JSON document (to ``--json`` or stdout) and prints a table to stderr. Allocator: the
environment as given (this measures memory, not speed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import allocator, emit  # noqa: E402


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _worker(mode: str, data: str, cache: str) -> dict:
    import numpy as np

    from genrelens.cache import load_features
    from genrelens.config import FeatureConfig
    from genrelens.data import open_dataset

    dataset = open_dataset(data)
    before, anon_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, _status_kb("RssAnon")
    start = time.perf_counter()
    features = load_features(dataset, cache_dir=cache, config=FeatureConfig(),
                             memmap=mode != "ram")
    seconds = time.perf_counter() - start
    after, anon_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, _status_kb("RssAnon")
    order = np.random.default_rng(0).permutation(len(features))
    total = 0.0
    for i in range(0, len(order), 32):
        total += float(features.logmel[order[i : i + 32]].sum())
    return {
        "mode": mode,
        "seconds": seconds,
        "maxrss_before_mb": before / 1024,
        "maxrss_after_load_mb": after / 1024,
        "load_peak_mb": (after - before) / 1024,
        "rss_anon_before_mb": anon_before / 1024,
        "load_rss_anon_mb": (anon_after - anon_before) / 1024,
        "after_epoch_rss_anon_mb": _status_kb("RssAnon") / 1024,
        "after_epoch_rss_file_mb": _status_kb("RssFile") / 1024,
        "checksum": total,
    }


def _make_dataset(root: Path, *, tracks: int) -> None:
    import numpy as np
    import soundfile as sf

    sr, seconds = 22050, 30.5
    t = np.arange(int(sr * seconds)) / sr
    for i in range(tracks):
        label = ("low", "high")[i % 2]
        freq = (110.0 if label == "low" else 1760.0) * (1 + 0.01 * i)
        path = root / label / f"{label}{i:04d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=200, help="30-s tracks (10 segments each)")
    parser.add_argument("--workdir", help="where the tracks and cache go (default: a temp dir)")
    parser.add_argument("--json", help="write the JSON record here")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "DATA", "CACHE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return 0

    from genrelens.cache import prepare
    from genrelens.config import FeatureConfig
    from genrelens.data import open_dataset

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_stream_"))
    data, cache = work / "data", work / "cache"
    if not data.is_dir():
        _make_dataset(data, tracks=args.tracks)
    report = prepare(open_dataset(data), cache_dir=cache, config=FeatureConfig(), progress=False)
    runs = []
    for mode in ("ram", "memmap (writes the file)", "memmap (reuses it)"):
        out = subprocess.run(
            [sys.executable, __file__, "--worker", mode, str(data), str(cache)],
            check=True, capture_output=True, text=True,
        ).stdout
        runs.append(json.loads(out))
    record = {
        "benchmark": "bench_stream",
        "allocator": allocator(),
        "tracks": args.tracks,
        "segments": report.n_segments,
        "dataset_mb": report.n_segments * 128 * 130 * 4 / 2**20,
        "runs": runs,
    }

    def table(r: dict) -> str:
        lines = [f"{r['segments']} segments, {r['dataset_mb']:.0f} MB of float32 log-mels",
                 f"{'mode':<26} {'load s':>7} {'anon before':>12} {'load adds':>10} "
                 f"{'anon after epoch':>17} {'file after epoch':>17}"]
        for run in r["runs"]:
            lines.append(
                f"{run['mode']:<26} {run['seconds']:7.2f} {run['rss_anon_before_mb']:10.0f}MB "
                f"{run['load_rss_anon_mb']:+8.0f}MB {run['after_epoch_rss_anon_mb']:15.0f}MB "
                f"{run['after_epoch_rss_file_mb']:15.0f}MB"
            )
        return "\n".join(lines)

    return emit(record, table=table, json_path=args.json)


if __name__ == "__main__":
    raise SystemExit(main())
