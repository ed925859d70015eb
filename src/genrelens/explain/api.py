"""``explain()``: one entry point for every local explanation method.

Perturbation methods run the model only through :mod:`genrelens.explain.engine`;
``"gradcam"`` and ``"ig"`` are dispatched to :mod:`genrelens.explain.gradients`.

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

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from genrelens._validation import check_choice, check_int, check_random_state, valid_logmel
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import components as components_mod
from genrelens.explain import hybrid, lime, occlusion, registry, shap
from genrelens.explain.components import Components
from genrelens.explain.engine import (
    OUTPUTS,
    ModelFn,
    evaluate_masks,
    inference_model,
    mask_inputs,
    softmax,
)
from genrelens.explain.explanation import Explanation
from genrelens.explain.fill import resolve_fill

__all__ = ["explain", "spearman"]



def explain(
    model: ModelFn,
    logmel: np.ndarray | torch.Tensor,
    *,
    method: str,
    components: Components | None = None,
    fill: str | float | np.ndarray | None = None,
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
        ``feature_config`` used as defaults.
    logmel : array or tensor, shape (n_mels, n_frames), (1, n_mels, n_frames) or
        (1, 1, n_mels, n_frames)
        The input in dB. For stem components it must be the log-mel of the waveform the
        stems were computed from; the explained input is the log-mel of the sum of the parts.
    method : {"kernel_shap", "lime", "hybrid", "occlusion", "gradcam", "ig"}
        A name of :data:`genrelens.explain.registry.METHODS`. Each method uses only some of
        the settings ``n_samples``, ``sampling``, ``tol``, ``round_size``, ``kernel_width``,
        ``distance`` and ``alpha`` (:attr:`registry.Method.settings
        <genrelens.explain.registry.Method.settings>`): giving one it does not use (e.g.
        ``n_samples`` for ``"gradcam"`` or ``"occlusion"``) raises :class:`ParameterError`.
    components : Components, optional
        Default ``components.tf_grid(n_time=10, n_freq=8)`` for the input's shape (fewer when
        the input is smaller).
    fill : str, number, array or None
        What "off" means (see :mod:`genrelens.explain.fill`); for IG, the baseline. None:
        :data:`~genrelens.explain.fill.DEFAULT_FILL`, chosen on real music (``"remove"`` for
        stems).
    n_samples : int, optional
        Budget of coalitions (rows of the sample matrix) for LIME, KernelSHAP and the hybrid
        (default 1000), counting the all-on (and, for KernelSHAP, all-off) rows. Model
        evaluations are at most this (duplicates run once). Occlusion (``M + 1`` evaluations)
        and the gradient methods do not take it.
    random_state : int, Generator or None, default 0
        Seed of the one generator used for sampling and the noise fill.
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
    sampling : {"uniform", "shapley", "mixture"}, optional
        The sample design: LIME's (``"uniform"``, LIME's default), the Shapley kernel's
        (``"shapley"``, KernelSHAP's default) or the hybrid's (``"mixture"``, allowed for LIME
        and KernelSHAP, the hybrid's only design; see :mod:`genrelens.explain.hybrid`).
    tol : float, optional
        Stop sampling in rounds once the scores are stable to ``tol`` (see module docstring).
    round_size : int, optional
        Samples per round when ``tol`` is set.
    **method_kwargs
        Extra arguments of Grad-CAM / IG (e.g. ``layer=``, ``n_steps=``).

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
    """
    start = time.perf_counter()
    info = registry.method(method)
    given = {"n_samples": n_samples, "sampling": sampling, "tol": tol, "round_size": round_size,
             "kernel_width": kernel_width, "distance": distance, "alpha": alpha}
    _check_settings(info, {k: v for k, v in given.items() if v is not None})
    n_samples = 1000 if n_samples is None else n_samples
    distance = "l2" if distance is None else distance
    alpha = 1.0 if alpha is None else alpha
    check_choice("output", output, OUTPUTS)
    model, class_names, config = unwrap_loaded(model, class_names=class_names, config=config)
    x = valid_logmel(logmel).astype(np.float32)
    if components is not None and not isinstance(components, Components):
        raise ParameterError(
            f"components={type(components).__name__} is invalid: expected a Components object "
            "from genrelens.explain.components (tf_grid, time_segments, ...)."
        )
    if config is None:
        config = components.config if components is not None else FeatureConfig(n_mels=x.shape[0])

    if info.dense:
        return _gradient_method(method, model, x, fill=fill, config=config, output=output,
                                random_state=random_state, class_names=class_names,
                                batch_size=batch_size, **method_kwargs)
    if method_kwargs:
        raise ParameterError(
            f"unexpected arguments {sorted(method_kwargs)} for method={method!r}."
        )
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
    fill_obj = resolve_fill(fill, x, config=components.config, rng=rng,
                            stems=components.stems is not None)
    allowed = info.samplings
    if sampling is None and allowed:
        sampling = allowed[0]
    if sampling is not None and sampling not in allowed:
        raise ParameterError(
            f"sampling={sampling!r} is invalid for method={method!r}: expected "
            + (f"one of {list(allowed)}." if allowed else "None (occlusion does not sample).")
        )
    m = components.n_components
    if allowed:
        _check_budget(method, n_samples, m, sampling)
    if tol is not None and (not isinstance(tol, (int, float)) or not tol > 0):
        raise ParameterError(f"tol={tol!r} is invalid: expected a positive number or None.")
    if round_size is not None:
        check_int("round_size", round_size, minimum=2)
    if "lime" in info.fits:
        kernel_width = (lime.default_kernel_width(m, distance) if kernel_width is None
                        else kernel_width)
        # check distance and width before spending model evaluations
        lime.lime_weights(np.ones((1, m)), distance=distance, kernel_width=kernel_width)

    run = inference_model(model, fast=fast)
    ledger = {"n_evaluations": 0, "model_seconds": 0.0, "batch_size": batch_size}

    def evaluate(z: np.ndarray) -> np.ndarray:
        res = evaluate_masks(run, x, components, z, fill=fill_obj, batch_size=ledger["batch_size"],
                             output=output, progress=progress, fast=False)
        ledger["n_evaluations"] += res.n_evaluations
        ledger["model_seconds"] += res.seconds
        ledger["batch_size"] = res.batch_size
        return res.outputs

    params: dict[str, Any] = {
        "method": method, "n_samples": n_samples, "random_state": _seed_record(random_state),
        "output": output, "fill": fill_obj.describe(), "batch_size": batch_size, "fast": fast,
        "n_components": m,
    }
    others: dict[str, np.ndarray] = {}
    if not allowed:  # occlusion: the only method that does not sample
        z = occlusion.occlusion_design(m)
        y = evaluate(z)
        scores = occlusion.occlusion_scores(y)
        f_full = y[0]
        fit: dict[str, Any] = {"full_value": f_full}
        params["n_samples"] = m + 1
    else:
        fitter = _fitter(info.fits, distance=distance, kernel_width=kernel_width,
                         alpha=alpha)
        sampler, design = _sampler(sampling, m, n_samples, rng)
        if round_size is None:
            round_size = max(2 * (m + 1), n_samples // 10)
        z, y, fitted, rounds = _sample_in_rounds(
            sampler, fitter, evaluate, design=design, n_samples=n_samples,
            round_size=n_samples if tol is None or design == "enumeration" else round_size,
            tol=tol,
        )
        scores, fit, others = fitted
        f_full = y[0]
        params.update(design=design, sampling=sampling, tol=tol, n_samples_used=int(z.shape[0]),
                      n_rounds=rounds["n_rounds"], converged=rounds["converged"],
                      max_change=rounds["max_change"])
        if tol is not None:
            params["round_size"] = round_size
        if "lime" in info.fits:
            params.update(distance=distance, kernel_width=float(kernel_width), alpha=alpha)
    fit["off_prediction"] = _probabilities(_off_output(z, y, evaluate), output)
    prediction = _probabilities(f_full, output)
    cost = {"n_evaluations": ledger["n_evaluations"], "model_seconds": ledger["model_seconds"],
            "batch_size": ledger["batch_size"], "seconds": time.perf_counter() - start}
    return Explanation(
        method=method, scores=scores, prediction=prediction, logmel=_explained_input(
            x, components), components=components, fill=fill_obj, output=output,
        class_names=None if class_names is None else tuple(class_names), params=params,
        cost=cost, fit=fit, others=others,
    )


# ---------------------------------------------------------------------------- helpers


def unwrap_loaded(
    model: Any, *, class_names: Sequence[str] | None, config: FeatureConfig | None
) -> tuple[ModelFn, Sequence[str] | None, FeatureConfig | None]:
    """A :class:`~genrelens.models.LoadedModel`'s ``.model``, with its ``class_names`` and
    ``feature_config`` as defaults for the given ones; any other model unchanged."""
    if hasattr(model, "model") and hasattr(model, "class_names") and not callable(model):
        class_names = model.class_names if class_names is None else class_names
        config = getattr(model, "feature_config", None) if config is None else config
        model = model.model
    return model, class_names, config


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


def _seed_record(random_state: Any) -> Any:
    return random_state if random_state is None or isinstance(random_state, int) else repr(
        random_state)


def _check_settings(info: registry.Method, given: dict[str, Any]) -> None:
    """Refuse settings that method ``info`` does not use (they would be silently ignored)."""
    unused = [k for k in given if k not in info.settings]
    if unused:
        uses = f"it uses {', '.join(info.settings)}" if info.settings else "it has none"
        raise ParameterError(
            f"{', '.join(f'{k}={given[k]!r}' for k in unused)}: not a setting of "
            f"method={info.name!r} ({uses}); leave {'it' if len(unused) == 1 else 'them'} out."
        )


def _check_budget(method: str, n_samples: Any, m: int, sampling: str) -> None:
    check_int("n_samples", n_samples)
    needed = m + 1 if sampling == "uniform" else m + 2  # uniform: no all-off row forced
    if m == 1:
        needed = 2
    if n_samples < needed:
        raise ParameterError(
            f"n_samples={n_samples} is too small for {m} components with method={method!r}: "
            f"expected at least {needed} (more is better; 2^M = {2**min(m, 62)} enumerates "
            "all coalitions when M is small)."
        )


def _sampler(
    sampling: str, m: int, n_samples: int, rng: np.random.Generator
) -> tuple[Callable[[int, bool], np.ndarray], str]:
    """``sample(n, first) -> z`` and the design name."""
    if sampling == "uniform":
        def uniform(n: int, first: bool) -> np.ndarray:
            z = lime.sample_uniform(rng, n, m)
            if not first and n:
                z[0] = rng.integers(0, 2, size=m)
            return z

        return uniform, "uniform"
    if m == 1 or (m <= shap.MAX_ENUMERATION and n_samples >= 2**m):
        return (lambda n, first: shap.all_coalitions(m)), "enumeration"
    if sampling == "mixture":
        return (lambda n, first: hybrid.sample_mixture(rng, n, m, constraints=first)), "mixture"
    return (lambda n, first: shap.sample_shapley(rng, n, m, constraints=first)), "sampled"


def _fitter(
    fits: tuple[str, ...], *, distance: str, kernel_width: float | None, alpha: float
) -> Callable[[np.ndarray, np.ndarray, str], tuple[np.ndarray, dict, dict]]:
    """``fit(z, y, design) -> (scores, fit, others)`` for all classes, with the estimators
    ``fits`` (:attr:`registry.Method.fits`): the first gives ``scores``; two give ``others``
    and their agreement."""

    def fit_shap(z: np.ndarray, y: np.ndarray, design: str) -> tuple[np.ndarray, dict]:
        if design == "enumeration":
            weights = shap.shapley_kernel(z)
        elif design == "mixture":
            weights = hybrid.kernel_shap_weights(z)
        else:
            weights = np.ones(z.shape[0])
        phi = shap.fit_kernel_shap(z, y, weights=weights, f_full=y[0], f_empty=y[1])
        return phi, {"base_value": y[1], "full_value": y[0]}

    def fit_lime(z: np.ndarray, y: np.ndarray, design: str) -> tuple[np.ndarray, dict]:
        # enumeration: every coalition once, as likely as under LIME's uniform design
        weigh = hybrid.lime_weights if design == "mixture" else lime.lime_weights
        w = weigh(z, distance=distance, kernel_width=kernel_width)
        res = lime.fit_lime(z, y, weights=w, alpha=alpha)
        return res.scores, {"r2": res.r2, "intercept": res.intercept,
                            "local_prediction": res.local_prediction, "full_value": y[0]}

    estimators = {"kernel_shap": fit_shap, "lime": fit_lime}

    def fit(z: np.ndarray, y: np.ndarray, design: str) -> tuple[np.ndarray, dict, dict]:
        fitted = {name: estimators[name](z, y, design) for name in fits}
        scores = fitted[fits[0]][0]
        if len(fits) == 1:
            return scores, fitted[fits[0]][1], {}
        info = {k: v for _, extra in reversed(fitted.values()) for k, v in extra.items()}
        info["agreement"] = spearman(*(s for s, _ in fitted.values()))
        return scores, info, {name: s for name, (s, _) in fitted.items()}

    return fit


def _sample_in_rounds(
    sampler: Callable[[int, bool], np.ndarray],
    fitter: Callable[[np.ndarray, np.ndarray, str], tuple[np.ndarray, dict, dict]],
    evaluate: Callable[[np.ndarray], np.ndarray],
    *,
    design: str,
    n_samples: int,
    round_size: int,
    tol: float | None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, dict, dict], dict]:
    """Sample, evaluate and refit in rounds until stable or the budget is spent."""
    zs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    used, n_rounds, converged = 0, 0, False
    change: float | None = None  # None until two rounds can be compared
    previous: np.ndarray | None = None
    fitted: tuple[np.ndarray, dict, dict] | None = None
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
    return y[off[0]] if off.size else evaluate(np.zeros((1, z.shape[1]), dtype=z.dtype))[0]


