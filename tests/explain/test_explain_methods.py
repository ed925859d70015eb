"""LIME, KernelSHAP, hybrid and occlusion against analytic answers."""

from __future__ import annotations

import itertools
from math import factorial

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
from genrelens.explain import components
from genrelens.explain import explain as _explain
from genrelens.explain import hybrid as hybrid_mod
from genrelens.explain import lime as lime_mod
from genrelens.explain import registry
from genrelens.explain import shap as shap_mod
from genrelens.explain.hybrid import spearman

FLOOR = CONFIG.floor_db


def explain(*args, fill="min", **kwargs):
    """``genrelens.explain.explain`` removing towards silence (FLOOR) unless told otherwise:
    the analytic answers below are contributions relative to that fill."""
    return _explain(*args, fill=fill, **kwargs)


def grid(n_time=4, n_freq=2):
    return components.tf_grid(n_mels=N_MELS, n_frames=N_FRAMES, n_time=n_time, n_freq=n_freq)


def weights(n_classes, m, seed=1):
    return np.random.default_rng(seed).normal(size=(n_classes, m))


# ------------------------------------------------------------------ KernelSHAP


def test_kernel_shap_enumeration_recovers_additive_contributions_exactly():
    c = grid()
    model = AdditiveModel(c, weights(3, 8))
    x = logmel()
    exp = explain(model, x, method="kernel_shap", components=c, n_samples=256, output="logits")
    assert exp.params["design"] == "enumeration" and exp.cost["n_evaluations"] == 256
    np.testing.assert_allclose(exp.scores, model.contributions(x, FLOOR), atol=1e-6)
    np.testing.assert_allclose(exp.fit["base_value"], model(torch.full((1, 1, 16, 20), FLOOR))[0],
                               atol=1e-9)


def test_kernel_shap_sampled_is_exact_on_additive_model_and_efficient():
    c = grid(5, 4)  # M = 20: 2^20 coalitions, sample 300
    model = AdditiveModel(c, weights(3, 20))
    x = logmel(1)
    exp = explain(model, x, method="kernel_shap", components=c, n_samples=300, output="logits")
    assert exp.params["design"] == "sampled"
    np.testing.assert_allclose(exp.scores, model.contributions(x, FLOOR), atol=1e-8)
    assert exp.cost["n_evaluations"] <= 300


