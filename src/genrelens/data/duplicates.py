"""Duplicate recordings in a dataset: byte-identical files, and the same audio re-encoded.

A recording that appears twice (a copy under another label, a WAV beside its MP3 in another
folder) puts the same audio in two sets of a split and inflates test accuracy; under two
labels it also asks the model to be right twice on contradictory answers. The split therefore
keeps each group of duplicates in one set (:func:`genrelens.data.splits.keep_together`) and
warns.

* **Byte-identical**: same sha256 of the file contents.
* **Re-encoded**: the log-mels of the two tracks, pooled to :data:`FINGERPRINT_BANDS` mel bands
  by blocks of about :data:`FINGERPRINT_SECONDS`, with each band's mean over time and each
  block's mean over bands removed (what is compared is how the spectrum moves, not the spectral
  balance all music shares nor a loudness envelope that simple clips share), correlate at
  :data:`MATCH_CORRELATION` or more, over the segments both have (tracks whose segment counts
  differ by at most one are compared: encoder delay and padding can add a segment). Measured:
  MP3, Ogg Vorbis and 44.1-kHz FLAC copies correlated 0.90 to 1.00 with their original;
  different tracks at most 0.51 (synthetic tracks of four genres, 9.5 s, also within a genre)
  and 0.35 (20 clips of 3.5 s of randomly gated tones and noise). Different *versions* of a
  song (live, remastered with other dynamics) are not found.

Cost: one matrix product per pair of segment counts, ``O(n² d)`` for ``n`` tracks of ``d``
fingerprint values (about a second for 1,000 tracks of 30 s), after reading every track's
log-mels once. ``genrelens train`` fingerprints datasets of up to :data:`MAX_COMPARED` tracks;
beyond (FMA medium and larger) it looks for byte-identical files only and a note says so.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from genrelens.data.dataset import Track

__all__ = [
    "Duplicates",
    "FINGERPRINT_BANDS",
    "FINGERPRINT_SECONDS",
    "MATCH_CORRELATION",
    "MAX_COMPARED",
    "fingerprint",
    "find_duplicates",
    "find_identical",
    "identical_only",
]

#: Mel bands of a fingerprint (the log-mel's bands are averaged in this many groups).
FINGERPRINT_BANDS = 16
#: Length of a fingerprint's time blocks, in seconds.
FINGERPRINT_SECONDS = 0.25
#: Pearson correlation of two fingerprints from which the tracks are the same recording.
MATCH_CORRELATION = 0.8
#: Largest dataset whose tracks `genrelens train` fingerprints (beyond: byte-identical only).
MAX_COMPARED = 20_000
# Rows of one block of the pairwise product (bounds its memory to ~ _CHUNK**2 * 8 bytes).
_CHUNK = 2048


@dataclasses.dataclass(frozen=True)
class Duplicates:
    """The duplicate groups of a dataset.

    Attributes
    ----------
    groups : tuple of tuple of str
        Sorted track ids of each group of two or more tracks holding the same recording.
    identical : tuple of bool
        Per group, whether all its files are byte-identical.
    notes : tuple of str
        What the search left out.
    """

    groups: tuple[tuple[str, ...], ...] = ()
    identical: tuple[bool, ...] = ()
    notes: tuple[str, ...] = ()

    def describe(self, index: int) -> str:
        """``"a = b (byte-identical)"`` or ``"a = b (same audio, re-encoded)"``."""
        kind = "byte-identical" if self.identical[index] else "same audio, re-encoded"
        return f"{' = '.join(self.groups[index])} ({kind})"


def fingerprint(logmel: np.ndarray, *, block_frames: int) -> np.ndarray:
    """A coarse summary of one track's log-mel, robust to lossy re-encoding.

    Parameters
    ----------
    logmel : numpy.ndarray, shape (n_segments, n_mels, n_frames)
        The track's segments (as cached by :func:`genrelens.cache.prepare`), in dB.
    block_frames : int
        Frames per time block (``FINGERPRINT_SECONDS * sr / hop_length``, at least 1).

    Returns
    -------
    numpy.ndarray, shape (n_segments, FINGERPRINT_BANDS, blocks per segment), float32
        Band- and block-averaged dB values (partial blocks dropped).
    """
    n_segments, n_mels, n_frames = logmel.shape
    n_blocks = max(n_frames // block_frames, 1)
    block = min(block_frames, n_frames)
    edges = np.linspace(0, n_mels, FINGERPRINT_BANDS + 1).round().astype(int)
    x = logmel[:, :, : n_blocks * block].reshape(n_segments, n_mels, n_blocks, block).mean(axis=3)
    bands = np.add.reduceat(x, edges[:-1], axis=1) / np.diff(edges)[None, :, None]
    return bands.astype(np.float32)


def find_duplicates(
    tracks: Iterable[tuple[str, str, np.ndarray | None]], *, threshold: float = MATCH_CORRELATION
) -> Duplicates:
    """Group the tracks that hold the same recording.

    Parameters
    ----------
    tracks : iterable of (track_id, sha256, fingerprint or None)
        Each usable track once: its id, the sha256 of its file and its :func:`fingerprint`
        (``None``: the track is only compared byte for byte).
    threshold : float
        Correlation from which two fingerprints are the same recording.

    Returns
    -------
    Duplicates
    """
    ids: list[str] = []
    by_sha: dict[str, list[int]] = defaultdict(list)
    by_length: dict[int, list[int]] = defaultdict(list)
    prints: dict[int, np.ndarray] = {}
    for track_id, sha, fp in tracks:
        by_sha[sha].append(len(ids))
        if fp is not None:
            by_length[len(fp)].append(len(ids))
            prints[len(ids)] = fp
        ids.append(track_id)
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[root(i)] = root(j)

    for members in by_sha.values():
        for i in members[1:]:
            union(i, members[0])
    for length in sorted(by_length):
        for other in (length, length + 1):
            for i, j in _matches(prints, by_length[length], by_length.get(other, []),
                                 segments=length, threshold=threshold):
                union(i, j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(ids)):
        groups[root(i)].append(i)
    found = sorted(
        (sorted(members, key=ids.__getitem__) for members in groups.values() if len(members) > 1),
        key=lambda members: ids[members[0]],
    )
    sha_of = {i: sha for sha, members in by_sha.items() for i in members}
    return Duplicates(
        groups=tuple(tuple(ids[i] for i in members) for members in found),
        identical=tuple(len({sha_of[i] for i in members}) == 1 for members in found),
    )


def find_identical(tracks: Iterable[Track]) -> Duplicates:
    """Group the tracks whose files are byte-identical (files that cannot be read are left
    out: the loaders report them).

    Parameters
    ----------
    tracks : iterable of Track

    Returns
    -------
    Duplicates
        All groups ``identical``; a note says that re-encoded copies were not searched.
    """
    from genrelens.data.check import file_sha256

    hashed = []
    for track in tracks:
        try:
            hashed.append((track.track_id, file_sha256(track.path), None))
        except OSError:
            continue
    return identical_only(find_duplicates(hashed), why="`genrelens train` also finds them")


def identical_only(found: Duplicates, *, why: str) -> Duplicates:
    """``found`` (of a search without fingerprints) with a note that re-encoded copies were
    not searched, and ``why``."""
    note = f"re-encoded copies were not searched, only byte-identical files ({why})"
    return dataclasses.replace(found, notes=(*found.notes, note))


def _normalised(prints: Mapping[int, np.ndarray], rows: list[int], *, segments: int) -> np.ndarray:
    """The first ``segments`` segments of each fingerprint, each band's mean over time and each
    block's mean over bands removed, flattened to unit norm (dot products are correlations)."""
    x = np.stack([prints[i][:segments] for i in rows]).astype(np.float64)  # (n, seg, B, blk)
    x -= x.mean(axis=(1, 3), keepdims=True)
    x -= x.mean(axis=2, keepdims=True)
    x = x.reshape(len(rows), -1)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def _matches(
    prints: Mapping[int, np.ndarray], left: list[int], right: list[int], *, segments: int,
    threshold: float,
) -> Iterable[tuple[int, int]]:
    """Pairs ``(i, j)`` of ``left`` x ``right`` (``i < j`` when the lists are the same) whose
    fingerprints over their first ``segments`` segments correlate at ``threshold`` or more."""
    if not left or not right:
        return
    a = _normalised(prints, left, segments=segments)
    b = _normalised(prints, right, segments=segments)
    for start in range(0, len(left), _CHUNK):
        corr = a[start : start + _CHUNK] @ b.T
        for r, c in zip(*np.nonzero(corr >= threshold), strict=True):
            i, j = left[start + r], right[c]
            if left is not right or i < j:
                yield i, j
