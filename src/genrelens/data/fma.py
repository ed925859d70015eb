"""The Free Music Archive dataset (Defferrard et al. 2017, "FMA: A Dataset for Music Analysis").

Layout, as unzipped from the FMA downloads::

    fma_metadata/tracks.csv        one row per track (see below)
    fma_small/NNN/NNNNNN.mp3       8,000 30-s clips, 8 balanced top genres
    fma_medium/NNN/NNNNNN.mp3      25,000 30-s clips, 16 unbalanced top genres
    fma_large/NNN/NNNNNN.mp3       106,574 30-s clips, 161 genres (16 top genres)
    fma_full/NNN/NNNNNN.mp3        the same 106,574 tracks, untrimmed

A track's file is named by its id zero-padded to six digits, in the folder named by the first
three of them (track 2: ``000/000002.mp3``). genrelens track ids are those six digits
(``"000002"``).

``tracks.csv`` (pandas' ``read_csv(path, index_col=0, header=[0, 1])``) has three header rows:
row 1 names column groups (``album``, ``artist``, ``set``, ``track``, ...), row 2 the columns
within them (``split``, ``subset``, ``genre_top``, ...) and row 3 the index, ``track_id``.
genrelens reads it with the :mod:`csv` module and uses four columns:

* ``('set', 'subset')``: ``small``, ``medium`` or ``large``. Subsets nest (small ⊂ medium ⊂
  large) and the subset read is the audio folder's: ``fma_small`` holds the ``small`` tracks,
  ``fma_medium`` those of ``small`` and ``medium``, ``fma_large`` and ``fma_full`` all.
* ``('track', 'genre_top')``: the label. Tracks without a top genre (there are some in
  ``large``) cannot be labelled: they are left out and counted in :attr:`Dataset.notes
  <genrelens.data.dataset.Dataset.notes>`.
* ``('set', 'split')``: ``training``, ``validation`` or ``test``, FMA's artist-filtered split,
  which :func:`genrelens.data.splits.default_split` uses for an FMA dataset
  (:func:`genrelens.data.splits.fma_split`).
* ``('artist', 'id')``: lets that split check that no artist is in two sets.

Tracks of the subset whose audio file is absent are listed in :attr:`Dataset.missing
<genrelens.data.dataset.Dataset.missing>` and are in no set of a split. Damaged or too short
files (the FMA README lists some in ``fma_large`` and ``fma_full``) are tracks like any other:
``genrelens data check`` reports them and ``genrelens prepare`` skips them.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from genrelens.audio import AUDIO_EXTENSIONS
from genrelens.data.dataset import Dataset, Track
from genrelens.errors import DatasetError

__all__ = [
    "FMA_AUDIO_FOLDERS",
    "FMA_SUBSETS",
    "FMA_SETS",
    "FMARecord",
    "tracks_csv_path",
    "read_tracks_csv",
    "audio_path",
    "find_fma",
]

#: The subsets, smallest first; each is contained in the next.
FMA_SUBSETS: tuple[str, ...] = ("small", "medium", "large")

#: Audio folder name -> the values of ``('set', 'subset')`` whose tracks it holds.
FMA_AUDIO_FOLDERS: dict[str, tuple[str, ...]] = {
    "fma_small": FMA_SUBSETS[:1],
    "fma_medium": FMA_SUBSETS[:2],
    "fma_large": FMA_SUBSETS,
    "fma_full": FMA_SUBSETS,
}

#: FMA's set names (``('set', 'split')``) -> genrelens' set names.
FMA_SETS: dict[str, str] = {"training": "train", "validation": "valid", "test": "test"}

_METADATA = "fma_metadata"
_TRACKS_CSV = "tracks.csv"
# (group, column) of tracks.csv -> FMARecord field.
_COLUMNS: dict[tuple[str, str], str] = {
    ("set", "subset"): "subset",
    ("set", "split"): "split",
    ("track", "genre_top"): "genre_top",
    ("artist", "id"): "artist_id",
}
_HEADER_HINT = (
    "expected FMA's fma_metadata/tracks.csv with 3 header rows (column groups such as 'set', "
    "columns such as 'split', then 'track_id'); unzip fma_metadata.zip again"
)


@dataclasses.dataclass(frozen=True, slots=True)
class FMARecord:
    """The columns genrelens uses of one row of ``tracks.csv``.

    Parameters
    ----------
    track_id : str
        The id zero-padded to six digits (``"000002"``), the genrelens track id.
    subset : str
        ``('set', 'subset')``: ``"small"``, ``"medium"`` or ``"large"``.
    split : str
        ``('set', 'split')``: ``"training"``, ``"validation"`` or ``"test"``.
    genre_top : str
        ``('track', 'genre_top')``; empty when the track has no top genre.
    artist_id : str
        ``('artist', 'id')``.
    """

    track_id: str
    subset: str
    split: str
    genre_top: str
    artist_id: str


def tracks_csv_path(audio_dir: str | os.PathLike[str]) -> Path:
    """Where the metadata of an audio folder is: ``<audio_dir>/../fma_metadata/tracks.csv``."""
    return Path(audio_dir).parent / _METADATA / _TRACKS_CSV


def audio_path(audio_dir: str | os.PathLike[str], track_id: int | str) -> Path:
    """The file of a track: ``audio_path(d, 2)`` is ``d/000/000002.mp3``."""
    return Path(audio_dir) / _relative_path(f"{int(track_id):06d}")


def _relative_path(padded_id: str) -> str:
    """``"000002"`` -> ``"000/000002.mp3"`` (FMA's utils.get_audio_path)."""
    return f"{padded_id[:3]}/{padded_id}.mp3"


def read_tracks_csv(path: str | os.PathLike[str]) -> tuple[FMARecord, ...]:
    """The rows of FMA's ``tracks.csv``, in file order.

    The result is kept in memory per file (and its size and modification time), so opening a
    dataset and making its split parse the file once.

    Parameters
    ----------
    path : path-like
        ``fma_metadata/tracks.csv``.

    Returns
    -------
    tuple of FMARecord

    Raises
    ------
    DatasetError
        If the file is missing or unreadable, its header is not FMA's three rows, a column
        genrelens needs is absent, or a row is malformed (the message names the line).
    """
    p = Path(path)
    try:
        stat = p.stat()
    except OSError as exc:
        raise DatasetError(
            f"{p}: no FMA metadata ({exc.strerror or exc}); download fma_metadata.zip and unzip "
            f"it beside the audio folder, so that {_METADATA}/{_TRACKS_CSV} sits next to "
            "fma_small/ (or fma_medium/, ...)."
        ) from exc
    return _parse_tracks_csv(str(p.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _parse_tracks_csv(path: str, size: int, mtime_ns: int) -> tuple[FMARecord, ...]:
    """Parse ``path``; ``size`` and ``mtime_ns`` only key the cache."""
    records: list[FMARecord] = []
    seen: set[str] = set()
    try:
        with open(path, encoding="utf-8", newline="") as fh, _no_field_size_limit():
            reader = csv.reader(fh)
            index = _column_index([next(reader, None) for _ in range(3)], path=path)
            width = max(index.values()) + 1
            for row in reader:
                if not row:
                    continue
                record = _record(row, index, width=width, where=(path, reader.line_num))
                if record.track_id in seen:
                    raise DatasetError(
                        f"{path}, line {reader.line_num}: track {row[0]} is listed twice."
                    )
                seen.add(record.track_id)
                records.append(record)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(
            f"{path}: cannot read FMA's tracks.csv ({exc}); {_HEADER_HINT}."
        ) from exc
    return tuple(records)


@contextlib.contextmanager
def _no_field_size_limit() -> Iterator[None]:
    """Lift the csv module's 128 KiB field limit (FMA's free-text columns hold long HTML)."""
    before = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _column_index(rows: list[list[str] | None], *, path: str) -> dict[str, int]:
    """The column of each :class:`FMARecord` field, from the 3 header rows."""
    header = [row for row in rows if row is not None]
    if len(header) < 3:
        raise DatasetError(f"{path}: ends before its 3 header rows; {_HEADER_HINT}.")
    groups, columns, _ = header
    firsts = [r[:1] for r in header]
    if firsts != [[""], [""], ["track_id"]] or len(groups) != len(columns):
        raise DatasetError(
            f"{path}: the header starts {[r[:3] for r in header]}, not FMA's "
            f"[['', group, ...], ['', column, ...], ['track_id', '', ...]]; {_HEADER_HINT}."
        )
    positions = {(g, c): i for i, (g, c) in enumerate(zip(groups, columns)) if i}
    absent = [key for key in _COLUMNS if key not in positions]
    if absent:
        raise DatasetError(f"{path}: lacks the columns {absent}; {_HEADER_HINT}.")
    return {field: positions[key] for key, field in _COLUMNS.items()}


def _record(
    row: list[str], index: dict[str, int], *, width: int, where: tuple[str, int]
) -> FMARecord:
    """One data row as a record; ``where`` is (file, line), for errors."""
    file, line = where
    try:
        track_id = f"{int(row[0]):06d}"
    except ValueError:
        raise DatasetError(
            f"{file}, line {line}: track id {row[0]!r} is not an integer; {_HEADER_HINT}."
        ) from None
    if len(row) < width:
        raise DatasetError(
            f"{file}, line {line}: track {row[0]} has {len(row)} fields, fewer than the "
            f"{width} its columns need; {_HEADER_HINT}."
        )
    return FMARecord(track_id=track_id, **{field: row[i].strip() for field, i in index.items()})


def find_fma(path: Path) -> Dataset | None:
    """The FMA dataset at ``path``, or ``None`` if ``path`` is not an FMA folder.

    ``path`` is an audio folder (``fma_small``, ``fma_medium``, ``fma_large`` or ``fma_full``)
    with ``fma_metadata`` beside it, or the folder holding both.

    Raises
    ------
    DatasetError
        If ``path`` holds several audio folders (name one), holds ``fma_metadata`` but no audio
        folder, an audio folder lacks ``fma_metadata/tracks.csv`` beside it, the metadata is
        malformed, or no track of the subset has its audio file.
    """
    if path.name in FMA_AUDIO_FOLDERS:
        return _open_audio_folder(path)
    found = sorted(p.name for p in path.iterdir() if p.name in FMA_AUDIO_FOLDERS and p.is_dir())
    if len(found) > 1:
        raise DatasetError(
            f"{path} holds several FMA audio folders ({', '.join(found)}); name the one to use, "
            f"e.g. {path / found[0]}."
        )
    if found:
        return _open_audio_folder(path / found[0])
    if (path / _METADATA).is_dir():
        raise DatasetError(
            f"{path} holds {_METADATA}/ but no FMA audio folder "
            f"({', '.join(FMA_AUDIO_FOLDERS)}); unzip e.g. fma_small.zip beside it."
        )
    return None


def _open_audio_folder(audio_dir: Path) -> Dataset:
    subsets = FMA_AUDIO_FOLDERS[audio_dir.name]
    records = [r for r in read_tracks_csv(tracks_csv_path(audio_dir)) if r.subset in subsets]
    on_disk = _audio_files(audio_dir)
    tracks: list[Track] = []
    missing: list[str] = []
    n_unlabelled = 0
    for record in records:
        rel = _relative_path(record.track_id)
        path = on_disk.pop(rel, None)
        if not record.genre_top:
            n_unlabelled += 1
        elif path is not None:
            tracks.append(Track(track_id=record.track_id, path=path, label=record.genre_top))
        else:
            missing.append(rel)
    described = f"{audio_dir.name} (subset {' + '.join(subsets)})"
    if not tracks:
        example = f" (e.g. {missing[0]})" if missing else ""
        raise DatasetError(
            f"{audio_dir}: none of the {len(missing)} labelled tracks that tracks.csv lists for "
            f"{described} has its audio file{example}; is the download complete, and is this "
            "the audio folder of that subset?"
        )
    notes = []
    if n_unlabelled:
        notes.append(
            f"{n_unlabelled} of the {len(records)} tracks of {described} have no top genre "
            "(('track', 'genre_top') is empty in tracks.csv) and are left out: they cannot be "
            "labelled."
        )
    tracks.sort(key=lambda t: t.track_id)
    return Dataset(
        root=audio_dir,
        layout="fma",
        tracks=tuple(tracks),
        class_names=tuple(sorted({t.label for t in tracks})),
        ignored=tuple(sorted(on_disk)),
        missing=tuple(sorted(missing)),
        notes=tuple(notes),
    )


def _audio_files(audio_dir: Path) -> dict[str, Path]:
    """Audio files one folder below ``audio_dir``, by path relative to it (``000/000002.mp3``)."""
    out: dict[str, Path] = {}
    with os.scandir(audio_dir) as folders:  # scandir: file types without a stat per file
        for folder in folders:
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            with os.scandir(folder.path) as files:
                for f in files:
                    if (
                        not f.name.startswith(".")
                        and os.path.splitext(f.name)[1].lower() in AUDIO_EXTENSIONS
                        and f.is_file()
                    ):
                        out[f"{folder.name}/{f.name}"] = Path(f.path)
    return out
