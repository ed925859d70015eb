"""Is an explanation about the model's reasons, or about inputs the model never saw?

Perturbation explanations (LIME, KernelSHAP, occlusion) and Integrated Gradients replace
switched-off components by a *fill*. When the fill is far from any training input (a clip
that is mostly -100 dB "silence"), the surrogate fitted to the model's outputs explains the
model's behaviour on those inputs, and the same few components at the edges of the
spectrogram come out on top whatever the clip (measured on real music, see README). Two
signs are computed from a saved explanation, without running the model again:

``edge_share``
    The share of the positive relevance that sits on components at the borders of the grid
    (the first or last time segment, the lowest or highest band; only along axes the
    components split), beside those components' share of the area. Relevance piling up
    on the borders is what off-manifold fills produce.
``off_prediction``
    The model's class probabilities for the all-off input (every component replaced by the
    fill), recorded by :func:`genrelens.explain.explain` in ``fit["off_prediction"]``. A
    fill that stays on the data manifold leaves a prediction close to the clip's own; one
    that does not moves it to whatever the model says about the fill.

:func:`manifold_check` turns both into a flag with the thresholds of :data:`EDGE_RATIO`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genrelens.errors import ParameterError

__all__ = ["edge_components", "edge_share", "manifold_check", "EDGE_RATIO"]

#: An explanation is flagged when the share of its positive relevance on the grid's borders
#: is at least this multiple of the borders' share of the area.
EDGE_RATIO = 1.5


def edge_components(component_map: np.ndarray) -> np.ndarray:
    """Components at the borders of the grid, bool ``(M,)``.

    A component is on the time border when it holds a cell of the first or last frame but does
    not span every frame, and on the frequency border when it holds a cell of the lowest or
    highest band but does not span every band (time segments have two border components,
    frequency bands two, a 10 x 8 grid 32).
    """
    cmap = np.asarray(component_map)
    if cmap.ndim != 2 or cmap.max() < 0:
        raise ParameterError(
            f"component_map has shape {cmap.shape}: expected (n_mels, n_frames) with at least "
            "one component."
        )
    n = int(cmap.max()) + 1
    out = np.zeros(n, dtype=bool)
    for axis in (0, 1):
        # components present in each row (axis 0: bands) or column (axis 1: frames)
        first = np.take(cmap, 0, axis=axis)
        last = np.take(cmap, cmap.shape[axis] - 1, axis=axis)
        lines = np.moveaxis(cmap, axis, 0)
        present = np.zeros((lines.shape[0], n), dtype=bool)
        for i, line in enumerate(lines):
            ids = line[line >= 0]
            present[i, ids] = True
        spans_all = present.all(axis=0)
        border = np.zeros(n, dtype=bool)
        for ids in (first, last):
            border[ids[ids >= 0]] = True
        out |= border & ~spans_all
    return out


def edge_share(scores: np.ndarray, component_map: np.ndarray) -> tuple[float, float]:
    """``(share of positive relevance on border components, their share of the area)``.

    Parameters
    ----------
    scores : ndarray, shape (M,)
        Component scores of one class.
    component_map : ndarray of int, shape (n_mels, n_frames)

    Returns
    -------
    (float, float)
        The relevance share is NaN when no score is positive.
    """
    s = np.asarray(scores, dtype=np.float64)
    edges = edge_components(component_map)
    if s.shape != edges.shape:
        raise ParameterError(
            f"scores has shape {s.shape}: expected one score per component ({edges.size},)."
        )
    cmap = np.asarray(component_map)
    area = float(np.isin(cmap, np.flatnonzero(edges)).sum() / max(1, (cmap >= 0).sum()))
    pos = np.maximum(s, 0.0)
    total = pos.sum()
    return (float(pos[edges].sum() / total) if total > 0 else float("nan")), area


def manifold_check(explanation: Any, target: int | str | None = None) -> dict[str, Any]:
    """Signs that an explanation's fill put the model off its data manifold.

    Parameters
    ----------
    explanation : Explanation
        With map components (dense maps are summed over no components: only the all-off
        prediction is reported for them).
    target : int, str or None
        The class (default: the predicted class).

    Returns
    -------
    dict
        ``edge_share``, ``edge_area``, ``edge_ratio`` (their quotient), ``off_prediction``
        (list, or None when not recorded), ``off_top`` (its most probable class name or
        index), ``off_target_probability`` (its probability of ``target``), ``flagged``
        (``edge_ratio >= EDGE_RATIO``) and ``reason`` (a sentence, or "").
    """
    t = explanation.class_index(target)
    out: dict[str, Any] = {"edge_share": float("nan"), "edge_area": float("nan"),
                           "edge_ratio": float("nan")}
    comps = explanation.components
    if not explanation.is_dense and comps is not None and comps.map is not None:
        share, area = edge_share(np.asarray(explanation.scores)[t], comps.map)
        out.update(edge_share=share, edge_area=area,
                   edge_ratio=share / area if area > 0 else float("nan"))
    off = explanation.fit.get("off_prediction") if explanation.fit else None
    names = explanation.class_names
    if off is not None:
        off = np.asarray(off, dtype=np.float64)
        top = int(np.argmax(off))
        out.update(off_prediction=off.tolist(), off_top=names[top] if names else top,
                   off_target_probability=float(off[t]))
    else:
        out.update(off_prediction=None, off_top=None, off_target_probability=float("nan"))
    flagged = bool(np.isfinite(out["edge_ratio"]) and out["edge_ratio"] >= EDGE_RATIO)
    out["flagged"] = flagged
    fill = explanation.fill.describe() if explanation.fill else "none"
    out["reason"] = (
        f"{100 * out['edge_share']:.0f}% of the positive relevance sits on the grid's borders, "
        f"which hold {100 * out['edge_area']:.0f}% of the area: the fill ({fill}) may put the "
        "model off its data manifold; compare with another fill (texture, local_median, "
        "blur)." if flagged else "")
    return out
