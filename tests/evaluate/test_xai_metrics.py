import numpy as np
import pytest
import torch
from torch import nn

from genrelens.errors import ParameterError
from genrelens.evaluate.faithfulness import (
    curve_auc,
    faithfulness_correlation,
    label_flip_rate,
    pearson,
    random_scores,
    random_subsets,
    removal_masks,
    removal_order,
)
from genrelens.evaluate.groundtruth import (
    mask_fraction,
    pointing_game,
    relevance_mass_accuracy,
    relevance_rank_accuracy,
)
from genrelens.evaluate.sanity import (
    SANITY_THRESHOLD,
    cascading_randomizations,
    passes_sanity,
    randomizable_layers,
    randomization_curve,
    randomize_model,
    sanity_correlation,
)
from genrelens.evaluate.stability import pairwise_rank_correlation, rank_correlation

# ---------------------------------------------------------------- deletion / insertion


def test_deletion_and_insertion_on_additive_model_hand_computed():
    w = np.array([1.0, 4.0, 2.0, 3.0])  # f(z) = w . z ; the right order is 1, 3, 2, 0
    z_del, frac = removal_masks(w, mode="deletion")
    np.testing.assert_array_equal(frac, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(z_del @ w, [10, 6, 3, 1, 0])
    assert curve_auc(z_del @ w, frac) == pytest.approx(0.25 * (5 + 6 + 3 + 1 + 0))
    z_ins, _ = removal_masks(w, mode="insertion")
    np.testing.assert_array_equal(z_ins @ w, [0, 4, 7, 9, 10])
    assert curve_auc(z_ins @ w) == pytest.approx(0.25 * (0 + 4 + 7 + 9 + 5))


def test_true_order_beats_random_and_reverse():
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 1, 30)

    def deletion_auc(scores):
        z, frac = removal_masks(scores, mode="deletion")
        return curve_auc(z @ w, frac)

    best = deletion_auc(w)
    randoms = [deletion_auc(random_scores(30, rng=rng)) for _ in range(50)]
    assert best < min(randoms)
    assert deletion_auc(-w) > max(randoms)


def test_removal_masks_steps_and_ties():
    z, frac = removal_masks(np.zeros(5), mode="deletion", n_steps=2)
    np.testing.assert_array_equal(frac, [0, 0.4, 1.0])  # round(2.5) = 2 (banker's)
    np.testing.assert_array_equal(z, [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(removal_order([1.0, 3.0, 3.0, 0.0]), [1, 2, 0, 3])
    z1, frac1 = removal_masks([2.0], mode="insertion")  # one component
    np.testing.assert_array_equal(z1, [[0], [1]])
    assert curve_auc([0.7]) == 0.7


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: removal_masks([1.0], mode="sideways"), "mode='sideways'"),
        (lambda: removal_masks([1.0], n_steps=0), "n_steps=0"),
        (lambda: removal_masks([], mode="deletion"), "scores"),
        (lambda: curve_auc([1.0, np.nan]), "values"),
        (lambda: curve_auc([1.0, 2.0], [0.0, 0.5, 1.0]), "fractions"),
        (lambda: random_subsets(3, n_subsets=2, subset_size=4, rng=np.random.default_rng()), "subset_size=4"),
        (lambda: pearson([1.0, 2.0], [1.0]), "equal shapes"),
        (lambda: label_flip_rate(np.zeros((2, 3)), np.zeros((3, 3))), "different inputs"),
        (lambda: faithfulness_correlation(scores=[1.0, 2.0], removed=np.ones((3, 3)), drops=[1, 2, 3]), "removed"),
    ],
)
def test_faithfulness_errors(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_faithfulness_correlation():
    rng = np.random.default_rng(1)
    w = rng.normal(size=20)
    removed = random_subsets(20, n_subsets=100, subset_size=5, rng=rng)
    assert removed.sum(axis=1).tolist() == [5] * 100
    drops = removed @ w  # an additive model: the drop is the sum of removed weights
    assert faithfulness_correlation(scores=w, removed=removed, drops=drops) == pytest.approx(1.0)
    assert faithfulness_correlation(scores=-w, removed=removed, drops=drops) == pytest.approx(-1.0)
    # degenerate: constant explanation, or a constant model
    assert faithfulness_correlation(scores=np.ones(20), removed=removed, drops=drops) == 0.0
    assert faithfulness_correlation(scores=w, removed=removed, drops=np.zeros(100)) == 0.0
    assert pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]) == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 6.5])[0, 1])


