"""The exception hierarchy of genrelens.

Every error a user can cause derives from :class:`GenrelensError`. Messages name the
file or parameter at fault, the value found, and what to do about it, e.g.::

    ParameterError: n_mels=0 is invalid: expected a positive integer (e.g. 128).
"""

from __future__ import annotations

__all__ = [
    "GenrelensError",
    "ParameterError",
    "AudioLoadError",
    "DatasetError",
    "SplitError",
    "CheckpointError",
    "CacheError",
    "StorageError",
]


class GenrelensError(Exception):
    """Base class of every error raised on purpose by genrelens."""


class ParameterError(GenrelensError, ValueError):
    """A parameter has an invalid value; the message names it, its value and what is expected."""


class AudioLoadError(GenrelensError):
    """An audio file cannot be used: unreadable, empty, truncated, too short, silent or non-finite.

    Attributes
    ----------
    path : str or None
        The file at fault.
    reason : str
        A short machine-friendly reason (``"undecodable"``, ``"empty"``, ``"too_short"``,
        ``"silent"``, ``"non_finite"``, ...), used in skip reports of batch jobs.
    """

    def __init__(self, message: str, *, path: str | None = None, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


class DatasetError(GenrelensError):
    """A dataset folder or table is unusable (wrong layout, no tracks, unknown labels, ...)."""


class SplitError(GenrelensError):
    """A train/validation/test split is missing, corrupt or inconsistent with the dataset."""


class CheckpointError(GenrelensError):
    """A checkpoint is missing keys, was written by an incompatible version, or is unsafe."""


class CacheError(GenrelensError):
    """A feature cache is missing, stale or inconsistent with its dataset (run ``prepare``)."""


class StorageError(GenrelensError):
    """A file or folder cannot be written: no space left, quota, read-only or no permission.

    The message names the path, the cause and, for a full disk, the space needed and free.
    """
