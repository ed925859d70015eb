"""The feature cache: log-mels of every segment of a dataset, computed once, read many times.

:func:`prepare` computes the log-mel (:func:`~genrelens.features.log_mel`) of every segment
(:func:`~genrelens.audio.segment_audio`) of every track; :func:`load_features` returns them
as one :class:`Features` array with track ids, segment indices and labels, read into RAM or,
with ``memmap=True``, memory-mapped from one consolidated file.

Layout of a cache folder ``CACHE``::

    CACHE/<config digest>/            one folder per FeatureConfig (FeatureConfig.digest())
        feature_config.json           the configuration, for people and for cached_configs()
        entries/<sha256>.h5           one HDF5 file per distinct audio content: dataset
                                      "logmel" (n_segments, n_mels, n_frames) float32; attrs
                                      sha256, feature_config (JSON), n_samples, version
        index.json                    audio file -> {sha256, size, mtime_ns, n_segments},
                                      and the files skipped with their reason
        assembled/<key>.npy           load_features(..., memmap=True) only: the segments of
                                      one dataset, (N, n_mels, n_frames) float32 in dataset
                                      order; key = sha256 of its entries' sha256s, in order

Keys and invalidation: an entry is named by the sha256 of the audio file's bytes, inside the
folder of the configuration's digest. A changed file has a new hash and is recomputed; a
changed configuration uses another folder; renaming or copying files recomputes nothing.
Every file is written atomically (:func:`genrelens._io.atomic_path`), so a run killed
mid-write leaves finished entries intact and no partial ones; a new run resumes, computing
only the tracks without an entry. :func:`prepare` always re-hashes the audio (cheap beside
decoding); :func:`load_features` trusts the index and only checks each file's size and
modification time, raising :class:`~genrelens.errors.CacheError` if one changed since.

Entries are per audio content rather than one consolidated file, so that an interrupted
or partial run loses nothing, two datasets sharing files share entries, and no rebuild step
is needed; :func:`load_features` assembles the dataset's segments into one array. Run one
``prepare`` at a time per cache folder (the index is rewritten at the end of each run).

Datasets larger than RAM: ``load_features(..., memmap=True)`` copies the dataset's entries,
one at a time (peak RAM about one track's entry), into ``assembled/<key>.npy`` and returns a
read-only ``numpy.load(..., mmap_mode="r")`` array of it; the operating system pages segments
in as they are read and out under memory pressure. The key names the exact list of entries, so
the file is reused as long as the dataset's tracks and their audio are unchanged, and another
dataset (a split's training set, a changed file) gets another file. The file takes as much
disk as the dataset's entries. Files of other keys are kept, never cleaned up automatically:
delete ``assembled/`` whenever no training runs to reclaim the space (it is rebuilt on demand).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genrelens._version import __version__
from genrelens._io import atomic_path, write_json
from genrelens._parallel import check_jobs, ordered_map, single_threaded_torch
from genrelens._terminal import printable
from genrelens.config import FeatureConfig
from genrelens.data.check import file_sha256
from genrelens.data.dataset import Dataset, Track
from genrelens.data.loading import Skip
from genrelens.errors import AudioLoadError, CacheError, ParameterError
from genrelens.features import log_mel_file
from genrelens.lock import locked

__all__ = [
    "prepare",
    "PrepareReport",
    "load_features",
    "iter_track_features",
    "Features",
    "cached_configs",
    "config_dir",
]

_INDEX = "index.json"
_CONFIG = "feature_config.json"
_ENTRIES = "entries"
_ASSEMBLED = "assembled"


# --------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class PrepareReport:
    """What :func:`prepare` did.

    Parameters
    ----------
    n_tracks : int
        Tracks in the dataset.
    n_segments : int
        Segments of all usable tracks (cached and computed).
    n_cached, n_computed : int
        Usable tracks found in the cache, and computed by this run.
    n_segments_computed : int
        Segments computed by this run.
    skips : tuple of Skip
        Unusable tracks, with the :class:`~genrelens.errors.AudioLoadError` reason and message.
    seconds : float
        Wall-clock time of the run.
    cache_dir : pathlib.Path
        The folder of this configuration, ``CACHE/<config digest>``.
    """

    n_tracks: int
    n_segments: int
    n_cached: int
    n_computed: int
    n_segments_computed: int
    skips: tuple[Skip, ...]
    seconds: float
    cache_dir: Path

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(track_id, reason)`` of each unusable track."""
        return [(s.track_id, s.reason) for s in self.skips]

    @property
    def segments_per_second(self) -> float:
        """Segments computed per second of the run (0.0 when everything was cached)."""
        return self.n_segments_computed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, including :attr:`segments_per_second`."""
        out = dataclasses.asdict(self)
        out["skips"] = [s.to_dict() for s in self.skips]
        out["cache_dir"] = str(self.cache_dir)
        out["segments_per_second"] = self.segments_per_second
        return out

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"features in {self.cache_dir}",
            f"  tracks: {self.n_tracks} ({self.n_computed} computed, {self.n_cached} cached, "
            f"{len(self.skips)} skipped)",
            f"  segments: {self.n_segments} ({self.n_segments_computed} computed in "
            f"{self.seconds:.1f} s, {self.segments_per_second:.1f} segments/s)"
            if self.n_segments_computed
            else f"  segments: {self.n_segments} (all cached; {self.seconds:.1f} s)",
        ]
        if self.skips:
            lines.append(f"  skipped ({len(self.skips)}):")
            lines += [f"    {s.track_id}: {s.reason}: {s.message}" for s in self.skips]
        return "\n".join(map(printable, lines))  # names: one line each


@dataclasses.dataclass(frozen=True, eq=False)
class Features:
    """Log-mel segments of a dataset, ready for training and explanation.

    Parameters
    ----------
    logmel : numpy.ndarray, shape (N, n_mels, n_frames), float32
        Log-mel in dB of each segment (see :func:`~genrelens.features.log_mel`); a read-only
        :class:`numpy.memmap` when loaded with ``memmap=True``.
    track_ids : numpy.ndarray, shape (N,), str
        The track of each segment (segments of a track are contiguous, in dataset order).
    segment_index : numpy.ndarray, shape (N,), int64
        Position of each segment in its track (0, 1, ...; segment ``i`` starts at
        ``i * config.segment_hop_seconds`` seconds).
    labels : numpy.ndarray, shape (N,), int64
        Class of each segment, an index into ``class_names``.
    class_names : tuple of str
        The dataset's sorted class names.
    config : FeatureConfig
        How the features were computed.
    skipped : tuple of str
        Tracks of the dataset left out because their audio is unusable (see
        :attr:`PrepareReport.skips`).
    """

    logmel: np.ndarray
    track_ids: np.ndarray
    segment_index: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    config: FeatureConfig
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.logmel.shape[0])

    @property
    def tracks(self) -> tuple[str, ...]:
        """Distinct track ids, in order."""
        return tuple(dict.fromkeys(self.track_ids.tolist()))

    def subset(self, track_ids: Iterable[str]) -> Features:
        """The segments of the given tracks (in the original order).

        Ids of skipped tracks are dropped silently (they have no features); any other id
        without features raises :class:`~genrelens.errors.ParameterError`. The segments are
        copied into RAM, memory-mapped or not: to keep a large part of a dataset on disk, call
        :func:`load_features` with ``memmap=True`` on the sub-dataset
        (:meth:`~genrelens.data.Dataset.subset`) instead.
        """
        wanted = set(track_ids)
        unknown = sorted(wanted - set(self.track_ids.tolist()) - set(self.skipped))
        if unknown:
            raise ParameterError(
                f"track_ids {unknown[:5]} ({len(unknown)} in all) are not in these features: "
                "expected ids of the dataset they were loaded for."
            )
        keep = np.isin(self.track_ids, sorted(wanted))
        return dataclasses.replace(
            self,
            logmel=self.logmel[keep],
            track_ids=self.track_ids[keep],
            segment_index=self.segment_index[keep],
            labels=self.labels[keep],
            skipped=tuple(t for t in self.skipped if t in wanted),
        )


# --------------------------------------------------------------------------- prepare


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """The result of one track: its index record (usable) or its skip."""

    track: Track
    record: dict[str, Any] | None = None
    skip: Skip | None = None
    computed: bool = False


def config_dir(cache_dir: str | os.PathLike[str], config: FeatureConfig) -> Path:
    """The folder of ``config`` in a cache: ``cache_dir / config.digest()``."""
    return Path(cache_dir) / config.digest()


def prepare(
    dataset: Dataset,
    *,
    cache_dir: str | os.PathLike[str],
    config: FeatureConfig,
    progress: bool = True,
    jobs: int = 1,
) -> PrepareReport:
    """Compute and cache the log-mel of every segment of every track of ``dataset``.

    Parameters
    ----------
    dataset : Dataset
        From :func:`~genrelens.data.open_dataset`.
    cache_dir : path-like
        The cache folder (created if needed); see the module docstring for its layout.
    config : FeatureConfig
        Sampling rate, segmentation and log-mel parameters.
    progress : bool
        Show a tqdm progress bar on stderr.
    jobs : int
        Tracks processed concurrently, one per worker process (forked on Linux, spawned
        elsewhere), each running torch single-threaded and writing its own entries. 1
        processes them in order in this process (also single-threaded torch). More than the
        free cores only adds contention.

    Returns
    -------
    PrepareReport
        Counts, skipped files with reasons, timing.

    Notes
    -----
    Unusable files (any :class:`~genrelens.errors.AudioLoadError`, including ``too_short``)
    are skipped and reported; the rest finishes. Interrupting (Ctrl-C) keeps every finished
    track; running again computes only the others. The cache entry of ``config`` is locked
    while it is written (:func:`genrelens.lock.locked`): a second process preparing it at the
    same time gets a :class:`~genrelens.lock.LockError` naming the first.
    """
    check_jobs(jobs)
    root = config_dir(cache_dir, config)
    with locked(root, what="feature cache entry"):
        return _prepare(dataset, root=root, config=config, progress=progress, jobs=jobs)


def _prepare(
    dataset: Dataset, *, root: Path, config: FeatureConfig, progress: bool, jobs: int
) -> PrepareReport:
    """:func:`prepare` into the cache entry ``root``, which this process holds."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    entries = root / _ENTRIES
    entries.mkdir(parents=True, exist_ok=True)
    if not (root / _CONFIG).is_file():
        write_json(root / _CONFIG, config.to_dict())
    try:
        index = _read_index(root)
    except CacheError:
        index = {"tracks": {}, "skipped": {}}  # rebuilt by this run; entries are reused

    work = functools.partial(_prepare_track, config=config, entries=entries)
    outcomes: list[_Outcome] = []
    n_computed = n_skipped = 0
    bar = tqdm(total=len(dataset.tracks), desc="prepare", unit="track", disable=not progress)
    try:
        with single_threaded_torch():
            for outcome in ordered_map(work, dataset.tracks, jobs=jobs,
                                       initializer=_worker_init):
                outcomes.append(outcome)
                n_computed += outcome.computed
                n_skipped += outcome.skip is not None
                bar.update()
                bar.set_postfix(computed=n_computed, skipped=n_skipped, refresh=False)
    finally:
        bar.close()
        # Finished tracks are indexed even after an interruption (their entries exist).
        _update_index(root, index, outcomes)

    usable = [(o.record["n_segments"], o.computed) for o in outcomes if o.record is not None]
    return PrepareReport(
        n_tracks=len(dataset.tracks),
        n_segments=sum(n for n, _ in usable),
        n_cached=sum(not computed for _, computed in usable),
        n_computed=sum(computed for _, computed in usable),
        n_segments_computed=sum(n for n, computed in usable if computed),
        skips=tuple(o.skip for o in outcomes if o.skip is not None),
        seconds=time.perf_counter() - start,
        cache_dir=root,
    )


