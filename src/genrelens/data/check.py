"""``genrelens data check``: what a dataset holds and what is wrong with it.

:func:`check_dataset` decodes every file once (at its own rate) and reports counts per class,
durations, sampling rates, files that cannot be used (with the
:class:`~genrelens.errors.AudioLoadError` reason: undecodable, truncated, empty, silent,
non-finite, or shorter than one segment), byte-identical duplicates (sha256 of the file
contents; duplicated tracks put the same audio in two sets of a split), files ignored by the
layout, and what the layout's metadata lists but the disk lacks (FMA: missing mp3 files; tracks
left out for lack of a label). A dataset is *usable* (:func:`class_problems`) when at least two
classes have readable files and every class has one; everything else is reported but does not
make it unusable.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._parallel import check_jobs, ordered_map
from genrelens._terminal import printable
from genrelens.audio import load_audio_native
from genrelens.config import FeatureConfig
from genrelens.data.dataset import Dataset, Track
from genrelens.data.loading import Skip
from genrelens.errors import AudioLoadError

__all__ = ["DatasetReport", "check_dataset", "class_counts", "class_problems", "file_sha256"]


@dataclasses.dataclass(frozen=True)
class DatasetReport:
    """The result of :func:`check_dataset`.

    Attributes
    ----------
    root : str
        The dataset's class folder root.
    layout : str
        ``"gtzan-original"``, ``"gtzan-kaggle"``, ``"fma"`` or ``"folder"``.
    n_tracks, n_readable : int
        Files listed, and files usable (decoded, at least one segment long).
    class_counts : dict of str to [int, int]
        Per class: ``[readable, listed]``.
    durations : dict of str to float
        ``min``, ``median``, ``max`` duration in seconds over readable files (NaN if none).
    sample_rates : dict of str to int
        Files per native sampling rate in Hz (keys are strings for JSON).
    n_segments : int
        Segments of ``segment_seconds`` the readable files give (partial ones dropped).
    unreadable : list of Skip
        Unusable files and why.
    duplicates : list of list of str
        Groups of track ids whose files are byte-identical.
    ignored : list of str
        Audio files the layout does not count as tracks.
    unknown : list of str
        Files whose ending is no audio format genrelens reads; not decoded.
    missing : list of str
        Files the layout's metadata lists as tracks but that are absent (not counted in
        ``n_tracks``).
    notes : list of str
        What else the layout reported (:attr:`Dataset.notes <genrelens.data.Dataset.notes>`).
    problems : list of str
        Why the dataset is unusable (empty when it is usable).
    segment_seconds : float
        The segment length the check used.
    """

    root: str
    layout: str
    n_tracks: int
    n_readable: int
    class_counts: dict[str, list[int]]
    durations: dict[str, float]
    sample_rates: dict[str, int]
    n_segments: int
    unreadable: list[Skip]
    duplicates: list[list[str]]
    ignored: list[str]
    unknown: list[str]
    missing: list[str]
    notes: list[str]
    problems: list[str]
    segment_seconds: float

    @property
    def usable(self) -> bool:
        """True when no problem makes the dataset unusable."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``unreadable`` as dicts, plus ``usable``)."""
        out = dataclasses.asdict(self)
        out["unreadable"] = [s.to_dict() for s in self.unreadable]
        out["usable"] = self.usable
        return out

    def format(self) -> str:
        """A human-readable multi-line summary."""
        d = self.durations
        lines = [
            f"dataset {self.root} (layout {self.layout})",
            f"  {self.n_readable} of {self.n_tracks} files readable, "
            f"{len(self.class_counts)} classes, {self.n_segments} segments of "
            f"{self.segment_seconds:g} s",
            f"  duration (s): min {d['min']:.2f}  median {d['median']:.2f}  max {d['max']:.2f}",
            "  sampling rates: "
            + ", ".join(f"{r} Hz x{n}" for r, n in sorted(self.sample_rates.items())),
            "  per class (readable/listed):",
        ]
        lines += [f"    {c:<16} {r:>5}/{n}" for c, (r, n) in sorted(self.class_counts.items())]
        if self.unreadable:
            lines.append(f"  unreadable ({len(self.unreadable)}):")
            lines += [f"    {s.track_id}: {s.reason}: {s.message}" for s in self.unreadable]
        if self.duplicates:
            lines.append(f"  byte-identical duplicates ({len(self.duplicates)} groups):")
            lines += [f"    {' = '.join(group)}" for group in self.duplicates]
        if self.ignored:
            lines.append(f"  ignored files ({len(self.ignored)}): {', '.join(self.ignored[:10])}")
        if self.unknown:
            lines.append(
                f"  files of unknown type, not read ({len(self.unknown)}): "
                f"{', '.join(self.unknown[:10])}"
            )
        if self.missing:
            lines.append(
                f"  missing files, left out ({len(self.missing)}): {', '.join(self.missing[:10])}"
            )
        lines += [f"  note: {note}" for note in self.notes]
        if self.problems:
            lines.append("  UNUSABLE: " + "; ".join(self.problems))
        else:
            lines.append("  usable: yes")
        return "\n".join(map(printable, lines))  # names: one line each


