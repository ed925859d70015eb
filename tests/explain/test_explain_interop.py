"""Interop: ``Explanation.to_shap`` (shap's plots) and ``Components.to_feature_mask`` (captum)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers_explain import CONFIG, N_FRAMES, N_MELS, AdditiveModel, TinyCNN, logmel

from genrelens.errors import ParameterError
from genrelens.explain import Explanation, components, explain

GRID = components.tf_grid(n_mels=N_MELS, n_frames=N_FRAMES, n_time=3, n_freq=2, config=CONFIG)
WEIGHTS = np.array([[1.0, -2.0, 0.5, 0.0, 3.0, -1.0], [0.0, 1.0, 1.0, -1.0, 0.0, 2.0]])


def _explain(method: str, **kwargs) -> Explanation:
    sampled = {} if method == "occlusion" else {"n_samples": 64, "random_state": 0}
    return explain(AdditiveModel(GRID, WEIGHTS), logmel(1), method=method, components=GRID,
                   fill=-60.0, output="logits", class_names=["blues", "metal"],
                   batch_size=16, **sampled, **kwargs)


@pytest.mark.parametrize(("method", "base_key", "total_key"), [
    ("kernel_shap", "base_value", "full_value"),  # efficiency: base + sum = f(x)
    ("hybrid", "base_value", "full_value"),
    ("lime", "intercept", "local_prediction"),  # base + sum = LIME's local prediction
])
def test_to_shap_maps_scores_base_value_and_names(method, base_key, total_key):
    pytest.importorskip("shap")
    exp = _explain(method)
    sv = exp.to_shap("metal")
    np.testing.assert_array_equal(sv.values, exp.scores[1])
    assert sv.base_values == pytest.approx(float(exp.fit[base_key][1]), abs=0)
    assert sv.base_values + sv.values.sum() == pytest.approx(float(exp.fit[total_key][1]),
                                                             abs=1e-9)
    np.testing.assert_array_equal(sv.data, np.ones(GRID.n_components))
    assert list(sv.feature_names) == list(GRID.names)
    assert exp.to_shap(None).values.tolist() == exp.scores[exp.predicted_class].tolist()


def test_to_shap_of_an_additive_model_is_exact_and_survives_save_and_load(tmp_path):
    pytest.importorskip("shap")
    exp = _explain("kernel_shap")
    exact = AdditiveModel(GRID, WEIGHTS).contributions(logmel(1), -60.0)
    np.testing.assert_allclose(exp.to_shap(0).values, exact[0], atol=1e-9)
    again = Explanation.load(exp.save(tmp_path / "exp"))
    assert again.to_shap(0).base_values == exp.to_shap(0).base_values
    np.testing.assert_array_equal(again.to_shap(0).values, exp.to_shap(0).values)


def test_shap_waterfall_draws_our_explanation():
    pytest.importorskip("shap")
    import matplotlib

    matplotlib.use("Agg")  # this test's process only: shap draws with pyplot
    import matplotlib.pyplot as plt
    import shap

    exp = _explain("kernel_shap")
    sv = exp.to_shap("blues")
    shap.plots.waterfall(sv, max_display=GRID.n_components, show=False)
    fig = plt.gcf()
    texts = {t.get_text() for ax in fig.axes
             for t in [*ax.get_yticklabels(), *ax.get_xticklabels(), *ax.texts]}
    plt.close(fig)
    shown = sorted(float(t.strip().strip("$= ").replace("\u2212", "-"))
                   for t in texts if t.strip().startswith("$ = "))  # E[f(X)] and f(x)
    expected = sorted([sv.base_values, sv.base_values + sv.values.sum()])
    np.testing.assert_allclose(shown, expected, rtol=1e-3)
    assert any(GRID.names[int(np.argmax(np.abs(sv.values)))] in t for t in texts)


def test_to_shap_refuses_maps_and_non_additive_methods():
    with pytest.raises(ParameterError, match="method='occlusion' has none"):
        _explain("occlusion").to_shap()
    dense = explain(TinyCNN(), logmel(0), method="gradcam", config=CONFIG)
    with pytest.raises(ParameterError, match="use to_map"):
        dense.to_shap()


def test_feature_mask_has_the_model_inputs_shape_and_one_id_per_component():
    mask = GRID.to_feature_mask()
    assert mask.shape == (1, 1, N_MELS, N_FRAMES) and mask.dtype == torch.int64
    np.testing.assert_array_equal(mask[0, 0].numpy(), GRID.map)
    assert GRID.to_feature_mask(batch_size=3).shape == (3, 1, N_MELS, N_FRAMES)
    cmap = np.array(GRID.map)
    cmap[:2] = -1  # cells of no component: one extra id
    partial = components.from_map(cmap, config=CONFIG)
    assert set(partial.to_feature_mask().unique().tolist()) == set(range(partial.n_components + 1))
    with pytest.raises(ParameterError, match="batch_size=0"):
        GRID.to_feature_mask(batch_size=0)


def test_captum_feature_ablation_with_our_mask_equals_our_occlusion():
    captum = pytest.importorskip("captum.attr")
    model = TinyCNN(seed=3)
    x = logmel(2)
    exp = explain(model, x, method="occlusion", components=GRID, fill=-70.0, fast=False,
                  batch_size=8)
    ablation = captum.FeatureAblation(lambda batch: torch.softmax(model(batch), dim=1))
    inputs = torch.from_numpy(x)[None, None]
    for c in range(exp.n_classes):
        with torch.no_grad():
            theirs = ablation.attribute(inputs, baselines=-70.0, target=c,
                                        feature_mask=GRID.to_feature_mask())
        np.testing.assert_allclose(theirs[0, 0].double().numpy(), exp.scores[c][GRID.map],
                                   atol=1e-6)
    assert np.abs(exp.scores).max() > 1e-3  # the comparison is not between zeros
