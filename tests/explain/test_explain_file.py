"""``genrelens.explain_file``: from a run (or checkpoint) and an audio file to explanations."""

from __future__ import annotations

import numpy as np
import pytest

import genrelens
from genrelens.audio import load_segments
from genrelens.errors import CheckpointError, ParameterError
from genrelens.explain.track import TrackExplanation, explain_track
from genrelens.models import load_checkpoint
from genrelens.models.inference import predict_files


@pytest.fixture(scope="module")
def occlusion_time(tiny_run):
    return genrelens.explain_file(tiny_run, tiny_run / "clip.wav", method="occlusion",
                                  kind="time", batch_size=8)


def test_explain_file_is_the_track_pipeline_in_one_call(tiny_run, occlusion_time):
    track = occlusion_time
    assert isinstance(track, TrackExplanation) and "explain_file" in genrelens.__all__
    assert (track.method, track.kind) == ("occlusion", "time")
    assert track.segment_index.tolist() == [0, 1]  # 2.4 s in 1-s segments
    loaded = load_checkpoint(tiny_run / "checkpoint.pt")
    segments = load_segments(tiny_run / "clip.wav", config=loaded.feature_config)
    (by_hand,) = explain_track(loaded, segments, config=loaded.feature_config,
                               methods=["occlusion"], kinds=["time"], batch_size=8).values()
    for ours, theirs in zip(track.segments, by_hand.segments, strict=True):
        assert ours.components.kind == "time" and ours.class_names == ("blues", "jazz", "metal")
        np.testing.assert_array_equal(ours.scores, theirs.scores)
    (prediction,), _ = predict_files(loaded, [tiny_run / "clip.wav"])
    np.testing.assert_allclose(track.prediction, prediction.probabilities, atol=1e-6)


def test_summary_names_the_prediction_and_the_top_components(occlusion_time):
    track = occlusion_time
    summary = track.summary(k=2)
    assert summary["predicted"] == ["blues", "jazz", "metal"][int(np.argmax(track.prediction))]
    assert summary["target"] == summary["predicted"]
    assert list(summary["prediction"]) == ["blues", "jazz", "metal"]
    assert sum(summary["prediction"].values()) == pytest.approx(1.0, abs=1e-9)
    c = ["blues", "jazz", "metal"].index(summary["target"])
    best = np.argsort(-track.mean_scores[c], kind="stable")[:2].tolist()
    assert [t["index"] for t in summary["top_components"]] == best
    assert track.summary(target="jazz")["target"] == "jazz"
    m = track.segments[0].components.n_components
    assert summary["cost"]["n_evaluations"] == 2 * (m + 2)  # per segment: M + 1, and all off


def test_a_checkpoint_file_and_a_loaded_model_give_the_same_explanations(tiny_run):
    # the same segment in each call
    def segment_1(source):
        return genrelens.explain_file(source, tiny_run / "clip.wav", method="occlusion",
                                      kind="time", segment_index=[1], batch_size=8).segments[0]

    reference = segment_1(tiny_run)
    for source in (tiny_run / "checkpoint.pt", load_checkpoint(tiny_run / "checkpoint.pt")):
        np.testing.assert_array_equal(segment_1(source).scores, reference.scores)


def test_gradient_methods_give_dense_maps_without_top_components(tiny_run):
    track = genrelens.explain_file(tiny_run, tiny_run / "clip.wav", method="gradcam")
    assert track.kind == "dense" and track.mean_scores.ndim == 3
    assert "top_components" not in track.summary()


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"method": "magic"}, ParameterError, "method='magic' is invalid"),
    ({"kind": "bands"}, ParameterError, "kind='bands' is invalid"),
])
def test_bad_settings_are_named(tiny_run, kwargs, error, message):
    with pytest.raises(error, match=message):
        genrelens.explain_file(tiny_run, tiny_run / "clip.wav", **kwargs)


def test_a_folder_without_a_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint.pt"):
        genrelens.explain_file(tmp_path, tmp_path / "clip.wav")


def test_write_track_keeps_one_stft_per_segment_for_all_stem_methods(tiny_run, tmp_path):
    from genrelens.explain.explanation import Explanation
    from genrelens.explain.track import write_track

    loaded = load_checkpoint(tiny_run / "checkpoint.pt")
    segments = load_segments(tiny_run / "clip.wav", config=loaded.feature_config)
    results = explain_track(loaded, segments, config=loaded.feature_config,
                            methods=["occlusion", "lime"], kinds=["stems"], n_samples=40,
                            batch_size=8)
    write_track(results, segments, tmp_path / "out")
    folders = sorted((tmp_path / "out" / "segments").iterdir())
    assert len(folders) == len(segments) == 2
    for folder in folders:
        (shared,) = folder.glob("stft-*.npz")  # one copy, not one per method
        occlusion, lime = (Explanation.load(folder / f"{m}_stems") for m in ("occlusion", "lime"))
        stft = occlusion.components.stems.stft
        np.testing.assert_array_equal(stft, lime.components.stems.stft)
        assert (folder / "lime_stems.npz").stat().st_size < stft.nbytes / 4
