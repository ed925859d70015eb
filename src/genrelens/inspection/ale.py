"""Accumulated local effects (ALE), first and second order, with bootstrap bands.

ALE (Apley & Zhu 2020) describes how a model's output moves with one feature (or a pair)
*without* evaluating the model far from the data, which partial dependence does when features
are correlated. For a feature ``x_j`` with bin edges ``z_0 < z_1 < ... < z_K`` (quantiles of the
data, so that each bin holds about the same number of rows):

1. every row ``i`` falls in one bin ``k(i)``: ``z_{k-1} < x_ij <= z_k`` (bin 1 also holds
   ``x_ij == z_0``);
2. its *local effect* is the finite difference ``f(x_i with x_j = z_k) - f(x_i with x_j =
   z_{k-1})``: the row is only moved inside its own bin;
3. local effects are averaged within each bin and accumulated over bins, giving the uncentred
   effect ``g(z_k)`` with ``g(z_0) = 0``;
4. the curve is centred so that its mean over the data is zero, with the bin-count-weighted
   trapezoid of Apley & Zhu (their eq. 16, also used by R's ``ALEPlot``/``iml`` and by
   ``alibi``): ``g - sum_k n_k (g(z_{k-1}) + g(z_k)) / 2 / n``.

The second-order effect of a pair (Apley & Zhu, section 3.2) averages, per cell ``(k, l)`` of the
product grid, the second difference ``f(z_k, z'_l) - f(z_{k-1}, z'_l) - f(z_k, z'_{l-1}) +
f(z_{k-1}, z'_{l-1})``; accumulates it over both axes; removes the two first-order effects that
this accumulation still contains (each estimated from the accumulated surface with cell-count
weights, as ``ALEPlot`` does); and centres the surface with the cell-count-weighted mean of the
four corners of each cell. Empty cells take the mean second difference of the nearest non-empty
cell (in bin-index units), as in ``ALEPlot``. For an additive model the second-order effect is
exactly zero; for ``f = x1 * x2`` with independent features it is ``(x1 - E x1)(x2 - E x2)`` up
to centring and sampling.

Confidence bands come from a row bootstrap (Efron & Tibshirani 1993): rows are resampled with
replacement, the per-row finite differences are re-averaged on the *fixed* grid (so the band
costs no model evaluation) and the band is the percentile interval of the replicates. The band
therefore describes the sampling variability of the bin averages given the grid.

Degenerate inputs have defined results: a constant feature gives a one-point grid and an effect
of 0; empty bins (possible when many rows share a value) contribute a local effect of 0.

The model is reached only through ``evaluate_at(rows, targets)``, which returns the model's
outputs for the given rows with the feature set to the targets. For a table that is a column
assignment (:func:`ale`); for audio it is an edit of the log-mel applied through the
perturbation engine (:mod:`genrelens.inspection.descriptors`).

References
----------
Apley, D. W. & Zhu, J. (2020). Visualizing the effects of predictor variables in black box
supervised learning models. Journal of the Royal Statistical Society B, 82(4), 1059-1086.

Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._io import write_json
from genrelens._validation import check_int, check_random_state
from genrelens.errors import ParameterError

__all__ = [
    "ALEResult",
    "EvaluateAt",
    "quantile_edges",
    "assign_bins",
    "accumulate_first_order",
    "accumulate_second_order",
    "ale_from_evaluator",
    "ale",
]

#: ``evaluate_at(rows, targets) -> outputs``: rows ``(m,)`` int indices into the data, targets
#: ``(m,)`` (one feature) or ``(m, 2)`` (a pair) values to set; outputs ``(m, n_outputs)``.
EvaluateAt = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class ALEResult:
    """Accumulated local effects of one feature or a pair, for every model output.

    Shaped like scikit-learn's partial dependence result.

    Attributes
    ----------
    feature_names : tuple of str
        One name (first order) or two (second order).
    output_names : tuple of str
        Name of each model output (class names for a classifier).
    grid_values : tuple of ndarray
        Bin edges of each feature, ``(n_grid,)`` each (``n_grid = n_bins + 1``).
    average : ndarray
        Centred effect at the grid points, ``(n_outputs, n_grid)`` or
        ``(n_outputs, n_grid_0, n_grid_1)``.
    low, high : ndarray or None
        Bootstrap percentile band, same shape as ``average``; None without bootstrap.
    bin_counts : ndarray
        Rows per bin, ``(n_bins,)`` or ``(n_bins_0, n_bins_1)``.
    feature_values : ndarray
        The data values of the feature(s), ``(n_samples,)`` or ``(n_samples, 2)``, for a rug.
    params : dict
        ``n_bins``, ``n_bootstrap``, ``confidence``, ``random_state``, and whatever the caller
        adds (e.g. the descriptor's unit and the output kind).
    n_evaluations : int
        Model evaluations spent.
    seconds : float
        Wall time spent.
    """

    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    grid_values: tuple[np.ndarray, ...]
    average: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    bin_counts: np.ndarray
    feature_values: np.ndarray
    params: dict[str, Any]
    n_evaluations: int
    seconds: float

    @property
    def order(self) -> int:
        """1 for a single feature, 2 for a pair."""
        return len(self.feature_names)

    def importance(self) -> np.ndarray:
        """Size of the effect per output: the data-weighted standard deviation of the curve.

        For a first-order effect the value of each bin is the mean of its two edges, weighted
        by the bin's count (the same weighting as the centring, so the weighted mean is 0);
        for a pair the four corners of each cell. Returns ``(n_outputs,)``; 0 for a constant
        feature.
        """
        counts = self.bin_counts.astype(float)
        if counts.sum() == 0 or self.average.shape[-1] < 2:
            return np.zeros(self.average.shape[0])
        if self.order == 1:
            mid = 0.5 * (self.average[:, :-1] + self.average[:, 1:])
        else:
            a = self.average
            mid = 0.25 * (a[:, :-1, :-1] + a[:, 1:, :-1] + a[:, :-1, 1:] + a[:, 1:, 1:])
        w = counts / counts.sum()
        mean = np.tensordot(mid, w, axes=w.ndim)
        var = np.tensordot((mid - np.expand_dims(mean, tuple(range(1, mid.ndim)))) ** 2, w, w.ndim)
        return np.sqrt(np.maximum(var, 0.0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as nested lists)."""
        return {
            "feature_names": list(self.feature_names),
            "output_names": list(self.output_names),
            "grid_values": [g.tolist() for g in self.grid_values],
            "average": self.average.tolist(),
            "low": None if self.low is None else self.low.tolist(),
            "high": None if self.high is None else self.high.tolist(),
            "bin_counts": self.bin_counts.tolist(),
            "feature_values": self.feature_values.tolist(),
            "params": self.params,
            "n_evaluations": self.n_evaluations,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ALEResult:
        """Rebuild from :meth:`to_dict` output."""

        def arr(x: Any) -> np.ndarray | None:
            return None if x is None else np.asarray(x, dtype=float)

        return cls(
            feature_names=tuple(data["feature_names"]),
            output_names=tuple(data["output_names"]),
            grid_values=tuple(np.asarray(g, dtype=float) for g in data["grid_values"]),
            average=np.asarray(data["average"], dtype=float),
            low=arr(data["low"]),
            high=arr(data["high"]),
            bin_counts=np.asarray(data["bin_counts"], dtype=int),
            feature_values=np.asarray(data["feature_values"], dtype=float),
            params=dict(data["params"]),
            n_evaluations=int(data["n_evaluations"]),
            seconds=float(data["seconds"]),
        )

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON (atomically) and return the path."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ALEResult:
        """Read a result written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def quantile_edges(values: np.ndarray, *, n_bins: int) -> np.ndarray:
    """Bin edges at the quantiles ``0, 1/n_bins, ..., 1`` of ``values``, duplicates removed.

    Parameters
    ----------
    values : ndarray, shape (n_samples,)
        Finite values of one feature.
    n_bins : int
        Requested number of bins (fewer result when values repeat).

    Returns
    -------
    ndarray, shape (n_edges,)
        Strictly increasing edges (linear interpolation between order statistics); a single
        edge when the feature is constant.
    """
    values = _as_finite_1d(values, name="values")
    check_int("n_bins", n_bins, minimum=1)
    return np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))


def assign_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the bin ``(edges[k], edges[k+1]]`` of each value (bin 0 also holds ``edges[0]``).

    Values outside ``[edges[0], edges[-1]]`` go to the first or last bin. Returns ``(n,)``
    integers in ``[0, len(edges) - 2]`` (all 0 for a single edge).
    """
    edges = np.asarray(edges, dtype=float)
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="left") - 1
    return np.clip(idx, 0, max(len(edges) - 2, 0)).astype(np.intp)


def accumulate_first_order(
    deltas: np.ndarray, bins: np.ndarray, *, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Centred first-order ALE from per-row finite differences.

    Parameters
    ----------
    deltas : ndarray, shape (n_samples, n_outputs)
        ``f(upper edge) - f(lower edge)`` of each row.
    bins : ndarray of int, shape (n_samples,)
        Bin of each row, in ``[0, n_bins)``.
    n_bins : int
        Number of bins ``K``.

    Returns
    -------
    average : ndarray, shape (n_outputs, n_bins + 1)
        Centred effect at the ``K + 1`` edges.
    counts : ndarray of int, shape (n_bins,)
    """
    deltas = np.asarray(deltas, dtype=float)
    counts = np.bincount(bins, minlength=n_bins)
    means = _bin_means(deltas, bins, counts)  # (K, n_outputs)
    acc = np.vstack([np.zeros((1, deltas.shape[1])), np.cumsum(means, axis=0)])
    total = counts.sum()
    centre = (counts[:, None] * 0.5 * (acc[:-1] + acc[1:])).sum(axis=0) / max(total, 1)
    return (acc - centre).T, counts


def accumulate_second_order(
    deltas: np.ndarray, bins0: np.ndarray, bins1: np.ndarray, *, n_bins: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Centred second-order ALE from per-row second differences.

    Parameters
    ----------
    deltas : ndarray, shape (n_samples, n_outputs)
        Second difference over the corners of each row's cell.
    bins0, bins1 : ndarray of int, shape (n_samples,)
        Bin of each row along each feature.
    n_bins : (int, int)
        Bins ``(K0, K1)``.

    Returns
    -------
    average : ndarray, shape (n_outputs, K0 + 1, K1 + 1)
        Pure second-order effect (first-order effects removed), centred.
    counts : ndarray of int, shape (K0, K1)
    """
    deltas = np.asarray(deltas, dtype=float)
    k0, k1 = n_bins
    n_out = deltas.shape[1]
    cell = bins0 * k1 + bins1
    counts = np.bincount(cell, minlength=k0 * k1)
    means = _bin_means(deltas, cell, counts)  # (K0*K1, n_out)
    means = _fill_empty_cells(means, counts, (k0, k1)).reshape(k0, k1, n_out)
    counts = counts.reshape(k0, k1)
    acc = np.zeros((k0 + 1, k1 + 1, n_out))
    acc[1:, 1:] = np.cumsum(np.cumsum(means, axis=0), axis=1)
    # First-order effects still contained in the accumulated surface: along axis 0, the
    # cell-weighted mean over axis 1 of its differences (mid-cell), accumulated; same for axis 1.
    acc -= _main_effect(acc, counts)[:, None, :]
    acc -= _main_effect(acc.transpose(1, 0, 2), counts.T)[None, :, :]
    corners = 0.25 * (acc[:-1, :-1] + acc[1:, :-1] + acc[:-1, 1:] + acc[1:, 1:])
    total = counts.sum()
    centre = (counts[:, :, None] * corners).sum(axis=(0, 1)) / max(total, 1)
    return np.moveaxis(acc - centre, -1, 0), counts


def _main_effect(acc: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Accumulated cell-weighted mean difference of ``acc`` (K0+1, K1+1, n) along axis 0."""
    diff = acc[1:] - acc[:-1]  # (K0, K1+1, n)
    mid = 0.5 * (diff[:, :-1] + diff[:, 1:])  # (K0, K1, n)
    row = counts.sum(axis=1)
    weighted = (counts[:, :, None] * mid).sum(axis=1)
    ave = np.where(row[:, None] > 0, weighted / np.maximum(row, 1)[:, None], 0.0)
    return np.vstack([np.zeros((1, acc.shape[2])), np.cumsum(ave, axis=0)])


def _bin_means(deltas: np.ndarray, bins: np.ndarray, counts: np.ndarray) -> np.ndarray:
    n_bins = len(counts)
    sums = np.stack(
        [np.bincount(bins, weights=deltas[:, j], minlength=n_bins) for j in range(deltas.shape[1])],
        axis=1,
    ).reshape(n_bins, deltas.shape[1])
    return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], 0.0)


def _fill_empty_cells(means: np.ndarray, counts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    empty = counts == 0
    if not empty.any() or empty.all():
        return means
    k0, k1 = shape
    ii, jj = np.divmod(np.arange(k0 * k1), k1)
    pos = np.stack([ii / k0, jj / k1], axis=1)
    full = np.flatnonzero(~empty)
    dist = ((pos[empty][:, None, :] - pos[full][None, :, :]) ** 2).sum(axis=2)
    out = means.copy()
    out[empty] = means[full[np.argmin(dist, axis=1)]]
    return out


def ale_from_evaluator(
    evaluate_at: EvaluateAt,
    values: np.ndarray,
    *,
    feature_names: Sequence[str],
    output_names: Sequence[str],
    n_bins: int = 20,
    n_bootstrap: int = 0,
    confidence: float = 0.9,
    random_state: int | np.random.Generator | None = 0,
    params: dict[str, Any] | None = None,
) -> ALEResult:
    """First- or second-order ALE of a model reached through ``evaluate_at``.

    Parameters
    ----------
    evaluate_at : callable
        ``evaluate_at(rows, targets) -> (m, n_outputs)``: the model's outputs on data rows
        ``rows`` with the feature set to ``targets`` (``(m,)``), or the pair set to ``targets``
        (``(m, 2)``). It is called once with all rows and edges.
    values : ndarray, shape (n_samples,) or (n_samples, 2)
        The feature's (or pair's) value in each data row.
    feature_names : sequence of str
        One or two names, matching ``values``.
    output_names : sequence of str
        Names of the model's outputs.
    n_bins : int
        Quantile bins per feature.
    n_bootstrap : int
        Bootstrap replicates for the band (0: no band).
    confidence : float
        Coverage of the percentile band, in (0, 1).
    random_state : int, Generator or None
        Seeds the bootstrap.
    params : dict, optional
        Extra entries recorded in :attr:`ALEResult.params`.

    Returns
    -------
    ALEResult
    """
    values = np.asarray(values, dtype=float)
    order = 1 if values.ndim == 1 else values.shape[1] if values.ndim == 2 else 0
    if order not in (1, 2) or len(feature_names) != order:
        raise ParameterError(
            f"values of shape {values.shape} with feature_names={list(feature_names)!r}: "
            "expected (n_samples,) with one name or (n_samples, 2) with two names."
        )
    if values.shape[0] == 0:
        raise ParameterError("values has 0 rows: ALE needs at least one data row.")
    check_int("n_bins", n_bins, minimum=1)
    check_int("n_bootstrap", n_bootstrap, minimum=0)
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence={confidence!r} is invalid: expected 0 < confidence < 1.")
    rng = check_random_state(random_state)
    cols = values[:, None] if order == 1 else values
    edges = [quantile_edges(cols[:, j], n_bins=n_bins) for j in range(order)]
    n_out = len(output_names)
    start = time.perf_counter()
    n = values.shape[0]
    if any(len(e) < 2 for e in edges):
        # A constant feature: no local change is possible; the effect is 0 by definition.
        shape = (n_out, *(len(e) for e in edges))
        average = np.zeros(shape)
        counts = np.zeros(tuple(max(len(e) - 1, 1) for e in edges), dtype=int)
        counts[(0,) * order] = n
        return ALEResult(
            tuple(feature_names), tuple(output_names), tuple(edges), average,
            None if not n_bootstrap else average.copy(), None if not n_bootstrap else average.copy(),
            counts, values, _params(n_bins, n_bootstrap, confidence, random_state, params), 0,
            time.perf_counter() - start,
        )  # fmt: skip
    bins = [assign_bins(cols[:, j], edges[j]) for j in range(order)]
    rows = np.arange(n)
    if order == 1:
        targets = np.concatenate([edges[0][bins[0]], edges[0][bins[0] + 1]])
        out = _call(evaluate_at, np.tile(rows, 2), targets, n_out)
        deltas = out[n:] - out[:n]

        def accumulate(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return accumulate_first_order(deltas[sel], bins[0][sel], n_bins=len(edges[0]) - 1)

    else:
        lo0, hi0 = edges[0][bins[0]], edges[0][bins[0] + 1]
        lo1, hi1 = edges[1][bins[1]], edges[1][bins[1] + 1]
        corners = [(hi0, hi1), (lo0, hi1), (hi0, lo1), (lo0, lo1)]
        targets = np.concatenate([np.stack(c, axis=1) for c in corners])
        out = _call(evaluate_at, np.tile(rows, 4), targets, n_out).reshape(4, n, n_out)
        deltas = out[0] - out[1] - out[2] + out[3]
        k = (len(edges[0]) - 1, len(edges[1]) - 1)

        def accumulate(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return accumulate_second_order(deltas[sel], bins[0][sel], bins[1][sel], n_bins=k)

    average, counts = accumulate(rows)
    low = high = None
    if n_bootstrap:
        reps = np.stack([accumulate(rng.integers(0, n, size=(n,)))[0] for _ in range(n_bootstrap)])
        alpha = (1.0 - confidence) / 2.0
        low, high = np.quantile(reps, [alpha, 1.0 - alpha], axis=0)
    return ALEResult(
        feature_names=tuple(feature_names),
        output_names=tuple(output_names),
        grid_values=tuple(edges),
        average=average,
        low=low,
        high=high,
        bin_counts=counts,
        feature_values=values,
        params=_params(n_bins, n_bootstrap, confidence, random_state, params),
        n_evaluations=len(targets),
        seconds=time.perf_counter() - start,
    )


def ale(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    *,
    features: int | tuple[int, int],
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    n_bins: int = 20,
    n_bootstrap: int = 0,
    confidence: float = 0.9,
    random_state: int | np.random.Generator | None = 0,
) -> ALEResult:
    """ALE of column ``features`` (or a pair of columns) of a table for any array model.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> (n, n_outputs)`` or ``(n,)``, e.g. a classifier's ``predict_proba``.
    X : ndarray, shape (n_samples, n_features)
        The data the effect is averaged over (numeric columns).
    features : int or (int, int)
        Column index, or a pair of indices for the second-order effect.
    feature_names : sequence of str, optional
        Names of all columns (default ``x0, x1, ...``).
    output_names : sequence of str, optional
        Names of the outputs (default ``y0, y1, ...``).
    n_bins, n_bootstrap, confidence, random_state
        As in :func:`ale_from_evaluator`.

    Returns
    -------
    ALEResult

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(size=(500, 2))
    >>> res = ale(lambda X: 3 * X[:, 1], X, features=1, n_bins=10)
    >>> bool(np.allclose(np.diff(res.average[0]) / np.diff(res.grid_values[0]), 3.0))
    True
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ParameterError(f"X has shape {X.shape}: expected (n_samples >= 1, n_features).")
    cols = (features,) if isinstance(features, (int, np.integer)) else tuple(features)
    if len(cols) not in (1, 2) or any(not 0 <= int(c) < X.shape[1] for c in cols):
        raise ParameterError(
            f"features={features!r} is invalid: expected a column index or a pair of indices "
            f"in [0, {X.shape[1]})."
        )
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(X.shape[1])]
    if len(names) != X.shape[1]:
        raise ParameterError(
            f"feature_names has {len(names)} names for {X.shape[1]} columns of X."
        )
    probe = np.atleast_1d(np.asarray(predict(X[:1]), dtype=float))
    n_out = probe.shape[-1] if probe.ndim == 2 else 1
    outs = list(output_names) if output_names is not None else [f"y{j}" for j in range(n_out)]
    if len(outs) != n_out:
        raise ParameterError(f"output_names has {len(outs)} names for {n_out} model outputs.")

    def evaluate_at(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
        Z = X[rows].copy()
        Z[:, list(cols)] = targets.reshape(len(rows), len(cols))
        return np.asarray(predict(Z), dtype=float).reshape(len(rows), n_out)

    values = X[:, cols[0]] if len(cols) == 1 else X[:, list(cols)]
    return ale_from_evaluator(
        evaluate_at,
        values,
        feature_names=[names[c] for c in cols],
        output_names=outs,
        n_bins=n_bins,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        random_state=random_state,
    )


def _call(evaluate_at: EvaluateAt, rows: np.ndarray, targets: np.ndarray, n_out: int) -> np.ndarray:
    out = np.asarray(evaluate_at(rows, targets), dtype=float)
    if out.shape != (len(rows), n_out):
        raise ParameterError(
            f"evaluate_at returned shape {out.shape}: expected ({len(rows)}, {n_out}) "
            "(one row per edited input, one column per output name)."
        )
    return out


def _params(
    n_bins: int, n_bootstrap: int, confidence: float, random_state: Any, extra: dict | None
) -> dict[str, Any]:
    seed = random_state if isinstance(random_state, (int, type(None))) else "generator"
    return {
        "n_bins": n_bins,
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "random_state": seed,
        **(extra or {}),
    }


def _as_finite_1d(values: np.ndarray, *, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise ParameterError(
            f"{name} of shape {arr.shape} is invalid: expected a non-empty 1-D array of finite "
            "numbers."
        )
    return arr
