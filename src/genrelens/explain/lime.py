"""LIME: a weighted ridge surrogate on binary component vectors (Ribeiro et al. 2016).

Pure functions over arrays; :func:`genrelens.explain.explain` (``method="lime"``) runs the model
through the engine and calls them.

* **Sampling** (:func:`sample_uniform`): the first row is the original (all components on),
  every other row switches each component off independently with probability 1/2, as LIME
  does for images (the number of components on is then binomial,
  :func:`uniform_size_probabilities`). The hybrid method draws its samples from a mixture of
  this design and a KernelSHAP design and multiplies LIME's kernel by the ratio of this
  design's probability to the mixture's (importance sampling, see
  :mod:`genrelens.explain.hybrid`), so that its LIME view fits the same surrogate as LIME on
  its own samples. (LIME's kernel alone on KernelSHAP's samples, as earlier versions did,
  fits a different, far noisier surrogate: with 80 components, 69% of its weight falls on
  samples with at most 10 components off, and the complements of those samples get almost
  none.)
* **Kernel** (:func:`lime_weights`): ``pi(z) = exp(-D(z, 1)^2 / sigma^2)`` (the paper's
  exponential kernel; the lime package takes its square root). ``D`` is the L2 distance of
  ``z`` to the all-ones vector (``sqrt(#off)``, default) or the cosine distance
  ``1 - sqrt(#on / M)``. Default width ``sigma = 0.25 * sqrt(M)`` for L2 (a sample with a
  fraction ``q`` of components off gets weight ``exp(-16 q)``) and ``0.25`` for cosine
  (lime_image's default). Weights are normalised to mean 1, so the ridge penalty ``alpha``
  means the same whatever the width (the lime package does not normalise).
* **Surrogate** (:func:`fit_lime`): ridge regression with an unpenalised intercept, solved in
  closed form for all classes at once: with weighted means ``x̄, ȳ`` and centred data,
  ``beta = (Xcᵀ W Xc + alpha I)^-1 Xcᵀ W Yc``, ``intercept = ȳ - x̄ᵀ beta`` (equal to
  scikit-learn's ``Ridge(alpha).fit(z, y, sample_weight=w)``). All components are used (no
  feature selection). Kept: the weighted R² per class (1 when the targets are constant and
  fitted exactly, 0 when constant and not), the intercept and the local prediction
  ``intercept + sum(beta)`` at the original input.

Reference
---------
Ribeiro, M. T., Singh, S., & Guestrin, C. (2016). "Why should I trust you?": Explaining the
predictions of any classifier. KDD.
"""

from __future__ import annotations

import dataclasses
from math import comb

import numpy as np

from genrelens.errors import ParameterError

__all__ = ["LimeFit", "sample_uniform", "uniform_size_probabilities", "lime_weights",
           "default_kernel_width", "fit_lime", "DISTANCES"]

DISTANCES = ("l2", "cosine")


@dataclasses.dataclass(frozen=True)
class LimeFit:
    """A fitted LIME surrogate for all classes.

    Attributes
    ----------
    scores : np.ndarray (n_classes, M)
        Ridge coefficients: the explanation.
    intercept, r2, local_prediction : np.ndarray (n_classes,)
    """

    scores: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray
    local_prediction: np.ndarray


def sample_uniform(rng: np.random.Generator, n_samples: int, n_components: int) -> np.ndarray:
    """``(n_samples, M)`` binary rows: the all-ones row first, then independent fair bits."""
    z = rng.integers(0, 2, size=(n_samples, n_components), dtype=np.int8)
    if n_samples:
        z[0] = 1
    return z


def uniform_size_probabilities(n_components: int) -> np.ndarray:
    """Probabilities ``(M + 1,)`` that a uniform sample has ``s = 0 .. M`` components on:
    ``C(M, s) / 2^M``."""
    m = n_components
    return np.array([comb(m, s) / 2**m for s in range(m + 1)])


def default_kernel_width(n_components: int, distance: str) -> float:
    """``0.25 * sqrt(M)`` for ``"l2"``, ``0.25`` for ``"cosine"``."""
    return 0.25 * float(np.sqrt(n_components)) if distance == "l2" else 0.25


def lime_weights(
    z: np.ndarray, *, distance: str = "l2", kernel_width: float | None = None
) -> np.ndarray:
    """LIME kernel weights ``(n,)`` of binary rows ``z`` ``(n, M)``, normalised to mean 1."""
    if distance not in DISTANCES:
        raise ParameterError(
            f"distance={distance!r} is unknown: expected one of {list(DISTANCES)}."
        )
    z = np.asarray(z, dtype=np.float64)
    m = z.shape[1]
    width = default_kernel_width(m, distance) if kernel_width is None else kernel_width
    if not isinstance(width, (int, float, np.floating)) or not width > 0:
        raise ParameterError(
            f"kernel_width={kernel_width!r} is invalid: expected a positive number."
        )
    n_on = z.sum(axis=1)
    d = np.sqrt(m - n_on) if distance == "l2" else 1.0 - np.sqrt(n_on / m)
    logw = -(d**2) / width**2
    w: np.ndarray = np.exp(logw - logw.max())  # the scale is normalised away below
    weights: np.ndarray = w / w.mean()
    return weights


def fit_lime(
    z: np.ndarray, y: np.ndarray, *, weights: np.ndarray, alpha: float = 1.0
) -> LimeFit:
    """Weighted ridge regression of ``y`` ``(n, n_classes)`` on ``z`` ``(n, M)``, all classes.

    See the module docstring for the formulas.
    """
    if not isinstance(alpha, (int, float, np.floating)) or not alpha >= 0:
        raise ParameterError(f"alpha={alpha!r} is invalid: expected a number >= 0.")
    x = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    wsum = w.sum()
    x_mean = w @ x / wsum
    y_mean = w @ y / wsum
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ (w[:, None] * xc) + alpha * np.eye(x.shape[1])
    beta = np.linalg.lstsq(gram, xc.T @ (w[:, None] * yc), rcond=None)[0]  # (M, C)
    intercept = y_mean - x_mean @ beta
    residual = y - (intercept + x @ beta)
    ss_res = w @ residual**2
    ss_tot = w @ yc**2
    tiny = 1e-24 * np.maximum(1.0, w @ y**2)  # "zero" relative to the targets' size
    constant = ss_tot <= tiny
    r2 = np.where(
        constant,
        np.where(ss_res <= tiny, 1.0, 0.0),
        1.0 - ss_res / np.where(constant, 1.0, ss_tot),
    )
    return LimeFit(
        scores=beta.T.copy(),
        intercept=intercept,
        r2=r2,
        local_prediction=intercept + beta.sum(axis=0),
    )
