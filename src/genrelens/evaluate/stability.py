"""Stability of explanations: do the rankings survive a change of seed or of fill?

A perturbation explanation depends on its random samples (``random_state``) and on what
"removed" means (the fill). Stability is measured as the Spearman rank correlation of the
component scores of the same input and class between two runs that differ only in that
choice, averaged over all pairs of runs (Alvarez-Melis & Jaakkola 2018 use the same idea for
input perturbations; Zhou et al. 2021 for sampling seeds of LIME).

``rank_correlation`` — Spearman's rho (Pearson correlation of average ranks, so ties share a
    rank). Defined as 0.0 when either vector is constant (no ranking information); 1.0 for
    identical rankings.
``pairwise_rank_correlation`` — the matrix over runs and the mean of its off-diagonal entries;
    for one run the mean is 1.0 (a single run agrees with itself).

References
----------
Spearman, C. (1904). The proof and measurement of association between two things.
Alvarez-Melis, D. & Jaakkola, T. S. (2018). On the robustness of interpretability methods.
ICML Workshop on Human Interpretability.
Zhou, Z., Hooker, G. & Wang, F. (2021). S-LIME: Stabilized-LIME for model explanation. KDD.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrelens.errors import ParameterError
from genrelens.explain.hybrid import spearman

__all__ = ["rank_correlation", "pairwise_rank_correlation"]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two score vectors ``(M,)`` (flattened); 0.0 if one is constant."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ParameterError(
            f"a has shape {a.shape} and b {b.shape}: expected two non-empty vectors of equal size."
        )
    return float(spearman(a[None], b[None])[0])


def pairwise_rank_correlation(runs: Sequence[np.ndarray]) -> tuple[float, np.ndarray]:
    """Spearman correlation between every pair of runs.

    Parameters
    ----------
    runs : sequence of ndarray, each (M,)
        Scores of the same input and class from different seeds (or fills).

    Returns
    -------
    mean : float
        Mean over pairs ``i < j``; 1.0 for a single run.
    matrix : ndarray, shape (n_runs, n_runs)
        Symmetric, ones on the diagonal.
    """
    n = len(runs)
    if n == 0:
        raise ParameterError("runs is empty: expected at least one score vector.")
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = rank_correlation(runs[i], runs[j])
    if n == 1:
        return 1.0, matrix
    return float(matrix[np.triu_indices(n, 1)].mean()), matrix
