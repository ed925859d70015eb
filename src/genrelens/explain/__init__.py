"""Local explanations of one log-mel input.

>>> from genrelens.explain import explain, components
>>> exp = explain(model, logmel, method="kernel_shap",
...               components=components.tf_grid(n_mels=128, n_frames=130, n_time=10, n_freq=8),
...               n_samples=1000, random_state=0)  # doctest: +SKIP

Modules: :mod:`~genrelens.explain.components` (what is explained), :mod:`~.fill` (what "off"
means), :mod:`~.engine` (the batched forward passes of every perturbation method),
:mod:`~.lime`, :mod:`~.shap`, :mod:`~.occlusion` (perturbation explainers as pure fits),
:mod:`~.hybrid` (the one sample design LIME and KernelSHAP share in the hybrid method),
:mod:`~.gradients` (Grad-CAM, Integrated Gradients), :mod:`~.explanation` (the result object),
:mod:`~.registry` (the one vocabulary of method and component-kind names),
:mod:`~.explainers` (each method's settings, sample design and fit as a small object) and
:mod:`~.api` (:func:`explain`).
"""

from genrelens.explain import components, registry
from genrelens.explain.api import explain
from genrelens.explain.components import Components
from genrelens.explain.engine import EngineResult, evaluate, evaluate_masks
from genrelens.explain.explainers import (
    Explainer,
    GradCam,
    Hybrid,
    IntegratedGradients,
    KernelShap,
    Lime,
    Occlusion,
)
from genrelens.explain.explanation import Explanation
from genrelens.explain.fill import Fill
from genrelens.explain.registry import METHODS

__all__ = [
    "explain",
    "components",
    "registry",
    "Components",
    "Explanation",
    "Fill",
    "EngineResult",
    "evaluate",
    "evaluate_masks",
    "METHODS",
    "Explainer",
    "Lime",
    "KernelShap",
    "Hybrid",
    "Occlusion",
    "GradCam",
    "IntegratedGradients",
]
