"""The hybrid's shared design: one set of coalitions for LIME and KernelSHAP, and the
agreement of the two (:func:`spearman`).

LIME (:mod:`genrelens.explain.lime`) fits its surrogate over its uniform design (each component
off with probability 1/2) weighted by its kernel; KernelSHAP (:mod:`genrelens.explain.shap`)
fits over the Shapley kernel. The two put their weight on different coalitions: with
``M = 80`` components, 98% of LIME's samples have 30 to 50 components on, while the Shapley
kernel puts 62% of its mass on coalitions with at most 10 or at least 70 on. The hybrid
therefore draws ONE set of coalitions from a mixture of two size distributions and lets each
estimator use ALL rows with importance weights towards its own target (the balance heuristic
of multiple importance sampling, Veach & Guibas 1995; a defensive mixture, Owen & Zhou 2000).
Both then estimate what they estimate alone.

Design (:func:`sample_mixture`)
-------------------------------
The size ``s`` (number of components on, ``0 < s < M``) of each draw has probability

    r(s) = λ C(M, s) / (2^M - 2) + (1 - λ) / (M - 1),    λ = UNIFORM_SHARE = 1/2,

half LIME's uniform design (its binomial sizes without the all-off and all-on coalitions),
half the leverage-score design of KernelSHAP (every size equally likely; Musco & Witter 2025,
whose sampling probabilities are proportional to the leverage scores of the Shapley
regression). A coalition of size ``s`` is drawn uniformly and paired with its complement
(antithetic sampling, Covert & Lee 2021; ``r`` is symmetric, so the pair keeps the design).
Rows 0 and 1 are the all-on and all-off coalitions, as for KernelSHAP; the budget counts them.

Weights
-------
* KernelSHAP (:func:`kernel_shap_weights`): the Shapley kernel's mass at the row's size over
  ``r(s)`` (:func:`genrelens.explain.shap.design_weights`). The all-on and all-off rows stay
  exact constraints, so the efficiency constraint holds to float rounding.
* LIME (:func:`lime_weights`): LIME's kernel times the ratio of the expected number of rows
  of that size in LIME's own design with the same number of rows (the all-on row, then
  uniform rows) to the expected number in this one; normalised to mean 1 like LIME's own
  weights, so ``alpha`` means the same.

Every size has probability at least ``(1 - λ) / (M - 1)``, so both weights are bounded.

Measured
--------
On a random-weight ``cnn`` with 80 time-frequency components (``benchmarks/bench_compare.py``'s
setting, cosine kernel of width 0.25), the Spearman correlation of the predicted class's
scores between two seeds at budgets 1000 / 2000 / 4000 (mean of three seed pairs) was, for
KernelSHAP's view, 0.92 / 0.96 / 0.98 (KernelSHAP on its own design: 0.91 / 0.95 / 0.98), and
for LIME's view 0.69 / 0.86 / 0.94 (LIME on its own design: 0.69 / 0.83 / 0.90; LIME's kernel
on KernelSHAP's samples: 0.15 / 0.19 / 0.36). Against independent large-budget references,
both views were at least as accurate as the methods on their own designs. The price is paid
where the middle sizes say little about Shapley values: on a product-interaction test model
with 12 or 16 components, the KernelSHAP view's largest error at the same budget was 1.3-1.7
times that of KernelSHAP on its own design (it still converges to the exact values).

References
----------
Veach, E., & Guibas, L. J. (1995). Optimally combining sampling techniques for Monte Carlo
rendering. SIGGRAPH.
Owen, A., & Zhou, Y. (2000). Safe and effective importance sampling. JASA 95(449).
Covert, I., & Lee, S.-I. (2021). Improving KernelSHAP: Practical Shapley value estimation via
linear regression. AISTATS.
Musco, C., & Witter, R. T. (2025). Provably accurate Shapley value estimation via leverage
score sampling. ICLR.
"""

from __future__ import annotations

import numpy as np

from genrelens.explain import lime, shap

__all__ = ["UNIFORM_SHARE", "size_probabilities", "sample_mixture", "kernel_shap_weights",
           "lime_weights", "spearman"]

#: Share λ of the draws whose size follows LIME's uniform design (the rest: every size alike).
UNIFORM_SHARE = 0.5


def size_probabilities(n_components: int) -> np.ndarray:
    """The mixture's size probabilities ``r(s)``, ``s = 0 .. M`` ``(M + 1,)``; 0 for 0 and M.

    ``M >= 2``; see the module docstring for the formula.
    """
    m = n_components
    uniform = lime.uniform_size_probabilities(m)
    uniform[0] = uniform[m] = 0.0
    leverage = shap.leverage_size_probabilities(m)
    r: np.ndarray = UNIFORM_SHARE * uniform / uniform.sum() + (1 - UNIFORM_SHARE) * leverage
    probabilities: np.ndarray = r / r.sum()
    return probabilities


def sample_mixture(rng: np.random.Generator, n_samples: int, n_components: int,
                   *, constraints: bool = True) -> np.ndarray:
    """Paired samples of the mixture design ``(n_samples, M)`` int8; rows as in
    :func:`genrelens.explain.shap.sample_shapley` (all-on and all-off first with
    ``constraints``)."""
    return shap.sample_paired(rng, n_samples, n_components,
                              size_probabilities=size_probabilities(n_components),
                              constraints=constraints)


def kernel_shap_weights(z: np.ndarray) -> np.ndarray:
    """KernelSHAP regression weights ``(n,)`` of mixture rows ``z`` (``inf`` for all-on and
    all-off, the constraints)."""
    z = np.asarray(z)
    return shap.design_weights(z, size_probabilities(z.shape[1]))


def lime_weights(z: np.ndarray, *, distance: str = "l2",
                 kernel_width: float | None = None) -> np.ndarray:
    """LIME weights ``(n,)`` of mixture rows ``z``: kernel times design ratio, mean 1.

    Rows of size ``s`` get LIME's kernel times ``E_lime(s) / E_mix(s)``: the expected number
    of rows of size ``s`` in LIME's own design of ``n`` rows (the all-on row, then ``n - 1``
    uniform rows) over their expected number here (``n_inner r(s)`` for the ``n_inner`` rows
    with ``0 < s < M``, the actual count for all-off and all-on).
    """
    z = np.asarray(z)
    n, m = z.shape
    s = z.sum(axis=1).astype(np.int64)
    kernel = lime.lime_weights(z, distance=distance, kernel_width=kernel_width)
    own = (n - 1) * lime.uniform_size_probabilities(m)
    own[m] += 1.0
    here = np.count_nonzero((s > 0) & (s < m)) * size_probabilities(m)
    here[0], here[m] = np.count_nonzero(s == 0), np.count_nonzero(s == m)
    w: np.ndarray = kernel * own[s] / here[s]
    weights: np.ndarray = w / w.mean()
    return weights


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of the rows of ``a`` and ``b`` ``(n_classes, M)``.

    Ties get average ranks (Spearman 1904). A constant row carries no ranking: the correlation
    is then defined as 0.0 (the one definition of genrelens, also of
    :func:`genrelens.evaluate.stability.rank_correlation`).
    """
    from scipy.stats import rankdata

    ra = rankdata(np.asarray(a), axis=1)
    rb = rankdata(np.asarray(b), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    rho = (ra * rb).sum(axis=1) / np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, np.clip(rho, -1.0, 1.0), 0.0)
