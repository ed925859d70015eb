"""The Explanation object: views, save/load round trips, errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from helpers_explain import N_FRAMES, N_MELS, AdditiveModel, TinyCNN, logmel

from genrelens.config import FeatureConfig
from genrelens.errors import GenrelensError, ParameterError
from genrelens.explain import Explanation, components, explain, registry

NAMES = ("blues", "jazz", "metal")


def grid():
    return components.tf_grid(n_mels=N_MELS, n_frames=N_FRAMES, n_time=4, n_freq=2)


def assert_same(a: Explanation, b: Explanation) -> None:
    assert a.method == b.method and a.output == b.output and a.class_names == b.class_names
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.prediction, b.prediction)
    np.testing.assert_array_equal(a.logmel, b.logmel)
    assert dict(a.params) == dict(b.params) and dict(a.cost) == dict(b.cost)
    assert sorted(a.fit) == sorted(b.fit)
    for k in a.fit:
        np.testing.assert_array_equal(a.fit[k], b.fit[k])
    assert sorted(a.others) == sorted(b.others)
    for k in a.others:
        np.testing.assert_array_equal(a.others[k], b.others[k])
    ca, cb = a.components, b.components
    assert ca.kind == cb.kind and ca.names == cb.names and ca.extents == cb.extents
    assert ca.config == cb.config and ca.shape == cb.shape and dict(ca.params) == dict(cb.params)
    if ca.map is not None:
        np.testing.assert_array_equal(ca.map, cb.map)
    else:
        np.testing.assert_array_equal(ca.stems.stft, cb.stems.stft)
        assert ca.stems.names == cb.stems.names
    assert a.fill.kind == b.fill.kind and dict(a.fill.params) == dict(b.fill.params)
    if a.fill.array is not None:
        np.testing.assert_array_equal(a.fill.array, b.fill.array)


@pytest.mark.parametrize("method", ["hybrid", "occlusion", "lime"])
def test_save_load_round_trip(tmp_path, method):
    exp = explain(TinyCNN(), logmel(), method=method, components=grid(), class_names=NAMES,
                  fill="noise", **registry.settings_for(method, n_samples=40))
    path = exp.save(tmp_path / "sub" / "exp")
    assert path.name == "exp.json" and (tmp_path / "sub" / "exp.npz").is_file()
    assert_same(exp, Explanation.load(tmp_path / "sub" / "exp.json"))
    assert_same(exp, Explanation.load(tmp_path / "sub" / "exp"))


def _stems_input():
    """Stem components of a short noise clip and the clip's log-mel."""
    from genrelens import features

    config = FeatureConfig(sr=8000, n_fft=256, hop_length=64, n_mels=16, segment_seconds=0.25)
    y = np.random.default_rng(0).standard_normal(config.segment_samples).astype(np.float32) * 0.1
    return (components.stems(y, config=config, n_segments=2, kernel_size=5),
            features.log_mel(y, config=config))


def test_round_trip_stems_and_dotted_name(tmp_path):
    c, x = _stems_input()
    exp = explain(TinyCNN(), x, method="kernel_shap", components=c, n_samples=64)
    assert exp.params["design"] == "enumeration" and exp.fill.kind == "remove"
    np.testing.assert_allclose(exp.logmel, x, atol=2e-3)
    exp.save(tmp_path / "clip.v1")
    assert_same(exp, Explanation.load(tmp_path / "clip.v1"))
    with pytest.raises(ParameterError, match="stem"):
        exp.to_map()


def test_tampered_or_missing_files_are_detected(tmp_path):
    exp = explain(TinyCNN(), logmel(), method="occlusion", components=grid())
    exp.save(tmp_path / "a")
    other = explain(TinyCNN(), logmel(1), method="occlusion", components=grid())
    other.save(tmp_path / "b")
    (tmp_path / "a.npz").write_bytes((tmp_path / "b.npz").read_bytes())
    with pytest.raises(GenrelensError, match="SHA-256"):
        Explanation.load(tmp_path / "a")
    with pytest.raises(GenrelensError, match="cannot read"):
        Explanation.load(tmp_path / "missing")
    record = json.loads((tmp_path / "b.json").read_text())
    record["schema_version"] = 99
    (tmp_path / "b.json").write_text(json.dumps(record))
    with pytest.raises(GenrelensError, match="schema_version=99: this genrelens reads schema "
                                             "versions 1 to 2"):
        Explanation.load(tmp_path / "b")


