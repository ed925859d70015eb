"""Faithfulness of an explanation: does removing what it ranks high change the model's output?

Metrics (pure functions over arrays; the model is evaluated elsewhere, through the engine):

``removal_masks`` / ``curve_auc`` — deletion and insertion curves (Petsiuk, Das & Saenko
    2018). Components are removed (deletion) or restored onto the fill (insertion) in the order
    of their scores, highest first; the class probability after each step forms a curve over
    the fraction of components changed, and its area (trapezoid rule on ``[0, 1]``) summarises
    it. A faithful explanation gives a *low* deletion AUC and a *high* insertion AUC. Ties in
    the scores are broken by component index (stable sort), so a constant explanation gives
    the order ``0, 1, 2, ...``; compare with the random-order baseline.
``faithfulness_correlation`` — Bhatt, Weller & Moura (2020): the Pearson correlation over
    random subsets ``S`` between ``sum_{i in S} score_i`` and the output drop ``f(x) - f(x
    without S)``. 1 means the scores add up like the model's sensitivities. Defined as 0.0
    when either side has zero variance (a constant explanation or a model that ignores every
    subset) — no linear relation can be shown.
``label_flip_rate`` — the fraction of inputs whose predicted class changes once the top-``k``
    components are removed (a cruder but model-agnostic view of the same question; see
    Nguyen 2018 and Samek et al. 2017). 0.0 for no inputs.
``random_scores`` — the random-explanation baseline reported beside every method: scores
    drawn i.i.d. standard normal, i.e. a uniformly random order.

All curves use the fill recorded with the explanation (what "removed" means), so compare
methods only under the same fill.

References
----------
Petsiuk, V., Das, A. & Saenko, K. (2018). RISE: Randomized input sampling for explanation of
black-box models. BMVC.
Bhatt, U., Weller, A. & Moura, J. M. F. (2020). Evaluating and aggregating feature-based model
explanations. IJCAI.
Samek, W., Binder, A., Montavon, G., Lapuschkin, S. & Müller, K.-R. (2017). Evaluating the
visualization of what a deep neural network has learned. IEEE TNNLS 28(11).
Nguyen, D. (2018). Comparing automatic and human evaluation of local explanations for text
classification. NAACL.
"""

from __future__ import annotations

import numpy as np

from genrelens._validation import check_choice, check_int
from genrelens.errors import ParameterError

__all__ = [
    "removal_order",
    "removal_masks",
    "curve_auc",
    "random_subsets",
    "faithfulness_correlation",
    "pearson",
    "label_flip_rate",
    "random_scores",
]


def removal_order(scores: np.ndarray) -> np.ndarray:
    """Component indices by decreasing score, ties by increasing index. ``(M,)`` -> ``(M,)``."""
    scores = _as_1d(scores, name="scores")
    return np.argsort(-scores, kind="stable")


def removal_masks(
    scores: np.ndarray, *, mode: str = "deletion", n_steps: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Binary component vectors along a deletion or insertion path.

    Parameters
    ----------
    scores : ndarray, shape (M,)
        Scores of the components for the explained class.
    mode : {"deletion", "insertion"}
        Deletion starts from the full input (``z`` all ones) and switches components off,
        highest score first; insertion starts from the fill (all zeros) and switches them on.
    n_steps : int, optional
        Number of steps (default ``M``: one component per step); step ``s`` changes
        ``round(s * M / n_steps)`` components.

    Returns
    -------
    z : ndarray of float, shape (n_steps + 1, M)
        1 = component kept.
    fractions : ndarray, shape (n_steps + 1,)
        Fraction of components changed at each step, from 0 to 1.
    """
    order = removal_order(scores)
    m = order.size
    n_steps = m if n_steps is None else n_steps
    check_int("n_steps", n_steps, minimum=1)
    check_choice("mode", mode, ("deletion", "insertion"))
    counts = np.round(np.linspace(0, m, n_steps + 1)).astype(int)
    changed = np.zeros((n_steps + 1, m), dtype=bool)
    for s, k in enumerate(counts):
        changed[s, order[:k]] = True
    z = ~changed if mode == "deletion" else changed
    return z.astype(np.float64), counts / m


def curve_auc(values: np.ndarray, fractions: np.ndarray | None = None) -> float:
    """Area under a deletion/insertion curve by the trapezoid rule.

    Parameters
    ----------
    values : ndarray, shape (n_points,)
        The class output after each step.
    fractions : ndarray, shape (n_points,), optional
        x positions in ``[0, 1]`` (default evenly spaced).

    Returns
    -------
    float
        The area; for one point, that point's value (a curve of one constant level).
    """
    values = _as_1d(values, name="values")
    if values.size == 1:
        return float(values[0])
    x = np.linspace(0.0, 1.0, values.size) if fractions is None else _as_1d(fractions, name="fractions")
    if x.shape != values.shape:
        raise ParameterError(
            f"fractions has shape {x.shape}: expected the shape of values, {values.shape}."
        )
    return float(np.sum(np.diff(x) * 0.5 * (values[1:] + values[:-1])))


def random_subsets(
    n_components: int, *, n_subsets: int, subset_size: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_subsets`` uniformly random subsets of ``subset_size`` components, ``(n, M)`` bool."""
    if not 1 <= subset_size <= n_components:
        raise ParameterError(
            f"subset_size={subset_size!r} is invalid: expected 1 <= subset_size <= "
            f"n_components={n_components}."
        )
    out = np.zeros((n_subsets, n_components), dtype=bool)
    for row in out:
        row[rng.choice(n_components, size=subset_size, replace=False)] = True
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length vectors; 0.0 when either has zero variance."""
    a, b = _as_1d(a, name="a"), _as_1d(b, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"a has shape {a.shape} and b {b.shape}: expected equal shapes.")
    if any(np.ptp(v) <= 1e-12 * np.abs(v).max() for v in (a, b)):
        return 0.0  # constant up to rounding: no linear relation can be shown
    a, b = a - a.mean(), b - b.mean()
    return float(np.clip((a @ b) / np.sqrt((a @ a) * (b @ b)), -1.0, 1.0))


def faithfulness_correlation(*, scores: np.ndarray, removed: np.ndarray, drops: np.ndarray) -> float:
    """Bhatt et al. (2020) faithfulness correlation.

    Parameters
    ----------
    scores : ndarray, shape (M,)
        Component scores for the explained class.
    removed : ndarray of bool, shape (n_subsets, M)
        The removed subsets (see :func:`random_subsets`).
    drops : ndarray, shape (n_subsets,)
        ``f(x) - f(x without the subset)`` for the explained class.

    Returns
    -------
    float
        Pearson correlation in [-1, 1]; 0.0 on zero variance.
    """
    scores = _as_1d(scores, name="scores")
    removed = np.asarray(removed, dtype=bool)
    if removed.ndim != 2 or removed.shape[1] != scores.size:
        raise ParameterError(
            f"removed has shape {removed.shape}: expected (n_subsets, {scores.size})."
        )
    return pearson(removed.astype(np.float64) @ scores, drops)


def label_flip_rate(original: np.ndarray, after: np.ndarray) -> float:
    """Fraction of inputs whose arg-max class differs between ``original`` and ``after``.

    Both ``(n_inputs, n_classes)`` (or a predicted-class vector ``(n_inputs,)``); 0.0 when
    ``n_inputs == 0``.
    """
    a = np.asarray(original)
    b = np.asarray(after)
    a = a.argmax(axis=-1) if a.ndim == 2 else a
    b = b.argmax(axis=-1) if b.ndim == 2 else b
    if a.shape != b.shape:
        raise ParameterError(f"original {a.shape} and after {b.shape} describe different inputs.")
    return float(np.mean(a != b)) if a.size else 0.0


def random_scores(n_components: int, *, rng: np.random.Generator) -> np.ndarray:
    """The random-explanation baseline: i.i.d. standard normal scores, ``(n_components,)``."""
    return rng.standard_normal(n_components)


def _as_1d(x: np.ndarray, *, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise ParameterError(
            f"{name} of shape {arr.shape} is invalid: expected a non-empty 1-D array of finite "
            "numbers."
        )
    return arr