def test_kernel_shap_efficiency_holds_exactly_when_sampled_on_a_nonlinear_model():
    c = grid(5, 2)
    x = logmel(2)
    exp = explain(TinyCNN(), x, method="kernel_shap", components=c, n_samples=60)
    delta = exp.fit["full_value"] - exp.fit["base_value"]
    np.testing.assert_allclose(exp.scores.sum(axis=1), delta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(exp.prediction, exp.fit["full_value"])
    assert exp.prediction.sum() == pytest.approx(1.0)


def brute_force_shapley(model, x, c, fill_db):
    """Shapley values by the subset formula over all 2^M coalitions."""
    m = c.n_components
    values = {}
    for bits in itertools.product([0, 1], repeat=m):
        masked = np.where(np.array(bits + (1,))[c.map].astype(bool), x, np.float32(fill_db))
        values[bits] = model(torch.from_numpy(masked)[None, None]).numpy()[0]
    phi = np.zeros((values[(0,) * m].size, m))
    for j in range(m):
        for bits, v in values.items():
            if bits[j]:
                continue
            s = sum(bits)
            with_j = bits[:j] + (1,) + bits[j + 1:]
            w = factorial(s) * factorial(m - s - 1) / factorial(m)
            phi[:, j] += w * (values[with_j] - v)
    return phi


def test_enumeration_equals_brute_force_shapley_on_interactions():
    c = grid(3, 2)
    model = InteractionModel(c, np.zeros((1, 6)))
    x = logmel(3)
    exp = explain(model, x, method="kernel_shap", components=c, n_samples=64, output="logits",
                  fill=-80.0)
    np.testing.assert_allclose(exp.scores, brute_force_shapley(model, x, c, -80.0), atol=1e-9)


def test_model_reading_one_band_puts_all_attribution_there():
    c = components.frequency_bands(n_mels=N_MELS, n_frames=N_FRAMES, edges_hz=[0, 1000, 3000,
                                                                                11025])
    band = torch.from_numpy(c.map == 1)

    def one_band(batch):
        return batch[:, 0][:, band].mean(dim=1, keepdim=True).to(torch.float64) * torch.tensor(
            [[1.0, -2.0]])

    for method in ("kernel_shap", "lime", "occlusion", "hybrid"):
        exp = explain(one_band, logmel(), method=method, components=c, output="logits",
                      **registry.settings_for(method, n_samples=200))
        views = [exp.scores] + ([exp.others["lime"]] if method == "hybrid" else [])
        for scores, tol in zip(views, (1e-9 if method != "lime" else 0.02, 0.02)):
            # LIME's ridge penalty leaks a little through sample correlations
            assert np.all(np.abs(scores[:, [0, 2]]) < tol * np.abs(scores[:, 1:2])), method
            assert np.all(np.abs(scores[:, 1]) > 1), method


def test_constant_model_gives_zero_scores():
    c = grid()

    def constant(batch):
        return torch.tensor([[0.3, -1.0, 2.0]]).repeat(batch.shape[0], 1)

    for method in ("kernel_shap", "lime", "hybrid", "occlusion"):
        exp = explain(constant, logmel(), method=method, components=c,
                      **registry.settings_for(method, n_samples=50))
        np.testing.assert_allclose(exp.scores, 0.0, atol=1e-12)
    assert exp.method == "occlusion"
    lime_exp = explain(constant, logmel(), method="lime", components=c, n_samples=50)
    np.testing.assert_allclose(lime_exp.fit["r2"], 1.0)


def test_shapley_sampler_pairs_and_size_distribution():
    z = shap_mod.sample_shapley(np.random.default_rng(0), 4002, 10)
    assert np.all(z[0] == 1) and np.all(z[1] == 0)
    assert np.all(z[2::2] + z[3::2] == 1)  # antithetic pairs
    sizes = np.bincount(z[2::2].sum(axis=1), minlength=11)[1:10] / 2000
    p = 9 / (np.arange(1, 10) * (10 - np.arange(1, 10)))
    np.testing.assert_allclose(sizes, p / p.sum(), atol=0.03)


@pytest.mark.parametrize("method", ["kernel_shap", "hybrid"])
def test_random_state_reproducible_and_different_seeds_differ(method):
    c = grid(5, 4)
    model = TinyCNN()
    a = explain(model, logmel(), method=method, components=c, n_samples=80, random_state=7)
    b = explain(model, logmel(), method=method, components=c, n_samples=80, random_state=7)
    d = explain(model, logmel(), method=method, components=c, n_samples=80, random_state=8)
    for view in ([a.scores, b.scores, d.scores],
                 *([[e.others["lime"] for e in (a, b, d)]] if method == "hybrid" else [])):
        assert np.array_equal(view[0], view[1])
        assert not np.allclose(view[0], view[2])
    assert a.params["random_state"] == 7


def test_shapley_sampler_draws_are_pinned():
    """KernelSHAP's own design must not change when other designs are added."""
    z = shap_mod.sample_shapley(np.random.default_rng(0), 8, 5)
    assert z.tolist() == [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 0, 1, 1], [0, 1, 1, 0, 0],
                          [0, 0, 0, 1, 0], [1, 1, 1, 0, 1], [1, 0, 0, 0, 0], [0, 1, 1, 1, 1]]