def test_label_flip_rate():
    before = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    after = np.array([[0.4, 0.6], [0.1, 0.9], [0.6, 0.4]])
    assert label_flip_rate(before, after) == pytest.approx(1 / 3)
    assert label_flip_rate(np.array([0, 1]), np.array([0, 1])) == 0.0
    assert label_flip_rate(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


# ---------------------------------------------------------------- ground truth


def _mask():
    m = np.zeros((8, 10), dtype=bool)
    m[2:4, 5:9] = True  # 8 of 80 cells
    return m


def test_perfect_map_scores_one_and_constant_map_scores_chance():
    m = _mask()
    assert mask_fraction(m) == pytest.approx(0.1)
    assert relevance_mass_accuracy(m.astype(float), m) == 1.0
    assert relevance_rank_accuracy(m.astype(float), m) == 1.0
    assert pointing_game(m.astype(float), m) == 1.0
    const = np.full(m.shape, 0.3)
    assert relevance_mass_accuracy(const, m) == pytest.approx(0.1)
    assert relevance_rank_accuracy(const, m) == pytest.approx(0.1)
    assert pointing_game(const, m) == pytest.approx(0.1)


def test_ground_truth_hand_computed():
    m = _mask()
    rel = np.zeros(m.shape)
    rel[2, 5] = 3.0  # inside
    rel[0, 0] = 1.0  # outside
    rel[7, 9] = -5.0  # negative relevance is ignored by the mass
    assert relevance_mass_accuracy(rel, m) == pytest.approx(0.75)
    # top-8: 2 positive cells above the tie at 0 (77 tied cells, 7 of them inside); 6 places
    # left for the ties -> 1 + 6 * 7/77
    assert relevance_rank_accuracy(rel, m) == pytest.approx((1 + 6 * 7 / 77) / 8)
    assert pointing_game(rel, m) == 1.0
    rel[0, 0] = 9.0
    assert pointing_game(rel, m) == 0.0
    m2 = np.zeros_like(m)
    m2[1, 1] = True
    assert pointing_game(rel, m2) == 0.0
    assert pointing_game(rel, m2, tolerance=1) == 1.0  # (0,0) is next to (1,1)


def test_ground_truth_degenerate():
    m = _mask()
    empty = np.zeros_like(m)
    rel = np.random.default_rng(0).normal(size=m.shape)
    for f in (relevance_mass_accuracy, relevance_rank_accuracy, pointing_game):
        assert np.isnan(f(rel, empty))
    assert relevance_mass_accuracy(-np.abs(rel), m) == 0.0
    with pytest.raises(ParameterError, match="relevance has shape"):
        relevance_mass_accuracy(rel[:, :3], m)
    with pytest.raises(ParameterError, match="NaN"):
        pointing_game(np.full(m.shape, np.nan), m)
    with pytest.raises(ParameterError, match="tolerance=-1"):
        pointing_game(rel, m, tolerance=-1)


def test_random_maps_score_chance_on_average():
    m = _mask()
    rng = np.random.default_rng(3)
    vals = np.array([
        [relevance_mass_accuracy(r, m), relevance_rank_accuracy(r, m), pointing_game(r, m)]
        for r in rng.uniform(size=(2000, *m.shape))
    ])
    np.testing.assert_allclose(vals.mean(axis=0), 0.1, atol=0.02)


# ---------------------------------------------------------------- stability


def test_rank_correlation():
    a = np.array([0.1, 0.5, 0.3, 0.9])
    assert rank_correlation(a, a * 10 + 1) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.ones(4)) == 0.0
    mean, mat = pairwise_rank_correlation([a, a, -a])
    assert mean == pytest.approx((1 - 1 - 1) / 3)
    np.testing.assert_allclose(np.diag(mat), 1.0)
    assert pairwise_rank_correlation([a])[0] == 1.0
    with pytest.raises(ParameterError, match="runs is empty"):
        pairwise_rank_correlation([])
    with pytest.raises(ParameterError, match="equal size"):
        rank_correlation(a, a[:2])


def test_the_two_spearman_views_agree_also_on_constant_input():
    """One definition: the hybrid's per-class agreement and the stability metric."""
    from genrelens.explain.hybrid import spearman

    rows_a = np.array([[0.1, 0.5, 0.3, 0.9], [2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]])
    rows_b = np.array([[0.4, 0.2, 0.3, 0.1], [0.1, 0.5, 0.3, 0.9], [1.0, 2.0, 1.0, 2.0]])
    rho = spearman(rows_a, rows_b)
    assert rho.tolist() == [rank_correlation(x, y) for x, y in zip(rows_a, rows_b)]
    assert rho[1] == 0.0 and rho[2] == pytest.approx(0.0)
    assert rho[0] == pytest.approx(-1.0)  # ranks 1 3 2 4 vs 4 2 3 1: 1 - 6 * 20 / 60


# ---------------------------------------------------------------- sanity


