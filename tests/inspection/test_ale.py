import numpy as np
import pytest

from genrelens.errors import ParameterError
from genrelens.inspection.ale import (
    ALEResult,
    accumulate_first_order,
    ale,
    ale_from_evaluator,
    assign_bins,
    quantile_edges,
)


def _uniform(n, d=2, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, d))


def test_hand_computed_case_matches_the_reference_algorithm():
    # The algorithm of alibi's ``ale_num`` (and R's ALEPlot), worked out by hand:
    # x0 = 0..4, 2 bins -> edges [0, 2, 4]; bins {0,1,2} and {3,4}; f = x0^2 + x0*x1.
    # bin 0: f(2,x1)-f(0,x1) = 4 + 2 x1 -> x1 = 1,0,2 -> 6,4,8 -> mean 6
    # bin 1: f(4,x1)-f(2,x1) = 12 + 2 x1 -> x1 = 1,3 -> 14,18 -> mean 16
    # accumulated [0, 6, 22]; centre (3*(0+6)/2 + 2*(6+22)/2)/5 = 7.4
    X = np.array([[0, 1], [1, 0], [2, 2], [3, 1], [4, 3]], dtype=float)
    res = ale(lambda Z: Z[:, 0] ** 2 + Z[:, 0] * Z[:, 1], X, features=0, n_bins=2)
    np.testing.assert_allclose(res.grid_values[0], [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(res.bin_counts, [3, 2])
    np.testing.assert_allclose(res.average, [[-7.4, -1.4, 14.6]], atol=1e-12)
    assert res.n_evaluations == 10
    assert res.average.shape == (1, 3)


def test_additive_model_recovers_each_component():
    X = _uniform(3000)

    def predict(Z):
        f = Z[:, 0] ** 2 + 3.0 * Z[:, 1]
        return np.stack([f, -2.0 * f], axis=1)

    r0 = ale(predict, X, features=0, n_bins=20, output_names=["a", "b"])
    z = r0.grid_values[0]
    assert len(z) == 21
    # uncentred effect is exactly z^2 - z0^2: its increments are exact
    np.testing.assert_allclose(np.diff(r0.average[0]), np.diff(z**2), atol=1e-12)
    np.testing.assert_allclose(r0.average[1], -2.0 * r0.average[0], atol=1e-12)
    # centred: x1^2 minus its mean over the data, up to the trapezoid centring (width^2 / 4)
    np.testing.assert_allclose(r0.average[0], z**2 - np.mean(X[:, 0] ** 2), atol=2e-3)
    r1 = ale(predict, X, features=1, n_bins=20)
    slope = np.diff(r1.average[0]) / np.diff(r1.grid_values[0])
    np.testing.assert_allclose(slope, 3.0, atol=1e-9)
    np.testing.assert_allclose(r1.average[0], 3.0 * (r1.grid_values[0] - X[:, 1].mean()), atol=2e-3)
    assert r1.importance()[0] > r0.importance()[0] > 0


def test_second_order_of_additive_model_is_zero():
    X = _uniform(1000)
    res = ale(lambda Z: np.sin(3 * Z[:, 0]) + Z[:, 1] ** 3, X, features=(0, 1), n_bins=8)
    assert res.average.shape == (1, 9, 9)
    assert res.bin_counts.shape == (8, 8)
    assert res.bin_counts.sum() == 1000
    assert np.abs(res.average).max() < 1e-12
    assert res.n_evaluations == 4000


def test_second_order_recovers_product_interaction():
    X = _uniform(20000, seed=1)
    res = ale(lambda Z: Z[:, 0] * Z[:, 1] + Z[:, 0], X, features=(0, 1), n_bins=10)
    z0, z1 = res.grid_values
    expected = np.outer(z0 - X[:, 0].mean(), z1 - X[:, 1].mean())
    # equal up to a constant (centring) and sampling of the bin midpoints
    diff = res.average[0] - expected
    assert np.abs(diff - diff.mean()).max() < 0.01
    assert abs(diff.mean()) < 0.01
    # the main effect x0 is removed: the surface is centred along each axis too
    assert np.abs(res.average[0]).max() > 0.2


def test_second_order_with_empty_cells_is_finite():
    # strongly correlated pair: most off-diagonal cells are empty
    x = np.random.default_rng(2).uniform(size=300)
    X = np.stack([x, x + 1e-3 * np.random.default_rng(3).normal(size=300)], axis=1)
    res = ale(lambda Z: Z[:, 0] * Z[:, 1], X, features=(0, 1), n_bins=6)
    assert (res.bin_counts == 0).any()
    assert np.isfinite(res.average).all()


def test_bootstrap_band_is_seeded_and_brackets_the_curve():
    X = _uniform(400)
    rng = np.random.default_rng(5)
    noise = rng.normal(size=400)

    def evaluate_at(rows, targets):  # row-dependent local effects, so the band has width
        return (targets * (1.0 + noise[rows]))[:, None]

    kw = dict(feature_names=["x"], output_names=["y"], n_bins=10, n_bootstrap=200)
    a = ale_from_evaluator(evaluate_at, X[:, 0], random_state=0, **kw)
    b = ale_from_evaluator(evaluate_at, X[:, 0], random_state=0, **kw)
    c = ale_from_evaluator(evaluate_at, X[:, 0], random_state=1, **kw)
    np.testing.assert_array_equal(a.low, b.low)
    assert not np.array_equal(a.low, c.low)
    assert a.low.shape == a.average.shape == a.high.shape
    assert (a.low <= a.high).all()
    inside = (a.low - 1e-12 <= a.average) & (a.average <= a.high + 1e-12)
    assert inside.mean() > 0.9
    assert (a.high - a.low).max() > 0.01
    assert a.n_evaluations == 800  # the bootstrap costs no model evaluation


def test_constant_feature_gives_zero_effect():
    X = np.column_stack([np.full(50, 2.0), _uniform(50, 1)[:, 0]])
    res = ale(lambda Z: Z.sum(axis=1), X, features=0, n_bins=5)
    np.testing.assert_array_equal(res.grid_values[0], [2.0])
    np.testing.assert_array_equal(res.average, [[0.0]])
    assert res.n_evaluations == 0
    np.testing.assert_array_equal(res.importance(), [0.0])


def test_single_row():
    res = ale(lambda Z: Z[:, 0] * 2, np.array([[1.0, 3.0]]), features=0)
    np.testing.assert_array_equal(res.average, [[0.0]])


def test_constant_model_gives_zero_effect():
    X = _uniform(200)
    res = ale(lambda Z: np.ones((len(Z), 3)), X, features=1, n_bins=7, n_bootstrap=10)
    assert np.abs(res.average).max() == 0.0
    assert np.abs(res.high).max() == 0.0


def test_quantile_edges_and_bins():
    edges = quantile_edges(np.array([0.0, 0.0, 0.0, 1.0, 2.0]), n_bins=4)
    np.testing.assert_allclose(edges, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(assign_bins([0.0, 0.5, 1.0, 1.5, 2.0, 9.0, -1.0], edges),
                                  [0, 0, 0, 1, 1, 1, 0])


def test_empty_bin_contributes_zero():
    average, counts = accumulate_first_order(
        np.array([[1.0], [1.0], [2.0]]), np.array([0, 0, 2]), n_bins=3
    )
    np.testing.assert_array_equal(counts, [2, 0, 1])
    acc = np.array([0.0, 1.0, 1.0, 3.0])
    centre = (2 * 0.5 + 0 + 1 * 2.0) / 3
    np.testing.assert_allclose(average[0], acc - centre)


def test_round_trip(tmp_path):
    res = ale(lambda Z: Z[:, :2], _uniform(100), features=(0, 1), n_bins=3, n_bootstrap=5,
              feature_names=["p", "q"], output_names=["u", "v"])
    path = res.save(tmp_path / "ale.json")
    back = ALEResult.load(path)
    assert back.feature_names == ("p", "q") and back.output_names == ("u", "v")
    np.testing.assert_allclose(back.average, res.average)
    np.testing.assert_allclose(back.low, res.low)
    np.testing.assert_array_equal(back.bin_counts, res.bin_counts)
    assert back.params == res.params


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(features=5), "features=5"),
        (dict(features=(0, 1, 1)), "features="),
        (dict(features=0, n_bins=0), "n_bins=0"),
        (dict(features=0, n_bootstrap=-1), "n_bootstrap=-1"),
        (dict(features=0, confidence=1.0), "confidence=1.0"),
        (dict(features=0, feature_names=["a"]), "feature_names has 1"),
        (dict(features=0, output_names=["a", "b"]), "output_names has 2"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        ale(lambda Z: Z[:, 0], _uniform(20), **kwargs)


def test_errors_of_evaluator_and_data():
    with pytest.raises(ParameterError, match="returned shape"):
        ale_from_evaluator(lambda r, t: np.zeros((len(r), 2)), np.arange(10.0),
                           feature_names=["x"], output_names=["y"])
    with pytest.raises(ParameterError, match="finite"):
        ale(lambda Z: Z[:, 0], np.array([[np.nan, 1.0], [1.0, 2.0]]), features=0)
    with pytest.raises(ParameterError, match="shape"):
        ale(lambda Z: Z[:, 0], np.zeros((0, 2)), features=0)