@pytest.mark.parametrize("method", ["kernel_shap", "lime", "occlusion"])
def test_identical_for_batch_sizes_1_3_64(method):
    c = grid(5, 2)
    model = TinyCNN()
    budget = registry.settings_for(method, n_samples=70)
    runs = [explain(model, logmel(), method=method, components=c, batch_size=b, **budget)
            for b in (1, 3, 64)]
    for r in runs[1:]:
        np.testing.assert_allclose(r.scores, runs[0].scores, rtol=0, atol=1e-6)
    assert [r.cost["batch_size"] for r in runs] == [1, 3, 64]
    # an element-wise model in float64 is bit-identical
    additive = AdditiveModel(c, weights(2, 10))
    exact = [explain(additive, logmel(), method=method, components=c, batch_size=b,
                     output="logits", **budget).scores for b in (1, 3, 64)]
    np.testing.assert_allclose(exact[1], exact[0], rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(exact[2], exact[0], rtol=1e-13, atol=1e-12)


def test_fast_inference_copy_gives_the_same_explanation():
    c = grid(5, 2)
    model = TinyCNN()
    fast = explain(model, logmel(), method="kernel_shap", components=c, n_samples=40, fast=True)
    slow = explain(model, logmel(), method="kernel_shap", components=c, n_samples=40, fast=False)
    np.testing.assert_allclose(fast.scores, slow.scores, atol=1e-6)


# ------------------------------------------------------------------ LIME


def test_fit_lime_equals_sklearn_weighted_ridge():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    z = lime_mod.sample_uniform(rng, 60, 7)
    y = rng.normal(size=(60, 3))
    w = lime_mod.lime_weights(z)
    fit = lime_mod.fit_lime(z, y, weights=w, alpha=1.0)
    ref = Ridge(alpha=1.0).fit(z, y, sample_weight=w)
    np.testing.assert_allclose(fit.scores, ref.coef_, atol=1e-10)
    np.testing.assert_allclose(fit.intercept, ref.intercept_, atol=1e-10)
    from sklearn.metrics import r2_score

    r2 = [r2_score(y[:, k], ref.predict(z)[:, k], sample_weight=w) for k in range(3)]
    np.testing.assert_allclose(fit.r2, r2, atol=1e-10)
    np.testing.assert_allclose(fit.local_prediction, ref.predict(np.ones((1, 7)))[0], atol=1e-10)


def test_lime_kernel_weights():
    z = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0]])
    w = lime_mod.lime_weights(z, distance="l2")  # width 0.25 * 2 = 0.5
    raw = np.exp(-np.array([0, 1, 4]) / 0.25)
    np.testing.assert_allclose(w, raw / raw.mean())
    wc = lime_mod.lime_weights(z, distance="cosine", kernel_width=1.0)
    rawc = np.exp(-np.array([0.0, 1 - np.sqrt(0.75), 1.0]) ** 2)
    np.testing.assert_allclose(wc, rawc / rawc.mean())


def test_lime_ranks_additive_contributions_right():
    c = grid()
    model = AdditiveModel(c, weights(2, 8))
    x = logmel()
    exp = explain(model, x, method="lime", components=c, n_samples=400, output="logits")
    truth = model.contributions(x, FLOOR)
    for k in range(2):
        assert np.array_equal(np.argsort(exp.scores[k]), np.argsort(truth[k]))
    # the ridge penalty shrinks a little
    np.testing.assert_allclose(exp.scores, truth, atol=0.06 * np.abs(truth).max())
    assert np.all(exp.fit["r2"] > 0.995)
    np.testing.assert_allclose(exp.fit["local_prediction"], exp.fit["full_value"], rtol=0.05)


# ------------------------------------------------------------------ hybrid, occlusion, rounds


