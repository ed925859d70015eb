"""Explainers as small objects: each method's settings, checked when it is made, its sample
design and its fit.

:func:`genrelens.explain.explain` takes one of these
(``explain(model, x, method=KernelShap(n_samples=500), components=...)``) or a method name with
keyword settings (``method="kernel_shap", n_samples=500``), which makes the same object. Either
way a setting the method does not use is refused, and a bad value is reported before any model
evaluation. As in captum's attribution classes (Kokhlikyan et al. 2020), one object per method;
unlike them, an explainer holds no model and no state of a call: it is frozen, and the same
object explains any number of inputs.

Sampled methods (:class:`Lime`, :class:`KernelShap`, :class:`Hybrid`) own their sample design
(:meth:`sampler`) and their fit (:meth:`fitter`), pure functions of :mod:`~genrelens.explain.lime`,
:mod:`~genrelens.explain.shap` and :mod:`~genrelens.explain.hybrid`; :class:`Occlusion` has no
settings; the gradient methods (:class:`GradCam`, :class:`IntegratedGradients`) run
:mod:`~genrelens.explain.gradients` themselves.

References
----------
Kokhlikyan, N. et al. (2020). Captum: a unified and generic model interpretability library for
PyTorch. arXiv:2009.07896.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from genrelens._validation import check_int
from genrelens.errors import ParameterError
from genrelens.explain import hybrid, lime, registry, shap

if TYPE_CHECKING:
    from torch import nn

    from genrelens.explain.components import Components
    from genrelens.explain.engine import ModelFn
    from genrelens.explain.explanation import Explanation
    from genrelens.explain.fill import Fill
    from genrelens.explain.gradients import IGResult
    from genrelens.models.waveform import WaveformModel

__all__ = [
    "Explainer", "SampledExplainer", "WeightedExplainer", "Lime", "KernelShap", "Hybrid", "Occlusion", "GradCam", "IntegratedGradients",
    "EXPLAINERS", "make_explainer",
]

#: ``fit(z, y, design) -> (scores, fit, others)`` of a sampled explainer.
Fit = Callable[[np.ndarray, np.ndarray, str], tuple[np.ndarray, dict[str, Any], dict[str, Any]]]
#: ``sample(n, first) -> z`` of a sampled explainer.
Sample = Callable[[int, bool], np.ndarray]
#: ``estimate(z, y, design) -> (scores, fit)`` of one estimator (KernelSHAP's, LIME's).
Estimator = Callable[[np.ndarray, np.ndarray, str], tuple[np.ndarray, dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Explainer:
    """Base of the explainers: ``name`` is the method's name in :mod:`~.registry`."""

    name: ClassVar[str] = ""

    @property
    def info(self) -> registry.Method:
        """The method's facts (:class:`~genrelens.explain.registry.Method`)."""
        return registry.method(self.name)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SampledExplainer(Explainer):
    """Settings of every sampled method (see :func:`genrelens.explain.explain`)."""

    n_samples: int = 1000
    sampling: str | None = None
    tol: float | None = None
    round_size: int | None = None

    def __post_init__(self) -> None:
        check_int("n_samples", self.n_samples)
        allowed = self.info.samplings
        if self.sampling is None:
            object.__setattr__(self, "sampling", allowed[0])
        elif self.sampling not in allowed:
            raise ParameterError(
                f"sampling={self.sampling!r} is invalid for method={self.name!r}: expected one "
                f"of {list(allowed)}."
            )
        if self.tol is not None and (isinstance(self.tol, bool) or not isinstance(
                self.tol, (int, float)) or not self.tol > 0):
            raise ParameterError(f"tol={self.tol!r} is invalid: expected a positive number or None.")
        if self.round_size is not None:
            check_int("round_size", self.round_size, minimum=2)

    def check_budget(self, m: int) -> None:
        """Refuse an ``n_samples`` too small for ``m`` components (before any evaluation)."""
        needed = m + 1 if self.sampling == "uniform" else m + 2  # uniform: no all-off row forced
        if m == 1:
            needed = 2
        if self.n_samples < needed:
            raise ParameterError(
                f"n_samples={self.n_samples} is too small for {m} components with "
                f"method={self.name!r}: expected at least {needed} (more is better; 2^M = "
                f"{2**min(m, 62)} enumerates all coalitions when M is small)."
            )

    def sampler(self, m: int, rng: np.random.Generator) -> tuple[Sample, str]:
        """``sample(n, first) -> z`` for ``m`` components, and the design's name
        (``"uniform"``, ``"enumeration"``, ``"mixture"``, ``"leverage"`` or ``"sampled"``)."""
        if self.sampling == "uniform":
            def uniform(n: int, first: bool) -> np.ndarray:
                z = lime.sample_uniform(rng, n, m)
                if not first and n:
                    z[0] = rng.integers(0, 2, size=m)
                return z

            return uniform, "uniform"
        if m == 1 or (m <= shap.MAX_ENUMERATION and self.n_samples >= 2**m):
            return (lambda n, first: shap.all_coalitions(m)), "enumeration"
        if self.sampling == "mixture":
            return (lambda n, first: hybrid.sample_mixture(rng, n, m, constraints=first)), "mixture"
        if self.sampling == "leverage":
            r = shap.leverage_size_probabilities(m)
            return (lambda n, first: shap.sample_paired(rng, n, m, size_probabilities=r,
                                                        constraints=first)), "leverage"
        return (lambda n, first: shap.sample_shapley(rng, n, m, constraints=first)), "sampled"

    def round_size_for(self, m: int) -> int:
        """Samples per round when ``tol`` is set: ``round_size`` or ``max(2 (m + 1),
        n_samples // 10)``."""
        return self.round_size or max(2 * (m + 1), self.n_samples // 10)

    def fitter(self, m: int) -> Fit:
        """``fit(z, y, design) -> (scores, fit, others)`` for all classes, with the estimators
        of :attr:`registry.Method.fits <genrelens.explain.registry.Method.fits>`: the first
        gives ``scores``; two give ``others`` and their agreement."""
        estimators = self._estimators(m)
        fits = self.info.fits

        def fit(z: np.ndarray, y: np.ndarray,
                design: str) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
            fitted = {name: estimators[name](z, y, design) for name in fits}
            scores = fitted[fits[0]][0]
            if len(fits) == 1:
                return scores, fitted[fits[0]][1], {}
            info = {k: v for _, extra in reversed(fitted.values()) for k, v in extra.items()}
            info["agreement"] = hybrid.spearman(*(s for s, _ in fitted.values()))
            return scores, info, {name: s for name, (s, _) in fitted.items()}

        return fit

    def recorded(self, m: int) -> dict[str, Any]:
        """The settings recorded in ``Explanation.params`` (beside the design's outcome)."""
        return {"sampling": self.sampling, "tol": self.tol}

    def _estimators(self, m: int) -> dict[str, Estimator]:
        return {"kernel_shap": _fit_shap}


@dataclasses.dataclass(frozen=True, kw_only=True)
class WeightedExplainer(SampledExplainer):
    """The sampled methods that fit LIME: its kernel and ridge penalty."""

    kernel_width: float | None = None
    distance: str = "l2"
    alpha: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        # distance and width checked now, before any evaluation
        lime.lime_weights(np.ones((1, 1)), distance=self.distance, kernel_width=self.kernel_width)

    def width(self, m: int) -> float:
        """The kernel width for ``m`` components (default ``0.25 sqrt(M)`` for L2, ``0.25``
        for cosine)."""
        return (lime.default_kernel_width(m, self.distance) if self.kernel_width is None
                else float(self.kernel_width))

    def recorded(self, m: int) -> dict[str, Any]:
        return {**super().recorded(m), "distance": self.distance, "kernel_width": self.width(m),
                "alpha": self.alpha}

    def _estimators(self, m: int) -> dict[str, Estimator]:
        width = self.width(m)

        def fit_lime(z: np.ndarray, y: np.ndarray,
                     design: str) -> tuple[np.ndarray, dict[str, Any]]:
            # enumeration: every coalition once, as likely as under LIME's uniform design
            weigh = hybrid.lime_weights if design == "mixture" else lime.lime_weights
            w = weigh(z, distance=self.distance, kernel_width=width)
            res = lime.fit_lime(z, y, weights=w, alpha=self.alpha)
            return res.scores, {"r2": res.r2, "intercept": res.intercept,
                                "local_prediction": res.local_prediction, "full_value": y[0]}

        return {**super()._estimators(m), "lime": fit_lime}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Lime(WeightedExplainer):
    """LIME (Ribeiro, Singh & Guestrin 2016): uniform samples (or the hybrid's mixture,
    ``sampling="mixture"``), a kernel on the distance to the input, a ridge fit."""

    name: ClassVar[str] = "lime"


@dataclasses.dataclass(frozen=True, kw_only=True)
class KernelShap(SampledExplainer):
    """KernelSHAP (Lundberg & Lee 2017): exact Shapley values by enumeration when
    ``n_samples >= 2^M``, else paired Shapley-kernel samples (or the mixture, or the leverage
    design); the efficiency
    constraint holds exactly."""

    name: ClassVar[str] = "kernel_shap"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Hybrid(WeightedExplainer):
    """LIME and KernelSHAP fitted on the same evaluations of one mixture design
    (:mod:`genrelens.explain.hybrid`)."""

    name: ClassVar[str] = "hybrid"


@dataclasses.dataclass(frozen=True)
class Occlusion(Explainer):
    """One component off at a time (Zeiler & Fergus 2014): ``M + 1`` evaluations, no
    settings."""

    name: ClassVar[str] = "occlusion"


@dataclasses.dataclass(frozen=True, kw_only=True)
class GradCam(Explainer):
    """Grad-CAM (Selvaraju et al. 2017) at ``layer`` (default: the last 4-D activation) for
    ``targets`` (default all classes); see :func:`genrelens.explain.gradients.grad_cam`."""

    name: ClassVar[str] = "gradcam"
    layer: nn.Module | str | None = None
    targets: int | Sequence[int] | None = None

    def explain(self, model: ModelFn, x: np.ndarray, **common: Any) -> Explanation:
        """The explanation of ``x`` (``common``: output, config, class_names)."""
        from genrelens.explain import gradients

        return gradients.grad_cam(model, x, layer=self.layer, targets=self.targets, **common)


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntegratedGradients(Explainer):
    """Integrated Gradients (Sundararajan, Taly & Yan 2017) from the fill as baseline, with
    ``n_steps`` quadrature points of ``rule``; see
    :func:`genrelens.explain.gradients.integrated_gradients`. ``batch_size`` None: the engine
    batch size given to :func:`~genrelens.explain.explain` when it is an integer, else 32."""

    name: ClassVar[str] = "ig"
    n_steps: int = 64
    rule: str = "gauss-legendre"
    targets: int | Sequence[int] | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        check_int("n_steps", self.n_steps, minimum=1)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)

    def explain(self, model: ModelFn, x: np.ndarray, *, batch_size: int | str,
                **common: Any) -> Explanation:
        """The explanation of ``x`` (``common``: fill, output, config, random_state,
        class_names); ``batch_size`` the engine's."""
        from genrelens.explain import gradients

        return gradients.integrated_gradients(
            model, x, n_steps=self.n_steps, rule=self.rule, targets=self.targets,
            batch_size=self.path_batch(batch_size), **common)

    def explain_gates(self, model: WaveformModel, waveform: np.ndarray, *,
                      components: Components, fill: Fill | None, output: str,
                      batch_size: int | str) -> IGResult:
        """IG of a waveform model over its components' gates, from all off (0) to the clip (1)
        (:func:`~genrelens.explain.gradients.gated_waveform_model`); attributions
        ``(n_targets, 1, n_components)``."""
        from genrelens.explain import gradients

        net = gradients.gated_waveform_model(model, waveform, components=components, fill=fill)
        m = components.n_components
        return gradients.integrated_gradients_maps(
            net, np.ones((1, m), np.float32), baseline=np.zeros((1, m), np.float32),
            targets=self.targets, output=output, n_steps=self.n_steps, rule=self.rule,
            batch_size=self.path_batch(batch_size))

    def path_batch(self, batch_size: int | str) -> int:
        """Path points per pass: :attr:`batch_size`, else the engine's ``batch_size`` when it
        is an integer, else 32."""
        if self.batch_size is not None:
            return self.batch_size
        engine_int = isinstance(batch_size, int) and not isinstance(batch_size, bool)
        return int(batch_size) if engine_int else 32


