"""Explainers as objects: the same numbers as method names, settings checked when made."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers_explain import AdditiveModel, TinyCNN, logmel

from genrelens.errors import ParameterError
from genrelens.explain import GradCam, Hybrid, IntegratedGradients, KernelShap, Lime, Occlusion
from genrelens.explain import components, explain, registry
from genrelens.explain.explainers import EXPLAINERS


def grid():
    return components.tf_grid(n_mels=16, n_frames=20, n_time=4, n_freq=2)


def test_one_explainer_per_method_name():
    assert tuple(EXPLAINERS) == registry.METHODS
    for name, cls in EXPLAINERS.items():
        assert cls.name == name and cls().info is registry.method(name)


@pytest.mark.parametrize("obj, name, settings", [
    (KernelShap(n_samples=40), "kernel_shap", {"n_samples": 40}),
    (Lime(n_samples=40, alpha=0.5, distance="cosine"), "lime",
     {"n_samples": 40, "alpha": 0.5, "distance": "cosine"}),
    (Hybrid(n_samples=40, tol=0.05, round_size=20), "hybrid",
     {"n_samples": 40, "tol": 0.05, "round_size": 20}),
    (Occlusion(), "occlusion", {}),
])
def test_an_object_gives_the_numbers_of_its_name(obj, name, settings):
    model, x, c = TinyCNN(), logmel(), grid()
    a = explain(model, x, method=obj, components=c, random_state=3)
    b = explain(model, x, method=name, components=c, random_state=3, **settings)
    assert a.method == b.method == name
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.params == b.params
    # frozen, no state of a call: the same object again gives the same explanation
    np.testing.assert_array_equal(
        explain(model, x, method=obj, components=c, random_state=3).scores, a.scores)
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.name = "other"


def test_sampled_defaults_and_recorded_settings():
    assert KernelShap().sampling == "shapley" and Lime().sampling == "uniform"
    assert Hybrid().sampling == "mixture" and KernelShap().n_samples == 1000
    exp = explain(AdditiveModel(grid(), np.ones((2, 8))), logmel(), method=Lime(n_samples=30),
                  components=grid(), output="logits")
    assert exp.params["kernel_width"] == pytest.approx(0.25 * np.sqrt(8))
    assert exp.params["sampling"] == "uniform" and exp.params["alpha"] == 1.0


def test_gradient_objects_give_the_numbers_of_their_names():
    model, x = TinyCNN(), logmel()
    a = explain(model, x, method=IntegratedGradients(n_steps=8, targets=[1]))
    b = explain(model, x, method="ig", n_steps=8, targets=[1])
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.method == "ig"
    cam = explain(model, x, method=GradCam(targets=0))
    np.testing.assert_array_equal(cam.scores, explain(model, x, method="gradcam",
                                                      targets=0).scores)


@pytest.mark.parametrize("make, param", [
    (lambda: KernelShap(n_samples=10.5), "n_samples=10.5"),
    (lambda: KernelShap(sampling="uniform"), "sampling='uniform' is invalid for method="),
    (lambda: Hybrid(sampling="shapley"), "sampling='shapley'"),
    (lambda: Lime(tol=-1.0), "tol=-1.0"),
    (lambda: Lime(tol=True), "tol=True"),
    (lambda: KernelShap(round_size=1), "round_size=1"),
    (lambda: Lime(kernel_width=0.0), "kernel_width=0.0"),
    (lambda: Hybrid(distance="manhattan"), "distance='manhattan'"),
    (lambda: IntegratedGradients(n_steps=0), "n_steps=0"),
])
def test_settings_are_checked_when_the_object_is_made(make, param):
    with pytest.raises(ParameterError, match=param):
        make()


def test_an_object_does_not_take_settings_beside_it():
    with pytest.raises(ParameterError, match=r"\['n_samples'\] given with method=KernelShap"):
        explain(TinyCNN(), logmel(), method=KernelShap(), components=grid(), n_samples=20)
    with pytest.raises(ParameterError, match=r"\['layer'\] given"):
        explain(TinyCNN(), logmel(), method=Occlusion(), components=grid(), layer="conv")
    with pytest.raises(ParameterError, match="too small for 8 components"):
        explain(TinyCNN(), logmel(), method=KernelShap(n_samples=5), components=grid())
