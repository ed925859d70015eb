"""Class-per-folder datasets: ``DIR/<label>/**/*.{wav,au,flac,ogg,mp3}`` (your own music).

Each direct sub-folder of ``DIR`` that holds audio files (at any depth) is a class named after
the folder. Track ids are ``<label>/<path below the label folder, without extension>``, with
``/`` separators on every platform, so they are unique and stable across machines. Hidden files
and folders (names starting with ``.``) are skipped.
"""

from __future__ import annotations

from pathlib import Path

from genrelens.audio import AUDIO_EXTENSIONS
from genrelens.data.dataset import Dataset, Track

__all__ = ["open_folder"]


def open_folder(root: Path) -> Dataset | None:
    """The class-per-folder dataset at ``root``, or ``None`` if no class folder holds audio."""
    tracks: list[Track] = []
    ignored: list[str] = []
    seen: dict[str, Path] = {}
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for p in sorted(label_dir.rglob("*")):
            rel = p.relative_to(label_dir)
            if any(part.startswith(".") for part in rel.parts) or not p.is_file():
                continue
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            track_id = f"{label_dir.name}/{rel.with_suffix('').as_posix()}"
            if track_id in seen:  # song.wav beside song.mp3: keep the first, report the other
                ignored.append(p.relative_to(root).as_posix())
                continue
            seen[track_id] = p
            tracks.append(Track(track_id=track_id, path=p, label=label_dir.name))
    if not tracks:
        return None
    tracks.sort(key=lambda t: t.track_id)
    return Dataset(
        root=root,
        layout="folder",
        tracks=tuple(tracks),
        class_names=tuple(sorted({t.label for t in tracks})),
        ignored=tuple(ignored),
    )
