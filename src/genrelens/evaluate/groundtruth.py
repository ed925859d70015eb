"""Ground-truth localisation: does an explanation point at the known cue?

On the synthetic dataset every segment comes with a boolean time-frequency mask of the cue that
defines its genre (:func:`genrelens.data.synthetic.cues.cue_mask`), so localisation can be measured
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

On components (an explanation's own resolution, before its scores are painted onto cells):

``component_hits`` — which components touch the mask (share at least one cell with it).
``component_pointing_game`` — 1 if the top-scoring component touches the mask; with tied top
    scores, the fraction of them that do. Chance: the fraction of components that touch it.
``best_hit_rank`` — the 1-based rank of the best-ranked component that touches the mask (ties
    broken at random in expectation). Chance: ``(M + 1) / (H + 1)`` for ``H`` touching of ``M``.

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

from genrelens._validation import check_int
from genrelens.errors import ParameterError

__all__ = [
    "mask_fraction",
    "relevance_mass_accuracy",
    "relevance_rank_accuracy",
    "pointing_game",
    "component_hits",
    "component_pointing_game",
    "best_hit_rank",
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
    check_int("tolerance", tolerance, minimum=0)
    if not mask.any():
        return float("nan")
    if tolerance:
        from scipy.ndimage import binary_dilation

        mask = binary_dilation(mask, structure=np.ones((2 * tolerance + 1,) * 2, dtype=bool))
    top = rel == rel.max()
    return float(mask[top].mean())


def component_hits(component_map: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Which components touch ``mask``.

    Parameters
    ----------
    component_map : ndarray of int, shape (n_mels, n_frames)
        Component id of every cell, -1 for none (``Components.map``).
    mask : ndarray of bool, same shape

    Returns
    -------
    ndarray of bool, shape (M,)
        ``M = component_map.max() + 1``.
    """
    cmap = np.asarray(component_map)
    m = np.asarray(mask, dtype=bool)
    if cmap.shape != m.shape or cmap.ndim != 2:
        raise ParameterError(
            f"component_map has shape {cmap.shape} and mask {m.shape}: expected two equal "
            "(n_mels, n_frames) arrays."
        )
    n = int(cmap.max()) + 1
    if n < 1:
        raise ParameterError("component_map holds no component (all cells are -1).")
    ids = cmap[m & (cmap >= 0)]
    return np.bincount(ids, minlength=n) > 0


def component_pointing_game(scores: np.ndarray, hits: np.ndarray) -> float:
    """1.0 if the top-scoring component touches the mask (the fraction on tied tops).

    Parameters
    ----------
    scores : ndarray, shape (M,)
    hits : ndarray of bool, shape (M,)
        From :func:`component_hits`.

    Returns
    -------
    float
        In [0, 1]; NaN when no component touches the mask.
    """
    s, h = _check_scores(scores, hits)
    if not h.any():
        return float("nan")
    return float(h[s == s.max()].mean())


def best_hit_rank(scores: np.ndarray, hits: np.ndarray) -> float:
    """Expected 1-based rank of the best-ranked component that touches the mask.

    Components with a higher score come first; among components tied with the best touching
    one, the order is random, which puts it ``t_miss / (t_hit + 1)`` places down in
    expectation (``t_miss`` tied components that miss, ``t_hit`` that touch). A constant score
    vector gives the chance level ``(M + 1) / (H + 1)``.

    Returns
    -------
    float
        In ``[1, M - H + 1]``; NaN when no component touches the mask.
    """
    s, h = _check_scores(scores, hits)
    if not h.any():
        return float("nan")
    best = s[h].max()
    tied = s == best
    return float(1 + np.sum(s > best) + np.sum(tied & ~h) / (np.sum(tied & h) + 1))


def _check_scores(scores: np.ndarray, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _check_pair(scores, hits, names=("scores", "hits"), shape="(M,) vectors", ndim=1)


def _check(relevance: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _check_pair(relevance, mask, names=("relevance", "mask"),
                       shape="(n_mels, n_frames) arrays", ndim=2)


def _check_pair(values: np.ndarray, where: np.ndarray, *, names: tuple[str, str], shape: str,
                ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Finite float64 ``values`` and a bool array ``where`` of the same, non-empty shape."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(where)
    if v.ndim != ndim or v.shape != w.shape or v.size == 0:
        raise ParameterError(
            f"{names[0]} has shape {v.shape} and {names[1]} {w.shape}: expected two equal, "
            f"non-empty {shape}."
        )
    if not np.isfinite(v).all():
        raise ParameterError(
            f"{names[0]} contains NaN or infinite values: expected finite scores.")
    return v, w.astype(bool)
