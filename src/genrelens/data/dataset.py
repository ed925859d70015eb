"""Datasets as lists of labelled tracks: :class:`Track` and :class:`Dataset`.

:func:`genrelens.data.discover.open_dataset` finds a dataset in a folder; the layout readers
(:mod:`~genrelens.data.gtzan`, :mod:`~genrelens.data.fma`, :mod:`~genrelens.data.folder`)
build these types and this module imports none of them.

Track ids are unique and stable: GTZAN ``blues.00012``; FMA the six-digit id ``000002``; folder
datasets ``<label>/<path below the label folder without extension>`` (e.g. ``jazz/live/take1``).
Splits, caches and votes all work on track ids, so the segments of one track never cross sets.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from genrelens.errors import DatasetError

__all__ = ["Track", "Dataset", "LAYOUTS"]

#: Layout names a :class:`Dataset` can have.
LAYOUTS = ("gtzan-original", "gtzan-kaggle", "fma", "folder")


@dataclasses.dataclass(frozen=True)
class Track:
    """One labelled audio file.

    Parameters
    ----------
    track_id : str
        Unique id in its dataset (GTZAN: ``"blues.00012"``).
    path : pathlib.Path
        The audio file.
    label : str
        Its class name (genre).
    """

    track_id: str
    path: Path
    label: str


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A labelled collection of audio tracks.

    Parameters
    ----------
    root : pathlib.Path
        The folder holding the audio: one sub-folder per class (FMA: the audio folder, e.g.
        ``fma_small``).
    layout : str
        One of :data:`LAYOUTS`.
    tracks : tuple of Track
        Sorted by ``track_id``; ids are unique.
    class_names : tuple of str
        Sorted class names; a label's index in it is its integer class.
    ignored : tuple of str
        Files under ``root`` with an audio extension that are not tracks (GTZAN: names that do
        not follow ``<genre>.000NN``, or a second copy ``.au``/``.wav`` of the same track; FMA:
        files of tracks that the metadata does not list for the subset).
    unknown : tuple of str
        Files under ``root`` whose ending is no audio format genrelens reads
        (:data:`~genrelens.formats.AUDIO_EXTENSIONS`), relative to ``root``; not read, listed
        by ``genrelens data check``.
    missing : tuple of str
        Files the layout's metadata lists as tracks but that are absent, relative to ``root``
        (FMA: ``000/000005.mp3``); they are not in ``tracks``.
    notes : tuple of str
        What else the user should know about how the dataset was read (FMA: how many tracks
        were left out for lack of a label).
    """

    root: Path
    layout: str
    tracks: tuple[Track, ...]
    class_names: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise DatasetError(f"layout={self.layout!r} is unknown: expected one of {LAYOUTS}.")
        ids = [t.track_id for t in self.tracks]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise DatasetError(f"dataset {self.root}: duplicate track ids {dup[:5]}.")
        unknown = sorted({t.label for t in self.tracks} - set(self.class_names))
        if unknown:
            raise DatasetError(
                f"dataset {self.root}: labels {unknown} are not in class_names {self.class_names}."
            )

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def track_ids(self) -> tuple[str, ...]:
        """Track ids in dataset order."""
        return tuple(t.track_id for t in self.tracks)

    @property
    def labels(self) -> np.ndarray:
        """Integer class of each track, shape (n_tracks,), indices into :attr:`class_names`."""
        index = {c: i for i, c in enumerate(self.class_names)}
        return np.array([index[t.label] for t in self.tracks], dtype=np.int64)

    @functools.cached_property
    def _by_id(self) -> dict[str, Track]:
        return {t.track_id: t for t in self.tracks}

    def track(self, track_id: str) -> Track:
        """The track with id ``track_id``; :class:`DatasetError` if absent."""
        found = self._by_id.get(track_id)
        if found is not None:
            return found
        raise DatasetError(f"dataset {self.root} has no track {track_id!r}.")

    def subset(self, track_ids: Iterable[str]) -> Dataset:
        """A dataset of the given tracks (in dataset order), same classes; unknown ids raise."""
        wanted = set(track_ids)
        missing = sorted(wanted - set(self.track_ids))
        if missing:
            raise DatasetError(
                f"dataset {self.root} has no tracks {missing[:5]} ({len(missing)} missing)."
            )
        return dataclasses.replace(
            self, tracks=tuple(t for t in self.tracks if t.track_id in wanted)
        )
