"""Checks of user input shared by every module.

Each check raises :class:`~genrelens.errors.ParameterError` whose message names the parameter,
the value given and what was expected (librosa's ``util.valid_audio`` and scikit-learn's
``check_random_state`` in spirit), and returns the value in the form the caller computes with.

* :func:`check_int`: an integer, never a ``bool``, within bounds;
* :func:`check_choice`: one of a few names;
* :func:`check_random_state`: ``None``, a non-negative integer or a ``numpy`` Generator, as
  one Generator;
* :func:`valid_logmel`: a finite log-mel input ``(n_mels, n_frames)`` (leading singleton axes
  dropped) or a batch ``(n_segments, n_mels, n_frames)``;
* :func:`valid_audio`: a real-valued waveform ``(..., n_samples)`` (array or tensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrelens.errors import ParameterError

__all__ = ["check_int", "check_choice", "check_random_state", "valid_logmel", "valid_audio"]


def check_int(name: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer (Python or numpy, not ``bool``) in
    ``[minimum, maximum]`` (either bound optional), else a :class:`ParameterError`."""
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise ParameterError(f"{name}={value!r} is invalid: expected {_integer(minimum, maximum)}.")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a :class:`ParameterError` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{name}={value!r} is invalid: expected one of {list(choices)}.")
    return value


def check_random_state(random_state: Any, *, name: str = "random_state") -> np.random.Generator:
    """One :class:`numpy.random.Generator` from ``random_state``.

    A Generator is returned as it is (so that one generator is passed down, and parallel code
    gets the same numbers as serial code); ``None`` gives fresh entropy; a non-negative integer
    seeds a new one. Anything else (a ``bool``, a negative number, a float, a legacy
    ``RandomState``) is a :class:`ParameterError`.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None:
        check_int(name, random_state, minimum=0)
    return np.random.default_rng(random_state)


def valid_logmel(logmel: Any, *, batched: bool = False, n_mels: int | None = None,
                 name: str = "logmel") -> np.ndarray:
    """A finite log-mel input in dB as a numpy array (a tensor is detached and copied).

    Parameters
    ----------
    logmel : array or tensor
        One input ``(n_mels, n_frames)``, also as ``(1, n_mels, n_frames)`` or
        ``(1, 1, n_mels, n_frames)``; with ``batched=True`` a batch
        ``(n_segments >= 1, n_mels, n_frames)``.
    batched : bool
        Expect a batch instead of one input.
    n_mels : int, optional
        The number of mel bands required.
    name : str
        The parameter's name in messages.

    Returns
    -------
    np.ndarray
        ``(n_mels, n_frames)`` or ``(n_segments, n_mels, n_frames)``, the input's own numeric
        dtype.
    """
    if hasattr(logmel, "detach"):  # a torch tensor
        logmel = logmel.detach().cpu().numpy()
    arr = np.asarray(logmel)
    shape = arr.shape
    if not batched:
        while arr.ndim > 2 and arr.shape[0] == 1:
            arr = arr[0]
    bands = "n_mels" if n_mels is None else f"n_mels={n_mels}"
    expected = (f"(n_segments >= 1, {bands}, n_frames)" if batched else
                f"({bands}, n_frames), (1, {bands}, n_frames) or (1, 1, {bands}, n_frames) "
                "(one input; explain inputs one at a time)")
    if (arr.ndim != (3 if batched else 2) or (batched and len(shape) != 3) or len(shape) > 4
            or arr.shape[0] == 0 or (n_mels is not None and arr.shape[-2] != n_mels)
            or arr.dtype.kind not in "iuf"):
        raise ParameterError(
            f"{name} has shape {shape} and dtype {arr.dtype}: expected real numbers of shape "
            f"{expected}."
        )
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name} contains NaN or infinite values: expected finite dB values.")
    return arr


def valid_audio(y: Any, *, mono: bool = False, name: str = "y") -> Any:
    """``y`` unchanged if it is a real-valued waveform, else a :class:`ParameterError`.

    Parameters
    ----------
    y : array or tensor
        ``(..., n_samples)`` with ``n_samples >= 1`` (``mono=True``: ``(n_samples,)``), of a
        real numeric dtype (not complex, not bool).
    mono : bool
        Require one channel (a 1-D waveform).
    name : str
        The parameter's name in messages.
    """
    dtype = y.dtype
    complex_ = dtype.is_complex if hasattr(dtype, "is_complex") else dtype.kind == "c"
    if complex_ or str(dtype) in ("bool", "torch.bool") or str(dtype) == "object":
        raise ParameterError(f"{name} has dtype {dtype}: expected a real-valued waveform.")
    shape = tuple(y.shape)
    if (mono and len(shape) != 1) or len(shape) < 1 or shape[-1] == 0:
        expected = "a mono waveform (n_samples,)" if mono else "(..., n_samples)"
        raise ParameterError(
            f"{name} has shape {shape}: expected {expected} with n_samples >= 1."
        )
    return y


def _integer(minimum: int | None, maximum: int | None) -> str:
    if maximum is not None:
        return (f"an integer in [{minimum}, {maximum}]" if minimum is not None
                else f"an integer <= {maximum}")
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return "an integer" if minimum is None else f"an integer >= {minimum}"