def test_hybrid_equals_separate_lime_and_shap_on_the_same_samples():
    c = grid(5, 4)
    model = TinyCNN()
    kw = dict(components=c, n_samples=120, random_state=3, sampling="mixture")
    hybrid = explain(model, logmel(), method="hybrid", **kw)
    shap_exp = explain(model, logmel(), method="kernel_shap", **kw)
    lime_exp = explain(model, logmel(), method="lime", **kw)
    assert hybrid.params["design"] == shap_exp.params["design"] == "mixture"
    assert lime_exp.params["design"] == "mixture"
    np.testing.assert_array_equal(hybrid.scores, shap_exp.scores)
    np.testing.assert_array_equal(hybrid.others["lime"], lime_exp.scores)
    np.testing.assert_array_equal(hybrid.fit["r2"], lime_exp.fit["r2"])
    np.testing.assert_array_equal(hybrid.as_method("lime").scores, lime_exp.scores)
    assert hybrid.cost["n_evaluations"] == shap_exp.cost["n_evaluations"]  # one budget
    np.testing.assert_allclose(hybrid.fit["agreement"], spearman(shap_exp.scores,
                                                                 lime_exp.scores))
    assert np.all(np.abs(hybrid.fit["agreement"]) <= 1)


def test_hybrid_views_are_exact_on_an_additive_model_and_efficient():
    c = grid(5, 4)  # M = 20: the mixture design
    model = AdditiveModel(c, weights(3, 20))
    x = logmel(1)
    exp = explain(model, x, method="hybrid", components=c, n_samples=400, output="logits")
    truth = model.contributions(x, FLOOR)
    assert exp.params["design"] == "mixture" and exp.cost["n_evaluations"] <= 400
    np.testing.assert_allclose(exp.scores, truth, atol=1e-8)  # any positive weights: exact
    # LIME's view recovers the linear coefficients up to its small ridge shrinkage
    # (as LIME on its own 400 samples: shrinkage under 6% of the largest coefficient)
    np.testing.assert_allclose(exp.others["lime"], truth, atol=0.06 * np.abs(truth).max())
    assert np.all(exp.fit["r2"] > 0.998)
    nonlinear = explain(TinyCNN(), x, method="hybrid", components=c, n_samples=60)
    delta = nonlinear.fit["full_value"] - nonlinear.fit["base_value"]
    np.testing.assert_allclose(nonlinear.scores.sum(axis=1), delta, rtol=0, atol=1e-12)


def test_hybrid_lime_view_estimates_lime_surrogate_on_a_nonlinear_model():
    """The mixture's LIME view converges to LIME's own surrogate (all 2^M coalitions)."""
    c = grid(5, 2)  # M = 10
    model = InteractionModel(c, np.zeros((1, 10)))
    x = logmel(5)
    kw = dict(components=c, output="logits", fill=-80.0)
    exact = explain(model, x, method="hybrid", n_samples=1024, **kw)
    assert exact.params["design"] == "enumeration"
    target = exact.others["lime"]
    errors = [np.abs(explain(model, x, method="hybrid", n_samples=600, random_state=s, **kw)
                     .others["lime"] - target).max() / np.abs(target).max() for s in range(3)]
    assert np.mean(errors) < 0.08


def test_mixture_size_probabilities_and_weights_by_hand():
    # M = 4: r(s) = 1/2 C(4, s) / 14 + 1/2 * 1/3 -> 13/42, 16/42, 13/42
    r = hybrid_mod.size_probabilities(4)
    np.testing.assert_allclose(r, [0, 13 / 42, 16 / 42, 13 / 42, 0], rtol=1e-14)
    z = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 1, 1], [1, 1, 0, 0],
                  [0, 0, 1, 1]])
    # KernelSHAP: Shapley kernel mass K = (4, 3, 4) / 11 over r
    ks = hybrid_mod.kernel_shap_weights(z)
    assert np.all(np.isinf(ks[:2]))
    np.testing.assert_allclose(ks[2:], [168 / 143, 168 / 143, 63 / 88, 63 / 88], rtol=1e-14)
    # LIME: rows expected in LIME's design of 6 rows (all-on + 5 uniform) over rows expected
    # here (4 rows with 0 < s < 4, one all-off, one all-on), times the kernel exp(-4 #off)
    ratio = np.array([1 + 5 / 16, 5 / 16, 105 / 104, 105 / 104, 315 / 256, 315 / 256])
    raw = ratio * np.exp(-4.0 * np.array([0, 4, 3, 1, 2, 2]))
    np.testing.assert_allclose(hybrid_mod.lime_weights(z), raw / raw.mean(), rtol=1e-12)