def class_counts(dataset: Dataset, *, skips: Sequence[Skip]) -> dict[str, list[int]]:
    """``{class: [readable, listed]}``: tracks per class of ``dataset`` once the ``skips``
    (files that cannot be used) are left out, and all its tracks."""
    skipped = {s.track_id for s in skips}
    listed = Counter(t.label for t in dataset.tracks)
    readable = Counter(t.label for t in dataset.tracks if t.track_id not in skipped)
    return {c: [readable[c], listed[c]] for c in dataset.class_names}


def class_problems(dataset: Dataset, *, skips: Sequence[Skip]) -> list[str]:
    """Why no classifier can be trained on ``dataset`` once the ``skips`` are left out.

    Parameters
    ----------
    dataset : Dataset
    skips : sequence of Skip
        Its files that cannot be used (from :func:`check_dataset` or
        :func:`genrelens.cache.prepare`).

    Returns
    -------
    list of str
        Empty when at least two classes have readable tracks and every class has one; else
        what is wrong: no readable track, fewer than two classes with readable tracks (naming
        them), each class whose files were all skipped (naming how many).
    """
    counts = class_counts(dataset, skips=skips)
    readable = sorted(c for c, (n, _) in counts.items() if n)
    if not readable:
        return ["no readable tracks"]
    problems = []
    if len(readable) < 2:
        problems.append(
            f"fewer than 2 classes with readable tracks ({readable}); a classifier needs at "
            "least two"
        )
    problems += [
        f"class {c!r} has no readable track (all its {n_listed} files are skipped)"
        for c, (n, n_listed) in counts.items()
        if not n
    ]
    return problems


def file_sha256(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class _Inspected:
    """What :func:`_inspect` learns of a readable file."""

    track: Track
    seconds: float
    sr: int
    sha256: str


def _inspect(track: Track) -> _Inspected | Skip:
    """Decode one file at its own rate and hash it; a :class:`Skip` if it cannot be decoded."""
    try:
        y, rate = load_audio_native(track.path)
    except AudioLoadError as exc:
        return Skip(track.track_id, str(track.path), exc.reason, str(exc))
    return _Inspected(track, y.shape[0] / rate, rate, file_sha256(track.path))


def check_dataset(
    dataset: Dataset,
    *,
    config: FeatureConfig | None = None,
    progress: bool = True,
    jobs: int = 1,
) -> DatasetReport:
    """Decode every file of ``dataset`` and report what it holds and what is wrong.

    Parameters
    ----------
    dataset : Dataset
        From :func:`~genrelens.data.open_dataset`.
    config : FeatureConfig, optional
        Its ``segment_seconds`` decides which files are too short and how many segments the
        readable ones give (default ``FeatureConfig()``: 3 s).
    progress : bool
        Show a progress bar on stderr.
    jobs : int
        Files decoded concurrently, in worker processes (:func:`genrelens._parallel.ordered_map`);
        the report is the same for any value.

    Returns
    -------
    DatasetReport
    """
    from tqdm.auto import tqdm

    config = FeatureConfig() if config is None else config
    check_jobs(jobs)
    durations: list[float] = []
    rates: Counter[str] = Counter()
    unreadable: list[Skip] = []
    by_hash: dict[str, list[str]] = defaultdict(list)
    n_segments = 0
    items = ordered_map(_inspect, dataset.tracks, jobs=jobs)
    for item in tqdm(items, total=len(dataset.tracks), desc="checking", unit="file",
                     disable=not progress, leave=False):
        if isinstance(item, Skip):
            unreadable.append(item)
            continue
        track, seconds = item.track, item.seconds
        n_samples = int(round(seconds * config.sr))
        if n_samples < config.segment_samples:
            unreadable.append(
                Skip(
                    track.track_id,
                    str(track.path),
                    "too_short",
                    f"{track.path}: {seconds:.2f} s is shorter than one segment of "
                    f"{config.segment_seconds:g} s; remove it or use a shorter segment.",
                )
            )
            continue
        n_segments += 1 + (n_samples - config.segment_samples) // config.segment_hop_samples
        durations.append(seconds)
        rates[str(item.sr)] += 1
        by_hash[item.sha256].append(track.track_id)
    problems = class_problems(dataset, skips=unreadable)
    stats = np.array(durations) if durations else np.full(1, np.nan)
    return DatasetReport(
        root=str(dataset.root),
        layout=dataset.layout,
        n_tracks=len(dataset),
        n_readable=len(durations),
        class_counts=class_counts(dataset, skips=unreadable),
        durations={
            "min": float(stats.min()),
            "median": float(np.median(stats)),
            "max": float(stats.max()),
        },
        sample_rates=dict(rates),
        n_segments=n_segments,
        unreadable=unreadable,
        duplicates=sorted(sorted(ids) for ids in by_hash.values() if len(ids) > 1),
        ignored=list(dataset.ignored),
        unknown=list(dataset.unknown),
        missing=list(dataset.missing),
        notes=list(dataset.notes),
        problems=problems,
        segment_seconds=config.segment_seconds,
    )
