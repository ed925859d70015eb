"""KernelSHAP: Shapley values as a constrained weighted least-squares fit (Lundberg & Lee 2017).

Pure functions over arrays; :func:`genrelens.explain.explain` (``method="kernel_shap"``) runs the
model through the engine and calls them.

For ``M`` components, the Shapley kernel gives a coalition ``z`` with ``|z| = s`` ones the
weight ``pi(s) = (M - 1) / (C(M, s) s (M - s))`` for ``0 < s < M``; the all-on and all-off
coalitions have infinite weight, i.e. they enter as exact constraints:
``phi_0 = f(0)`` (the base value, the model on the fill) and the efficiency constraint
``sum_j phi_j = f(1) - f(0)`` per class. Minimising ``sum pi(z) (f(z) - phi_0 - z·phi)^2``
under the constraint is done by eliminating the last coefficient,
``phi_M = Δ - sum_{j<M} phi_j``, and solving the unconstrained problem
``f(z) - f(0) - z_M Δ = sum_{j<M} phi_j (z_j - z_M)`` by least squares (all classes at once).
The constraint therefore holds to float rounding.

Designs
-------
* **Enumeration** (:func:`all_coalitions`): when ``n_samples >= 2^M`` every coalition is
  evaluated once and weighted by ``pi``; the solution is then the exact Shapley values
  (Charnes et al. 1988; Lundberg & Lee 2017, Theorem 2).
* **Sampling** (:func:`sample_shapley`): the size ``s`` is drawn with probability proportional
  to the total kernel weight of that size, ``(M - 1) / (s (M - s))``, a coalition of that size
  uniformly, and it is paired with its complement ``1 - z`` (antithetic sampling, Covert &
  Lee 2021). Samples drawn from the kernel carry equal weights. Rows 0 and 1 are all-on and
  all-off (the constraints). The budget ``n_samples`` counts these two rows.
* **Other size distributions** (:func:`sample_paired`): the same paired sampler with any
  distribution ``r(s)`` of the size; the regression weight of a row is then the kernel's total
  mass at its size over ``r(s)`` (:func:`design_weights`), which is 1 for the Shapley kernel's
  own sizes (:func:`shapley_size_probabilities`). The hybrid method's shared design uses this
  (see :mod:`genrelens.explain.hybrid`), and so does the **leverage** design
  (``sampling="leverage"``, :func:`leverage_size_probabilities`): every size equally likely,
  which samples coalitions in proportion to the leverage scores of the Shapley regression
  (Musco & Witter 2025; here with replacement, paired). It draws far more middle-sized
  coalitions than the kernel (with ``M = 80``, 62% of the kernel's draws have at most 10 or
  at least 70 components on, 25% of the leverage design's), and those are where the model
  sees most of the clip.

References
----------
Lundberg, S. M., & Lee, S.-I. (2017). A unified approach to interpreting model predictions.
NeurIPS.
Covert, I., & Lee, S.-I. (2021). Improving KernelSHAP: Practical Shapley value estimation via
linear regression. AISTATS.
Musco, C., & Witter, R. T. (2025). Provably accurate Shapley value estimation via leverage
score sampling. ICLR.
"""

from __future__ import annotations

from math import comb

import numpy as np

from genrelens.errors import ParameterError

__all__ = [
    "all_coalitions",
    "sample_shapley",
    "sample_paired",
    "shapley_size_probabilities",
    "leverage_size_probabilities",
    "design_weights",
    "shapley_kernel",
    "fit_kernel_shap",
    "MAX_ENUMERATION",
]

#: Largest M for which enumeration (2^M coalitions) is allowed.
MAX_ENUMERATION = 20