def test_mixture_sampler_and_weights_target_each_method_design():
    """Weighted by its weights, the mixture's size histogram is each method's own design."""
    m = 30
    z = hybrid_mod.sample_mixture(np.random.default_rng(0), 40002, m)
    assert np.all(z[0] == 1) and np.all(z[1] == 0)
    assert np.all(z[2::2] + z[3::2] == 1)  # antithetic pairs
    s = z.sum(axis=1)
    np.testing.assert_allclose(np.bincount(s[2:], minlength=m + 1) / 40000,
                               hybrid_mod.size_probabilities(m), atol=0.005)

    def weighted_sizes(w, rows):
        h = np.bincount(s[rows], weights=w[rows], minlength=m + 1)
        return h / h.sum()

    inner = slice(2, None)
    np.testing.assert_allclose(weighted_sizes(hybrid_mod.kernel_shap_weights(z), inner),
                               shap_mod.shapley_size_probabilities(m), atol=0.01)
    one_row_per_size = (np.arange(m)[None, :] < np.arange(m + 1)[:, None]).astype(np.int8)
    # LIME's own design of as many rows: the all-on row, then uniform rows
    rows = (z.shape[0] - 1) * lime_mod.uniform_size_probabilities(m) + (np.arange(m + 1) == m)
    lime_target = rows * lime_mod.lime_weights(one_row_per_size)
    got = weighted_sizes(hybrid_mod.lime_weights(z), slice(None))
    np.testing.assert_allclose(got, lime_target / lime_target.sum(), atol=0.01)


def test_sample_paired_rejects_bad_size_probabilities():
    rng = np.random.default_rng(0)
    for bad in (np.array([0, 0.5, 0.5]), np.array([0.1, 0.4, 0.4, 0.1]), np.array([0, 1, 1, 0])):
        with pytest.raises(ParameterError, match="size_probabilities"):
            shap_mod.sample_paired(rng, 10, 3, size_probabilities=bad)


def test_spearman():
    a = np.array([[1.0, 2, 3, 4], [1, 1, 1, 1]])
    b = np.array([[10.0, 20, 30, 40], [4, 3, 2, 1]])
    r = spearman(a, b)
    assert r[0] == pytest.approx(1.0) and r[1] == 0.0  # constant: no ranking, defined as 0
    assert spearman(a[:1], -b[:1])[0] == pytest.approx(-1.0)


def test_occlusion_on_additive_model_equals_contributions():
    c = grid()
    model = AdditiveModel(c, weights(3, 8))
    x = logmel()
    exp = explain(model, x, method="occlusion", components=c, output="logits", fill=-60.0)
    np.testing.assert_allclose(exp.scores, model.contributions(x, -60.0), atol=1e-9)
    # M + 1 for the scores, one more for the all-off input of the off-manifold check
    assert exp.cost["n_evaluations"] == 10
    off = model(torch.full((1, 1, *x.shape), -60.0, dtype=torch.float32)).numpy()[0]
    np.testing.assert_allclose(exp.fit["off_prediction"], np.exp(off) / np.exp(off).sum(),
                               atol=1e-9)


