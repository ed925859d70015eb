"""The Kaggle GTZAN feature tables ``features_30_sec.csv`` and ``features_3_sec.csv``.

Each row holds hand-crafted descriptors (chroma, RMS, spectral centroid/bandwidth/roll-off,
zero-crossing rate, harmony, perceptual sharpness, tempo, 20 MFCCs; mean and variance each)
of one clip (``blues.00000.wav``) or one 3-s piece of it (``blues.00000.3.wav``), plus its
``label``. :func:`load_feature_table` reads a table keyed by *track* (``blues.00000``) so that
:func:`split_feature_table` keeps every 3-s row of a track in that track's set: splitting the
rows of the 3-s table at random, as many notebooks do, puts pieces of one recording in train
and test.

The ``length`` column (samples per row: the same for nearly all rows) is kept apart as
``lengths``, not as a feature.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from genrelens.data.gtzan import track_id_from_name
from genrelens.data.splits import SET_NAMES, Split
from genrelens.errors import DatasetError

__all__ = ["FeatureTable", "load_feature_table", "split_feature_table", "find_feature_tables"]

_TABLE_NAMES = {"30_sec": "features_30_sec.csv", "3_sec": "features_3_sec.csv"}
_META_COLUMNS = ("filename", "length", "label")


@dataclasses.dataclass(frozen=True)
class FeatureTable:
    """A feature table keyed by track.

    Attributes
    ----------
    X : numpy.ndarray, shape (n_rows, n_features), float64
        The descriptor values.
    feature_names : tuple of str
        Column names of ``X``.
    track_ids : numpy.ndarray, shape (n_rows,), str
        Track of each row (``"blues.00000"``).
    segment_index : numpy.ndarray, shape (n_rows,), int
        3-s piece of each row (``blues.00000.3.wav`` -> 3); ``-1`` for whole-clip rows.
    labels : numpy.ndarray, shape (n_rows,), int
        Class of each row, an index into ``class_names``.
    class_names : tuple of str
        Sorted label names.
    lengths : numpy.ndarray, shape (n_rows,), int
        The ``length`` column (samples), or ``-1`` where the table has none.
    """

    X: np.ndarray
    feature_names: tuple[str, ...]
    track_ids: np.ndarray
    segment_index: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    lengths: np.ndarray

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, track_ids: Iterable[str]) -> FeatureTable:
        """The rows of the given tracks (all their 3-s rows), in table order."""
        keep = np.isin(self.track_ids, np.array(sorted(set(track_ids)), dtype=str))
        return dataclasses.replace(
            self,
            X=self.X[keep],
            track_ids=self.track_ids[keep],
            segment_index=self.segment_index[keep],
            labels=self.labels[keep],
            lengths=self.lengths[keep],
        )


def find_feature_tables(path: str | os.PathLike[str]) -> dict[str, Path]:
    """Locate ``features_30_sec.csv`` / ``features_3_sec.csv`` of a Kaggle GTZAN download.

    Looks in ``path``, ``path/Data``, the parent of ``path`` (when ``path`` is the
    ``genres_original`` folder) and one level below ``path``.

    Returns
    -------
    dict
        ``{"30_sec": path, "3_sec": path}``, only the tables found.
    """
    root = Path(path)
    folders = [root, root / "Data", root.parent]
    if root.is_dir():
        folders += sorted(p for p in root.iterdir() if p.is_dir())
        folders += sorted(p / "Data" for p in root.iterdir() if p.is_dir())
    found = {}
    for kind, name in _TABLE_NAMES.items():
        hit = next((f / name for f in folders if (f / name).is_file()), None)
        if hit is not None:
            found[kind] = hit
    return found


def load_feature_table(path: str | os.PathLike[str]) -> FeatureTable:
    """Read a Kaggle GTZAN feature table (``features_30_sec.csv`` or ``features_3_sec.csv``).

    Parameters
    ----------
    path : path-like
        A CSV file with a header holding ``filename`` and ``label`` and numeric columns.

    Returns
    -------
    FeatureTable

    Raises
    ------
    DatasetError
        If the file is missing, lacks ``filename`` or ``label``, has a row of the wrong length,
        a non-numeric or non-finite feature value, or a filename that is not a GTZAN name.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(
            f"{p}: no such feature table; the Kaggle GTZAN download has features_30_sec.csv "
            "and features_3_sec.csv in its Data/ folder."
        )
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise DatasetError(f"{p}: the feature table is empty.")
    header = [h.strip() for h in rows[0]]
    for column in ("filename", "label"):
        if column not in header:
            raise DatasetError(f"{p}: no {column!r} column (header: {header[:5]}...).")
    col = {name: i for i, name in enumerate(header)}
    feature_cols = [i for i, name in enumerate(header) if name not in _META_COLUMNS]
    X = np.empty((len(rows) - 1, len(feature_cols)), dtype=np.float64)
    track_ids, segments, label_names, lengths = [], [], [], []
    for r, row in enumerate(rows[1:]):
        line = r + 2
        if len(row) != len(header):
            raise DatasetError(f"{p}, line {line}: {len(row)} fields, expected {len(header)}.")
        filename = Path(row[col["filename"]].strip()).name
        track_id = track_id_from_name(filename)
        if track_id is None:
            raise DatasetError(
                f"{p}, line {line}: filename {filename!r} is not a GTZAN name "
                "(<genre>.000NN.wav or <genre>.000NN.<piece>.wav)."
            )
        rest = filename[len(track_id) + 1 :].split(".")
        segments.append(int(rest[0]) if len(rest) == 2 else -1)
        track_ids.append(track_id)
        label_names.append(row[col["label"]].strip())
        lengths.append(_parse_int(row[col["length"]]) if "length" in col else -1)
        try:
            X[r] = [float(row[i]) for i in feature_cols]
        except ValueError as exc:
            raise DatasetError(f"{p}, line {line}: non-numeric feature value ({exc}).") from exc
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise DatasetError(
            f"{p}, line {bad[0] + 2}: column {header[feature_cols[bad[1]]]!r} is not finite."
        )
    class_names = tuple(sorted(set(label_names)))
    index = {c: i for i, c in enumerate(class_names)}
    return FeatureTable(
        X=X,
        feature_names=tuple(header[i] for i in feature_cols),
        track_ids=np.array(track_ids, dtype=str),
        segment_index=np.array(segments, dtype=np.int64),
        labels=np.array([index[c] for c in label_names], dtype=np.int64),
        class_names=class_names,
        lengths=np.array(lengths, dtype=np.int64),
    )


def _parse_int(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return -1


def split_feature_table(table: FeatureTable, split: Split) -> dict[str, FeatureTable]:
    """Split a table's rows by a track :class:`~genrelens.data.splits.Split`.

    Every row goes to the set of its track, so the 3-s rows of one track never cross sets;
    rows of tracks in no set are dropped.

    Returns
    -------
    dict of str to FeatureTable
        ``{"train": ..., "valid": ..., "test": ...}``.
    """
    return {s: table.subset(getattr(split, s)) for s in SET_NAMES}
