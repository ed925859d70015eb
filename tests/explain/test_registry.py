"""The one vocabulary of methods and component kinds, and the settings each method takes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import components, explain, registry
from genrelens.explain.batch import RESULT_FILE, load_track_result, track_dir_name
from genrelens.explain.track import explain_track

from helpers_explain import TinyCNN, logmel

PACKAGE = Path(registry.__file__).resolve().parents[1]
TRACK_CONFIG = FeatureConfig(sr=8000, n_fft=256, hop_length=128, n_mels=16,
                             segment_seconds=0.5, segment_hop_seconds=0.5)


def test_method_facts():
    assert registry.METHODS == ("lime", "kernel_shap", "hybrid", "occlusion", "gradcam", "ig")
    assert registry.DENSE == ("gradcam", "ig")
    assert registry.PERTURBATION == ("lime", "kernel_shap", "hybrid", "occlusion")
    hybrid = registry.method("hybrid")
    assert hybrid.views == ("kernel_shap", "lime") and hybrid.primary == "kernel_shap"
    assert registry.method("lime").views == ("lime",)
    assert registry.method("occlusion").primary == "occlusion"
    assert registry.method("gradcam").settings == () and registry.method("ig").settings == ()
    assert set(registry.method("kernel_shap").settings) == {"n_samples", "sampling", "tol",
                                                            "round_size"}
    assert registry.method("lime").samplings[0] == "uniform"
    assert registry.method("kernel_shap").samplings[0] == "shapley"
    with pytest.raises(ParameterError, match=r"method='shap' is unknown"):
        registry.method("shap")


def test_aliases_resolve_to_canonical_names_only():
    assert registry.canonical_method("shap") == "kernel_shap"
    assert registry.canonical_kind("freq") == "frequency"
    assert registry.canonical_kind("tf") == "tf_grid"
    assert registry.canonical_method("lime") == "lime"
    assert set(registry.METHOD_ALIASES.values()) <= set(registry.METHODS)
    assert set(registry.KIND_ALIASES.values()) <= set(registry.KINDS)
    assert not set(registry.METHOD_ALIASES) & set(registry.METHODS)
    assert not set(registry.KIND_ALIASES) & set(registry.KINDS)


@pytest.mark.parametrize("names", [(), ("lime", "lime"), ("shap",), ("lime", 3)])
def test_check_methods_refuses_empty_repeated_unknown_and_alias(names):
    with pytest.raises(ParameterError, match=r"methods=.* is invalid"):
        registry.check_methods(names)


def test_build_components_by_name():
    config = FeatureConfig(n_mels=16)
    time = registry.build_components("time", config=config, n_frames=20)
    assert time.kind == "time" and time.n_components == 10
    bands = registry.build_components("frequency", config=config, n_frames=20, n_bands=4)
    np.testing.assert_array_equal(
        bands.map, components.frequency_bands(config=config, n_frames=20, n_bands=4).map)
    assert bands.kind == "frequency"
    grid = registry.build_components("tf_grid", config=config, n_frames=20)
    np.testing.assert_array_equal(grid.map, components.tf_grid(config=config, n_frames=20).map)
    with pytest.raises(ParameterError, match="audio="):
        registry.build_components("stems", config=config, n_frames=20)
    with pytest.raises(ParameterError, match=r"kind=\['tf'\] is invalid"):
        registry.build_components("tf", config=config, n_frames=20)


def test_settings_for_keeps_what_a_method_uses():
    given = {"n_samples": 50, "tol": 0.1, "kernel_width": 1.0, "fill": "min"}
    assert registry.settings_for("lime", **given) == given
    assert registry.settings_for("kernel_shap", **given) == {"n_samples": 50, "tol": 0.1,
                                                             "fill": "min"}
    assert registry.settings_for("occlusion", **given) == {"fill": "min"}
    assert registry.settings_for("gradcam", **given) == {"fill": "min"}


@pytest.mark.parametrize("method, settings, named", [
    ("gradcam", {"n_samples": -5}, "n_samples=-5"),
    ("gradcam", {"n_samples": 1000}, "n_samples=1000"),
    ("ig", {"tol": 0.01, "sampling": "uniform"}, "sampling='uniform', tol=0.01"),
    ("ig", {"kernel_width": 1.0, "round_size": 10}, "round_size=10, kernel_width=1.0"),
    ("occlusion", {"n_samples": 100}, "n_samples=100"),
    ("kernel_shap", {"alpha": 2.0}, "alpha=2.0"),
])
def test_explain_refuses_settings_the_method_does_not_use(method, settings, named):
    with pytest.raises(ParameterError) as info:
        explain(TinyCNN(), logmel(), method=method, **settings)
    message = str(info.value)
    assert message.startswith(named) and f"method={method!r}" in message
    assert "leave" in message


def test_lime_and_kernel_shap_take_their_settings():
    c = components.tf_grid(n_mels=16, n_frames=20, n_time=3, n_freq=2)
    exp = explain(TinyCNN(), logmel(), method="lime", components=c, n_samples=30, alpha=2.0,
                  distance="cosine", kernel_width=0.5)
    assert exp.params["alpha"] == 2.0 and exp.params["distance"] == "cosine"
    assert exp.params["n_samples"] == 30
    shap = explain(TinyCNN(), logmel(), method="kernel_shap", components=c)
    assert shap.params["n_samples"] == 1000 and shap.params["design"] == "enumeration"


def _track(methods, kinds=("time",)):
    rng = np.random.default_rng(0)
    segments = 0.1 * rng.standard_normal((2, TRACK_CONFIG.segment_samples))
    return explain_track(TinyCNN(), segments, config=TRACK_CONFIG, methods=methods, kinds=kinds,
                         n_samples=24, random_state=1, batch_size=8)


def test_explain_track_lime_kernel_shap_and_hybrid_together():
    """Regression: ("lime", "shap", "hybrid") ran the hybrid twice per segment, gave lime and
    shap four results for two segments and no hybrid result."""
    results = _track(("lime", "kernel_shap", "hybrid"))
    assert list(results) == [("lime", "time"), ("kernel_shap", "time"), ("hybrid", "time")]
    for (method, _), res in results.items():
        assert res.method == method and len(res.segments) == 2
        assert [e.method for e in res.segments] == [method, method]
    hybrid = results[("hybrid", "time")]
    for view in ("lime", "kernel_shap"):
        for exp, both in zip(results[(view, "time")].segments, hybrid.segments):
            np.testing.assert_array_equal(exp.scores, both.others[view])
            assert exp.params["random_state"] == both.params["random_state"]
    # one hybrid run per segment: the same cost ledger for all three
    assert len({res.cost()["n_evaluations"] for res in results.values()}) == 1
    # and the same numbers as asking for lime and kernel_shap alone
    pair = _track(("lime", "kernel_shap"))
    for key in pair:
        np.testing.assert_array_equal(pair[key].mean_scores, results[key].mean_scores)


def test_explain_track_names_are_canonical():
    results = _track(("kernel_shap", "gradcam"), kinds=("frequency",))
    assert list(results) == [("kernel_shap", "frequency"), ("gradcam", "dense")]
    assert results[("kernel_shap", "frequency")].method == "kernel_shap"
    assert "n_samples" not in results[("gradcam", "dense")].segments[0].params
    with pytest.raises(ParameterError, match=r"methods=\['shap'\] is invalid"):
        _track(("shap",))
    with pytest.raises(ParameterError, match=r"kinds=\['tf'\] is invalid"):
        _track(("lime",), kinds=("tf",))


def test_results_written_with_the_older_spellings_load_with_canonical_keys(tmp_path):
    folder = tmp_path / track_dir_name("blues/one")
    folder.mkdir()
    np.savez(folder / "shap_tf.npz", mean_scores=np.ones((2, 3)))
    (folder / RESULT_FILE).write_text(json.dumps(
        {"results": [{"method": "shap", "kind": "tf", "file": "shap_tf.npz"}]}))
    _, arrays = load_track_result(tmp_path, "blues/one")
    assert list(arrays) == [("kernel_shap", "tf_grid")]
    np.testing.assert_array_equal(arrays[("kernel_shap", "tf_grid")]["mean_scores"], 1.0)


def test_no_method_or_kind_is_spelled_two_ways():
    """The aliases appear as string literals only in the registry (the CLI resolves them
    through it)."""
    aliases = [*registry.METHOD_ALIASES, *registry.KIND_ALIASES]
    literal = re.compile(r"""(["'])(%s)\1""" % "|".join(map(re.escape, aliases)))
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "registry.py" and path.parent.name == "explain":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if literal.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == []
