"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A crash or Ctrl-C mid-write leaves the previous file (or none), never a truncated one.
Files get the usual permissions of the process's umask (e.g. 0644), as ``open`` gives them.
A write that fails because the disk is full, a quota is reached, the file system is
read-only or permission is denied raises :class:`~genrelens.errors.StorageError` naming the
path (and, for a full disk, the space needed and free) instead of the low-level error.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from genrelens.errors import GenrelensError, StorageError

__all__ = [
    "atomic_path",
    "write_json",
    "write_text",
    "write_csv_rows",
    "safe_file_name",
    "storage_error",
    "raise_storage_error",
    "check_writable",
    "umask",
]

#: errno values that mean "this location cannot take the file", with the cause shown.
_STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on its file system",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EEXIST: "it is a file, not a folder",  # from mkdir
    errno.ENOTDIR: "a file is in the way of one of its folders",
}
#: Free space below which a write failing without an errno (torch, h5py) is a full disk.
_FULL_BYTES = 1 << 20


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Parameters
    ----------
    path : path-like
        The final destination. Its parent folder is created if needed.
    size : int, optional
        The file's size in bytes when the caller knows it: a full disk's error then names it
        as the space needed.

    Yields
    ------
    pathlib.Path
        Where the caller writes, with the permissions of the umask. Removed if the block
        raises.

    Raises
    ------
    StorageError
        If the folder or the file cannot be written (see :func:`storage_error`).
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        if hasattr(os, "fchmod"):  # POSIX: mkstemp makes 0600 files whatever the umask
            os.fchmod(fd, 0o666 & ~umask())
        os.close(fd)
    except OSError as exc:
        raise_storage_error(exc, final)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException as exc:
        written = tmp_path.stat().st_size if tmp_path.exists() else 0
        # free space as the write failed
        error = storage_error(exc, final, written=written, needed=size)
        tmp_path.unlink(missing_ok=True)
        if error is None:
            raise
        raise error from exc


def umask() -> int:
    """The process's umask (e.g. ``0o022``), read without changing it where the OS allows."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def storage_error(
    exc: BaseException, path: str | os.PathLike[str], *, written: int = 0,
    needed: int | None = None,
) -> StorageError | None:
    """The :class:`StorageError` that ``exc``, raised while writing ``path``, stands for.

    Parameters
    ----------
    exc : BaseException
        What the write raised: an ``OSError`` with an errno of a full disk, quota, read-only
        file system or denied permission, or any other error (torch and h5py raise their own
        types) when the file system of ``path`` has less than 1 MiB free.
    path : path-like
        The file or folder being written.
    written : int
        Bytes already written when the write failed (the space needed is more than that).
    needed : int, optional
        The file's full size, when known: named as the space needed.

    Returns
    -------
    StorageError or None
        None when ``exc`` is not a storage failure (a bug or a genrelens error to re-raise).
    """
    if isinstance(exc, (GenrelensError, KeyboardInterrupt, SystemExit)):
        return None
    filename = getattr(exc, "filename", None)
    if filename and not _near(Path(filename), Path(path)):
        return None  # e.g. an input file read while writing ``path``
    code = getattr(exc, "errno", None)
    free = _free_bytes(Path(path))
    if code not in _STORAGE_ERRNOS:
        if free is None or free >= _FULL_BYTES:
            return None
        code = errno.ENOSPC
    message = f"cannot write {path}: {_STORAGE_ERRNOS[code]}"
    if code in (errno.ENOSPC, errno.EDQUOT):
        space = (_size(needed) if needed else f"more than {_size(written)}" if written
                 else "some space")
        free_text = "" if free is None else f", {_size(free)} free"
        return StorageError(
            f"{message} (it needs {space}{free_text}): free some space or write elsewhere."
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"{message}: make it writable or choose another output location.")
    return StorageError(f"{message}: choose another output location.")


def check_writable(folder: str | os.PathLike[str], *, create: bool = False) -> Path:
    """Check, before any work, that files can be written in ``folder``.

    Parameters
    ----------
    folder : path-like
    create : bool
        Create ``folder`` (and its parents) first. Otherwise a missing ``folder`` is checked
        through its nearest existing parent, where it would be created.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    StorageError
        If the folder cannot be created or written (read-only, no permission, disk full).
    """
    folder = Path(folder)
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"\0")
            probe.flush()
    except OSError as exc:
        raise_storage_error(exc, folder)
    return folder


def raise_storage_error(
    exc: BaseException, path: str | os.PathLike[str], *, written: int = 0
) -> NoReturn:
    """Raise the :class:`StorageError` that ``exc`` stands for (see :func:`storage_error`),
    from ``exc``; raise ``exc`` itself when it is not a storage failure."""
    error = storage_error(exc, path, written=written)
    if error is None:
        raise exc
    raise error from exc


def _near(filename: Path, path: Path) -> bool:
    # Whether an error about ``filename`` is one about writing ``path``: the path itself, a
    # file beside it (its temporary file) or in it (a probe), or a folder above it.
    filename, path = filename.absolute(), path.absolute()
    return filename.parent in (path, path.parent) or filename == path or filename in path.parents


def _free_bytes(path: Path) -> int | None:
    # Free space on the file system of ``path`` (its nearest existing ancestor), if known.
    for candidate in (path, *path.absolute().parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def _size(n_bytes: int) -> str:
    # 512 -> "512 B", 70000 -> "68.4 KiB"
    value, unit = float(n_bytes), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n_bytes} B" if unit == "B" else f"{value:.1f} {unit}"


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically and return the path."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, paths: the only non-JSON types genrelens writes.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def safe_file_name(name: str) -> str:
    """``name`` with every character other than letters, digits, ``-``, ``_``, ``.`` replaced
    by ``_`` (e.g. ``"band_energy[0-150 Hz]"`` -> ``"band_energy_0-150_Hz_"``); never empty."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "_"


def write_csv_rows(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> Path:
    """Write dict rows as CSV atomically (columns: every key, in first-seen order; floats with
    6 significant digits; an empty file for no rows) and return the path."""
    import csv
    import io

    buffer = io.StringIO()
    if rows:
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    return write_text(path, buffer.getvalue())
