"""Class-per-folder datasets: ``DIR/<label>/**/*.{wav,flac,mp3,opus,...}`` (your own music).

Each direct sub-folder of ``DIR`` that holds audio files (at any depth) is a class named after
the folder. Track ids are ``<label>/<path below the label folder, without extension>``, with
``/`` separators on every platform, so they are unique and stable across machines. Hidden files
and folders (names starting with ``.``) are skipped.
"""

from __future__ import annotations

from pathlib import Path

from genrelens.formats import AUDIO_EXTENSIONS
from genrelens.data.dataset import Dataset, Track

__all__ = ["open_folder"]


def open_folder(root: Path) -> Dataset | None:
    """The class-per-folder dataset at ``root``, or ``None`` if no class folder holds audio.

    Files of an ending that is no audio format (:data:`~genrelens.formats.AUDIO_EXTENSIONS`)
    are listed in :attr:`Dataset.unknown`; folders without any audio file are no class and
    are named in :attr:`Dataset.notes`.
    """
    tracks: list[Track] = []
    ignored: list[str] = []
    unknown: list[str] = []
    empty: list[str] = []
    seen: dict[str, Path] = {}
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        n_before = len(tracks)
        for p in sorted(label_dir.rglob("*")):
            rel = p.relative_to(label_dir)
            if any(part.startswith(".") for part in rel.parts) or not p.is_file():
                continue
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                unknown.append(p.relative_to(root).as_posix())
                continue
            track_id = f"{label_dir.name}/{rel.with_suffix('').as_posix()}"
            if track_id in seen:  # song.wav beside song.mp3: keep the first, report the other
                ignored.append(p.relative_to(root).as_posix())
                continue
            seen[track_id] = p
            tracks.append(Track(track_id=track_id, path=p, label=label_dir.name))
        if len(tracks) == n_before:
            empty.append(label_dir.name)
    if not tracks:
        return None
    tracks.sort(key=lambda t: t.track_id)
    notes = [
        f"folder {name!r} holds no audio file ({', '.join(AUDIO_EXTENSIONS)}): it is not a "
        "class; add its files or remove it"
        for name in empty
    ]
    return Dataset(
        root=root,
        layout="folder",
        tracks=tuple(tracks),
        class_names=tuple(sorted({t.label for t in tracks})),
        ignored=tuple(ignored),
        unknown=tuple(unknown),
        notes=tuple(notes),
    )
