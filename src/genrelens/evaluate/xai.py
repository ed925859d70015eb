"""``genrelens evaluate-xai RUN``: how far can each explanation method be trusted?

For a class-stratified sample of held-out segments, every method is run on every component
kind, and measured with the pure metrics of :mod:`~genrelens.evaluate.faithfulness`,
:mod:`~.sanity`, :mod:`~.stability` and :mod:`~.groundtruth`. A **random explanation**
(i.i.d. normal scores; a random dense map) is evaluated beside the methods in every table, so
every number has its "no information" reference.

Methods: ``lime`` and ``kernel_shap`` (computed from ONE set of model evaluations, the hybrid),
``occlusion``, ``gradcam`` and ``ig`` (dense maps, summed over each component's cells to give
component scores), ``random``. The explained class is the class the model predicts for the
segment, except for ground truth, which uses the true class (whose cue is marked).

The study returns a :class:`~genrelens.evaluate.quality.QualityResult`;
:func:`~genrelens.evaluate.quality.write_quality` writes its tables, curves and plots
(``RUN/xai/`` by default; listed there and in ``RUN/xai/index.json``).

All model runs on edited inputs go through :mod:`genrelens.explain.engine` (explanations,
deletion/insertion, random subsets); gradient methods use autograd.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from genrelens._validation import check_random_state
from genrelens.errors import ParameterError
from genrelens.evaluate.manifold import EDGE_RATIO
from genrelens.evaluate.quality import QualityResult, write_quality
from genrelens.explain import registry
from genrelens.explain.fill import DEFAULT_FILL

__all__ = ["evaluate_xai", "evaluate_explanations", "XAI_METHODS", "XAI_KINDS"]

#: Methods evaluated: each on its own (the hybrid is evaluated as its two views, whose
#: evaluations are shared when both are asked).
XAI_METHODS = tuple(m for m in registry.METHODS if registry.method(m).views == (m,))
#: Component kinds evaluated: those the same for every segment (cells, not stems).
XAI_KINDS = registry.AUDIO_FREE_KINDS


def evaluate_xai(
    run: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    per_class: int = 2,
    plots: bool = True,
    device: str = "cpu",
    **kwargs: Any,
) -> QualityResult:
    """Evaluate the explanation methods on the held-out segments of ``RUN`` and write the
    result (:func:`~genrelens.evaluate.quality.write_quality`).

    Parameters
    ----------
    run : path-like
        Training run directory.
    out : path-like, optional
        Default ``RUN/xai``.
    data, cache : path-like, optional
        Override the run's dataset and cache folders.
    per_class : int
        Test segments per class.
    plots : bool
        Write the PNG figures.
    device : str, default "cpu"
        Where the model runs (:func:`genrelens.device.resolve_device`).
    **kwargs
        Passed to :func:`evaluate_explanations`.

    Returns
    -------
    QualityResult
        The result written (with the run and set as its ``source``).
    """
    from genrelens.inspection.segments import analyse_segments, run_segments, segment_cue_mask

    seed = kwargs.get("random_state", 0)
    segs = run_segments(run, data=data, cache=cache, per_class=per_class, random_state=seed,
                        device=device)
    masks = [segment_cue_mask(segs, i) for i in range(len(segs.features))]
    result = analyse_segments(
        evaluate_explanations, segs,
        cue_masks=None if all(m is None for m in masks) else masks, **kwargs,
    )
    write_quality(result, out if out is not None else segs.run / "xai", plots=plots)
    return result


def evaluate_explanations(
    model: Any,
    logmel: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str],
    config: Any,
    cue_masks: Sequence[np.ndarray | None] | None = None,
    methods: Sequence[str] = XAI_METHODS,
    kinds: Sequence[str] = XAI_KINDS,
    n_samples: int = 500,
    fill: str | float | None = None,
    n_subsets: int = 50,
    flip_k: Sequence[int] = (1, 3),
    n_check: int = 5,
    seeds: int = 3,
    fills: Sequence[str] = (DEFAULT_FILL, "min", "blur"),
    ig_steps: int = 32,
    cascading: bool = True,
    random_state: int = 0,
    batch_size: int | str = "auto",
    progress: bool = False,
) -> QualityResult:
    """Measure faithfulness, sanity, stability, ground truth and cost of explanation methods.

    Pure: writes nothing (:func:`~genrelens.evaluate.quality.write_quality` does).

    Parameters
    ----------
    model : nn.Module
        ``(B, 1, n_mels, n_frames) -> (B, n_classes)`` logits.
    logmel : ndarray, shape (N, n_mels, n_frames)
    labels : ndarray of int, shape (N,)
        True classes.
    class_names : sequence of str
    config : FeatureConfig
    cue_masks : sequence of (bool (n_mels, n_frames) or None), optional
        Ground-truth masks per segment (None: no ground-truth table).
    methods : sequence of str
        From :data:`XAI_METHODS`; the random baseline is always added.
    kinds : sequence of str
        From :data:`XAI_KINDS`.
    n_samples : int
        Budget of LIME / KernelSHAP (shared evaluations).
    fill : str or float
        What "off" means, for explanations and for deletion/insertion (recorded).
    n_subsets : int
        Random subsets (of a quarter of the components) for the faithfulness correlation.
    flip_k : sequence of int
        Top-k removals for the label-flip rate.
    n_check : int
        Segments (the first ones) used for the sanity check and the stability measures.
    seeds : int
        Seeds compared for stability (``random_state + j``).
    fills : sequence of str
        Fills compared for stability (Grad-CAM has none; IG uses them as baselines).
    ig_steps : int
        Integrated-gradients steps.
    cascading : bool
        Run the sanity check layer by layer (one more set of explanations of the check
        segments per layer with parameters); False: only the trained model explained again
        and the fully re-initialised one.
    random_state : int
    batch_size : int or "auto"
    progress : bool

    Returns
    -------
    QualityResult
    """
    from genrelens.evaluate.sanity import SANITY_THRESHOLD
    from genrelens.explain.engine import evaluate, inference_model
    from genrelens.inspection.segments import progress_bar

    start = time.perf_counter()
    fill = DEFAULT_FILL if fill is None else fill  # xai kinds are cells: never stems
    methods = list(methods)
    kinds = list(kinds)
    bad = sorted(set(methods) - set(XAI_METHODS)) + sorted(set(kinds) - set(XAI_KINDS))
    if bad or not methods or not kinds:
        raise ParameterError(
            f"methods={methods!r}, kinds={kinds!r}: expected non-empty subsets of "
            f"{list(XAI_METHODS)} and {list(XAI_KINDS)}."
        )
    logmel = np.asarray(logmel, dtype=np.float32)
    labels = np.asarray(labels)
    n = len(logmel)
    if n == 0 or labels.shape != (n,):
        raise ParameterError(f"logmel has {n} segments and labels shape {labels.shape}: expected "
                             "at least one segment and one label each.")
    if cue_masks is not None and len(cue_masks) != n:
        raise ParameterError(f"cue_masks has {len(cue_masks)} entries for {n} segments.")
    rng = check_random_state(random_state)
    fast = inference_model(model)
    xt = _tensor(logmel)
    pred = evaluate(fast, lambda a, b: xt[a:b], n, batch_size=batch_size, fast=False).outputs
    predicted = pred.argmax(axis=1)
    ctx = _Context(model=model, fast=fast, config=config, class_names=tuple(class_names),
                   n_samples=n_samples, batch_size=batch_size, ig_steps=ig_steps)
    all_methods = [*methods, "random"]
    comps = {k: registry.build_components(k, config=config, n_frames=logmel.shape[-1])
             for k in kinds}

    faith: dict[tuple[str, str], dict[str, list]] = {}
    gt: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    cost: dict[tuple[str, str], list[tuple[float, float]]] = {}
    check = np.arange(min(n_check, n))  # sanity check and stability segments (memoized)
    for i in progress_bar(range(n), enabled=progress, desc="evaluating explanations"):
        x = logmel[i]
        index = i if i < len(check) else None
        targets = sorted({int(predicted[i]), int(labels[i])})
        dense = ctx.dense_maps(x, methods, fill=fill, targets=targets, seed=random_state,
                               index=index)
        for (method, _), (_, c) in dense.items():
            cost.setdefault((method, "dense"), []).append(c)
        for kind, cm in comps.items():
            views = ctx.component_scores(x, cm, methods, dense=dense, fill=fill,
                                         seed=random_state, rng=rng, index=index)
            for method, (scores, c) in views.items():
                cost.setdefault((method, kind), []).append(c)
            f = _faithfulness(ctx, x, cm, views, fill=fill, target=int(predicted[i]),
                              n_subsets=n_subsets, flip_k=flip_k, rng=rng)
            for method, values in f.items():
                acc = faith.setdefault((method, kind), {})
                for key, v in values.items():
                    acc.setdefault(key, []).append(v)
            mask = None if cue_masks is None else cue_masks[i]
            if mask is not None and np.asarray(mask).any():
                for method, (scores, _) in views.items():
                    rel = cm.paint(scores[int(labels[i])], spread=True)
                    gt.setdefault((method, kind), []).append(_gt(rel, mask))
        if cue_masks is not None and cue_masks[i] is not None and np.asarray(cue_masks[i]).any():
            for (method, _), (maps, _) in dense.items():
                gt.setdefault((method, "dense"), []).append(_gt(maps[int(labels[i])], cue_masks[i]))
            noise = rng.standard_normal(x.shape)
            gt.setdefault(("random", "dense"), []).append(_gt(noise, cue_masks[i]))

    # sanity check and stability on the first n_check segments, finest kind
    kind = "tf_grid" if "tf_grid" in kinds else kinds[-1]
    steps = _randomization(ctx, logmel, check, comps[kind], methods, kind=kind, fill=fill,
                           predicted=predicted, seed=random_state, rng=rng,
                           cascading=cascading, progress=progress)
    sanity = _sanity_rows(steps[-1])
    cascading_rows = _cascading_rows(steps)
    stability = _stability(ctx, logmel, check, comps[kind], methods, kind=kind, fill=fill,
                           fills=fills, seeds=seeds, predicted=predicted, seed=random_state,
                           rng=rng)

    faith_rows = [_faith_row(m, k, v, fill) for (m, k), v in sorted(faith.items(), key=_order)]
    gt_rows = [_gt_row(m, k, v) for (m, k), v in sorted(gt.items(), key=_order)]
    cost_rows = [{"method": m, "kind": k, "n": len(v),
                  "evaluations_per_explanation": float(np.mean([c[0] for c in v])),
                  "seconds_per_explanation": float(np.mean([c[1] for c in v]))}
                 for (m, k), v in sorted(cost.items(), key=_order)]
    curves = {f"{m}/{k}": {key: np.mean(v[key], axis=0).tolist()
                           for key in ("deletion_curve", "insertion_curve")}
              for (m, k), v in faith.items()}
    return QualityResult(
        params={"n_segments": int(n), "methods": all_methods, "kinds": kinds,
                "fill": str(fill), "n_samples": n_samples, "n_subsets": n_subsets,
                "flip_k": list(flip_k), "n_check": int(len(check)), "check_kind": kind,
                "seeds": seeds, "fills": list(fills), "cascading": cascading,
                "random_state": random_state, "sanity_threshold": SANITY_THRESHOLD,
                "class_names": list(class_names),
                "model_accuracy_on_segments": float(np.mean(predicted == labels))},
        faithfulness=tuple(faith_rows), sanity=tuple(sanity),
        sanity_cascading=tuple(cascading_rows), stability=tuple(stability),
        groundtruth=tuple(gt_rows), cost=tuple(cost_rows), curves=curves,
        findings=_findings(gt_rows, sanity), seconds=time.perf_counter() - start,
    )


class _Context:
    """The model (and its inference copy) plus fixed parameters of every explanation call."""

    def __init__(self, *, model: Any, fast: Any, config: Any, class_names: tuple[str, ...],
                 n_samples: int, batch_size: Any, ig_steps: int) -> None:
        self.model, self.fast, self.config = model, fast, config
        self.class_names, self.n_samples = class_names, n_samples
        self.batch_size, self.ig_steps = batch_size, ig_steps
        # explanations already computed, by (segment index, method, components, fill, seed,
        # targets): the sanity check and the stability measures ask again for explanations of
        # the main loop (same model, fill and seed), which are deterministic
        self._memo: dict[tuple, Any] = {}

    def _memoized(self, key: tuple | None, compute: Any) -> Any:
        """``compute()`` once per ``key`` (``key=None`` or unhashable, e.g. an array fill: no memo)."""
        try:
            hash(key)
        except TypeError:
            key = None
        if key is None:
            return compute()
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def with_model(self, model: Any) -> _Context:
        from genrelens.explain.engine import inference_model

        return _Context(model=model, fast=inference_model(model), config=self.config,
                        class_names=self.class_names, n_samples=self.n_samples,
                        batch_size=self.batch_size, ig_steps=self.ig_steps)

    def dense_maps(self, x: np.ndarray, methods: Sequence[str], *, fill: Any,
                   targets: Sequence[int], seed: int, index: int | None = None) -> dict:
        """``{(method, "dense"): (maps (n_classes, n_mels, n_frames), (evals, seconds))}``.

        ``index`` identifies ``x`` (its segment) for the memo; None computes afresh.
        """
        from genrelens.explain.api import explain

        out = {}
        for method in (m for m in methods if m in registry.DENSE):
            kw: dict[str, Any] = {"targets": list(targets)}
            if method == "ig":
                kw["n_steps"] = self.ig_steps

            def compute(method: str = method, kw: dict = kw) -> tuple:
                exp = explain(self.model, x, method=method, fill=fill, random_state=seed,
                              config=self.config, class_names=self.class_names, **kw)
                return np.asarray(exp.scores), _cost(exp)

            key = None if index is None else ("dense", index, method, fill, seed, tuple(targets))
            out[(method, "dense")] = self._memoized(key, compute)
        return out

    def component_scores(self, x: np.ndarray, comps: Any, methods: Sequence[str], *,
                         dense: dict, fill: Any, seed: int, rng: np.random.Generator,
                         index: int | None = None) -> dict:
        """``{method: (scores (n_classes, M), (evals, seconds))}`` incl. the random baseline.

        ``index`` identifies ``x`` (its segment) for the memo; None computes afresh. The random
        baseline is drawn from ``rng`` on every call.
        """
        from genrelens.explain.api import explain

        def key(method: str) -> tuple | None:
            return None if index is None else ("components", index, method, id(comps), fill, seed)

        views: dict[str, tuple[np.ndarray, tuple[float, float]]] = {}
        sampled = [m for m in methods if m in registry.method("hybrid").views]
        if sampled:
            def compute_sampled() -> dict:
                exp = explain(self.fast, x, method="hybrid" if len(sampled) == 2 else sampled[0],
                              components=comps, fill=fill, n_samples=self.n_samples,
                              random_state=seed, config=self.config,
                              class_names=self.class_names, batch_size=self.batch_size,
                              fast=False)
                # the hybrid's evaluations are shared: each view carries them
                return {m: (np.asarray(exp.as_method(m).scores if exp.others else exp.scores),
                            _cost(exp)) for m in sampled}

            views.update(self._memoized(key("+".join(sampled)), compute_sampled))
        if "occlusion" in methods:
            def compute_occlusion() -> tuple:
                exp = explain(self.fast, x, method="occlusion", components=comps, fill=fill,
                              config=self.config, class_names=self.class_names,
                              batch_size=self.batch_size, fast=False)
                return np.asarray(exp.scores), _cost(exp)

            views["occlusion"] = self._memoized(key("occlusion"), compute_occlusion)
        for (method, _), (maps, c) in dense.items():
            views[method] = (comps.sum_cells(maps), c)
        n_classes = len(self.class_names)
        views["random"] = (rng.standard_normal((n_classes, comps.n_components)), (0.0, 0.0))
        return views


def _faithfulness(ctx: _Context, x: np.ndarray, comps: Any, views: dict, *, fill: Any,
                  target: int, n_subsets: int, flip_k: Sequence[int],
                  rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    """Deletion/insertion curves, faithfulness correlation and label flips of every view."""
    from genrelens.evaluate.faithfulness import (
        curve_auc,
        faithfulness_correlation,
        random_subsets,
        removal_masks,
    )
    from genrelens.evaluate.manifold import edge_share
    from genrelens.explain.engine import evaluate_masks
    from genrelens.explain.fill import resolve_fill

    m = comps.n_components
    fill_obj = resolve_fill(fill, x, config=comps.config, rng=np.random.default_rng(0))
    subsets = random_subsets(m, n_subsets=n_subsets, subset_size=max(1, m // 4), rng=rng)
    blocks, layout = [np.ones((1, m)), 1.0 - subsets], {}
    row = 1 + n_subsets
    for method, (scores, _) in views.items():
        z_del, frac = removal_masks(scores[target], mode="deletion")
        z_ins, _ = removal_masks(scores[target], mode="insertion")
        layout[method] = (row, row + m + 1, row + 2 * (m + 1))
        blocks += [z_del, z_ins]
        row += 2 * (m + 1)
    res = evaluate_masks(ctx.fast, x, comps, np.concatenate(blocks), fill=fill_obj,
                         batch_size=ctx.batch_size, fast=False)
    y = res.outputs
    full = y[0]
    drops = full[target] - y[1 : 1 + n_subsets, target]
    out = {}
    for method, (scores, _) in views.items():
        a, b, c = layout[method]
        deletion, insertion = y[a:b, target], y[b:c, target]
        flips = {f"flip@{k}": float(y[a + k].argmax() != full.argmax()) for k in flip_k if k <= m}
        share, area = edge_share(scores[target], comps.map)
        out[method] = {
            "edge_share": share, "edge_area": area, "off_probability": float(insertion[0]),
            "full_probability": float(full[target]),
            "deletion_auc": curve_auc(deletion, frac), "insertion_auc": curve_auc(insertion, frac),
            "faithfulness_corr": faithfulness_correlation(scores=scores[target], removed=subsets,
                                                          drops=drops),
            "deletion_curve": deletion, "insertion_curve": insertion, **flips,
        }
    return out


def _randomization(ctx: _Context, logmel: np.ndarray, check: np.ndarray, comps: Any,
                   methods: Sequence[str], *, kind: str, fill: Any, predicted: np.ndarray,
                   seed: int, rng: np.random.Generator, cascading: bool,
                   progress: bool) -> list[dict[str, Any]]:
    """Adebayo et al.'s model-parameter randomisation test, per method (component scores and
    dense maps of the predicted class): the steps of
    :func:`~genrelens.evaluate.sanity.randomization_curve`."""
    from genrelens.evaluate.sanity import randomization_curve
    from genrelens.inspection.segments import progress_bar

    def explain(model: Any) -> dict[tuple[str, str], np.ndarray]:
        c = ctx if model is ctx.model else ctx.with_model(model)  # the trained one: memoized
        store: dict[tuple[str, str], list[np.ndarray]] = {}
        for i in check:
            x, t = logmel[i], int(predicted[i])
            dense = c.dense_maps(x, methods, fill=fill, targets=[t], seed=seed, index=int(i))
            views = c.component_scores(x, comps, methods, dense=dense, fill=fill, seed=seed,
                                       rng=rng, index=int(i))
            for method, (scores, _) in views.items():
                store.setdefault((method, kind), []).append(scores[t])
            for (method, _), (maps, _) in dense.items():
                store.setdefault((method, "dense"), []).append(maps[t].ravel())
        return {key: np.stack(v) for key, v in sorted(store.items(), key=_order)}

    steps = randomization_curve(ctx.model, explain, cascading=cascading, random_state=seed)
    return list(progress_bar(steps, enabled=progress, desc="randomising layers"))


def _sanity_rows(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of sanity.csv: the correlations of the last (fully randomised) step."""
    from genrelens.evaluate.sanity import SANITY_THRESHOLD, passes_sanity

    return [{"method": method, "kind": kind, "spearman": corr["spearman"],
             "spearman_abs": corr["spearman_abs"], "n": corr["n"],
             "threshold": SANITY_THRESHOLD, "passes": passes_sanity(corr)}
            for (method, kind), corr in step["correlations"].items()]


