"""Ground-truth cues of the synthetic data set: cue events, per-track records, log-mel masks.

A cue record ``cues/<track_id>.json`` holds ``{"track_id", "genre", "events": [...],
"summary": {...}}``; an event is ``{"cue", "stem", "start", "end", "fmin", "fmax"}`` (seconds,
Hz). :func:`cue_mask` turns the events into a boolean mask on the log-mel grid of one segment,
used by :mod:`genrelens.evaluate` to score explanations (relevance mass inside the mask,
pointing game; Zhang et al. 2018, "Top-down neural attention by excitation backprop").
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._validation import check_int
from genrelens.config import FeatureConfig
from genrelens.errors import DatasetError, ParameterError

__all__ = ["STEMS", "CueEvent", "CueRecord", "load_cues", "cue_mask"]

#: Stem names, in the order they are summed.
STEMS: tuple[str, ...] = ("drums", "bass", "harmony", "lead")


@dataclasses.dataclass(frozen=True)
class CueEvent:
    """One genre-defining event: where in time (s) and frequency (Hz) a cue sounds.

    Parameters
    ----------
    cue : str
        Cue name (a key of ``GENRES[genre].cues``).
    stem : str
        The stem that carries it (one of :data:`STEMS`).
    start, end : float
        Seconds from the start of the track, ``0 <= start <= end``.
    fmin, fmax : float
        The frequency band in Hz holding the event's energy, ``0 <= fmin <= fmax``.
    """

    cue: str
    stem: str
    start: float
    end: float
    fmin: float
    fmax: float

    def __post_init__(self) -> None:
        if self.stem not in STEMS:
            raise ParameterError(f"stem={self.stem!r} is invalid: expected one of {STEMS}.")
        if not (
            math.isfinite(self.start) and math.isfinite(self.end) and 0 <= self.start <= self.end
        ):
            raise ParameterError(
                f"start={self.start!r}, end={self.end!r} are invalid: expected 0 <= start <= end."
            )
        if not (math.isfinite(self.fmax) and 0 <= self.fmin <= self.fmax):
            raise ParameterError(
                f"fmin={self.fmin!r}, fmax={self.fmax!r} are invalid: expected 0 <= fmin <= fmax."
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CueEvent:
        """Build from a mapping with the six field names (as stored in the JSON records)."""
        fields = [f.name for f in dataclasses.fields(cls)]
        missing = [k for k in fields if k not in data]
        if missing:
            raise ParameterError(
                f"cue event {dict(data)!r} lacks keys {missing}: expected {fields}."
            )
        return cls(
            cue=str(data["cue"]),
            stem=str(data["stem"]),
            start=float(data["start"]),
            end=float(data["end"]),
            fmin=float(data["fmin"]),
            fmax=float(data["fmax"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times rounded to 0.1 ms, frequencies to 0.1 Hz)."""
        return {
            "cue": self.cue,
            "stem": self.stem,
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "fmin": round(self.fmin, 1),
            "fmax": round(self.fmax, 1),
        }


@dataclasses.dataclass(frozen=True)
class CueRecord:
    """The ground truth of one track: its cue events and a summary of how it was made."""

    track_id: str
    genre: str
    events: tuple[CueEvent, ...]
    summary: dict[str, Any]



def load_cues(root: str | os.PathLike[str], track_id: str) -> CueRecord:
    """Read the cue record of ``track_id`` from a synthetic data set folder ``root``.

    Raises
    ------
    DatasetError
        If ``root/cues/<track_id>.json`` is missing or malformed.
    """
    path = Path(root) / "cues" / f"{track_id}.json"
    if not path.is_file():
        raise DatasetError(
            f"{path}: no cue record for track {track_id!r}; cue records exist only for data sets "
            "made by `genrelens data synth`."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        events = tuple(CueEvent.from_dict(e) for e in data["events"])
        return CueRecord(
            track_id=data["track_id"], genre=data["genre"], events=events, summary=data["summary"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: malformed cue record ({exc}).") from exc


def cue_mask(
    events: Iterable[CueEvent | Mapping[str, Any]],
    *,
    config: FeatureConfig,
    start: float,
    n_frames: int,
) -> np.ndarray:
    """The ground-truth cue mask of one segment on the log-mel grid.

    Parameters
    ----------
    events : iterable of CueEvent or mapping
        Cue events of the track (e.g. ``load_cues(root, tid).events``), times in track seconds.
    config : FeatureConfig
        Gives ``sr``, ``hop_length``, ``n_mels``, ``fmin``, ``fmax``.
    start : float
        Start of the segment in track seconds.
    n_frames : int
        Frames of the segment (``config.n_frames`` for a full segment).

    Returns
    -------
    np.ndarray
        bool, shape ``(n_mels, n_frames)``. ``mask[b, i]`` is True when some event spans the
        centre time of frame ``i`` (``start + i * hop_length / sr``, centred STFT) and its band
        ``[fmin, fmax]`` holds the centre frequency of mel bin ``b``
        (:func:`genrelens.features.mel_frequencies`, as librosa's
        ``mel_frequencies(n_mels + 2, fmin, fmax)[1:-1]``). Short or narrow events are never
        lost: one that overlaps the segment (widened by half a hop at each end) but spans no
        frame centre marks the frame nearest its middle, and one that overlaps the filterbank
        range but holds no bin centre marks the bin nearest its middle frequency.
    """
    from genrelens.features import box_mask

    check_int("n_frames", n_frames, minimum=1)
    if not math.isfinite(start):
        raise ParameterError(f"start={start!r} is invalid: expected a finite number of seconds.")
    mask = np.zeros((config.n_mels, n_frames), dtype=bool)
    for ev in events:
        ev = ev if isinstance(ev, CueEvent) else CueEvent.from_dict(ev)
        mask |= box_mask(start=ev.start, end=ev.end, fmin=ev.fmin, fmax=ev.fmax, config=config,
                         n_frames=n_frames, offset=start)
    return mask
