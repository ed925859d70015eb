"""Training-time augmentation of log-mel batches: SpecAugment masking and mixup.

Both draw their randomness from one ``np.random.Generator`` passed in, so a training run is
reproducible from its seed and resumable from the generator's saved state.

References
----------
D. S. Park et al., "SpecAugment: a simple data augmentation method for automatic speech
recognition", Interspeech 2019 (time and frequency masking; time warping is not used).
H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz, "mixup: beyond empirical risk
minimization", ICLR 2018.
"""

from __future__ import annotations

import numpy as np
import torch

from genrelens.errors import ParameterError

__all__ = ["spec_augment", "mixup"]


def _band_masks(
    rng: np.random.Generator, *, batch: int, size: int, n_masks: int, max_width: int
) -> np.ndarray:
    """Boolean ``(batch, size)``: ``n_masks`` bands per row, widths uniform in 0..max_width."""
    mask = np.zeros((batch, size), dtype=bool)
    width_cap = min(max_width, size)
    positions = np.arange(size)
    for _ in range(n_masks):
        widths = rng.integers(0, width_cap + 1, size=batch)
        starts = rng.integers(0, size - widths + 1)
        mask |= (positions >= starts[:, None]) & (positions < (starts + widths)[:, None])
    return mask


def spec_augment(
    x: torch.Tensor,
    *,
    rng: np.random.Generator,
    fill: float,
    n_freq_masks: int = 2,
    freq_width: int = 16,
    n_time_masks: int = 2,
    time_width: int = 20,
) -> torch.Tensor:
    """Mask random mel bands and frame ranges of each example (SpecAugment, Park et al. 2019).

    Parameters
    ----------
    x : torch.Tensor, shape (batch, channels, n_mels, n_frames)
        Log-mel batch; not modified.
    rng : numpy.random.Generator
        Source of the mask positions.
    fill : float
        Value written into masked cells (the training mean, so a masked cell is 0 after the
        model's input normalisation, as in the paper).
    n_freq_masks, freq_width : int
        Number of frequency masks per example and their maximum width in mel bands.
    n_time_masks, time_width : int
        Number of time masks per example and their maximum width in frames.

    Returns
    -------
    torch.Tensor
        A masked copy of ``x``.
    """
    if x.ndim != 4:
        raise ParameterError(
            f"x has shape {tuple(x.shape)}: expected (batch, 1, n_mels, n_frames)."
        )
    for name, value in (("n_freq_masks", n_freq_masks), ("freq_width", freq_width),
                        ("n_time_masks", n_time_masks), ("time_width", time_width)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ParameterError(f"{name}={value!r} is invalid: expected a non-negative integer.")
    batch, _, n_mels, n_frames = x.shape
    freq = _band_masks(rng, batch=batch, size=n_mels, n_masks=n_freq_masks, max_width=freq_width)
    time = _band_masks(rng, batch=batch, size=n_frames, n_masks=n_time_masks, max_width=time_width)
    cells = torch.from_numpy(freq[:, :, None] | time[:, None, :])[:, None]
    return x.masked_fill(cells, float(fill))


def mixup(
    x: torch.Tensor, y: torch.Tensor, *, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mix each example with another of the batch (mixup, Zhang et al. 2018).

    Parameters
    ----------
    x : torch.Tensor, shape (batch, ...)
        Inputs.
    y : torch.Tensor, shape (batch,)
        Integer labels.
    alpha : float
        Parameter of the ``Beta(alpha, alpha)`` mixing weight; must be positive.
    rng : numpy.random.Generator

    Returns
    -------
    mixed : torch.Tensor
        ``lam * x + (1 - lam) * x[perm]``.
    y_a, y_b : torch.Tensor
        ``y`` and ``y[perm]``; the loss is ``lam * CE(y_a) + (1 - lam) * CE(y_b)``.
    lam : float
        The mixing weight, folded to ``>= 0.5`` so ``y_a`` is the dominant label.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not alpha > 0:
        raise ParameterError(f"alpha={alpha!r} is invalid: expected a positive number.")
    lam = float(rng.beta(alpha, alpha))
    lam = max(lam, 1.0 - lam)
    perm = torch.from_numpy(rng.permutation(x.shape[0]))
    return lam * x + (1.0 - lam) * x[perm], y, y[perm], lam