def all_coalitions(n_components: int) -> np.ndarray:
    """All ``2^M`` binary rows ``(2^M, M)``, all-on first and all-off second."""
    if n_components > MAX_ENUMERATION:
        raise ParameterError(
            f"n_components={n_components} is too many to enumerate 2^M coalitions: expected at "
            f"most {MAX_ENUMERATION}; sample instead (n_samples < 2^M)."
        )
    codes = np.arange(2**n_components)
    z = ((codes[:, None] >> np.arange(n_components)) & 1).astype(np.int8)
    order = np.r_[2**n_components - 1, 0, np.arange(1, 2**n_components - 1)]
    return z[order]


def shapley_kernel(z: np.ndarray) -> np.ndarray:
    """Shapley kernel weights ``(n,)`` of rows ``z``; ``inf`` for all-on and all-off rows."""
    z = np.asarray(z)
    m = z.shape[1]
    s = z.sum(axis=1).astype(np.int64)
    w = np.full(s.shape, np.inf)
    inner = (s > 0) & (s < m)
    sizes = s[inner]
    w[inner] = (m - 1) / (np.array([comb(m, int(k)) for k in sizes], dtype=np.float64)
                          * sizes * (m - sizes))
    return w


def shapley_size_probabilities(n_components: int) -> np.ndarray:
    """The Shapley kernel's total mass per coalition size ``(M + 1,)``, summing to 1.

    ``K(s) = (M - 1) / (s (M - s))`` normalised over ``0 < s < M``; ``K(0) = K(M) = 0`` (the
    all-off and all-on coalitions are constraints, not samples). ``M >= 2``.
    """
    m = n_components
    sizes = np.arange(1, m)
    p = (m - 1) / (sizes * (m - sizes))
    out = np.zeros(m + 1)
    out[1:m] = p / p.sum()
    return out


def leverage_size_probabilities(n_components: int) -> np.ndarray:
    """Every size ``0 < s < M`` equally likely, ``(M + 1,)``: the leverage-score design of the
    Shapley regression (Musco & Witter 2025); 0 for sizes 0 and M. ``M >= 2``."""
    m = n_components
    out = np.zeros(m + 1)
    out[1:m] = 1.0 / (m - 1)
    return out


def sample_shapley(rng: np.random.Generator, n_samples: int, n_components: int,
                   *, constraints: bool = True) -> np.ndarray:
    """Paired samples from the Shapley kernel.

    Parameters
    ----------
    rng : np.random.Generator
    n_samples : int
        Rows to return (even count of paired rows; with ``constraints`` the all-on and
        all-off rows come first and count towards ``n_samples``).
    n_components : int
        ``M >= 2``.
    constraints : bool
        Start with the all-on and all-off rows (False for later sampling rounds).

    Returns
    -------
    np.ndarray, int8, shape (n_samples, M)
        If ``n_samples`` is odd, the last pair is cut to one row.
    """
    return sample_paired(rng, n_samples, n_components,
                         size_probabilities=shapley_size_probabilities(n_components),
                         constraints=constraints)