def _worker_init() -> None:
    """Start of a :func:`prepare` worker process: torch single-threaded (see above)."""
    import torch

    torch.set_num_threads(1)


def _prepare_track(track: Track, *, config: FeatureConfig, entries: Path) -> _Outcome:
    """Hash one track; compute and store its entry unless cached; never raise for bad audio."""
    path = Path(track.path)
    try:
        stat = path.stat()
        sha = file_sha256(path)
    except OSError as exc:
        return _Outcome(track, skip=Skip(
            track.track_id, str(path), "missing",
            f"{path}: cannot read the file ({exc.strerror or exc}); check the path.",
        ))
    record = {"sha256": sha, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    entry = entries / f"{sha}.h5"
    n_segments = _entry_segments(entry)
    if n_segments is not None:
        return _Outcome(track, record={**record, "n_segments": n_segments})
    try:
        logmel = _compute_track(path, config=config)
    except AudioLoadError as exc:
        message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
        return _Outcome(track, skip=Skip(track.track_id, str(path), exc.reason, message))
    _write_entry(entry, logmel, sha=sha, config=config)
    return _Outcome(track, record={**record, "n_segments": len(logmel)}, computed=True)


def _compute_track(path: Path, *, config: FeatureConfig) -> np.ndarray:
    """Log-mels of all segments of one file: (n_segments, n_mels, n_frames) float32."""
    return log_mel_file(path, config=config)


def _entry_segments(entry: Path) -> int | None:
    """Segments in a finished entry, or None if it is absent or unreadable."""
    if not entry.is_file():
        return None
    try:
        with h5py.File(entry, "r") as f:
            return int(f["logmel"].shape[0])
    except (OSError, KeyError):
        return None  # damaged by something outside genrelens: recompute it


def _write_entry(entry: Path, logmel: np.ndarray, *, sha: str, config: FeatureConfig) -> None:
    with atomic_path(entry) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("logmel", data=np.ascontiguousarray(logmel, dtype=np.float32))
            f.attrs["sha256"] = sha
            f.attrs["feature_config"] = json.dumps(config.to_dict(), sort_keys=True)
            f.attrs["n_samples_per_segment"] = config.segment_samples
            f.attrs["genrelens_version"] = __version__


def _key(path: str | os.PathLike[str]) -> str:
    return str(Path(path).resolve())


def _read_index(root: Path) -> dict[str, Any]:
    try:
        index = json.loads((root / _INDEX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"tracks": {}, "skipped": {}}
    except (OSError, ValueError) as exc:
        raise CacheError(
            f"{root / _INDEX}: unreadable cache index ({exc}); delete it and run "
            "`genrelens prepare` again (finished entries are reused)."
        ) from exc
    return {"tracks": index.get("tracks", {}), "skipped": index.get("skipped", {})}


def _update_index(root: Path, index: dict[str, Any], outcomes: list[_Outcome]) -> None:
    if not outcomes:
        return
    for o in outcomes:
        key = _key(o.track.path)
        index["tracks"].pop(key, None)
        index["skipped"].pop(key, None)
        if o.record is not None:
            index["tracks"][key] = o.record
        else:
            assert o.skip is not None  # an outcome has a record or a skip
            index["skipped"][key] = {"reason": o.skip.reason, "message": o.skip.message}
    write_json(root / _INDEX, {"genrelens_version": __version__, **index})


# --------------------------------------------------------------------------- load


def load_features(
    dataset: Dataset,
    *,
    cache_dir: str | os.PathLike[str],
    config: FeatureConfig,
    memmap: bool = False,
) -> Features:
    """Read the cached log-mels of ``dataset`` (after :func:`prepare` with the same config).

    Parameters
    ----------
    dataset : Dataset
    cache_dir : path-like
        The folder given to :func:`prepare`.
    config : FeatureConfig
        Selects the cache folder by its digest.
    memmap : bool
        Return the segments as a read-only memory map of ``CACHE/<config
        digest>/assembled/<key>.npy`` instead of an array in RAM, writing that file first
        unless the same entries were assembled before (see the module docstring). For
        datasets larger than RAM; in-RAM arrays are faster when they fit.

    Returns
    -------
    Features
        All segments of the usable tracks, in dataset order; tracks that :func:`prepare`
        skipped as unusable are listed in :attr:`Features.skipped`.

    Raises
    ------
    CacheError
        If there is no cache for ``config``, a track was never prepared, or its file changed
        (size or modification time) since; the message says to run ``genrelens prepare``.
    """
    root, rows, skipped = _indexed(dataset, cache_dir=cache_dir, config=config)
    counts = np.array([record["n_segments"] for _, record in rows], dtype=np.int64)
    shape = (int(counts.sum()), config.n_mels, config.n_frames)
    logmel: np.ndarray
    if memmap:
        logmel = _assembled(rows, root=root, shape=shape)
    else:
        logmel = np.empty(shape, dtype=np.float32)
        starts = np.cumsum(counts) - counts
        for (track, record), start, count in zip(rows, starts, counts, strict=True):
            _read_entry(root, track, record, out=logmel[start : start + count])
    return _features(
        logmel, rows, counts, dataset=dataset, config=config, skipped=tuple(skipped)
    )


def _indexed(
    dataset: Dataset, *, cache_dir: str | os.PathLike[str], config: FeatureConfig
) -> tuple[Path, list[tuple[Track, dict[str, Any]]], list[str]]:
    """The cache folder of ``config``, the (track, index record) of each usable track of
    ``dataset`` and the ids of its skipped tracks; :class:`CacheError` as in
    :func:`load_features`."""
    root = config_dir(cache_dir, config)
    if not (root / _INDEX).is_file():
        raise CacheError(
            f"{cache_dir}: no features for this FeatureConfig (digest {config.digest()}); "
            f"run `genrelens prepare --data {dataset.root} --cache {cache_dir}` with the same "
            "settings first."
        )
    index = _read_index(root)
    rows: list[tuple[Track, dict[str, Any]]] = []
    skipped: list[str] = []
    problems: list[str] = []
    for track in dataset.tracks:
        key = _key(track.path)
        record = index["tracks"].get(key)
        if record is None:
            if key in index["skipped"]:
                skipped.append(track.track_id)
            else:
                problems.append(f"{track.track_id} (not prepared)")
            continue
        try:
            stat = Path(track.path).stat()
        except OSError:
            problems.append(f"{track.track_id} (file missing)")
            continue
        if (stat.st_size, stat.st_mtime_ns) != (record["size"], record["mtime_ns"]):
            problems.append(f"{track.track_id} (changed since prepare)")
            continue
        rows.append((track, record))
    if problems:
        raise CacheError(
            f"{root}: {len(problems)} tracks have no valid cached features: "
            f"{', '.join(problems[:5])}{', ...' if len(problems) > 5 else ''}; run "
            "`genrelens prepare` again (only those are recomputed)."
        )
    return root, rows, skipped


def iter_track_features(
    dataset: Dataset,
    *,
    cache_dir: str | os.PathLike[str],
    config: FeatureConfig,
    logmel: bool = True,
) -> Iterator[tuple[Track, str, np.ndarray | None]]:
    """The cached log-mels of ``dataset``, one usable track at a time (after :func:`prepare`).

    Parameters
    ----------
    dataset : Dataset
    cache_dir : path-like
    config : FeatureConfig
    logmel : bool
        Read the segments; ``False`` yields ``None`` in their place (from the index alone).

    Yields
    ------
    (Track, str, numpy.ndarray or None)
        The track, the sha256 of its file and its segments, shape (n_segments, n_mels,
        n_frames); skipped tracks are left out. Memory: one track's segments at a time.

    Raises
    ------
    CacheError
        As :func:`load_features`.
    """
    root, rows, _ = _indexed(dataset, cache_dir=cache_dir, config=config)
    for track, record in rows:
        if not logmel:
            yield track, record["sha256"], None
            continue
        out = np.empty((record["n_segments"], config.n_mels, config.n_frames), dtype=np.float32)
        _read_entry(root, track, record, out=out)
        yield track, record["sha256"], out


def _read_entry(root: Path, track: Track, record: dict[str, Any], *, out: np.ndarray) -> None:
    """Read the cached log-mels of one track into ``out`` (its exact shape is expected)."""
    entry = root / _ENTRIES / f"{record['sha256']}.h5"
    try:
        with h5py.File(entry, "r") as f:
            data = f["logmel"]
            if data.shape != out.shape:
                raise CacheError(
                    f"{entry}: holds shape {data.shape}, expected {out.shape}; delete it and "
                    "run `genrelens prepare` again."
                )
            data.read_direct(out)
    except (OSError, KeyError) as exc:
        raise CacheError(
            f"{entry}: cached features of {track.track_id} are missing or unreadable "
            f"({exc}); run `genrelens prepare` again."
        ) from exc


def _assembled(
    rows: list[tuple[Track, dict[str, Any]]], *, root: Path, shape: tuple[int, int, int]
) -> np.memmap:
    """The read-only memory map of ``assembled/<key>.npy``, written first if needed.

    The file is written entry by entry through one buffer of the largest track's size, so
    peak RAM stays about one track's entry whatever the dataset's size.
    """
    key = hashlib.sha256("\n".join(r["sha256"] for _, r in rows).encode("ascii")).hexdigest()
    path = root / _ASSEMBLED / f"{key}.npy"
    found = _open_assembled(path, shape=shape)
    if found is not None:
        return found
    buffer = np.empty((max((r["n_segments"] for _, r in rows), default=0), *shape[1:]),
                      dtype=np.float32)
    header = {"descr": np.lib.format.dtype_to_descr(buffer.dtype), "fortran_order": False,
              "shape": shape}
    with atomic_path(path, size=128 + math.prod(shape) * buffer.itemsize) as tmp, \
            tmp.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for track, record in rows:
            part = buffer[: record["n_segments"]]
            _read_entry(root, track, record, out=part)
            f.write(part.data)
    return np.load(path, mmap_mode="r")


def _open_assembled(path: Path, *, shape: tuple[int, int, int]) -> np.memmap | None:
    """``path`` memory-mapped read-only, or None if absent, unreadable or of another shape."""
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None  # absent, or damaged by something outside genrelens: rebuild it
    if array.shape != shape or array.dtype != np.float32:
        return None
    return array


def _features(
    logmel: np.ndarray,
    rows: list[tuple[Track, dict[str, Any]]],
    counts: np.ndarray,
    *,
    dataset: Dataset,
    config: FeatureConfig,
    skipped: tuple[str, ...],
) -> Features:
    """The :class:`Features` of ``rows`` (track, index record), given their segments."""
    n = len(logmel)
    class_index = {c: i for i, c in enumerate(dataset.class_names)}
    return Features(
        logmel=logmel,
        track_ids=np.repeat(np.array([t.track_id for t, _ in rows], dtype=str), counts),
        segment_index=np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts),
        labels=np.repeat(
            np.array([class_index[t.label] for t, _ in rows], dtype=np.int64), counts
        ),
        class_names=tuple(dataset.class_names),
        config=config,
        skipped=skipped,
    )


def cached_configs(cache_dir: str | os.PathLike[str]) -> list[FeatureConfig]:
    """The configurations that have features in ``cache_dir`` (sorted by digest).

    Lets a command given only ``--cache`` find the configuration: exactly one is the usual
    case.
    """
    root = Path(cache_dir)
    configs = []
    for path in sorted(root.glob(f"*/{_CONFIG}")):
        config = FeatureConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
        if config.digest() == path.parent.name and (path.parent / _INDEX).is_file():
            configs.append(config)
    return configs
