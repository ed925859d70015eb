"""The files of a run directory as the report may read them: inside the run, intact, named.

A run directory can come from someone else, and the report made from it is meant to be
mailed. :class:`RunFiles` is therefore the report's only way to read a run directory:

* **Containment.** Only regular files whose resolved path lies inside the resolved run
  directory are read. A path stored in the run's JSON that leads elsewhere (``/home/…``,
  ``../…``), a symbolic link that points out of the run (or to nothing), a folder, a FIFO or a
  device is *left out*: never opened, and named in the report.
* **Damage.** What is intact is used, the rest is left out and named with what is wrong and
  what to do: text is read up to its first byte that is not UTF-8, a JSON value followed by
  extra bytes is read without them, CSV rows cut short or with extra cells are dropped; JSON
  that does not parse (e.g. truncated), an image that is not a complete PNG and audio that
  does not decode are left out whole. The rest of the report is rendered.

Every file left out, whole or in part, is recorded once in :attr:`RunFiles.left_out` (its
path relative to the run directory → the reason), which the report shows at its top and in
place of the section the file would have filled.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RunFiles"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_REDO = "re-run the stage that wrote it (the same command resumes) or delete it"


class RunFiles:
    """Read-only, contained access to the files of one run directory.

    Parameters
    ----------
    root : path-like
        The run directory.

    Attributes
    ----------
    root : pathlib.Path
        The run directory (absolute).
    left_out : dict of str to str
        Every file not read, or read only in part, so far: its name (relative to ``root``
        where it lies below it, else as given) → why it was left out and what to do.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self._real_root = self.root.resolve()
        self.left_out: dict[str, str] = {}

    # ----------------------------------------------------------------- paths

    def name(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the run directory (as given when it lies elsewhere)."""
        full = self.root / path
        try:
            return full.relative_to(self.root).as_posix()
        except ValueError:
            return os.fspath(path)

    def leave_out(self, path: str | os.PathLike[str], reason: str) -> None:
        """Record that ``path`` was not (fully) used, and why (the first reason is kept)."""
        self.left_out.setdefault(self.name(path), self.strip_root(reason))

    def strip_root(self, text: str) -> str:
        """``text`` with the run directory's own location removed, so that messages name
        files relative to the run and the report names no folder of the machine that made it."""
        return text.replace(os.fspath(self.root) + os.sep, "").replace(
            os.fspath(self._real_root) + os.sep, "")

    def _inside(self, path: str | os.PathLike[str]) -> Path | None:
        """``path`` resolved when it exists inside the run directory, else None (recorded when
        it exists, or is a link, elsewhere)."""
        full = self.root / path
        if not full.exists() and not full.is_symlink():
            return None
        try:
            real = full.resolve()
        except (OSError, RuntimeError):  # a loop of symbolic links
            self.leave_out(full, "it is a loop of symbolic links: remove it")
            return None
        if not real.is_relative_to(self._real_root):
            self.leave_out(full, "it lies outside the run directory (a path stored in the run or "
                                 "a symbolic link leads there), so the report does not read it: "
                                 "copy the file into the run directory to show it")
            return None
        if not real.exists():
            self.leave_out(full, "it is a symbolic link to nothing: remove it or "
                                 "restore its target")
            return None
        return real

    def file(self, path: str | os.PathLike[str]) -> Path | None:
        """The regular file ``path`` (relative to the run directory, or as stored in one of its
        files) when it may be read; None when it is absent or left out (then recorded)."""
        real = self._inside(path)
        if real is not None and not real.is_file():
            self.leave_out(self.root / path, "it is not a regular file (a folder, FIFO or "
                                             "device): remove it or put the file there")
            return None
        return real

    def folder(self, path: str | os.PathLike[str]) -> Path | None:
        """The folder ``path`` inside the run directory (as below :attr:`root`), or None when
        it is absent or left out."""
        real = self._inside(path)
        return self.root / path if real is not None and real.is_dir() else None

    def files(self, folder: str | os.PathLike[str], pattern: str, *,
              recursive: bool = False) -> list[Path]:
        """The readable files below ``folder`` whose names match ``pattern``, sorted (paths as
        below :attr:`root`; files left out are recorded)."""
        base = self.folder(folder)
        if base is None:
            return []
        found = base.rglob(pattern) if recursive else base.glob(pattern)
        return [p for p in sorted(found) if self.file(p) is not None]

    # ----------------------------------------------------------------- contents

    def read_bytes(self, path: str | os.PathLike[str]) -> bytes | None:
        """The bytes of ``path``, or None (absent, left out or unreadable; recorded)."""
        real = self.file(path)
        if real is None:
            return None
        try:
            return real.read_bytes()
        except OSError as exc:
            self.leave_out(self.root / path, f"it cannot be read ({exc.strerror or exc}): "
                                             "check its permissions")
            return None

    def text(self, path: str | os.PathLike[str]) -> str | None:
        """The UTF-8 text of ``path`` up to its first byte that is not UTF-8 (the rest is
        recorded as left out), or None when the file is absent or left out."""
        data = self.read_bytes(path)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.leave_out(self.root / path, f"it is damaged: its bytes from {exc.start} to "
                                             f"{len(data)} are not UTF-8 text and were ignored; "
                                             f"{_REDO}")
            return data[: exc.start].decode("utf-8")

    def json(self, path: str | os.PathLike[str]) -> Any:
        """The JSON value of ``path`` (without extra bytes after it, recorded), or None when
        the file is absent, left out or does not parse (recorded)."""
        text = self.text(path)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            try:
                value, end = json.JSONDecoder().raw_decode(text.lstrip())
            except json.JSONDecodeError:
                self.leave_out(self.root / path, f"it is damaged: not valid JSON ({exc.msg} at "
                                                 f"line {exc.lineno}, column {exc.colno}); "
                                                 f"{_REDO}")
                return None
            self.leave_out(self.root / path, f"it is damaged: {len(text.lstrip()) - end} "
                                             "characters after its JSON value were ignored; "
                                             f"{_REDO}")
            return value

    def csv(self, path: str | os.PathLike[str]) -> list[dict[str, str]] | None:
        """The rows of the CSV file ``path`` (header = keys). Rows with fewer or more cells than
        the header are dropped and recorded; None when the file is absent or left out."""
        text = self.text(path)
        if text is None:
            return None
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            rows = list(reader)
        except csv.Error as exc:
            self.leave_out(self.root / path, f"it is damaged: not CSV ({exc}); {_REDO}")
            return None
        n_columns = len(reader.fieldnames or ())
        intact = [r for r in rows if None not in r and None not in r.values()]
        if len(intact) < len(rows):
            bad = [i + 2 for i, r in enumerate(rows) if None in r or None in r.values()]
            self.leave_out(self.root / path, f"it is damaged: line(s) {_lines(bad)} do not have "
                                             f"the header's {n_columns} cells and are left out "
                                             f"(the other rows are shown); {_REDO}")
        return intact

    def png(self, path: str | os.PathLike[str]) -> bytes | None:
        """The bytes of the PNG image ``path``, re-encoded smaller
        (:func:`genrelens.display.compress_png`), or None when it is not a complete PNG
        (recorded)."""
        from genrelens import display

        data = self.read_bytes(path)
        if data is None:
            return None
        if data.startswith(_PNG_SIGNATURE):
            try:
                return display.compress_png(data)
            except (OSError, SyntaxError, ValueError):
                pass  # a truncated or corrupt PNG: recorded below
        self.leave_out(self.root / path, f"it is not a complete PNG image ({len(data)} bytes); "
                                         f"{_REDO}")
        return None

    def audio(self, path: str | os.PathLike[str]) -> tuple[Any, int] | None:
        """``(samples, sampling rate)`` of the audio file ``path`` (float32; channels last), or
        None when it does not decode or holds no samples (recorded)."""
        import soundfile as sf

        real = self.file(path)
        if real is None:
            return None
        try:
            y, sr = sf.read(real, dtype="float32", always_2d=False)
        except Exception as exc:  # decoders raise many types; each means "cannot be decoded"
            self.leave_out(self.root / path, f"it cannot be decoded as audio ({exc}); {_REDO}")
            return None
        if y.size == 0:
            self.leave_out(self.root / path, f"it holds no audio samples; {_REDO}")
            return None
        return y, int(sr)


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:5]))
    return shown + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