def test_convergence_rounds_stop_early_on_additive_model():
    c = grid(5, 4)
    model = AdditiveModel(c, weights(2, 20))
    x = logmel()
    exp = explain(model, x, method="kernel_shap", components=c, n_samples=2000, tol=1e-6,
                  round_size=100, output="logits")
    assert exp.params["converged"] and exp.params["n_rounds"] == 2
    assert exp.params["n_samples_used"] == 200
    np.testing.assert_allclose(exp.scores, model.contributions(x, FLOOR), atol=1e-8)
    never = explain(TinyCNN(), x, method="lime", components=c, n_samples=300, tol=1e-12,
                    round_size=100)
    assert not never.params["converged"] and never.params["n_samples_used"] == 300


def test_fill_choice_changes_the_explanation_rank_correlation_reported(record_property):
    """How much does the explanation depend on what "off" means? (Spearman per class)."""
    c = grid(4, 2)
    model = TinyCNN()
    x = logmel(4)
    ranks = {}
    base = explain(model, x, method="kernel_shap", components=c, n_samples=64, fill="min")
    for fill in ("mean", "noise", "blur"):
        other = explain(model, x, method="kernel_shap", components=c, n_samples=64, fill=fill)
        ranks[fill] = float(spearman(base.scores, other.scores)[base.predicted_class])
    record_property("spearman_min_vs", ranks)
    print("rank correlation of KernelSHAP scores, fill='min' vs:", ranks)
    assert all(-1 <= r <= 1 for r in ranks.values())
    # analytic: on an additive model the scores move exactly with the fill
    add = AdditiveModel(c, weights(1, 8))
    a = explain(add, x, method="kernel_shap", components=c, n_samples=256, fill="min",
                output="logits")
    b = explain(add, x, method="kernel_shap", components=c, n_samples=256, fill="mean",
                output="logits")
    np.testing.assert_allclose(b.scores - a.scores, add.w.numpy() * (FLOOR - x.mean()), atol=1e-6)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        (dict(method="shapley"), "method"),
        (dict(method="kernel_shap", n_samples=5), "n_samples"),
        (dict(method="lime", n_samples=3), "n_samples"),
        (dict(method="kernel_shap", n_samples=10.5), "n_samples"),
        (dict(method="kernel_shap", fill="loud"), "fill"),
        (dict(method="kernel_shap", fill=np.zeros((3, 3))), "fill"),
        (dict(method="kernel_shap", output="softmax"), "output"),
        (dict(method="kernel_shap", batch_size=0), "batch_size"),
        (dict(method="kernel_shap", random_state=-1), "random_state"),
        (dict(method="kernel_shap", components=components.tf_grid(n_mels=16, n_frames=30)),
         "components"),
        (dict(method="kernel_shap", components="grid"), "components"),
        (dict(method="lime", distance="manhattan"), "distance"),
        (dict(method="lime", kernel_width=0.0), "kernel_width"),
        (dict(method="hybrid", sampling="uniform"), "sampling"),
        (dict(method="hybrid", sampling="shapley"), "sampling"),
        (dict(method="lime", sampling="shapley"), "sampling"),
        (dict(method="kernel_shap", sampling="uniform"), "sampling"),
        (dict(method="occlusion", sampling="mixture"), "sampling"),
        (dict(method="kernel_shap", tol=-1.0), "tol"),
        (dict(method="kernel_shap", tol=0.1, round_size=1), "round_size"),
        (dict(method="lime", layer="conv"), "unexpected"),
    ],
)
def test_explain_errors_name_the_parameter(kwargs, param):
    with pytest.raises(ParameterError, match=param):
        explain(TinyCNN(), logmel(), **{"components": grid(), **kwargs})


@pytest.mark.parametrize("shape", [(2, 16, 20), (16,), (1, 2, 16, 20), (1, 1, 1, 1, 16, 20)])
def test_bad_logmel_shapes(shape):
    with pytest.raises(ParameterError, match="logmel"):
        explain(TinyCNN(), np.zeros(shape), method="kernel_shap", components=grid())


