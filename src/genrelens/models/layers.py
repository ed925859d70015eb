"""Building blocks shared by the built-in models: the fixed input affine and the conv block.

Input normalisation
-------------------
Models receive compressed log-mel power: in dB by default (about -100..+40 dB; 0 dB is loud,
silence is ``FeatureConfig.floor_db``), or ``log10(C * S + 1)`` (0 is silence) for a front end
with ``compression="log10"``. Every built-in model starts with :class:`InputNorm`, a fixed affine
``(x - mean) / std`` whose two scalars are *buffers*: training sets them once from the training
segments (:meth:`InputNorm.fit`), they are saved in the checkpoint's state dict and never learnt.
A fixed affine, unlike an input batch norm, behaves identically in training and evaluation mode
and for a batch of one, which keeps explanations (that run the model on edited inputs in large
batches) independent of the batch's content. Scalars rather than per-band statistics keep the
models usable on inputs of any ``n_mels``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from genrelens.errors import ParameterError

__all__ = ["InputNorm", "conv_block", "check_input", "check_positive_int", "check_dropout"]


class InputNorm(nn.Module):
    """Fixed affine ``(x - mean) / std`` with scalar buffers ``mean`` and ``std``.

    Parameters
    ----------
    mean, std : float
        Initial statistics (defaults 0 and 1: identity until :meth:`fit` is called).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, *, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of any shape."""
        return (x - self.mean) / self.std

    @torch.no_grad()
    def fit(self, x: np.ndarray | torch.Tensor) -> None:
        """Set ``mean`` and ``std`` to the mean and standard deviation of all values of ``x``.

        Parameters
        ----------
        x : array-like, shape (n_segments, ...)
            Training log-mel segments (numpy, memory-mapped numpy, or torch). Two passes in
            float64 over chunks of 256 segments, so no copy of the whole array is made and a
            memory map is read a chunk at a time.

        Raises
        ------
        ParameterError
            If ``x`` is empty, non-finite, or constant (``std == 0``).
        """
        data = np.atleast_1d(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x)
        if data.size == 0:
            raise ParameterError("x is empty: expected training segments to normalise with.")
        chunks = [data[i : i + 256] for i in range(0, len(data), 256)]
        mean = sum(float(c.sum(dtype=np.float64)) for c in chunks) / data.size
        var = sum(float(np.square(c - mean, dtype=np.float64).sum()) for c in chunks) / data.size
        std = math.sqrt(var) if math.isfinite(var) else math.nan
        if not (math.isfinite(mean) and math.isfinite(std)) or std == 0.0:
            raise ParameterError(
                f"x has mean {mean!r} and std {std!r}: expected finite values that are not all "
                "equal."
            )
        self.mean.fill_(mean)
        self.std.fill_(std)

    def extra_repr(self) -> str:
        return f"mean={float(self.mean):.3f}, std={float(self.std):.3f}"


def conv_block(in_channels: int, out_channels: int, *, pool_ceil: bool = False) -> nn.Sequential:
    """``Conv2d(3x3, padding 1, no bias) -> BatchNorm2d -> ReLU -> MaxPool2d(2)``.

    The convolution has no bias because batch norm follows it (the pair folds into one
    convolution for inference, see :mod:`genrelens.models.fold`).

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    pool_ceil : bool
        ``ceil_mode`` of the pooling: ``True`` keeps at least one row/column, so deep stacks
        accept small inputs.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=pool_ceil),
    )


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is a positive ``int``, else raise :class:`ParameterError`."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ParameterError(f"{name}={value!r} is invalid: expected a positive integer.")
    return value


def check_dropout(value: object) -> float:
    """Return ``value`` as a float if it is a probability in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ParameterError(f"dropout={value!r} is invalid: expected a number in [0, 1).")
    return float(value)


def check_input(x: torch.Tensor) -> None:
    """Raise :class:`ParameterError` unless ``x`` has shape ``(batch, 1, n_mels, n_frames)``."""
    if x.ndim != 4 or x.shape[1] != 1:
        raise ParameterError(
            f"input has shape {tuple(x.shape)}: expected (batch, 1, n_mels, n_frames) log-mel dB."
        )
