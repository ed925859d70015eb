"""Ground-truth localisation: does an explanation point at the known cue?

On the synthetic dataset every segment comes with a boolean time-frequency mask of the cue that
defines its genre (:func:`genrelens.data.synthetic.cue_mask`), so localisation can be measured
against the truth. All metrics take a relevance map ``(n_mels, n_frames)`` (component scores
painted onto cells, see :meth:`genrelens.explain.explanation.Explanation.to_map`) and the mask,
and each has a *chance level* equal to the mask's area fraction — what a map that carries no
information (constant, or uniformly random) scores on average:

``relevance_mass_accuracy`` — Arras, Osman & Samek (2022): positive relevance inside the mask
    divided by all positive relevance. 0.0 when the map has no positive relevance.
``relevance_rank_accuracy`` — Arras et al. (2022): with ``K`` = mask size, the fraction of the
    ``K`` highest-relevance cells that lie inside the mask. Ties at the ``K``-th value are
    shared out at random in expectation (tied cells count in proportion to the free places),
    so a constant map scores exactly the area fraction.
``pointing_game`` — Zhang et al. (2018): 1 if the cell of maximal relevance lies in the mask
    (optionally dilated by ``tolerance`` cells), else 0; with several maximal cells, the
    fraction of them inside the mask (the expected hit under random tie-breaking).
``mask_fraction`` — the chance level: mask cells / all cells.

An empty mask (a segment without a cue) makes every metric undefined: they return NaN, and
aggregates skip such segments (:func:`numpy.nanmean`).

References
----------
Arras, L., Osman, A. & Samek, W. (2022). CLEVR-XAI: A benchmark dataset for the ground truth
evaluation of neural network explanations. Information Fusion 81, 14-40.
Zhang, J., Bargal, S. A., Lin, Z., Brandt, J., Shen, X. & Sclaroff, S. (2018). Top-down neural
attention by excitation backprop. IJCV 126, 1084-1102.
"""

from __future__ import annotations

import numpy as np

from genrelens.errors import ParameterError

__all__ = [
    "mask_fraction",
    "relevance_mass_accuracy",
    "relevance_rank_accuracy",
    "pointing_game",
]


def mask_fraction(mask: np.ndarray) -> float:
    """Fraction of cells inside the mask (the chance level of every metric here)."""
    mask = np.asarray(mask, dtype=bool)
    return float(mask.mean()) if mask.size else float("nan")


def relevance_mass_accuracy(relevance: np.ndarray, mask: np.ndarray) -> float:
    """Share of the positive relevance that falls inside ``mask``.

    Parameters
    ----------
    relevance : ndarray, shape (n_mels, n_frames)
    mask : ndarray of bool, same shape

    Returns
    -------
    float
        In [0, 1]; 0.0 without positive relevance; NaN for an empty mask.
    """
    rel, mask = _check(relevance, mask)
    if not mask.any():
        return float("nan")
    pos = np.maximum(rel, 0.0)
    total = pos.sum()
    return float(pos[mask].sum() / total) if total > 0 else 0.0


def relevance_rank_accuracy(relevance: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the ``K = mask.sum()`` top-ranked cells that lie inside ``mask``.

    Returns
    -------
    float
        In [0, 1]; the area fraction for a constant map; NaN for an empty mask.
    """
    rel, mask = _check(relevance, mask)
    k = int(mask.sum())
    if k == 0:
        return float("nan")
    flat, inside = rel.ravel(), mask.ravel()
    kth = np.partition(flat, flat.size - k)[flat.size - k]  # the K-th largest value
    above = flat > kth
    tied = flat == kth
    free = k - int(above.sum())  # places left for the tied cells
    hits = float(inside[above].sum()) + free * float(inside[tied].sum()) / float(tied.sum())
    return hits / k


def pointing_game(relevance: np.ndarray, mask: np.ndarray, *, tolerance: int = 0) -> float:
    """1.0 if the maximal-relevance cell lies in ``mask`` (dilated by ``tolerance`` cells).

    Parameters
    ----------
    relevance : ndarray, shape (n_mels, n_frames)
    mask : ndarray of bool, same shape
    tolerance : int, default 0
        Cells of slack around the mask (Zhang et al. use 15 pixels on images).

    Returns
    -------
    float
        1.0 hit, 0.0 miss, the fraction of maxima inside on ties; NaN for an empty mask.
    """
    rel, mask = _check(relevance, mask)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ParameterError(f"tolerance={tolerance!r} is invalid: expected an integer >= 0.")
    if not mask.any():
        return float("nan")
    if tolerance:
        from scipy.ndimage import binary_dilation

        mask = binary_dilation(mask, structure=np.ones((2 * tolerance + 1,) * 2, dtype=bool))
    top = rel == rel.max()
    return float(mask[top].mean())


def _check(relevance: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rel = np.asarray(relevance, dtype=np.float64)
    m = np.asarray(mask)
    if rel.ndim != 2 or rel.shape != m.shape or rel.size == 0:
        raise ParameterError(
            f"relevance has shape {rel.shape} and mask {m.shape}: expected two equal, non-empty "
            "(n_mels, n_frames) arrays."
        )
    if not np.isfinite(rel).all():
        raise ParameterError("relevance contains NaN or infinite values: expected finite scores.")
    return rel, m.astype(bool)
