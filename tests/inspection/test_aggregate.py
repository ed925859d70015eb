"""Per-genre aggregates of local scores: means, spread, counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genrelens.inspection.aggregate import aggregate_scores


def test_aggregate_counts_and_leaves_the_spread_of_one_segment_undefined():
    scores = np.zeros((3, 2, 2))
    scores[0, 0] = [1.0, -2.0]  # genre a: two segments
    scores[1, 0] = [3.0, 2.0]
    scores[2, 1] = [0.5, 0.25]  # genre b: a single segment
    rows = aggregate_scores(scores, np.array([0, 0, 1]), class_names=["a", "b"],
                            component_names=["low", "high"], kind="frequency")
    by = {(r["genre"], r["component"]): r for r in rows}
    assert by[("a", "low")]["mean"] == 2.0 and by[("a", "high")]["mean_abs"] == 2.0
    assert by[("a", "low")]["std"] == pytest.approx(math.sqrt(2.0))  # ddof = 1
    assert by[("a", "low")]["n"] == 2 and by[("b", "high")]["n"] == 1
    assert by[("b", "high")]["mean"] == 0.25
    assert math.isnan(by[("b", "low")]["std"])  # not 0: one segment has no spread to measure