def test_logmel_forms_accepted():
    c = grid()
    x = logmel()
    ref = explain(TinyCNN(), x, method="occlusion", components=c)
    for form in (x[None], x[None, None], torch.from_numpy(x)[None, None]):
        np.testing.assert_array_equal(
            explain(TinyCNN(), form, method="occlusion", components=c).scores, ref.scores)
    with pytest.raises(ParameterError, match="logmel"):
        explain(TinyCNN(), np.full((16, 20), np.nan), method="occlusion", components=c)


def test_gradient_methods_are_dispatched_and_loaded_models_unwrapped():
    import types

    model = TinyCNN()
    cam = explain(model, logmel(), method="gradcam", class_names=("a", "b", "c"))
    assert cam.method == "gradcam" and cam.is_dense and cam.scores.shape == (3, N_MELS, N_FRAMES)
    ig = explain(model, logmel(), method="ig", fill=-80.0, n_steps=4)
    assert ig.method == "ig" and ig.fill.kind == "constant"
    loaded = types.SimpleNamespace(model=model, class_names=("x", "y", "z"),
                                   feature_config=CONFIG)
    exp = explain(loaded, logmel(), method="occlusion", components=grid())
    assert exp.class_names == ("x", "y", "z")


def test_sampled_kernel_shap_approaches_exact_shapley_values():
    c = grid(4, 3)  # M = 12, 4096 coalitions
    model = InteractionModel(c, np.zeros((1, 12)))
    x = logmel(5)
    kw = dict(method="kernel_shap", components=c, output="logits", fill=-80.0)
    exact = explain(model, x, n_samples=4096, **kw).scores
    scale = np.abs(exact).max()

    def error(n):
        return np.mean([np.abs(explain(model, x, n_samples=n, random_state=s, **kw).scores
                               - exact).max() / scale for s in range(3)])

    small, large = error(100), error(1600)
    assert large < 0.1 and large < 0.5 * small


def test_leverage_design_draws_every_size_alike_and_estimates_the_shapley_values():
    # the sizes of its paired draws are uniform over 1..M-1, and weighted by design_weights
    # they follow the Shapley kernel's sizes
    m = 30
    r = shap_mod.leverage_size_probabilities(m)
    np.testing.assert_allclose(r, np.r_[0, np.full(m - 1, 1 / (m - 1)), 0], rtol=1e-14)
    z = shap_mod.sample_paired(np.random.default_rng(0), 40002, m, size_probabilities=r)
    s = z.sum(axis=1)[2:]
    np.testing.assert_allclose(np.bincount(s, minlength=m + 1) / 40000, r, atol=0.005)
    w = shap_mod.design_weights(z, r)[2:]
    h = np.bincount(s, weights=w, minlength=m + 1)
    np.testing.assert_allclose(h / h.sum(), shap_mod.shapley_size_probabilities(m), atol=0.01)
    # through explain(): exact on an additive model (any positive weights), efficient and
    # converging to the exact Shapley values of an interaction model
    c = grid(5, 4)
    additive = AdditiveModel(c, weights(3, 20))
    x = logmel(1)
    exp = explain(additive, x, method="kernel_shap", components=c, n_samples=400,
                  sampling="leverage", output="logits")
    assert exp.params["design"] == "leverage"
    np.testing.assert_allclose(exp.scores, additive.contributions(x, FLOOR), atol=1e-8)
    c = grid(4, 3)  # M = 12
    model = InteractionModel(c, np.zeros((1, 12)))
    kw = dict(method="kernel_shap", components=c, output="logits", fill=-80.0)
    exact = explain(model, logmel(5), n_samples=4096, **kw).scores
    errors = [np.abs(explain(model, logmel(5), n_samples=1600, random_state=s,
                             sampling="leverage", **kw).scores - exact).max()
              for s in range(3)]
    assert np.mean(errors) < 0.1 * np.abs(exact).max()
    with pytest.raises(ParameterError, match="sampling='leverage' is invalid"):
        explain(additive, x, method="lime", components=grid(5, 4), sampling="leverage")
