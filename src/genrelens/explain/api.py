"""``explain()``: one entry point for every local explanation method.

Perturbation methods run the model only through :mod:`genrelens.explain.engine`;
``"gradcam"`` and ``"ig"`` are dispatched to :mod:`genrelens.explain.gradients`. A method is
named (:mod:`genrelens.explain.registry`) or given as an explainer object
(:mod:`genrelens.explain.explainers`), which checks its settings, and owns its sample design
and its fit; this module runs the rounds of sampling and builds the result.

Methods
-------
``"kernel_shap"``
    KernelSHAP (:mod:`genrelens.explain.shap`): exact Shapley values by enumeration when
    ``n_samples >= 2^M``, else paired Shapley-kernel samples; the efficiency constraint holds
    exactly.
``"lime"``
    LIME (:mod:`genrelens.explain.lime`) on uniform samples (``sampling="uniform"``) or on
    the hybrid's samples (``sampling="mixture"``).
``"hybrid"``
    LIME and KernelSHAP fitted on the SAME model evaluations: one mixture of LIME's and a
    KernelSHAP design, each estimator weighting all rows towards its own design
    (:mod:`genrelens.explain.hybrid`), so that each estimates what it estimates alone.
    ``scores`` are KernelSHAP's; ``others`` holds both, ``fit["agreement"]`` the Spearman rank
    correlation of the two score vectors per class; ``exp.as_method("lime")`` gives the LIME
    view. ``explain(method="lime" or "kernel_shap", sampling="mixture")`` gives the same
    numbers as the hybrid's views.
``"occlusion"``
    One component off at a time (:mod:`genrelens.explain.occlusion`), ``M + 1`` evaluations.
``"gradcam"``, ``"ig"``
    Grad-CAM and Integrated Gradients (dense maps); extra keyword arguments go to
    :func:`genrelens.explain.gradients.grad_cam` / ``integrated_gradients``.

Convergence
-----------
With ``tol`` set, sampling methods draw samples in rounds of ``round_size`` (default
``max(2 (M + 1), n_samples // 10)``), refit on all samples so far after each round, and stop
when the largest change of the normalised scores (each class's scores divided by their
largest absolute value) between two rounds is below ``tol``, or when ``n_samples`` is spent.
``params["n_samples_used"]`` and ``params["converged"]`` report what happened.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from genrelens._validation import check_choice, check_random_state, valid_logmel
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import components as components_mod
from genrelens.explain import occlusion, registry
from genrelens.explain.components import Components
from genrelens.explain.engine import (
    OUTPUTS,
    ModelFn,
    evaluate_masks,
    inference_model,
    mask_inputs,
    softmax,
)
from genrelens.explain.explainers import (
    Explainer,
    Fit,
    GradCam,
    IntegratedGradients,
    SampledExplainer,
    make_explainer,
)
from genrelens.explain.explanation import Explanation
from genrelens.explain.fill import Fill, resolve_fill, resolve_stft_fill
from genrelens.features import log_mel, stft
from genrelens.models.waveform import WaveformModel

__all__ = ["explain"]



def explain(
    model: ModelFn,
    logmel: np.ndarray | torch.Tensor,
    *,
    method: str | Explainer,
    components: Components | None = None,
    fill: str | float | np.ndarray | Fill | None = None,
    n_samples: int | None = None,
    random_state: int | np.random.Generator | None = 0,
    output: str = "probabilities",
    class_names: Sequence[str] | None = None,
    config: FeatureConfig | None = None,
    batch_size: int | str = "auto",
    fast: bool = True,
    progress: bool = False,
    kernel_width: float | None = None,
    distance: str | None = None,
    alpha: float | None = None,
    sampling: str | None = None,
    tol: float | None = None,
    round_size: int | None = None,
    **method_kwargs: Any,
) -> Explanation:
    """Explain the model's prediction for one log-mel input.

    Parameters
    ----------
    model : nn.Module, callable or LoadedModel
        Maps ``(B, 1, n_mels, n_frames)`` log-mel dB to ``(B, n_classes)`` logits (or, with
        ``output="raw"``, any scores). An object with ``.model`` and ``.class_names`` (a
        :class:`~genrelens.models.LoadedModel`) is unwrapped, its ``class_names`` and
        ``feature_config`` used as defaults. A
        :class:`~genrelens.models.waveform.WaveformModel` reads waveforms: its components act
        on the waveform's STFT and every edited input is resynthesised (see
        :mod:`genrelens.explain.engine`); ``"ig"`` integrates gradients over its
        components' gates (:func:`~genrelens.explain.gradients.gated_waveform_model`:
        component scores, not a dense map), ``"gradcam"`` is refused.
    logmel : array or tensor, shape (n_mels, n_frames), (1, n_mels, n_frames) or
        (1, 1, n_mels, n_frames); for a WaveformModel, shape (n_samples,)
        The input in dB. For stem components it must be the log-mel of the waveform the
        stems were computed from; the explained input is the log-mel of the sum of the parts.
        For a WaveformModel: the waveform at its ``sample_rate``; ``exp.logmel`` is then the
        log-mel of its ``feature_config``, for pictures, and ``params["input"]`` is
        ``"waveform"``.
    method : {"kernel_shap", "lime", "hybrid", "occlusion", "gradcam", "ig"} or Explainer
        A name of :data:`genrelens.explain.registry.METHODS`, or an explainer object of
        :mod:`genrelens.explain.explainers` holding its settings (``KernelShap(n_samples=500)``;
        then no setting is given here). Each method uses only some of
        the settings ``n_samples``, ``sampling``, ``tol``, ``round_size``, ``kernel_width``,
        ``distance`` and ``alpha`` (:attr:`registry.Method.settings
        <genrelens.explain.registry.Method.settings>`): giving one it does not use (e.g.
        ``n_samples`` for ``"gradcam"`` or ``"occlusion"``) raises :class:`ParameterError`.
    components : Components, optional
        Default ``components.tf_grid(n_time=10, n_freq=8)`` for the input's shape (fewer when
        the input is smaller).
    fill : str, number, array, Fill or None
        What "off" means (see :mod:`genrelens.explain.fill`); for IG, the baseline. None:
        :data:`~genrelens.explain.fill.DEFAULT_FILL`, chosen on real music (``"remove"`` for
        stems).
    n_samples : int, optional
        Budget of coalitions (rows of the sample matrix) for LIME, KernelSHAP and the hybrid
        (default 1000), counting the all-on (and, for KernelSHAP, all-off) rows. Model
        evaluations are at most this (duplicates run once). Occlusion (``M + 1`` evaluations)
        and the gradient methods do not take it.
    random_state : int, Generator or None, default 0
        Seed of the one generator used for sampling and the ``"noise"`` fill (``"texture"``
        has its own fixed seed: the same input gets the same fill whatever this seed).
    output : {"probabilities", "logits", "raw"}, default "probabilities"
        What the scores explain; ``exp.prediction`` is always the probabilities (``"raw"``:
        the raw outputs).
    class_names : sequence of str, optional
    config : FeatureConfig, optional
        For seconds/Hz of default components and the "min" fill's floor; default the
        components' config, else ``FeatureConfig(n_mels=n_mels)``.
    batch_size : int or "auto"
        Engine batch size (``"auto"`` measures throughput, see the engine).
    fast : bool, default True
        Run perturbations on the inference copy of an ``nn.Module`` (batch norm folded).
    progress : bool
        Progress bar on stderr.
    kernel_width, distance, alpha
        LIME kernel width (default ``0.25 sqrt(M)`` for L2, ``0.25`` for cosine), distance
        (``"l2"`` or ``"cosine"``, default ``"l2"``) and ridge penalty (default 1.0); LIME and
        the hybrid only.
    sampling : {"uniform", "shapley", "mixture", "leverage"}, optional
        The sample design: LIME's (``"uniform"``, LIME's default), the Shapley kernel's
        (``"shapley"``, KernelSHAP's default), the hybrid's (``"mixture"``, allowed for LIME
        and KernelSHAP, the hybrid's only design; see :mod:`genrelens.explain.hybrid`) or the
        leverage-score design (``"leverage"``, every coalition size alike; KernelSHAP only,
        see :mod:`genrelens.explain.shap`).
    tol : float, optional
        Stop sampling in rounds once the scores are stable to ``tol`` (see module docstring).
    round_size : int, optional
        Samples per round when ``tol`` is set.
    **method_kwargs
        Extra settings of Grad-CAM / IG (e.g. ``layer=``, ``n_steps=``; the fields of
        :class:`~genrelens.explain.explainers.GradCam` and
        :class:`~genrelens.explain.explainers.IntegratedGradients`).

    Returns
    -------
    Explanation

    Examples
    --------
    >>> from genrelens.explain import explain, components
    >>> exp = explain(model, logmel, method="kernel_shap",
    ...               components=components.tf_grid(n_mels=128, n_frames=130),
    ...               n_samples=1000, random_state=0)  # doctest: +SKIP
    >>> exp.top(3)  # doctest: +SKIP
    >>> from genrelens.explain import KernelShap
    >>> exp = explain(model, logmel, method=KernelShap(n_samples=1000))  # doctest: +SKIP
    """
    start = time.perf_counter()
    explainer = make_explainer(
        method, {"n_samples": n_samples, "sampling": sampling, "tol": tol,
                 "round_size": round_size, "kernel_width": kernel_width, "distance": distance,
                 "alpha": alpha}, method_kwargs)
    check_choice("output", output, OUTPUTS)
    model, class_names, config = unwrap_loaded(model, class_names=class_names, config=config)
    waveform = None
    if isinstance(model, WaveformModel):
        waveform, x, config = _waveform_input(model, logmel, explainer=explainer, config=config,
                                              components=components)
    else:
        x = valid_logmel(logmel).astype(np.float32)
    if components is not None and not isinstance(components, Components):
        raise ParameterError(
            f"components={type(components).__name__} is invalid: expected a Components object "
            "from genrelens.explain.components (tf_grid, time_segments, ...)."
        )
    if config is None:
        config = components.config if components is not None else FeatureConfig(n_mels=x.shape[0])

    if isinstance(explainer, GradCam):
        return explainer.explain(model, x, output=output, config=config, class_names=class_names)
    if isinstance(explainer, IntegratedGradients) and waveform is None:
        return explainer.explain(model, x, fill=fill, config=config, output=output,
                                 random_state=random_state, class_names=class_names,
                                 batch_size=batch_size)
    if components is None:
        components = components_mod.tf_grid(
            n_mels=x.shape[0], n_frames=x.shape[1], n_time=min(10, x.shape[1]),
            n_freq=min(8, x.shape[0]), config=config,
        )
    if tuple(components.shape) != x.shape:
        raise ParameterError(
            f"components were built for shape {tuple(components.shape)} but logmel has shape "
            f"{x.shape}: build them with n_mels={x.shape[0]}, n_frames={x.shape[1]}."
        )
    rng = check_random_state(random_state)
    if waveform is not None and components.stems is None:
        fill_obj = resolve_stft_fill(fill, stft(waveform, config=components.config),
                                     config=components.config, rng=rng)
    else:
        fill_obj = resolve_fill(fill, x, config=components.config, rng=rng,
                                stems=components.stems is not None)
    m = components.n_components
    if isinstance(explainer, IntegratedGradients):  # a waveform model: over the gates
        assert waveform is not None and isinstance(model, WaveformModel)
        return _gates_explanation(
            explainer, model, waveform, x, components, fill_obj, output=output,
            batch_size=batch_size, class_names=class_names, random_state=random_state,
            start=start)
    if isinstance(explainer, SampledExplainer):
        explainer.check_budget(m)

    run = inference_model(model, fast=fast)
    ledger = _Ledger(batch_size=batch_size)

    def evaluate(z: np.ndarray) -> np.ndarray:
        res = evaluate_masks(run, x if waveform is None else waveform, components, z,
                             fill=fill_obj, batch_size=ledger.batch_size, output=output,
                             progress=progress, fast=False)
        ledger.n_evaluations += res.n_evaluations
        ledger.model_seconds += res.seconds
        ledger.batch_size = res.batch_size
        return res.outputs

    params: dict[str, Any] = {
        "method": explainer.name, "n_samples": getattr(explainer, "n_samples", m + 1),
        "random_state": _seed_record(random_state),
        "output": output, "fill": fill_obj.describe(), "batch_size": batch_size, "fast": fast,
        "n_components": m,
    }
    if waveform is not None:
        params.update(input="waveform", sample_rate=config.sr)
    others: dict[str, np.ndarray] = {}
    if not isinstance(explainer, SampledExplainer):  # occlusion: the one that does not sample
        z = occlusion.occlusion_design(m)
        y = evaluate(z)
        scores = occlusion.occlusion_scores(y)
        f_full = y[0]
        fit: dict[str, Any] = {"full_value": f_full}
    else:
        sampler, design = explainer.sampler(m, rng)
        n_samples, tol = explainer.n_samples, explainer.tol
        z, y, fitted, rounds = _sample_in_rounds(
            sampler, explainer.fitter(m), evaluate, design=design, n_samples=n_samples,
            round_size=(n_samples if tol is None or design == "enumeration"
                        else explainer.round_size_for(m)),
            tol=tol,
        )
        scores, fit, others = fitted
        f_full = y[0]
        params.update(design=design, n_samples_used=int(z.shape[0]),
                      n_rounds=rounds["n_rounds"], converged=rounds["converged"],
                      max_change=rounds["max_change"], **explainer.recorded(m))
        if tol is not None:
            params["round_size"] = explainer.round_size_for(m)
    fit["off_prediction"] = _probabilities(_off_output(z, y, evaluate), output)
    prediction = _probabilities(f_full, output)
    cost = {"n_evaluations": ledger.n_evaluations, "model_seconds": ledger.model_seconds,
            "batch_size": ledger.batch_size, "seconds": time.perf_counter() - start}
    return Explanation(
        method=explainer.name, scores=scores, prediction=prediction,
        logmel=_explained_input(x, components, fill=fill_obj, waveform=waveform),
        components=components, fill=fill_obj, output=output,
        class_names=None if class_names is None else tuple(class_names), params=params,
        cost=cost, fit=fit, others=others,
    )


# ---------------------------------------------------------------------------- helpers


def unwrap_loaded(
    model: Any, *, class_names: Sequence[str] | None, config: FeatureConfig | None
) -> tuple[ModelFn, Sequence[str] | None, FeatureConfig | None]:
    """A :class:`~genrelens.models.LoadedModel`'s ``.model``, with its ``class_names`` and
    ``feature_config`` as defaults for the given ones; a
    :class:`~genrelens.models.waveform.WaveformModel` itself with its ``class_names`` and
    ``feature_config`` likewise; any other model unchanged."""
    if isinstance(model, WaveformModel):
        class_names = model.class_names if class_names is None else class_names
        return model, class_names, model.config if config is None else config
    if hasattr(model, "model") and hasattr(model, "class_names") and not callable(model):
        class_names = model.class_names if class_names is None else class_names
        config = getattr(model, "feature_config", None) if config is None else config
        model = model.model
    return model, class_names, config


@dataclasses.dataclass
class _Ledger:
    """The model evaluations of one explanation so far and the batch size they settled on."""

    batch_size: int | str
    n_evaluations: int = 0
    model_seconds: float = 0.0


def _waveform_input(
    model: WaveformModel, y: Any, *, explainer: Explainer, config: FeatureConfig | None,
    components: Components | None,
) -> tuple[np.ndarray, np.ndarray, FeatureConfig]:
    """The checked waveform of a waveform model, its log-mel (for shapes and pictures) and the
    feature configuration, which must be framed at the model's rate; Grad-CAM refused."""
    if isinstance(explainer, GradCam):
        raise ParameterError(
            "method='gradcam' needs the model's own convolution layers on a log-mel input; "
            "a WaveformModel is a black box on waveforms: use 'ig' (over its components) "
            f"or a perturbation method ({', '.join(registry.PERTURBATION)})."
        )
    waveform = model.check_waveform(y)
    config = model.config if config is None else config
    for where, rate in (("config", config.sr),
                        ("components.config", getattr(components, "config", config).sr)):
        if rate != model.sample_rate:
            raise ParameterError(
                f"{where}.sr={rate} differs from the WaveformModel's sample_rate="
                f"{model.sample_rate}: its STFT must be framed at the model's rate; build "
                "it with the model's feature_config."
            )
    return waveform, np.asarray(log_mel(waveform, config=config), dtype=np.float32), config


def _gates_explanation(
    explainer: IntegratedGradients, model: WaveformModel, waveform: np.ndarray, x: np.ndarray,
    components: Components, fill: Fill, *, output: str, batch_size: int | str,
    class_names: Sequence[str] | None, random_state: Any, start: float,
) -> Explanation:
    """IG of a waveform model over its components' gates, as an :class:`Explanation` with
    component scores (classes not in ``targets`` score 0, their completeness gap is NaN)."""
    res = explainer.explain_gates(model, waveform, components=components,
                                  fill=None if components.stems else fill, output=output,
                                  batch_size=batch_size)
    m = components.n_components
    scores = np.zeros((res.outputs.size, m))
    scores[res.targets] = res.attributions[:, 0]
    gap = np.full(res.outputs.size, np.nan)
    gap[res.targets] = res.completeness_gap
    return Explanation(
        method="ig", scores=scores, prediction=_probabilities(res.outputs, output),
        logmel=_explained_input(x, components, fill=fill, waveform=waveform),
        components=components, fill=fill, output=output,
        class_names=None if class_names is None else tuple(class_names),
        params={"method": "ig", "targets": res.targets.tolist(), "n_steps": explainer.n_steps,
                "rule": explainer.rule, "batch_size": explainer.path_batch(batch_size),
                "input": "waveform", "sample_rate": model.sample_rate,
                "random_state": _seed_record(random_state), "fill": fill.describe(),
                "n_components": m},
        cost={"n_evaluations": res.n_evaluations, "seconds": time.perf_counter() - start},
        fit={"completeness_gap": gap, "f_input": res.outputs,
             "f_baseline": res.baseline_outputs},
    )


def _seed_record(random_state: Any) -> Any:
    return random_state if random_state is None or isinstance(random_state, int) else repr(
        random_state)


def _sample_in_rounds(
    sampler: Callable[[int, bool], np.ndarray],
    fitter: Fit,
    evaluate: Callable[[np.ndarray], np.ndarray],
    *,
    design: str,
    n_samples: int,
    round_size: int,
    tol: float | None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, dict[str, Any], dict[str, Any]],
           dict[str, Any]]:
    """Sample, evaluate and refit in rounds until stable or the budget is spent."""
    zs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    used, n_rounds, converged = 0, 0, False
    change: float | None = None  # None until two rounds can be compared
    previous: np.ndarray | None = None
    fitted: tuple[np.ndarray, dict[str, Any], dict[str, Any]] | None = None
    while used < n_samples:
        z = sampler(min(round_size, n_samples - used), not zs)
        zs.append(z)
        ys.append(evaluate(z))
        used += z.shape[0]
        n_rounds += 1
        # The fits are small (n x M): one BLAS thread is fastest, and OpenBLAS threads
        # competing with torch's on a busy CPU made a 1000 x 80 lstsq take seconds.
        with threadpool_limits(limits=1, user_api="blas"):
            fitted = fitter(np.concatenate(zs), np.concatenate(ys), design)
        current = _normalised(np.concatenate([fitted[0], *fitted[2].values()], axis=1))
        if previous is not None:
            change = float(np.max(np.abs(current - previous)))
            if tol is not None and change < tol:
                converged = True
                break
        previous = current
        if design == "enumeration":
            converged = True
            break
    assert fitted is not None
    return (np.concatenate(zs), np.concatenate(ys), fitted,
            {"n_rounds": n_rounds, "converged": converged, "max_change": change})


def _off_output(z: np.ndarray, y: np.ndarray, evaluate: Callable[[np.ndarray], np.ndarray]
                ) -> np.ndarray:
    """The model's output on the all-off input: from the design when it holds that row, else
    one more evaluation (for the off-manifold check, :mod:`genrelens.evaluate.manifold`)."""
    off = np.flatnonzero(~np.asarray(z, dtype=bool).any(axis=1))
    row: np.ndarray = y[off[0]] if off.size else evaluate(np.zeros((1, z.shape[1]), z.dtype))[0]
    return row


def _normalised(scores: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(scores), axis=1, keepdims=True)
    return scores / np.where(scale > 0, scale, 1.0)


def _probabilities(f_full: np.ndarray, output: str) -> np.ndarray:
    return softmax(f_full) if output == "logits" else np.asarray(f_full, dtype=np.float64)


def _explained_input(x: np.ndarray, components: Components, *, fill: Fill | None = None,
                     waveform: np.ndarray | None = None) -> np.ndarray:
    """The log-mel of the input the explanation is about: ``x``; for stems the log-mel of the
    parts' sum; for a waveform model the log-mel of the all-on resynthesis."""
    if components.stems is None and waveform is None:
        return x
    make = mask_inputs(x, components, np.ones((1, components.n_components), np.int8), fill,
                       waveform=waveform)
    explained = make(0, 1)
    if waveform is not None:
        explained = log_mel(explained, config=components.config)
    return np.asarray(explained[0], dtype=np.float32).reshape(x.shape)