def test_top_to_map_and_targets():
    c = grid()
    w = np.array([[1.0, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1], [0, 0, 0, 0, 0, 0, 0, 9]])
    x = np.full((N_MELS, N_FRAMES), -50.0, np.float32)
    exp = explain(AdditiveModel(c, w), x, method="occlusion", components=c, output="logits",
                  class_names=NAMES, fill=-100.0)
    top = exp.top(3, target="jazz")
    assert [t.index for t in top] == [0, 1, 2] and top[0].name == c.names[0]
    assert top[0].score == pytest.approx(8 * 50)
    assert [t.index for t in exp.top(2, target=0)] == [7, 6]
    assert exp.top(1)[0].index == 7  # predicted class: metal (logit 9 * -50 ... largest)
    assert exp.class_index(None) == exp.predicted_class
    painted = exp.to_map("blues")
    assert painted.shape == (N_MELS, N_FRAMES)
    assert painted.sum() == pytest.approx(exp.scores[0].sum())
    assert painted[0, 0] == pytest.approx(exp.scores[0, 0] / 40)
    for bad, param in ((0, "k"), (True, "k")):
        with pytest.raises(ParameterError, match=param):
            exp.top(bad)
    with pytest.raises(ParameterError, match="target"):
        exp.top(1, target="rock")
    with pytest.raises(ParameterError, match="target"):
        exp.top(1, target=3)
    with pytest.raises(ParameterError, match="name"):
        exp.as_method("lime")
    assert "occlusion" in repr(exp)


def test_dense_explanation_and_validation():
    dense = np.zeros((3, N_MELS, N_FRAMES))
    dense[1, 4, 7] = 2.0
    exp = Explanation(method="gradcam", scores=dense, prediction=[0.2, 0.5, 0.3],
                      logmel=logmel())
    assert exp.is_dense and exp.top(1)[0].name == "mel 4, frame 7"
    assert exp.top(1)[0].index == 4 * N_FRAMES + 7
    np.testing.assert_array_equal(exp.to_map(), dense[1])
    with pytest.raises(ParameterError, match="scores"):
        Explanation(method="x", scores=np.zeros((3, 5)), prediction=[0.2, 0.5, 0.3],
                    logmel=logmel())
    with pytest.raises(ParameterError, match="class_names"):
        dataclasses.replace(exp, class_names=("a",))
    with pytest.raises(ValueError):
        exp.scores[0, 0, 0] = 1.0  # frozen arrays


def _stem_explanations():
    c, x = _stems_input()
    return [explain(TinyCNN(), x, method=m, components=c, n_samples=32)
            for m in ("lime", "kernel_shap")] + [explain(TinyCNN(), x, method="occlusion",
                                                         components=c)]


def test_explanations_of_one_segment_share_one_stft_file_and_round_trip(tmp_path):
    exps = _stem_explanations()
    for exp in exps:
        exp.save(tmp_path / exp.method, share_stems=True)
    (shared,) = tmp_path.glob("stft-*.npz")  # one copy for the three methods
    stft_bytes = exps[0].components.stems.stft.nbytes
    for exp in exps:
        record = json.loads((tmp_path / f"{exp.method}.json").read_text())
        assert record["schema_version"] == 2 and "format_version" not in record
        assert record["shared_arrays"]["stems_stft"]["file"] == shared.name
        assert (tmp_path / f"{exp.method}.npz").stat().st_size < stft_bytes / 4
        assert_same(exp, Explanation.load(tmp_path / exp.method))
    alone = tmp_path / "alone"
    alone.mkdir()
    exps[0].save(alone / "lime")  # by default everything stays in the explanation's NPZ
    assert sorted(p.name for p in alone.iterdir()) == ["lime.json", "lime.npz"]


def test_shared_files_are_checked(tmp_path):
    exp = _stem_explanations()[0]
    exp.save(tmp_path / "a", share_stems=True)
    (shared,) = tmp_path.glob("stft-*.npz")
    payload = shared.read_bytes()
    shared.write_bytes(payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(GenrelensError, match="SHA-256 differs"):
        Explanation.load(tmp_path / "a")
    shared.unlink()
    with pytest.raises(GenrelensError, match="copy it along with the explanation"):
        Explanation.load(tmp_path / "a")
    record = json.loads((tmp_path / "a.json").read_text())
    record["shared_arrays"]["stems_stft"]["file"] = "../elsewhere.npz"
    (tmp_path / "a.json").write_text(json.dumps(record))
    with pytest.raises(GenrelensError, match="expected a file name in the same folder"):
        Explanation.load(tmp_path / "a")


def test_files_of_schema_version_1_still_load(tmp_path):
    exp = explain(TinyCNN(), logmel(), method="occlusion", components=grid())
    exp.save(tmp_path / "old")
    record = json.loads((tmp_path / "old.json").read_text())
    del record["schema_version"]
    record["format_version"] = 1  # as genrelens wrote it before the schema had a version
    (tmp_path / "old.json").write_text(json.dumps(record))
    assert_same(exp, Explanation.load(tmp_path / "old"))
