"""Gradient explanations of one log-mel input: Grad-CAM and Integrated Gradients.

Both give a dense map of shape ``(n_targets, n_mels, n_frames)``: one map per explained class.

Grad-CAM (Selvaraju et al. 2017)
    For a convolutional layer with activations ``A`` of shape ``(K, h, w)`` and the model's
    score ``f_c`` of class ``c``, the channel weights are the spatially averaged gradients
    ``alpha_ck = mean_{ij} d f_c / d A_kij`` and the map is
    ``ReLU(sum_k alpha_ck A_k)``, upsampled bilinearly (``align_corners=False``) from
    ``(h, w)`` to ``(n_mels, n_frames)``. Values are left unnormalised (plots normalise).
    ``(h, w)`` is (mel, time) unless the model declares ``conv_layout = ("time", "mel")``
    (the musicnn ports and transfer models, whose activations are laid out as in their
    TensorFlow graphs); such maps are transposed before upsampling.

Integrated Gradients (Sundararajan et al. 2017)
    ``IG_c(x) = (x - b) * integral_0^1 d f_c / d x (b + a (x - b)) da`` for a baseline ``b``,
    the integral approximated by a quadrature rule with ``n_steps`` nodes (Gauss-Legendre by
    default, or the left / right / middle Riemann sums or the trapezoid rule). Completeness
    says ``sum IG_c = f_c(x) - f_c(b)``; the gap ``|sum IG_c - (f_c(x) - f_c(b))|`` is
    reported per class and shrinks as ``n_steps`` grows (it is exactly zero, up to rounding,
    for a linear model, where ``IG = (x - b) * w``).

Integrated Gradients of a waveform model (over component gates)
    A :class:`~genrelens.models.waveform.WaveformModel` has no log-mel input to take gradients
    on, and the gradient on its waveform samples does not say which component matters. Its
    components are given continuous gates ``g`` in ``[0, 1]^M`` instead: the input at ``g`` is
    the resynthesis of the STFT ``fill + mask(g) * (S - fill)`` (stems: ``sum_p g_p S_p``),
    the same mixing as the perturbation engine, so ``g = 1`` is the clip and ``g = 0`` the
    all-off input. IG of :func:`gated_waveform_model` integrates the gradient along the
    straight path from ``0`` to ``1``: one attribution per component, with completeness
    ``sum_j IG_j = f(clip) - f(all off)`` (the gap reported as above). It needs ``fn`` to be
    differentiable with torch (a PyTorch model); Grad-CAM, which needs the model's layers on
    a log-mel, is refused for waveform models.

Model output
    ``output="probabilities"`` (the default, as for the perturbation methods) explains
    ``softmax(logits)``; ``output="logits"`` the logits themselves (Grad-CAM's original
    choice). The choice is recorded in the explanation's parameters.

Robustness
    The model is run in eval mode (its mode is restored afterwards). The activation of the
    Grad-CAM layer is captured by a forward hook that hands a *clone* to the rest of the
    network, so a later in-place operation (``nn.ReLU(inplace=True)``, ``F.relu(...,
    inplace=True)``) cannot overwrite the captured values or their gradient. A layer called
    more than once per forward pass (a reused module) is ambiguous and raises
    :class:`~genrelens.errors.ParameterError`. Hooks are removed in ``finally`` blocks, also
    when the model raises. Parameters' ``requires_grad`` flags are not touched: gradients are
    taken with :func:`torch.autograd.grad` with respect to the input and the captured
    activation only, so no ``.grad`` attribute of the model is written.

References
----------
Selvaraju, R. R., et al. (2017). Grad-CAM: Visual explanations from deep networks via
gradient-based localization. ICCV.
Sundararajan, M., Taly, A., & Yan, Q. (2017). Axiomatic attribution for deep networks. ICML.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genrelens._validation import check_choice, check_int, check_random_state, valid_logmel
from genrelens.config import FeatureConfig
from genrelens.device import model_device, to_numpy
from genrelens.errors import ParameterError
from genrelens.explain.components import Components
from genrelens.explain.engine import OUTPUTS, ModelFn, resynthesise, stft_mixer
from genrelens.explain.explanation import Explanation
from genrelens.explain.fill import Fill, resolve_fill
from genrelens.models.inference import check_outputs
from genrelens.models.waveform import WaveformModel

__all__ = [
    "grad_cam",
    "integrated_gradients",
    "grad_cam_maps",
    "integrated_gradients_maps",
    "gated_waveform_model",
    "quadrature",
    "GradCAMResult",
    "IGResult",
    "QUADRATURE_RULES",
    "CONV_LAYOUTS",
]

#: The (height, width) layouts a model may declare for its 4-D activations as its
#: ``conv_layout`` attribute; without one, (mel, time) like the input.
CONV_LAYOUTS = (("mel", "time"), ("time", "mel"))

#: Quadrature rules for the path integral of Integrated Gradients.
QUADRATURE_RULES = ("gauss-legendre", "left", "right", "middle", "trapezoid")


def grad_cam(
    model: ModelFn,
    logmel: np.ndarray | torch.Tensor,
    *,
    layer: nn.Module | str | None = None,
    targets: int | Sequence[int] | None = None,
    output: str = "probabilities",
    config: FeatureConfig | None = None,
    class_names: Sequence[str] | None = None,
) -> Explanation:
    """Grad-CAM explanation of one log-mel input (see :func:`grad_cam_maps`).

    ``config`` (default ``FeatureConfig(n_mels=logmel.shape[0])``) is only recorded, in
    ``params["config"]``, for plots in seconds and Hz.

    Returns
    -------
    Explanation
        ``method="gradcam"``, dense ``scores`` ``(n_classes, n_mels, n_frames)`` (classes not
        in ``targets`` are 0), ``fill=None``; ``params`` records ``layer`` (its qualified
        name), ``targets`` and ``output``; ``cost`` the forward passes (one more when the
        default layer is searched) and seconds.
    """
    start = time.perf_counter()
    res = grad_cam_maps(model, logmel, layer=layer, targets=targets, output=output)
    config = FeatureConfig(n_mels=res.maps.shape[1]) if config is None else config
    scores = np.zeros((res.outputs.size, *res.maps.shape[1:]))
    scores[res.targets] = res.maps
    return Explanation(
        method="gradcam",
        scores=scores,
        prediction=_prediction(res.outputs, output),
        logmel=to_numpy(_as_input(logmel)[0, 0]),
        output=output,
        class_names=None if class_names is None else tuple(class_names),
        params={
            "layer": res.layer,
            "targets": res.targets.tolist(),
            "upsample": "bilinear",
            "coarse_shape": list(res.coarse.shape[1:]),
            "config": config.to_dict(),
        },
        cost={
            "n_evaluations": 1 + (layer is None),
            "n_backward": len(res.targets),
            "seconds": time.perf_counter() - start,
        },
    )


def integrated_gradients(
    model: ModelFn,
    logmel: np.ndarray | torch.Tensor,
    *,
    fill: str | float | np.ndarray | Fill | None = None,
    config: FeatureConfig | None = None,
    targets: int | Sequence[int] | None = None,
    output: str = "probabilities",
    n_steps: int = 64,
    rule: str = "gauss-legendre",
    batch_size: int = 32,
    random_state: int | np.random.Generator | None = 0,
    class_names: Sequence[str] | None = None,
) -> Explanation:
    """Integrated Gradients explanation of one log-mel input.

    Parameters
    ----------
    fill : str, number, array, Fill or None
        The baseline, resolved by :func:`genrelens.explain.fill.resolve_fill` exactly as the
        perturbation methods resolve "off" (None: ``DEFAULT_FILL``; ``"min"`` = silence,
        ``config.silence``; ``"mean"``, ``"clip_min"``, ``"noise"``, ``"blur"``,
        ``"band_median"``, ``"local_median"``, ``"ring_median"``, ``"texture"``, a number,
        an array, a :class:`~genrelens.explain.fill.Fill`).
    config : FeatureConfig, optional
        Default ``FeatureConfig(n_mels=logmel.shape[0])``.
    random_state : int, Generator or None
        Seeds the ``"noise"`` fill.
    Other parameters
        As in :func:`integrated_gradients_maps`.

    Returns
    -------
    Explanation
        ``method="ig"``, dense ``scores`` ``(n_classes, n_mels, n_frames)`` (classes not in
        ``targets`` are 0), ``fill`` the baseline; ``fit`` holds ``completeness_gap``,
        ``f_input`` and ``f_baseline`` per class (gap NaN for classes not explained).
    """
    start = time.perf_counter()
    x = to_numpy(_as_input(logmel)[0, 0])
    config = FeatureConfig(n_mels=x.shape[0]) if config is None else config
    rng = check_random_state(random_state)
    baseline = resolve_fill(fill, x, config=config, rng=rng)
    assert baseline.array is not None  # a fill for cells (not stems) has an array
    res = integrated_gradients_maps(
        model,
        x,
        baseline=baseline.array,
        targets=targets,
        output=output,
        n_steps=n_steps,
        rule=rule,
        batch_size=batch_size,
    )
    scores = np.zeros((res.outputs.size, *x.shape))
    scores[res.targets] = res.attributions
    gap = np.full(res.outputs.size, np.nan)
    gap[res.targets] = res.completeness_gap
    return Explanation(
        method="ig",
        scores=scores,
        prediction=_prediction(res.outputs, output),
        logmel=x,
        fill=baseline,
        output=output,
        class_names=None if class_names is None else tuple(class_names),
        params={
            "targets": res.targets.tolist(),
            "n_steps": n_steps,
            "rule": rule,
            "batch_size": batch_size,
            "random_state": _seed_record(random_state),
            "config": config.to_dict(),
        },
        cost={
            "n_evaluations": res.n_evaluations,
            "n_backward": len(res.targets) * -(-n_steps // batch_size),
            "seconds": time.perf_counter() - start,
        },
        fit={"completeness_gap": gap, "f_input": res.outputs, "f_baseline": res.baseline_outputs},
    )


@dataclasses.dataclass(frozen=True)
class GradCAMResult:
    """Grad-CAM maps of one input.

    Attributes
    ----------
    maps : np.ndarray, float64, shape (n_targets, n_mels, n_frames)
        Upsampled, ReLU'd maps (unnormalised).
    coarse : np.ndarray, float64, shape (n_targets, h, w)
        The maps at the layer's resolution, before upsampling, (mel, time) whatever the
        model's ``conv_layout``.
    targets : np.ndarray, int64, shape (n_targets,)
        Class indices explained.
    outputs : np.ndarray, float64, shape (n_classes,)
        The model output (``output`` kind) on the input.
    layer : str
        Qualified name of the layer used.
    """

    maps: np.ndarray
    coarse: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    layer: str


@dataclasses.dataclass(frozen=True)
class IGResult:
    """Integrated Gradients of one input.

    Attributes
    ----------
    attributions : np.ndarray, float64, shape (n_targets, n_mels, n_frames)
    targets : np.ndarray, int64, shape (n_targets,)
    outputs : np.ndarray, float64, shape (n_classes,)
        ``f(x)``.
    baseline_outputs : np.ndarray, float64, shape (n_classes,)
        ``f(b)``.
    completeness_gap : np.ndarray, float64, shape (n_targets,)
        ``|sum(attributions[i]) - (f_c(x) - f_c(b))|`` for ``c = targets[i]``.
    n_evaluations : int
        Forward passes over single inputs (``n_steps + 2``).
    """

    attributions: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    baseline_outputs: np.ndarray
    completeness_gap: np.ndarray
    n_evaluations: int


# ---------------------------------------------------------------------------- Grad-CAM


def grad_cam_maps(
    model: ModelFn,
    logmel: np.ndarray | torch.Tensor,
    *,
    layer: nn.Module | str | None = None,
    targets: int | Sequence[int] | None = None,
    output: str = "probabilities",
) -> GradCAMResult:
    """Grad-CAM maps of ``logmel`` for every target class.

    Parameters
    ----------
    model : torch.nn.Module
        ``(B, 1, n_mels, n_frames)`` -> ``(B, n_classes)`` logits.
    logmel : array-like, shape (n_mels, n_frames)
        One log-mel input in dB.
    layer : nn.Module or str, optional
        The convolutional layer (a submodule or its qualified name, e.g. ``"features.3.0"``);
        its output must have shape ``(1, K, h, w)``, ``(h, w)`` in the model's
        :data:`CONV_LAYOUTS` (attribute ``conv_layout``, default (mel, time)). Default: the
        last ``Conv2d`` *called* in the forward pass (found by a probe pass).
    targets : int or sequence of int, optional
        Classes to explain; default all.
    output : {"probabilities", "logits", "raw"}
        What ``f_c`` is (``"raw"``: the model's output as is, the logits).

    Returns
    -------
    GradCAMResult
    """
    check_choice("output", output, OUTPUTS)
    net = _check_module(model, method="gradcam")
    with _gradients_on(), _eval_mode(net):
        x = _as_input(logmel, net)
        name, module = _resolve_layer(net, layer, x)
        captured: list[torch.Tensor] = []

        def hook(_module: nn.Module, _inputs: object, out: object) -> torch.Tensor:
            if not isinstance(out, torch.Tensor) or out.ndim != 4:
                raise ParameterError(
                    f"layer={name!r} returns {_describe(out)}: Grad-CAM needs a 4-D activation "
                    "(batch, channels, height, width); choose a convolutional layer."
                )
            captured.append(out)
            return out.clone()  # later in-place ops edit the clone, not the captured tensor

        with _hooked(module, hook):
            scores = _scores(net, x.requires_grad_(True), output)[0]
        if len(captured) != 1:
            raise ParameterError(
                f"layer={name!r} is called {len(captured)} times in one forward pass: Grad-CAM "
                "needs one activation; choose a layer that is called once (e.g. a specific "
                "Conv2d, not a shared activation module)."
            )
        activation = captured[0]
        target_idx = _resolve_targets(targets, scores.shape[0])
        coarse = []
        for c in target_idx:
            grad = _grad(scores[c], activation, retain=True)
            weights = grad[0].mean(dim=(1, 2))  # (K,)
            coarse.append(torch.relu(torch.einsum("k,khw->hw", weights, activation[0].detach())))
    coarse_t = torch.stack(coarse).double()
    if _conv_layout(net) == ("time", "mel"):
        coarse_t = coarse_t.transpose(1, 2)
    maps = F.interpolate(
        coarse_t[:, None], size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False
    )
    return GradCAMResult(
        maps=to_numpy(maps[:, 0]),
        coarse=to_numpy(coarse_t),
        targets=target_idx,
        outputs=to_numpy(scores, torch.float64),
        layer=name,
    )


# ---------------------------------------------------------------------------- Integrated Gradients


def integrated_gradients_maps(
    model: ModelFn,
    logmel: np.ndarray | torch.Tensor,
    *,
    baseline: np.ndarray | torch.Tensor,
    targets: int | Sequence[int] | None = None,
    output: str = "probabilities",
    n_steps: int = 64,
    rule: str = "gauss-legendre",
    batch_size: int = 32,
) -> IGResult:
    """Integrated Gradients of ``logmel`` against ``baseline`` for every target class.

    Parameters
    ----------
    model : torch.nn.Module
        ``(B, 1, n_mels, n_frames)`` -> ``(B, n_classes)`` logits.
    logmel : array-like, shape (n_mels, n_frames)
    baseline : array-like, shape (n_mels, n_frames) or scalar
        The reference input ``b`` (see :func:`genrelens.explain.engine` fills).
    targets : int or sequence of int, optional
        Classes to explain; default all.
    output : {"probabilities", "logits", "raw"}
    n_steps : int, default 64
        Quadrature nodes on the straight path from ``b`` to ``x``.
    rule : str, default "gauss-legendre"
        One of :data:`QUADRATURE_RULES`.
    batch_size : int, default 32
        Path points per forward/backward pass.

    Returns
    -------
    IGResult
    """
    check_choice("output", output, OUTPUTS)
    net = _check_module(model, method="ig")
    check_int("n_steps", n_steps, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    alphas, weights = quadrature(n_steps, rule=rule)
    with _gradients_on(), _eval_mode(net):
        x = _as_input(logmel, net)
        base = np.asarray(baseline, dtype=np.float32)
        if base.shape not in ((), tuple(x.shape[-2:])):
            raise ParameterError(
                f"baseline has shape {base.shape}: expected a scalar or the input's shape "
                f"{tuple(x.shape[-2:])} (n_mels, n_frames)."
            )
        b = _as_input(np.broadcast_to(base, x.shape[-2:]), net)
        delta = x - b
        with torch.no_grad():
            ends = _scores(net, torch.cat([x, b]), output).double()
        target_idx = _resolve_targets(targets, ends.shape[1])
        total = torch.zeros((len(target_idx), *x.shape[-2:]), dtype=torch.float64,
                            device=x.device)
        for start in range(0, n_steps, batch_size):
            a = torch.as_tensor(alphas[start : start + batch_size], dtype=torch.float32,
                                device=x.device)
            w = torch.as_tensor(weights[start : start + batch_size], dtype=torch.float64,
                                device=x.device)
            path = (b + a[:, None, None, None] * delta).requires_grad_(True)
            scores = _scores(net, path, output)
            for i, c in enumerate(target_idx):
                grad = _grad(scores[:, c].sum(), path, retain=i + 1 < len(target_idx))
                total[i] += torch.einsum("n,nhw->hw", w, grad[:, 0].double())
    attributions = to_numpy(delta[0].double() * total)
    f_x, f_b = to_numpy(ends[0]), to_numpy(ends[1])
    gap = np.abs(attributions.sum(axis=(1, 2)) - (f_x[target_idx] - f_b[target_idx]))
    return IGResult(
        attributions=attributions,
        targets=target_idx,
        outputs=f_x,
        baseline_outputs=f_b,
        completeness_gap=gap,
        n_evaluations=n_steps + 2,
    )


class _GatedWaveforms(nn.Module):
    """A waveform model as a function of its components' gates ``(B, 1, 1, M)`` -> scores."""

    def __init__(self, model: WaveformModel, mix: Callable[[torch.Tensor], torch.Tensor], *,
                 length: int) -> None:
        super().__init__()
        self.waveform_model = model
        if isinstance(model.fn, nn.Module):  # its weights: the device, and eval mode
            self.fn = model.fn
        self.mix = mix
        self.length = length

    def forward(self, gates: torch.Tensor) -> torch.Tensor:
        spec = self.mix(gates[:, 0, 0, :])
        waveforms = resynthesise(spec, config=self.waveform_model.config, length=self.length)
        out: torch.Tensor = self.waveform_model(waveforms)
        if gates.requires_grad and torch.is_grad_enabled() and not out.requires_grad:
            raise ParameterError(
                "the WaveformModel's function returned outputs without a gradient (numpy, or "
                "computed under no_grad): method='ig' needs a function differentiable with "
                "torch; explain it with a perturbation method (lime, kernel_shap, hybrid, "
                "occlusion)."
            )
        return out


def gated_waveform_model(model: WaveformModel, waveform: np.ndarray, *,
                         components: Components, fill: Fill | None) -> nn.Module:
    """A waveform model as a function of its components' gates, for Integrated Gradients
    (module docstring): input ``(B, 1, 1, n_components)`` gates, output ``(B, n_classes)``.

    :func:`integrated_gradients_maps` of it at gates ``1`` with baseline ``0`` gives one
    attribution per component (``(n_targets, 1, n_components)``).

    Parameters
    ----------
    model : WaveformModel
        Its function must be differentiable with torch.
    waveform : np.ndarray, shape (n_samples,)
    components : Components
        Built with ``model.feature_config``.
    fill : Fill or None
        For cell components the fill of :func:`~genrelens.explain.fill.resolve_stft_fill`
        (the all-off end of the path); None for stems (off = removed).
    """
    mix = stft_mixer(components, fill, device=model.device, waveform=waveform)
    return _GatedWaveforms(model, mix, length=int(np.shape(waveform)[-1]))


def quadrature(n_steps: int, *, rule: str = "gauss-legendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes in ``[0, 1]`` and weights (summing to 1) of a quadrature rule.

    Parameters
    ----------
    n_steps : int
        Number of nodes (``>= 2`` for ``"trapezoid"``).
    rule : str
        One of :data:`QUADRATURE_RULES`.

    Returns
    -------
    alphas, weights : np.ndarray, float64, shape (n_steps,)
    """
    check_int("n_steps", n_steps, minimum=1)
    i = np.arange(n_steps, dtype=np.float64)
    uniform = np.full(n_steps, 1.0 / n_steps)
    if rule == "gauss-legendre":
        nodes, w = np.polynomial.legendre.leggauss(n_steps)
        return (nodes + 1.0) / 2.0, w / 2.0
    if rule == "left":
        return i / n_steps, uniform
    if rule == "right":
        return (i + 1.0) / n_steps, uniform
    if rule == "middle":
        return (i + 0.5) / n_steps, uniform
    if rule == "trapezoid":
        if n_steps < 2:
            raise ParameterError(
                f"n_steps={n_steps} is invalid for rule='trapezoid': expected >= 2."
            )
        w = np.full(n_steps, 1.0 / (n_steps - 1))
        w[[0, -1]] /= 2.0
        return i / (n_steps - 1), w
    raise ParameterError(f"rule={rule!r} is invalid: expected one of {QUADRATURE_RULES}.")


# ---------------------------------------------------------------------------- helpers


def _prediction(outputs: np.ndarray, output: str) -> np.ndarray:
    """Class probabilities from outputs of kind ``output`` (raw outputs stay raw)."""
    if output == "logits":
        return torch.softmax(torch.as_tensor(outputs), dim=-1).numpy()
    return outputs


def _seed_record(random_state: int | np.random.Generator | None) -> int | str | None:
    return random_state if not isinstance(random_state, np.random.Generator) else "Generator"


def _check_module(model: object, *, method: str) -> nn.Module:
    """``model`` if it is an ``nn.Module``, else a :class:`ParameterError`."""
    if not isinstance(model, nn.Module):
        raise ParameterError(
            f"model is {_describe(model)}: method={method!r} needs a torch.nn.Module (it runs "
            "backward passes through the model's layers); wrap the function in an nn.Module, or "
            "explain it with a perturbation method (lime, kernel_shap, hybrid, occlusion)."
        )
    return model


def _conv_layout(model: nn.Module) -> tuple[str, str]:
    """The model's ``conv_layout`` (default (mel, time)), checked against :data:`CONV_LAYOUTS`."""
    layout = getattr(model, "conv_layout", CONV_LAYOUTS[0])
    if tuple(layout) not in CONV_LAYOUTS:
        raise ParameterError(
            f"the model's conv_layout={layout!r} is invalid: expected one of "
            f"{list(CONV_LAYOUTS)} (the (height, width) of its convolutions' maps)."
        )
    return CONV_LAYOUTS[CONV_LAYOUTS.index(tuple(layout))]


def _as_input(logmel: np.ndarray | torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
    """The model's input ``(1, 1, n_mels, n_frames)``, float32, a copy on the model's device
    (the CPU without a model; see :func:`~genrelens._validation.valid_logmel`)."""
    x = torch.from_numpy(valid_logmel(logmel).astype(np.float32))[None, None]
    return x.to(device=model_device(model))


def _scores(model: nn.Module, x: torch.Tensor, output: str) -> torch.Tensor:
    logits = check_outputs(model(x), n_inputs=x.shape[0])
    return torch.softmax(logits, dim=-1) if output == "probabilities" else logits  # logits, raw


def _grad(score: torch.Tensor, wrt: torch.Tensor, *, retain: bool) -> torch.Tensor:
    """``d score / d wrt``; zeros when ``score`` does not depend on ``wrt``."""
    if not score.requires_grad:
        return torch.zeros_like(wrt)
    (grad,) = torch.autograd.grad(score, wrt, retain_graph=retain, allow_unused=True)
    return torch.zeros_like(wrt) if grad is None else grad


def _resolve_targets(targets: int | Sequence[int] | None, n_classes: int) -> np.ndarray:
    if targets is None:
        return np.arange(n_classes, dtype=np.int64)
    idx = np.atleast_1d(np.asarray(targets))
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ParameterError(f"targets={targets!r} is invalid: expected class indices (integers).")
    if idx.min() < 0 or idx.max() >= n_classes:
        raise ParameterError(
            f"targets={targets!r} is invalid: the model has {n_classes} classes "
            f"(0..{n_classes - 1})."
        )
    return idx.astype(np.int64)


def _resolve_layer(
    model: nn.Module, layer: nn.Module | str | None, x: torch.Tensor
) -> tuple[str, nn.Module]:
    names = {id(m): n for n, m in model.named_modules()}
    if isinstance(layer, str):
        try:
            return layer, model.get_submodule(layer)
        except AttributeError:
            raise ParameterError(
                f"layer={layer!r} is not a submodule of the model: expected one of "
                f"{[n for n in names.values() if n][:20]}."
            ) from None
    if isinstance(layer, nn.Module):
        if id(layer) not in names:
            raise ParameterError(
                f"layer={type(layer).__name__}(...) is not a submodule of the model."
            )
        return names[id(layer)], layer
    if layer is not None:
        raise ParameterError(f"layer={layer!r} is invalid: expected a module, its name, or None.")
    called: list[str] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, _o, n=n: called.append(n))
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    if not called:
        raise ParameterError("the model calls no Conv2d layer: pass layer= (a module or its name).")
    return called[-1], model.get_submodule(called[-1])


@contextlib.contextmanager
def _hooked(module: nn.Module, hook: Callable[[nn.Module, Any, Any], torch.Tensor | None]) -> Iterator[None]:
    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def _gradients_on() -> Iterator[None]:
    """Autograd on, even when the caller runs under ``torch.inference_mode`` or ``no_grad``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _describe(obj: object) -> str:
    if isinstance(obj, torch.Tensor):
        return f"a tensor of shape {tuple(obj.shape)}"
    return f"a {type(obj).__name__}"
