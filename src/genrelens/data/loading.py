"""Batch loading: decode many tracks, skip and report the bad ones, finish the rest.

:func:`iter_audio` decodes a dataset's files in turn in this process (``data check`` and
``prepare`` decode in worker processes through
:func:`genrelens._parallel.ordered_map` and report the same :class:`Skip`). A file that cannot
be used becomes a :class:`Skip` with the :class:`~genrelens.errors.AudioLoadError` reason;
nothing else is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from genrelens.audio import load_audio, load_audio_native
from genrelens.data.dataset import Track
from genrelens.errors import AudioLoadError

__all__ = ["Skip", "Loaded", "iter_audio"]


@dataclasses.dataclass(frozen=True)
class Skip:
    """A track that could not be used.

    Parameters
    ----------
    track_id, path : str
        The track and its file.
    reason : str
        :attr:`AudioLoadError.reason <genrelens.errors.AudioLoadError.reason>`.
    message : str
        The error message (names the file and what to do).
    """

    track_id: str
    path: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A decoded track: mono float32 waveform ``y`` of shape (n_samples,) at rate ``sr``."""

    track: Track
    y: np.ndarray
    sr: int


def iter_audio(
    tracks: Iterable[Track],
    *,
    sr: int | None,
    progress: bool = True,
    desc: str = "loading audio",
) -> Iterator[Loaded | Skip]:
    """Load each track in turn; yield :class:`Loaded`, or :class:`Skip` for an unusable file.

    Parameters
    ----------
    tracks : iterable of Track
        E.g. ``dataset.tracks``.
    sr : int or None
        Target rate in Hz (see :func:`~genrelens.audio.load_audio`); ``None`` keeps each
        file's own rate.
    progress : bool
        Show a tqdm progress bar on stderr.
    desc : str
        Label of the progress bar.

    Yields
    ------
    Loaded or Skip
        In the order of ``tracks``.
    """
    from tqdm.auto import tqdm

    tracks = list(tracks)
    for track in tqdm(tracks, desc=desc, unit="file", disable=not progress, leave=False):
        try:
            if sr is None:
                y, rate = load_audio_native(track.path)
            else:
                y, rate = load_audio(track.path, sr=sr), sr
        except AudioLoadError as exc:
            yield Skip(track.track_id, str(track.path), exc.reason, str(exc))
            continue
        yield Loaded(track, y, rate)