def sample_paired(rng: np.random.Generator, n_samples: int, n_components: int, *,
                  size_probabilities: np.ndarray, constraints: bool = True) -> np.ndarray:
    """Paired samples whose size ``s`` (number of ones) is drawn from ``size_probabilities``.

    Each draw picks ``s`` with probability ``size_probabilities[s]``, a coalition of that
    size uniformly, and appends it with its complement ``1 - z``.

    Parameters
    ----------
    rng : np.random.Generator
    n_samples : int
        Rows to return, as in :func:`sample_shapley`.
    n_components : int
        ``M >= 2``.
    size_probabilities : np.ndarray, shape (M + 1,)
        Probabilities of the sizes ``0 .. M``; those of 0 and M must be 0 and the rest sum
        to 1.
    constraints : bool
        Start with the all-on and all-off rows (False for later sampling rounds).

    Returns
    -------
    np.ndarray, int8, shape (n_samples, M)
    """
    m = n_components
    r = np.asarray(size_probabilities, dtype=np.float64)
    if r.shape != (m + 1,) or r[0] != 0 or r[m] != 0 or np.any(r < 0) or not np.isclose(
            r.sum(), 1.0):
        raise ParameterError(
            f"size_probabilities has shape {r.shape}: expected {(m + 1,)} non-negative "
            "probabilities of the sizes 0..M summing to 1, with 0 for sizes 0 and M."
        )
    head = [np.ones(m, np.int8), np.zeros(m, np.int8)] if constraints else []
    n_pairs = -(-max(0, n_samples - len(head)) // 2)
    s = rng.choice(np.arange(1, m), size=n_pairs, p=r[1:m])
    # a uniform coalition of size s: the s smallest of M random keys
    keys = rng.random((n_pairs, m))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    z = (ranks < s[:, None]).astype(np.int8)
    pairs = np.empty((2 * n_pairs, m), np.int8)
    pairs[0::2], pairs[1::2] = z, 1 - z
    out = np.concatenate([np.array(head, np.int8).reshape(-1, m), pairs])
    return out[:n_samples]


def design_weights(z: np.ndarray, size_probabilities: np.ndarray) -> np.ndarray:
    """KernelSHAP regression weights ``(n,)`` of rows drawn by :func:`sample_paired`.

    The Shapley kernel's mass at a row's size over the row's sampling probability,
    ``K(s) / rbar(s)`` with ``rbar(s) = (r(s) + r(M - s)) / 2`` (a pair puts one row at ``s``
    and one at ``M - s``): importance sampling, so that the weighted least squares estimates
    the kernel's objective whatever the design. ``inf`` for the all-on and all-off rows (the
    constraints), as :func:`shapley_kernel`. Ones when ``r`` is the kernel's own size
    distribution.
    """
    z = np.asarray(z)
    m = z.shape[1]
    r = np.asarray(size_probabilities, dtype=np.float64)
    rbar = (r + r[::-1]) / 2
    s = z.sum(axis=1).astype(np.int64)
    w = np.full(s.shape, np.inf)
    inner = (s > 0) & (s < m)
    w[inner] = shapley_size_probabilities(m)[s[inner]] / rbar[s[inner]]
    return w


def fit_kernel_shap(
    z: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray,
    f_full: np.ndarray,
    f_empty: np.ndarray,
) -> np.ndarray:
    """Constrained weighted least squares: Shapley estimates ``(n_classes, M)``.

    Parameters
    ----------
    z : np.ndarray (n, M)
        Coalitions; all-on and all-off rows are ignored (they are the constraints).
    y : np.ndarray (n, n_classes)
        Model outputs on ``z``.
    weights : np.ndarray (n,)
        Regression weights (``shapley_kernel`` for enumeration, ones for kernel samples,
        :func:`design_weights` for other size distributions).
    f_full, f_empty : np.ndarray (n_classes,)
        Outputs for all-on (the input) and all-off (the fill).

    Returns
    -------
    np.ndarray (n_classes, M)
        Rows sum to ``f_full - f_empty`` to float rounding.
    """
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m = z.shape[1]
    delta = np.asarray(f_full, np.float64) - np.asarray(f_empty, np.float64)
    if m == 1:
        return delta[:, None].copy()
    s = z.sum(axis=1)
    keep = (s > 0) & (s < m)
    z, y, w = z[keep], y[keep], np.asarray(weights, np.float64)[keep]
    if z.shape[0] == 0:
        raise ParameterError(
            "n_samples is too small: no coalition besides all-on and all-off was sampled; "
            f"expected n_samples >= {m + 2}."
        )
    design = z[:, :-1] - z[:, -1:]
    target = y - f_empty - z[:, -1:] * delta
    sw = np.sqrt(w)[:, None]
    phi = np.linalg.lstsq(sw * design, sw * target, rcond=None)[0]  # (M-1, C)
    last = delta - phi.sum(axis=0)
    return np.vstack([phi, last[None, :]]).T.copy()
