"""Component-level localisation metrics and the off-manifold signs, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.evaluate.groundtruth import (
    best_hit_rank,
    component_hits,
    component_pointing_game,
)
from genrelens.evaluate.manifold import EDGE_RATIO, edge_components, edge_share, manifold_check
from genrelens.explain import components as C
from genrelens.explain.explanation import Explanation

CFG = FeatureConfig(n_mels=16)
X = np.zeros((16, 20), np.float32)


def _grid():
    return C.tf_grid(n_mels=16, n_frames=20, n_time=4, n_freq=4, config=CFG)


def test_component_hits_are_the_components_sharing_a_cell_with_the_mask():
    comps = _grid()  # 4 x 4 patches of 4 bands x 5 frames
    mask = np.zeros((16, 20), bool)
    mask[3:5, 4:6] = True  # straddles four patches
    hits = component_hits(comps.map, mask)
    touched = set(np.unique(comps.map[mask]))
    assert hits.sum() == 4 and set(np.flatnonzero(hits)) == touched


def test_component_pointing_game_and_rank_on_hand_made_scores():
    hits = np.array([False, True, False, True, False])
    assert component_pointing_game(np.array([0, 5, 1, 2, 0.0]), hits) == 1.0
    assert component_pointing_game(np.array([9, 5, 1, 2, 0.0]), hits) == 0.0
    assert component_pointing_game(np.array([5, 5, 1, 5, 0.0]), hits) == pytest.approx(2 / 3)
    assert best_hit_rank(np.array([0, 5, 1, 2, 0.0]), hits) == 1.0
    assert best_hit_rank(np.array([9, 5, 7, 2, 0.0]), hits) == 3.0
    # constant scores: the chance level (M + 1) / (H + 1)
    assert best_hit_rank(np.zeros(5), hits) == pytest.approx(6 / 3)
    assert component_pointing_game(np.zeros(5), hits) == pytest.approx(hits.mean())
    assert np.isnan(component_pointing_game(np.ones(5), np.zeros(5, bool)))
    assert np.isnan(best_hit_rank(np.ones(5), np.zeros(5, bool)))


def test_random_scores_average_to_the_chance_levels():
    rng = np.random.default_rng(0)
    hits = np.zeros(20, bool)
    hits[[3, 7, 11]] = True
    draws = [rng.standard_normal(20) for _ in range(4000)]
    assert np.mean([component_pointing_game(s, hits) for s in draws]) == pytest.approx(
        3 / 20, abs=0.02)
    assert np.mean([best_hit_rank(s, hits) for s in draws]) == pytest.approx(21 / 4, abs=0.15)


def test_localisation_metrics_reject_bad_input():
    with pytest.raises(ParameterError, match="shape"):
        component_hits(np.zeros((2, 3), int), np.zeros((3, 2), bool))
    with pytest.raises(ParameterError, match="no component"):
        component_hits(-np.ones((2, 3), int), np.zeros((2, 3), bool))
    with pytest.raises(ParameterError, match="shape"):
        component_pointing_game(np.zeros(3), np.zeros(4, bool))
    with pytest.raises(ParameterError, match="NaN"):
        best_hit_rank(np.array([np.nan, 1.0]), np.ones(2, bool))


def test_edge_components_of_each_kind():
    time = C.time_segments(n_mels=16, n_frames=20, n_segments=5, config=CFG)
    freq = C.frequency_bands(n_mels=16, n_frames=20, n_bands=4, config=CFG)
    grid = _grid()
    assert np.flatnonzero(edge_components(time.map)).tolist() == [0, 4]
    assert edge_components(freq.map).sum() == 2
    assert edge_components(grid.map).sum() == 12  # the ring of a 4 x 4 grid
    tf = C.tf_grid(n_mels=128, n_frames=130, config=FeatureConfig())
    assert edge_components(tf.map).sum() == 32


def test_edge_share_and_the_flag():
    grid = _grid()
    edges = edge_components(grid.map)
    scores = np.where(edges, 1.0, 0.0)
    share, area = edge_share(scores, grid.map)
    assert share == 1.0 and area == pytest.approx(12 / 16)
    scores = np.where(edges, 0.0, 1.0)
    assert edge_share(scores, grid.map)[0] == 0.0
    assert np.isnan(edge_share(-np.ones(16), grid.map)[0])

    def exp(s: np.ndarray) -> Explanation:
        return Explanation(method="kernel_shap", scores=s[None], prediction=np.array([1.0]), logmel=X,
                           components=grid, class_names=("a",),
                           fit={"off_prediction": np.array([1.0])})

    # a 6 x 6 grid: its ring holds 20/36 of the area; all relevance there is 1.8x that
    six = C.tf_grid(n_mels=16, n_frames=20, n_time=6, n_freq=6, config=CFG)
    on_ring = np.where(edge_components(six.map), 1.0, 0.0)
    check = manifold_check(Explanation(
        method="lime", scores=on_ring[None], prediction=np.array([1.0]), logmel=X, components=six,
        class_names=("a",), fit={"off_prediction": np.array([0.3])}))
    assert check["edge_ratio"] >= EDGE_RATIO and check["flagged"] and "borders" in check["reason"]
    assert check["off_target_probability"] == pytest.approx(0.3) and check["off_top"] == "a"
    inner = manifold_check(exp(np.where(edges, 0.0, 1.0)))
    assert not inner["flagged"] and inner["reason"] == ""