class _Linear(nn.Module):
    def __init__(self, shape=(1, 6, 8), n_classes=3):
        super().__init__()
        self.fc = nn.Linear(int(np.prod(shape)), n_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


def _gradient(model, x):
    x = x.clone().requires_grad_(True)
    out = model(x)
    target = model(x).argmax(dim=1)
    out.gather(1, target[:, None]).sum().backward()
    return x.grad.detach().flatten(1).numpy()


def _edges(model, x):  # a model-independent "explainer": horizontal edges of the input
    return np.abs(np.diff(x.numpy(), axis=-1, append=0.0)).reshape(len(x), -1)


def test_sanity_check_fails_for_edge_detector_and_passes_for_gradient():
    torch.manual_seed(0)
    model = _Linear().eval()
    x = torch.randn(5, 1, 6, 8)
    rand = randomize_model(model, random_state=0)
    edge = sanity_correlation(_edges(model, x), _edges(rand, x))
    assert edge["spearman_abs"] == pytest.approx(1.0)
    assert not passes_sanity(edge)
    # gradients of a linear model are its weight rows: unrelated after re-initialisation
    grad = sanity_correlation(_gradient(model, x), _gradient(rand, x))
    assert grad["spearman_abs"] < SANITY_THRESHOLD and passes_sanity(grad)
    assert grad["n"] == 5


def test_randomize_model_is_seeded_and_leaves_model_and_global_rng_alone():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    model(torch.zeros(1, 1, 5, 5))
    with torch.no_grad():
        model[1].running_mean.fill_(3.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = randomize_model(model, random_state=7)
    b = randomize_model(model, random_state=7)
    c = randomize_model(model, random_state=8)
    assert torch.equal(torch.random.get_rng_state(), state)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert torch.equal(a[0].weight, b[0].weight) and not torch.equal(a[0].weight, c[0].weight)
    assert not torch.equal(a[0].weight, model[0].weight)
    assert torch.equal(a[1].running_mean, torch.zeros(2))
    assert randomizable_layers(model) == ["0", "1", "4"]
    steps = list(cascading_randomizations(model, random_state=0))
    assert [name for name, _ in steps] == ["4", "1", "0"]
    first = steps[0][1]  # only the top layer re-initialised
    assert torch.equal(first[0].weight, model[0].weight)
    assert not torch.equal(first[4].weight, model[4].weight)
    with pytest.raises(ParameterError, match="not layers"):
        randomize_model(model, layers=["nope"])


def _small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 8, 3)).eval()


def test_randomization_curve_edges_stay_at_one_gradients_fall_from_the_top():
    model = _small_cnn()
    x = torch.randn(4, 1, 6, 8, generator=torch.Generator().manual_seed(1))
    calls = []

    def explain(m):
        calls.append(m)
        return {"edges": _edges(m, x), "gradient": _gradient(m, x)}

    steps = list(randomization_curve(model, explain, random_state=0))
    assert calls[0] is model and calls[1] is model and len(calls) == 2 + 4
    assert [s["layer"] for s in steps] == ["", "6", "3", "1", "0"]
    assert [s["n_layers_randomized"] for s in steps] == [0, 1, 2, 3, 4]
    edges = [s["correlations"]["edges"]["spearman_abs"] for s in steps]
    grads = [s["correlations"]["gradient"]["spearman_abs"] for s in steps]
    # a model-independent "explainer" is unchanged however much of the model is destroyed
    assert edges == pytest.approx([1.0] * 5)
    assert not passes_sanity(steps[-1]["correlations"]["edges"])
    # the gradient is the trained one at step 0, and changes as soon as the top layer is new
    assert grads[0] == pytest.approx(1.0)
    assert max(grads[1:]) < 0.5 and passes_sanity(steps[-1]["correlations"]["gradient"])
    assert steps[0]["correlations"]["gradient"]["n"] == 4


def test_randomization_curve_is_nested_seeded_and_ends_at_the_full_randomisation():
    model = _small_cnn()
    models = []
    list(randomization_curve(model, lambda m: models.append(m) or {}, random_state=3))
    full = randomize_model(model, random_state=3)
    last = models[-1]
    for a, b in zip(last.state_dict().values(), full.state_dict().values()):
        assert torch.equal(a, b)
    # a layer keeps its new weights while more layers follow
    assert torch.equal(models[2][6].weight, models[3][6].weight)
    assert not torch.equal(models[2][6].weight, model[6].weight)
    assert torch.equal(models[2][3].weight, model[3].weight)  # only the top layer at step 1
    # the cascading generator draws the same layers
    for (name, m), step_model in zip(cascading_randomizations(model, random_state=3), models[2:]):
        for a, b in zip(m.state_dict().values(), step_model.state_dict().values()):
            assert torch.equal(a, b)
    # only the ends without cascading
    models.clear()
    steps = list(randomization_curve(model, lambda m: models.append(m) or {}, cascading=False,
                                     random_state=3))
    assert [s["n_layers_randomized"] for s in steps] == [0, 4] and steps[-1]["layer"] == "0"
    assert torch.equal(models[-1][0].weight, full[0].weight)


def test_randomization_curve_needs_the_same_keys_for_every_model():
    model = _small_cnn()
    def explain(m):  # "b" only for the trained model
        return {"a": np.ones((1, 3)), **({"b": np.ones((1, 3))} if m is model else {})}

    with pytest.raises(ParameterError, match=r"no scores for \['b'\] with 1 layers"):
        list(randomization_curve(model, explain))


def test_sanity_correlation_errors_and_degenerate():
    with pytest.raises(ParameterError, match="equal shapes"):
        sanity_correlation(np.zeros((2, 3)), np.zeros((3, 3)))
    # a constant explainer (one component, or a constant model) gives correlation 0
    assert sanity_correlation(np.ones((2, 1)), np.ones((2, 1)))["spearman"] == 0.0
