"""Interop: ``Explanation.to_shap`` for every method (shap's plots) and
``Components.to_feature_mask`` (captum)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers_explain import (
    CONFIG,
    N_FRAMES,
    N_MELS,
    AdditiveModel,
    InteractionModel,
    TinyCNN,
    logmel,
)

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


class AdditiveNet(torch.nn.Module):
    """:class:`AdditiveModel` as a module (for the gradient methods): linear in the cells."""

    def __init__(self) -> None:
        super().__init__()
        self.additive = AdditiveModel(GRID, WEIGHTS)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.additive(batch)


def _output(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)[None, None]).double().numpy()[0]


def test_to_shap_of_occlusion_ends_at_f_x_and_starts_at_f_off_for_an_additive_model():
    pytest.importorskip("shap")
    model = AdditiveModel(GRID, WEIGHTS)
    x = logmel(1)
    exp = _explain("occlusion")
    f_x, f_off = _output(model, x), _output(model, np.full_like(x, -60.0))
    for c in (0, 1):
        sv = exp.to_shap(c)
        np.testing.assert_allclose(sv.values, model.contributions(x, -60.0)[c], atol=1e-9)
        assert sv.base_values + sv.values.sum() == pytest.approx(f_x[c], abs=1e-9)
        assert sv.base_values == pytest.approx(f_off[c], abs=1e-9)  # additive: exact
        assert list(sv.feature_names) == list(GRID.names)


def test_to_shap_of_occlusion_ends_at_f_x_whatever_the_interactions():
    pytest.importorskip("shap")
    model = InteractionModel(GRID, np.zeros((3, GRID.n_components)))
    x = logmel(2)
    exp = explain(model, x, method="occlusion", components=GRID, fill=-60.0, output="logits")
    f_x, f_off = _output(model, x), _output(model, np.full_like(x, -60.0))
    sv = exp.to_shap(2)
    np.testing.assert_array_equal(sv.values, exp.scores[2])
    assert sv.base_values + sv.values.sum() == pytest.approx(f_x[2], abs=1e-9)
    assert abs(sv.base_values - f_off[2]) > 1e-3  # the interactions occlusion does not see


def test_to_shap_of_integrated_gradients_sums_cells_per_component_from_f_baseline():
    pytest.importorskip("shap")
    net = AdditiveNet()
    x = logmel(1)
    exp = explain(net, x, method="ig", fill=-60.0, output="logits", config=CONFIG, n_steps=8)
    f_x, f_off = _output(net, x), _output(net, np.full_like(x, -60.0))
    for c in (0, 1):
        sv = exp.to_shap(c, components=GRID)
        # linear model: the path integral is exact, every cell of component j gives its share
        np.testing.assert_allclose(sv.values, net.additive.contributions(x, -60.0)[c],
                                   atol=1e-6)
        assert sv.base_values == pytest.approx(f_off[c], abs=1e-9)
        assert sv.base_values + sv.values.sum() == pytest.approx(f_x[c], rel=1e-7)  # float32
        assert list(sv.feature_names) == list(GRID.names)


def test_to_shap_of_grad_cam_sums_its_map_over_the_components_from_zero():
    pytest.importorskip("shap")
    dense = explain(TinyCNN(), logmel(0), method="gradcam", config=CONFIG)
    sv = dense.to_shap(1, components=GRID)
    expected = [dense.scores[1][GRID.map == j].sum() for j in range(GRID.n_components)]
    np.testing.assert_allclose(sv.values, expected, rtol=1e-12)
    assert sv.base_values == 0.0
    assert sv.values.sum() == pytest.approx(dense.scores[1].sum(), rel=1e-12)  # grid covers all


def test_to_shap_refuses_dense_maps_without_components_and_misused_components():
    dense = explain(TinyCNN(), logmel(0), method="gradcam", config=CONFIG)
    with pytest.raises(ParameterError, match="needs components="):
        dense.to_shap()
    other = components.tf_grid(n_mels=N_MELS, n_frames=N_FRAMES - 4, n_time=2, n_freq=2,
                               config=CONFIG)
    with pytest.raises(ParameterError, match=r"maps has shape \(16, 20\)"):
        dense.to_shap(0, components=other)
    with pytest.raises(ParameterError, match="components= is for dense maps only"):
        _explain("occlusion").to_shap(components=GRID)
    no_base = Explanation(method="custom", scores=np.zeros((2, GRID.n_components)),
                          prediction=np.array([0.5, 0.5]), logmel=logmel(0), components=GRID)
    with pytest.raises(ParameterError, match="method='custom' has none"):
        no_base.to_shap()


def test_sum_cells_adds_each_components_cells_and_ignores_cells_of_none():
    cmap = np.array(GRID.map)
    cmap[0, :] = -1
    partial = components.from_map(cmap, config=CONFIG)
    maps = np.random.default_rng(0).normal(size=(3, N_MELS, N_FRAMES))
    sums = partial.sum_cells(maps)
    assert sums.shape == (3, partial.n_components)
    for j in range(partial.n_components):
        np.testing.assert_allclose(sums[:, j], maps[:, cmap == j].sum(axis=1), rtol=1e-12)
    assert sums.sum() == pytest.approx(maps[:, 1:, :].sum(), rel=1e-9)
    np.testing.assert_allclose(partial.sum_cells(maps[1]), sums[1])


def test_paint_puts_each_value_on_its_cells_and_sum_cells_reads_it_back():
    cmap = np.array(GRID.map)
    cmap[0, :] = -1
    partial = components.from_map(cmap, config=CONFIG)
    values = np.random.default_rng(1).normal(size=partial.n_components)
    painted = partial.paint(values)
    assert painted.shape == (N_MELS, N_FRAMES)
    for j in (0, partial.n_components - 1):
        assert np.all(painted[cmap == j] == values[j])
    assert np.all(painted[0] == 0.0) and np.all(partial.paint(values, uncovered=1.0)[0] == 1.0)
    spread = partial.paint(values, spread=True)
    np.testing.assert_allclose(partial.sum_cells(spread), values, rtol=1e-12)  # round trip
    with pytest.raises(ParameterError, match="one value per component"):
        partial.paint(values[:-1])
    y = np.random.default_rng(0).normal(size=int(CONFIG.segment_seconds * CONFIG.sr))
    with pytest.raises(ParameterError, match="needs cell components"):
        components.stems(y.astype(np.float32), config=CONFIG).paint(np.zeros(3))


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