def _cascading_rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of sanity_cascading.csv: every step of every (method, kind)."""
    return [{"method": method, "kind": kind, "layer": step["layer"],
             "n_layers_randomized": step["n_layers_randomized"],
             "spearman": step["correlations"][(method, kind)]["spearman"],
             "spearman_abs": step["correlations"][(method, kind)]["spearman_abs"],
             "n": step["correlations"][(method, kind)]["n"]}
            for method, kind in steps[0]["correlations"] for step in steps]


def _stability(ctx: _Context, logmel: np.ndarray, check: np.ndarray, comps: Any,
               methods: Sequence[str], *, kind: str, fill: Any, fills: Sequence[str],
               seeds: int, predicted: np.ndarray, seed: int,
               rng: np.random.Generator) -> list[dict[str, Any]]:
    """Mean pairwise Spearman of the scores across seeds and across fills."""
    from genrelens.evaluate.stability import pairwise_rank_correlation

    runs: dict[tuple[str, str], list[list[np.ndarray]]] = {}
    for i in check:
        x, t = logmel[i], int(predicted[i])
        per: dict[tuple[str, str], list[np.ndarray]] = {}
        for over, settings in (("seed", [(fill, seed + j) for j in range(seeds)]),
                               ("fill", [(f, seed) for f in fills])):
            for f, s in settings:
                dense = ctx.dense_maps(x, methods, fill=f, targets=[t], seed=s, index=int(i))
                views = ctx.component_scores(x, comps, methods, dense=dense, fill=f, seed=s,
                                             rng=rng, index=int(i))
                for method, (scores, _) in views.items():
                    if over == "fill" and method in ("gradcam", "random"):
                        continue  # Grad-CAM has no fill; the random baseline ignores it
                    per.setdefault((method, over), []).append(scores[t])
        for key, vectors in per.items():
            runs.setdefault(key, []).append(vectors)
    rows = []
    for (method, over), per_segment in sorted(runs.items(), key=_order):
        values = [pairwise_rank_correlation(v)[0] for v in per_segment]
        rows.append({"method": method, "kind": kind, "over": over,
                     "compared": ",".join(str(f) for f in fills) if over == "fill"
                     else f"{seeds} seeds", "mean_spearman": float(np.mean(values)),
                     "n": len(values)})
    return rows


def _gt(relevance: np.ndarray, mask: np.ndarray) -> tuple[float, float, float, float]:
    from genrelens.evaluate.groundtruth import (
        mask_fraction,
        pointing_game,
        relevance_mass_accuracy,
        relevance_rank_accuracy,
    )

    return (relevance_mass_accuracy(relevance, mask), relevance_rank_accuracy(relevance, mask),
            pointing_game(relevance, mask), mask_fraction(mask))


def _gt_row(method: str, kind: str, values: list) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    mass, rank, point, chance = np.nanmean(v, axis=0)
    return {"method": method, "kind": kind, "n": len(v), "mass_accuracy": mass,
            "rank_accuracy": rank, "pointing_game": point, "chance": chance,
            "rank_accuracy_over_chance": rank - chance}


def _faith_row(method: str, kind: str, v: dict[str, list], fill: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"method": method, "kind": kind, "fill": str(fill),
                           "n": len(v["deletion_auc"])}
    for key in ("deletion_auc", "insertion_auc", "faithfulness_corr"):
        row[key] = float(np.mean(v[key]))
        row[f"{key}_std"] = float(np.std(v[key]))
    for key in sorted(k for k in v if k.startswith("flip@")):
        row[key] = float(np.mean(v[key]))
    # off-manifold signs (genrelens.evaluate.manifold): relevance on the grid's borders, and
    # what the model says about the all-off input
    share = np.asarray(v["edge_share"], dtype=float)
    area = float(np.mean(v["edge_area"]))
    row.update(edge_share=float(np.nanmean(share)) if np.isfinite(share).any() else float("nan"),
               edge_area=area,
               flagged=float(np.mean(np.nan_to_num(share) >= EDGE_RATIO * area)),
               off_probability=float(np.mean(v["off_probability"])),
               full_probability=float(np.mean(v["full_probability"])))
    return row


def _findings(gt_rows: list[dict[str, Any]], sanity: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "passes_sanity": sorted({r["method"] for r in sanity if r["passes"]} - {"random"}),
        "fails_sanity": sorted({r["method"] for r in sanity if not r["passes"]} - {"random"}),
    }
    real = [r for r in gt_rows if r["method"] != "random"]
    if real:
        best = max(real, key=lambda r: r["rank_accuracy_over_chance"])
        found["best_localisation"] = {
            k: best[k] for k in ("method", "kind", "rank_accuracy", "chance", "mass_accuracy",
                                 "pointing_game")
        }
    return found




def _cost(exp: Any) -> tuple[float, float]:
    return float(exp.cost.get("n_evaluations", 0)), float(exp.cost.get("seconds", 0.0))


def _tensor(logmel: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(logmel, dtype=np.float32)).unsqueeze(1)


_METHOD_ORDER = {m: i for i, m in enumerate((*XAI_METHODS, "random"))}


def _order(item: Any) -> tuple:
    key = item[0] if isinstance(item[0], tuple) else item
    return (_METHOD_ORDER.get(key[0], 99), str(key[1]))