#: Method name -> explainer class, one per name of :data:`registry.METHODS`.
EXPLAINERS: Mapping[str, type[Explainer]] = {
    cls.name: cls for cls in (Lime, KernelShap, Hybrid, Occlusion, GradCam, IntegratedGradients)
}


def make_explainer(method: str | Explainer, settings: Mapping[str, Any],
                   options: Mapping[str, Any]) -> Explainer:
    """The explainer of :func:`genrelens.explain.explain`'s ``method``.

    Parameters
    ----------
    method : str or Explainer
        A name of :data:`registry.METHODS <genrelens.explain.registry.METHODS>` or an explainer.
    settings : mapping
        The settings given as keywords (None values: not given); each must be one the method
        uses (:attr:`registry.Method.settings <genrelens.explain.registry.Method.settings>`).
    options : mapping
        Further keywords: the gradient methods' own (``layer``, ``n_steps``, ...).
    """
    given = {k: v for k, v in settings.items() if v is not None}
    if isinstance(method, Explainer):
        if given or options:
            raise ParameterError(
                f"{sorted([*given, *options])} given with method={method!r}: set them in the "
                "explainer object instead."
            )
        return method
    info = registry.method(method)
    unused = [k for k in given if k not in info.settings]
    if unused:
        uses = f"it uses {', '.join(info.settings)}" if info.settings else "it has none"
        raise ParameterError(
            f"{', '.join(f'{k}={given[k]!r}' for k in unused)}: not a setting of "
            f"method={info.name!r} ({uses}); leave {'it' if len(unused) == 1 else 'them'} out."
        )
    cls = EXPLAINERS[info.name]
    fields = {f.name for f in dataclasses.fields(cls)}
    unexpected = sorted(set(options) - fields)
    if unexpected:
        raise ParameterError(f"unexpected arguments {unexpected} for method={info.name!r}.")
    return cls(**given, **options)


def _fit_shap(z: np.ndarray, y: np.ndarray, design: str) -> tuple[np.ndarray, dict[str, Any]]:
    if design == "enumeration":
        weights = shap.shapley_kernel(z)
    elif design == "mixture":
        weights = hybrid.kernel_shap_weights(z)
    elif design == "leverage":
        weights = shap.design_weights(z, shap.leverage_size_probabilities(z.shape[1]))
    else:
        weights = np.ones(z.shape[0])
    phi = shap.fit_kernel_shap(z, y, weights=weights, f_full=y[0], f_empty=y[1])
    return phi, {"base_value": y[1], "full_value": y[0]}
