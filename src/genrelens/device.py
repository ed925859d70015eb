"""Where a model runs: the ``--device`` names and the device of a model.

Training, prediction and explanation run on the device that holds the model's weights: inputs
are built (or moved) there in batches, and only results (logits, scores, maps) come back to the
CPU as numpy arrays. :func:`resolve_device` turns a user's choice into a :class:`torch.device`,
refusing a device this machine does not have, and :func:`model_device` finds where a model is.

==========  ==============================================================================
name        device
==========  ==============================================================================
``auto``    ``cuda`` when torch sees a CUDA device, else ``cpu`` (``mps`` is never chosen
            automatically: some operators still fall back to the CPU there)
``cpu``     the CPU
``cuda``    the current CUDA device; ``cuda:N`` the N-th
``mps``     Apple's Metal device
==========  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from genrelens.errors import ParameterError

__all__ = ["DEVICES", "resolve_device", "model_device", "to_numpy"]

#: Device names accepted by :func:`resolve_device` (``cuda:N`` too).
DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


#: Whether each kind of device can be used here (a function per kind, so tests can patch it).
_AVAILABLE: dict[str, Callable[[], bool]] = {
    "cpu": lambda: True,
    "cuda": torch.cuda.is_available,
    "mps": _mps_available,
}


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The :class:`torch.device` of a device name (see the module docstring).

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, or a device.

    Returns
    -------
    torch.device

    Raises
    ------
    ParameterError
        If the name is unknown, or the device is not available on this machine (e.g.
        ``"cuda"`` with a CPU-only torch or no GPU): the message says what is available.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if _AVAILABLE["cuda"]() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ParameterError(
            f"device={device!r} is unknown: expected one of {list(DEVICES)} or 'cuda:N'."
        ) from None
    available = _AVAILABLE.get(resolved.type)
    if available is None:
        raise ParameterError(
            f"device={device!r} is not supported: expected one of {list(DEVICES)} or 'cuda:N'."
        )
    if not available():
        usable = [name for name, check in _AVAILABLE.items() if check()]
        raise ParameterError(
            f"device={device!r} is not available on this machine (torch "
            f"{torch.__version__} sees no {resolved.type.upper()} device): use one of "
            f"{usable} or 'auto'."
        )
    if resolved.type == "cuda" and resolved.index is not None:
        count = torch.cuda.device_count()
        if resolved.index >= count:
            raise ParameterError(
                f"device={device!r} is not available: this machine has {count} CUDA "
                f"device(s), cuda:0..cuda:{count - 1}."
            )
    return resolved


def model_device(model: Any) -> torch.device:
    """The device of a model's first parameter (or buffer); the CPU for anything else.

    A callable that is not an :class:`~torch.nn.Module` (a user's function) gets its inputs on
    the CPU and moves them itself.
    """
    if isinstance(model, nn.Module):
        for tensor in model.parameters():
            return tensor.device
        for buffer in model.buffers():
            return buffer.device
    return torch.device("cpu")


def to_numpy(tensor: torch.Tensor, dtype: torch.dtype | None = None) -> np.ndarray:
    """A result tensor (on any device) as a numpy array on the CPU, detached."""
    return tensor.detach().to(device="cpu", dtype=dtype).numpy()
