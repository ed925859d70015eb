"""Exclusive locks on output folders: one writing process per run directory or cache entry.

Two commands writing the same run directory at once would mix their files (the metrics of
one beside the checkpoint of the other). Every writing command therefore holds
:func:`locked` on its output folder while it runs; a second one fails at once with
:class:`LockError` naming the process that holds the folder.

The lock is ``flock`` on the folder itself (no lock file is left behind or listed among the
outputs). The kernel releases it when its holder exits, even after ``kill -KILL``; worker
processes forked by the holder keep it until they exit too. Locks are advisory: they order
genrelens processes, not other programs. ``flock`` is POSIX-only (on Windows folders are
checked for writing, not locked); on file systems where a folder cannot be locked (some network mounts) the command warns and runs unlocked, and
network file systems may not exclude writers on other machines.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from genrelens._io import check_writable
from genrelens.errors import GenrelensError

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: output folders are checked, not locked
    fcntl = None

__all__ = ["LockError", "locked", "lock_holder"]


class LockError(GenrelensError):
    """Another process is writing the folder a command would write."""


@contextlib.contextmanager
def locked(folder: str | os.PathLike[str], *, what: str = "folder") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) for the ``with`` block.

    Parameters
    ----------
    folder : path-like
        The output folder: a run directory, an output folder or a cache entry.
    what : str
        What the folder is, for the error message (``"run directory"``, ...).

    Yields
    ------
    pathlib.Path
        ``folder``. Folders this call created are removed on exit if they are still empty.

    Raises
    ------
    LockError
        If another process (or another lock of this one) holds ``folder``.
    StorageError
        If ``folder`` cannot be created or written (read-only, no permission, disk full).
    """
    folder = Path(folder)
    created = [p for p in (folder, *folder.absolute().parents) if not p.exists()]
    try:
        check_writable(folder, create=True)
        if fcntl is None:
            yield folder
            return
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = lock_holder(folder)
            who = "another process" if holder is None else f"process {holder}"
            raise LockError(
                f"{what} {folder} is in use: {who} is writing to it. Wait for it to finish, "
                "stop it, or choose another output folder."
            ) from None
        except OSError as exc:  # a file system without flock on folders (some NFS mounts)
            warnings.warn(f"{what} {folder} cannot be locked ({exc.strerror}): make sure no "
                          "other genrelens process writes to it at the same time.",
                          RuntimeWarning, stacklevel=3)
        try:
            yield folder
        finally:
            os.close(fd)  # releases the lock
    finally:
        for path in created:  # innermost first
            with contextlib.suppress(OSError):
                path.rmdir()


def lock_holder(folder: str | os.PathLike[str]) -> int | None:
    """The PID of the process holding :func:`locked` on ``folder``, if the OS tells it.

    Read from ``/proc/locks`` (Linux); None elsewhere, or when no process holds it.
    """
    try:
        info = os.stat(folder)
        device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
        with open("/proc/locks", encoding="ascii") as locks:
            for line in locks:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 2372 00:2c:1234 0 EOF"; waiters read "1: -> FLOCK".
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
                    return int(fields[4])
    except (OSError, ValueError):
        return None
    return None
