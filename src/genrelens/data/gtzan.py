"""The GTZAN genre collection (Tzanetakis & Cook 2002) in its two common layouts.

* original: ``genres/<genre>/<genre>.000NN.au`` (converted copies hold ``.wav``);
* Kaggle ("GTZAN Dataset - Music Genre Classification"):
  ``Data/genres_original/<genre>/<genre>.000NN.wav`` beside ``features_30_sec.csv`` and
  ``features_3_sec.csv``. Its ``jazz/jazz.00054.wav`` is corrupt (``genrelens data check``
  reports it).

Track ids are the file stems, ``blues.00012``. A subset of the genres or clips is accepted
(e.g. the synthetic data set or a quick experiment), as long as every class folder is a GTZAN
genre. See Sturm (2013), "The GTZAN dataset: its contents, its faults, ...", for the faults
that the fault-filtered split (:func:`genrelens.data.splits.fault_filtered_split`) avoids.
"""

from __future__ import annotations

import re
from pathlib import Path

from genrelens.formats import AUDIO_EXTENSIONS
from genrelens.data.dataset import Dataset, Track

__all__ = ["GTZAN_GENRES", "find_gtzan", "track_id_from_name"]

#: The ten GTZAN genres.
GTZAN_GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})(?:\.(?P<segment>\d+))?\.(?:au|wav)$")
# Preferred extension when a track exists twice (.wav copies decode without conversion).
_EXT_ORDER = (".wav", ".au")


def track_id_from_name(name: str) -> str | None:
    """The GTZAN track id of a file name or list entry, or ``None`` if it is not one.

    ``"blues/blues.00029.wav"``, ``"blues.00029.au"`` and the Kaggle 3-s table's
    ``"blues.00029.3.wav"`` all give ``"blues.00029"``.
    """
    match = _NAME.match(name.replace("\\", "/").rsplit("/", 1)[-1].strip())
    if match is None or match["genre"] not in GTZAN_GENRES:
        return None
    return f"{match['genre']}.{match['number']}"


def find_gtzan(path: Path) -> Dataset | None:
    """The GTZAN dataset in or just below ``path``, or ``None`` if there is none.

    Candidates, in order: ``path``, ``path/genres``, ``path/genres_original``,
    ``path/Data/genres_original``, then the same below each sub-folder of ``path``.
    """
    for candidate in _candidates(path):
        dataset = _read_genres_folder(candidate)
        if dataset is not None:
            return dataset
    return None


def _candidates(path: Path) -> list[Path]:
    below = ("", "genres", "genres_original", "Data/genres_original")
    out = [path / b if b else path for b in below]
    for child in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out.extend(child / b if b else child for b in below)
    return out


def _read_genres_folder(folder: Path) -> Dataset | None:
    if not folder.is_dir():
        return None
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    genre_dirs = [p for p in subdirs if p.name in GTZAN_GENRES]
    if not genre_dirs or len(genre_dirs) != len(subdirs):
        return None
    chosen: dict[str, Path] = {}
    ignored: list[str] = []
    unknown: list[str] = []
    for genre_dir in sorted(genre_dirs):
        files = sorted(
            (p for p in genre_dir.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=lambda p: (p.stem, _EXT_ORDER.index(p.suffix) if p.suffix in _EXT_ORDER else 9),
        )
        for p in files:
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                unknown.append(p.relative_to(folder).as_posix())
                continue
            track_id = track_id_from_name(p.name)
            in_place = track_id is not None and track_id.split(".")[0] == genre_dir.name
            if not in_place or p.stem != track_id:
                ignored.append(str(p.relative_to(folder)))
                continue
            if track_id in chosen:
                ignored.append(str(p.relative_to(folder)))
                continue
            chosen[track_id] = p
    if not chosen:
        return None
    layout = "gtzan-kaggle" if folder.name == "genres_original" else "gtzan-original"
    tracks = tuple(
        Track(track_id=tid, path=p, label=tid.split(".")[0]) for tid, p in sorted(chosen.items())
    )
    return Dataset(
        root=folder,
        layout=layout,
        tracks=tracks,
        class_names=tuple(sorted({t.label for t in tracks})),
        ignored=tuple(ignored),
        unknown=tuple(unknown),
    )