def _normalised(scores: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(scores), axis=1, keepdims=True)
    return scores / np.where(scale > 0, scale, 1.0)


def _probabilities(f_full: np.ndarray, output: str) -> np.ndarray:
    return softmax(f_full) if output == "logits" else np.asarray(f_full, dtype=np.float64)


def _explained_input(x: np.ndarray, components: Components) -> np.ndarray:
    """The input the explanation is about: ``x``, or for stems the log-mel of the parts' sum."""
    if components.stems is None:
        return x
    make = mask_inputs(x, components, np.ones((1, components.n_components), np.int8), None)
    return make(0, 1)[0, 0].numpy()


def _gradient_method(method: str, model: ModelFn, x: np.ndarray, *, fill: Any,
                     config: FeatureConfig, output: str, random_state: Any,
                     class_names: Sequence[str] | None, batch_size: Any,
                     **kwargs: Any) -> Explanation:
    from genrelens.explain import gradients

    if method == "gradcam":
        return gradients.grad_cam(model, x, output=output, class_names=class_names, config=config,
                                  **kwargs)
    if isinstance(batch_size, int) and not isinstance(batch_size, bool):
        kwargs.setdefault("batch_size", batch_size)
    return gradients.integrated_gradients(
        model, x, fill=fill, config=config, output=output, random_state=random_state,
        class_names=class_names, **kwargs,
    )
