"""``genrelens global RUN``: the hybrid global view of a trained model.

The chain (the hybrid method: :mod:`genrelens.explain.hybrid` locally, ALE globally):

1. **Local explanations** of a class-stratified sample of held-out segments
   (:func:`genrelens.inspection.segments.run_segments`), by default with the hybrid method (LIME and
   KernelSHAP from one set of model evaluations), for each component kind asked for
   (frequency bands, time segments, time-frequency grid, HPSS stems).
2. **Aggregation** per genre (:func:`genrelens.inspection.aggregate.aggregate_scores`): mean signed
   and mean absolute score of every component for the genre's own class, with spread.
3. **Ranking** of the audio descriptors per genre from the aggregated KernelSHAP scores
   (:func:`genrelens.inspection.aggregate.rank_descriptors`; band scores -> band energies, see the
   mapping there).
4. **ALE curves** (:func:`genrelens.inspection.descriptors.descriptor_ale`) of every descriptor that
   is in some genre's top-k, over a larger sample of held-out segments; each genre's figure
   shows its top-k curves for its own class, with the data distribution as a rug.

The chain returns a :class:`~genrelens.inspection.result.GlobalResult`;
:func:`~genrelens.inspection.result.write_global` writes its files (``RUN/global/`` by
default; listed there and in ``RUN/global/index.json``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from genrelens._validation import check_int, check_random_state
from genrelens.errors import ParameterError
from genrelens.explain import registry
from genrelens.explain.fill import DEFAULT_FILL
from genrelens.inspection.result import GlobalResult, write_global

__all__ = ["global_view", "global_analysis", "KINDS"]

#: Component kinds of the global view.
KINDS = registry.BUILDABLE_KINDS


def global_view(
    run: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    per_class: int = 4,
    ale_per_class: int = 20,
    top_k: int = 3,
    random_state: int = 0,
    plots: bool = True,
    progress: bool = False,
    device: str = "cpu",
    **kwargs: Any,
) -> GlobalResult:
    """Compute and write the global view of ``RUN`` (see the module docstring).

    Parameters
    ----------
    run : path-like
        Training run directory.
    out : path-like, optional
        Output folder (default ``RUN/global``).
    data, cache : path-like, optional
        Override the dataset and cache folders of the run.
    per_class : int
        Segments per genre explained locally.
    ale_per_class : int
        Segments per genre the ALE curves are averaged over (at least ``per_class``).
    top_k : int
        Descriptors per genre with ALE curves.
    random_state : int
    plots : bool
        Write the PNG figures.
    progress : bool
    device : str, default "cpu"
        Where the model runs (:func:`genrelens.device.resolve_device`).
    **kwargs
        Passed to :func:`global_analysis` (``method``, ``kinds``, ``n_samples``, ``fill``,
        ``n_bands``, ``descriptors``, ``n_bins``, ``n_bootstrap``, ``ale_output``,
        ``batch_size``).

    Returns
    -------
    GlobalResult
        The result written (with the run and set as its ``source``).
    """
    from genrelens.inspection.segments import analyse_segments, run_segments, segment_waveform

    _check_counts(per_class=per_class, ale_per_class=ale_per_class, top_k=top_k)
    segs = run_segments(run, data=data, cache=cache, per_class=max(per_class, ale_per_class),
                        random_state=random_state, progress=progress, device=device)
    result = analyse_segments(
        global_analysis, segs, waveform=lambda i: segment_waveform(segs, i),
        per_class=per_class, top_k=top_k, random_state=random_state, progress=progress,
        **kwargs,
    )
    write_global(result, out if out is not None else segs.run / "global", plots=plots)
    return result


def global_analysis(
    model: Any,
    logmel: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str],
    config: Any,
    waveform: Callable[[int], np.ndarray] | None = None,
    method: str = "hybrid",
    kinds: Sequence[str] = ("frequency", "time"),
    per_class: int = 4,
    n_samples: int = 256,
    fill: str | float | None = None,
    n_bands: int = 8,
    top_k: int = 3,
    descriptors: Sequence[str] = (),
    n_bins: int = 8,
    n_bootstrap: int = 50,
    ale_output: str = "probabilities",
    random_state: int = 0,
    batch_size: int | str = "auto",
    progress: bool = False,
) -> GlobalResult:
    """The global view of ``model`` on given segments (what :func:`global_view` runs on a run).

    Pure: writes nothing (:func:`~genrelens.inspection.result.write_global` does).

    Parameters
    ----------
    model : nn.Module or callable
        ``(B, 1, n_mels, n_frames) -> (B, n_classes)`` logits.
    logmel : ndarray, shape (N, n_mels, n_frames)
        Segments; the ALE curves use all of them, the local explanations ``per_class`` of each
        genre.
    labels : ndarray of int, shape (N,)
        True class of each segment (the genre it is aggregated under).
    class_names : sequence of str
    config : FeatureConfig
    waveform : callable, optional
        ``waveform(i) -> (segment_samples,)`` audio of segment ``i``; needed for ``"stems"``.
    method : {"hybrid", "kernel_shap", "lime", "occlusion"}
        Local method; the ranking uses its primary scores (hybrid: KernelSHAP).
    kinds : sequence of {"frequency", "time", "tf_grid", "stems"}
        Component kinds explained and aggregated; must include "frequency" (the ranking's).
    per_class : int
        Segments per genre explained locally.
    n_samples : int
        Model evaluations per local explanation.
    fill : str or float
        What "off" means for the local explanations.
    n_bands : int
        Frequency bands (components and band-energy descriptors share them).
    top_k : int
        Descriptors per genre with ALE curves.
    descriptors : sequence of str
        Further descriptors to compute ALE for in any case (e.g. ``["tempo"]``).
    n_bins, n_bootstrap : int
        ALE bins and bootstrap replicates.
    ale_output : {"probabilities", "logits"}
        What the ALE curves show. A confident model's probabilities saturate (small local
        edits barely move them); logits show the same effects unsquashed.
    random_state : int
    batch_size : int or "auto"
    progress : bool

    Returns
    -------
    GlobalResult
    """
    from genrelens.explain.api import explain
    from genrelens.explain.engine import inference_model
    from genrelens.inspection.aggregate import (
        aggregate_scores,
        descriptor_directions,
        rank_descriptors,
    )
    from genrelens.inspection.descriptors import default_descriptors, descriptor_ale
    from genrelens.inspection.segments import progress_bar

    start = time.perf_counter()
    class_names = tuple(class_names)
    kinds = list(kinds)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or "frequency" not in kinds:
        raise ParameterError(
            f"kinds={kinds!r} is invalid: expected a subset of {list(KINDS)} that includes "
            "'frequency' (descriptors are ranked from band scores)."
        )
    if "stems" in kinds and waveform is None:
        raise ParameterError("kinds includes 'stems' but no waveform= was given: stems need audio.")
    if method not in registry.PERTURBATION:
        raise ParameterError(
            f"method={method!r} is invalid for the global view: expected one of "
            f"{list(registry.PERTURBATION)} (component scores)."
        )
    _check_counts(per_class=per_class, top_k=top_k)
    logmel = np.asarray(logmel, dtype=np.float32)
    labels = np.asarray(labels)
    local = _stratified_subset(labels, per_class, random_state)
    all_descs = {d.name: d for d in default_descriptors(config, n_bands=n_bands)}
    missing = sorted(set(descriptors) - set(all_descs))
    if missing:
        raise ParameterError(
            f"descriptors={list(descriptors)!r}: unknown {missing}; expected names from "
            f"{list(all_descs)}."
        )
    fast_model = inference_model(model)
    n_frames = logmel.shape[-1]
    cost = {"local_evaluations": 0, "ale_evaluations": 0}
    scores: dict[tuple[str, str], list[np.ndarray]] = {}
    comps_of_kind: dict[str, Any] = {}
    for kind in kinds:
        fixed = None if kind == "stems" else registry.build_components(
            kind, config=config, n_frames=n_frames, n_bands=n_bands)
        for i in progress_bar(local, enabled=progress, desc=f"explaining ({kind})"):
            comps = fixed if fixed is not None else registry.build_components(
                kind, config=config, n_frames=n_frames,
                audio=None if waveform is None else waveform(i))
            comps_of_kind.setdefault(kind, comps)
            exp = explain(fast_model, logmel[i], method=method, components=comps, fill=fill,
                          random_state=random_state, config=config, class_names=class_names,
                          batch_size=batch_size, fast=False,
                          **registry.settings_for(method, n_samples=n_samples))
            cost["local_evaluations"] += int(exp.cost.get("n_evaluations", 0))
            for view in registry.method(method).views:  # hybrid: its LIME and SHAP views
                scores.setdefault((view, kind), []).append(np.asarray(exp.as_method(view).scores))
    local_labels = labels[local]
    rows: list[dict[str, Any]] = []
    for (view, kind), stack in scores.items():
        names = comps_of_kind[kind].names
        for row in aggregate_scores(np.stack(stack), local_labels, class_names=class_names,
                                    component_names=names, kind=kind):
            rows.append({"method": view, **row})

    # ranking from the primary scores (hybrid: KernelSHAP), frequency (+ stems) kinds
    primary = registry.method(method).primary
    ranking_rows: list[dict[str, Any]] = []
    top: dict[str, list[tuple[str, float]]] = {}
    rankable = {  # kind: (scores (n_local, n_classes, M), descriptor directions)
        kind: (np.stack(scores[(primary, kind)]),
               descriptor_directions(comps_of_kind[kind], list(all_descs.values())))
        for kind in ("frequency", "stems") if (primary, kind) in scores
    }
    for c, genre in enumerate(class_names):
        mine = local_labels == c
        ranked: list[tuple[str, float]] = []
        for stacked, directions in rankable.values():
            ranked += rank_descriptors(stacked[mine, c], directions)
        ranked.sort(key=lambda item: (-item[1], item[0]))
        top[genre] = ranked[:top_k]
        ranking_rows += [{"genre": genre, "rank": r + 1, "descriptor": n, "importance": v}
                         for r, (n, v) in enumerate(ranked)]

    # ALE of every descriptor in some genre's top-k, over all loaded segments
    wanted = sorted({n for items in top.values() for n, _ in items} | set(descriptors))
    ale_results = {}
    for name in progress_bar(wanted, enabled=progress, desc="ALE"):
        res = descriptor_ale(fast_model, logmel, all_descs[name], class_names=class_names,
                             n_bins=n_bins, n_bootstrap=n_bootstrap, random_state=random_state,
                             output=ale_output, batch_size=batch_size)
        cost["ale_evaluations"] += res.n_evaluations
        ale_results[name] = res

    def what(genre: str) -> str:
        return f"P({genre})" if ale_output == "probabilities" else f"the {ale_output} of {genre}"

    findings = {}
    for c, genre in enumerate(class_names):
        items = []
        for name, importance in top[genre]:
            res = ale_results[name]
            grid, curve = res.grid_values[0], res.average[c]
            unit = res.params["units"][0]
            change = float(curve[-1] - curve[0])
            items.append({
                "descriptor": name, "importance": importance, "unit": unit,
                "from": float(grid[0]), "to": float(grid[-1]), "change": change,
                "text": f"{name} from {grid[0]:.1f} to {grid[-1]:.1f} {unit} changes "
                        f"{what(genre)} by {change:+.3f}",
            })
        findings[genre] = items
    return GlobalResult(
        params={"method": method, "kinds": kinds,
                "fill": DEFAULT_FILL if fill is None else fill, "n_samples": n_samples,
                "n_bands": n_bands, "top_k": top_k, "n_bins": n_bins,
                "n_bootstrap": n_bootstrap, "ale_output": ale_output,
                "random_state": random_state},
        class_names=class_names,
        component_names={kind: tuple(comps.names) for kind, comps in comps_of_kind.items()},
        aggregate=tuple(rows), ranking=tuple(ranking_rows), ale=ale_results, findings=findings,
        n_local_segments=int(len(local)), n_ale_segments=int(len(logmel)),
        cost={**cost, "seconds": time.perf_counter() - start},
    )


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        check_int(name, value, minimum=1)


def _stratified_subset(labels: np.ndarray, per_class: int, random_state: int) -> np.ndarray:
    """Indices of at most ``per_class`` items of each label, seeded, sorted."""
    rng = check_random_state(random_state)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=int)
