"""Global views built from local explanations: per-genre aggregates and descriptor rankings.

Aggregation
-----------
:func:`aggregate_scores` summarises the component scores of many local explanations (one per
segment) per genre: for the segments of genre ``g`` it takes the scores *for class g* and
reports, per component, the mean signed score, the mean absolute score, the standard deviation
of the signed score (``ddof=1``; 0.0 for one segment) and ``n``. "Which bands does the model use
for jazz" is then the row of jazz in the band table. A signed mean near 0 with a large mean
absolute score means the component matters but in both directions.

From local scores to descriptors (the hybrid method)
----------------------------------------------------
Each audio descriptor of :mod:`genrelens.inspection.descriptors` edits the input along a direction
in the space of some component kind. Its importance for genre ``g`` is the mean, over the
segments of ``g``, of the absolute projection of the segment's scores for ``g`` onto that
direction, ``|<s, e>| / ||e||`` (:func:`rank_descriptors`):

==================  =========================  ===========================================
descriptor          component kind             direction ``e``
==================  =========================  ===========================================
band_energy[b]      frequency bands            the unit vector of band ``b`` (score of b)
loudness            frequency bands            all ones (every band together)
spectral_tilt       frequency bands            ``o_b - mean(o)``, ``o_b`` the mean log2
                                               centre frequency of the band's mel bins
hp_balance          stems (HPSS parts)         +1 on harmonic, -1 on percussive components
tempo               (none)                     not ranked: no component kind moves tempo
==================  =========================  ===========================================

The projection is exact for an additive surrogate (KernelSHAP/LIME scores are the
coefficients of one): moving every band along ``e`` changes the surrogate by ``<s, e>``. It is a
ranking heuristic, not an effect size; the ALE curves of the top-ranked descriptors
(:func:`genrelens.inspection.descriptors.descriptor_ale`) then show the actual effect.

References
----------
Lundberg, S. M. & Lee, S.-I. (2017). A unified approach to interpreting model predictions.
NeurIPS (global summaries as means of absolute SHAP values).
Apley, D. W. & Zhu, J. (2020). Visualizing the effects of predictor variables in black box
supervised learning models. JRSS-B 82(4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genrelens.errors import ParameterError

__all__ = [
    "aggregate_scores",
    "descriptor_directions",
    "rank_descriptors",
]


def aggregate_scores(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str],
    component_names: Sequence[str],
    kind: str,
) -> list[dict[str, Any]]:
    """Per-genre, per-component summary of local explanation scores.

    Parameters
    ----------
    scores : ndarray, shape (n_segments, n_classes, n_components)
        Component scores of each segment's explanation, for every class.
    labels : ndarray of int, shape (n_segments,)
        The genre (class index) each segment is aggregated under (e.g. its true class).
    class_names, component_names : sequence of str
    kind : str
        The component kind, copied into every row.

    Returns
    -------
    list of dict
        One row per (genre with at least one segment, component): ``genre``, ``kind``,
        ``component``, ``index``, ``mean``, ``mean_abs``, ``std`` (sample standard deviation,
        ``ddof=1``; NaN when ``n`` = 1, where no spread can be estimated), ``n``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 3 or scores.shape[0] != labels.shape[0]:
        raise ParameterError(
            f"scores has shape {scores.shape} and labels {labels.shape}: expected scores "
            "(n_segments, n_classes, n_components) and one label per segment."
        )
    if scores.shape[1] != len(class_names) or scores.shape[2] != len(component_names):
        raise ParameterError(
            f"scores has shape {scores.shape}: expected {len(class_names)} classes and "
            f"{len(component_names)} components."
        )
    rows: list[dict[str, Any]] = []
    for c, genre in enumerate(class_names):
        own = scores[labels == c, c, :]
        if own.shape[0] == 0:
            continue
        std = own.std(axis=0, ddof=1) if own.shape[0] > 1 else np.full(own.shape[1], np.nan)
        for m, name in enumerate(component_names):
            rows.append({
                "genre": genre, "kind": kind, "component": name, "index": m,
                "mean": float(own[:, m].mean()), "mean_abs": float(np.abs(own[:, m]).mean()),
                "std": float(std[m]), "n": int(own.shape[0]),
            })
    return rows


def descriptor_directions(components: Any, descriptors: Sequence[Any]) -> dict[str, np.ndarray]:
    """Directions ``e`` (one per rankable descriptor) in the space of ``components``.

    Parameters
    ----------
    components : Components
        ``kind == "frequency"`` gives band_energy / loudness / spectral_tilt directions;
        ``kind == "stems"`` gives the hp_balance direction (parts named ``harmonic`` and
        ``percussive``). Other kinds give none.
    descriptors : sequence of Descriptor
        Only descriptors with a direction in this kind are returned.

    Returns
    -------
    dict
        ``{descriptor name: (n_components,) vector}``.
    """
    from genrelens.inspection.descriptors import (
        BandEnergy,
        HarmonicPercussiveBalance,
        Loudness,
        SpectralTilt,
    )

    m = components.n_components
    out: dict[str, np.ndarray] = {}
    if components.kind == "frequency":
        from genrelens.features import mel_frequencies

        column = np.asarray(components.map)[:, 0]
        octaves = np.log2(mel_frequencies(components.config))
        centre = np.array([octaves[column == b].mean() for b in range(m)])
        for d in descriptors:
            if isinstance(d, BandEnergy):
                bands = np.unique(column[d.low_bin : d.high_bin])
                if len(bands) == 1 and np.array_equal(
                    np.flatnonzero(column == bands[0]), np.arange(d.low_bin, d.high_bin)
                ):
                    out[d.name] = np.eye(m)[bands[0]]
            elif isinstance(d, Loudness):
                out[d.name] = np.ones(m)
            elif isinstance(d, SpectralTilt) and m > 1:
                out[d.name] = centre - centre.mean()
    elif components.kind == "stems" and components.stems is not None:
        parts = list(components.stems.names)
        n_seg = components.stems.n_segments
        if "harmonic" in parts and "percussive" in parts:
            e = np.zeros(m)
            h, p = parts.index("harmonic"), parts.index("percussive")
            e[h * n_seg : (h + 1) * n_seg] = 1.0
            e[p * n_seg : (p + 1) * n_seg] = -1.0
            for d in descriptors:
                if isinstance(d, HarmonicPercussiveBalance):
                    out[d.name] = e
    return out


def rank_descriptors(
    scores: np.ndarray, directions: Mapping[str, np.ndarray]
) -> list[tuple[str, float]]:
    """Descriptors by decreasing mean absolute projection of the scores on their direction.

    Parameters
    ----------
    scores : ndarray, shape (n_segments, n_components)
        Scores of one genre's segments for that genre.
    directions : mapping of str to ndarray (n_components,)

    Returns
    -------
    list of (name, importance)
        Highest first; ties by name. Empty when there are no segments or no directions.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ParameterError(f"scores has shape {scores.shape}: expected (n_segments, n_components).")
    if scores.shape[0] == 0:
        return []
    ranked = []
    for name, e in directions.items():
        e = np.asarray(e, dtype=np.float64)
        if e.shape != (scores.shape[1],):
            raise ParameterError(
                f"direction {name!r} has shape {e.shape}: expected ({scores.shape[1]},)."
            )
        norm = np.linalg.norm(e)
        value = float(np.abs(scores @ e).mean() / norm) if norm > 0 else 0.0
        ranked.append((name, value))
    return sorted(ranked, key=lambda item: (-item[1], item[0]))
