import json

import numpy as np
import pytest
import soundfile as sf
import torch

from genrelens.explain.fill import DEFAULT_FILL
from genrelens import cli
from genrelens.config import FeatureConfig
from genrelens.explain.explanation import Explanation
from genrelens.models import get_model, save_checkpoint

CONFIG = FeatureConfig(
    sr=8000, n_fft=512, hop_length=128, n_mels=32, segment_seconds=1.0, segment_hop_seconds=1.0
)
CLASSES = ("blues", "jazz", "metal")


@pytest.fixture(scope="module")
def run_and_audio(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    torch.manual_seed(0)
    args = {"n_classes": 3, "channels": [4, 4, 8, 8]}
    model = get_model("cnn", **args).eval()
    save_checkpoint(
        root / "run" / "checkpoint.pt",
        model=model,
        model_name="cnn",
        model_args=args,
        feature_config=CONFIG,
        class_names=CLASSES,
    )
    t = np.arange(int(2.4 * CONFIG.sr)) / CONFIG.sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    sf.write(root / "clip.wav", y.astype(np.float32), CONFIG.sr, subtype="FLOAT")
    return root


@pytest.fixture(scope="module")
def explained(run_and_audio):
    root = run_and_audio
    out = root / "out"
    code = cli.main(
        [
            "explain",
            str(root / "run"),
            str(root / "clip.wav"),
            "--methods",
            "lime,shap,occlusion,gradcam,ig",
            "--components",
            "time",
            "--samples",
            "24",
            "--out",
            str(out),
            "--seed",
            "3",
            "--no-progress",
        ]
    )
    assert code == 0
    return out


def test_summary_lists_every_method_and_kind(explained, capsys):
    summary = json.loads((explained / "summary.json").read_text())
    got = {(r["method"], r["kind"]) for r in summary["results"]}
    assert got == {
        ("lime", "time"),
        ("kernel_shap", "time"),
        ("occlusion", "time"),
        ("gradcam", "dense"),
        ("ig", "dense"),
    }
    assert summary["class_names"] == list(CLASSES) and summary["segment_index"] == [0, 1]
    probs = np.array(summary["segment_predictions"])
    np.testing.assert_allclose(summary["track_prediction"], probs.mean(0))
    assert summary["target"]["index"] == int(np.argmax(probs.mean(0)))
    by = {(r["method"], r["kind"]): r for r in summary["results"]}
    # LIME and SHAP share one set of evaluations (the hybrid)
    shared = by[("lime", "time")]["n_evaluations"]
    assert shared == by[("kernel_shap", "time")]["n_evaluations"] <= 2 * 24
    assert by[("occlusion", "time")]["n_evaluations"] == 2 * 12  # M + 1, and all off
    for entry in summary["results"]:
        for f in entry["files"]:
            assert (explained / f).is_file(), f
    assert len(by[("kernel_shap", "time")]["top_components"]) == 3


def test_segment_files_and_track_aggregates(explained, run_and_audio):
    segs = [Explanation.load(explained / "segments" / f"{i:03d}" / "kernel_shap_time")
            for i in range(2)]
    assert segs[0].method == "kernel_shap" and segs[0].class_names == CLASSES
    assert segs[0].params["random_state"] != segs[1].params["random_state"]
    track = np.load(explained / "track" / "kernel_shap_time.npz")
    np.testing.assert_allclose(track["mean_scores"], (segs[0].scores + segs[1].scores) / 2)
    ig = Explanation.load(explained / "segments" / "000" / "ig_dense")
    assert ig.is_dense and ig.fill.kind == DEFAULT_FILL and ig.params["config"] == CONFIG.to_dict()
    cam = Explanation.load(explained / "segments" / "000" / "gradcam_dense")
    assert cam.params["config"] == CONFIG.to_dict() and cam.params["layer"] == "features.3.0"
    # listenable: top + rest is the segment's audio
    y, sr = sf.read(run_and_audio / "clip.wav", dtype="float32")
    for name in ("kernel_shap_time", "ig_dense", "gradcam_dense"):
        top, _ = sf.read(explained / "segments" / "001" / f"{name}_top.wav", dtype="float32")
        rest, _ = sf.read(explained / "segments" / "001" / f"{name}_rest.wav", dtype="float32")
        segment = y[CONFIG.segment_samples : 2 * CONFIG.segment_samples]
        err = segment - (top + rest)
        assert 10 * np.log10(np.sum(segment**2) / np.sum(err**2)) > 40, name
    track_top, _ = sf.read(explained / "track" / "kernel_shap_time_top.wav", dtype="float32")
    assert track_top.size == 2 * CONFIG.segment_samples
    assert (explained / "track" / "ig_dense.png").read_bytes()[:4] == b"\x89PNG"


def test_lime_shap_and_hybrid_together_run_one_hybrid_per_segment(run_and_audio, capsys):
    """Regression: lime,shap,hybrid ran the hybrid twice per segment, gave lime and shap four
    results for two segments and no hybrid result."""
    root = run_and_audio
    out = root / "three"
    code = cli.main(["explain", str(root / "run"), str(root / "clip.wav"), "--methods",
                     "lime,shap,hybrid", "--components", "time", "--samples", "24", "--out",
                     str(out), "--no-progress"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    by = {(r["method"], r["kind"]): r for r in summary["results"]}
    assert list(by) == [("lime", "time"), ("kernel_shap", "time"), ("hybrid", "time")]
    assert [r["n_segments"] for r in by.values()] == [2, 2, 2]
    # one evaluation set per segment serves all three
    assert len({r["n_evaluations"] for r in by.values()}) == 1
    for i in range(2):
        folder = out / "segments" / f"{i:03d}"
        hybrid = Explanation.load(folder / "hybrid_time")
        assert hybrid.method == "hybrid"
        for view in ("lime", "kernel_shap"):
            exp = Explanation.load(folder / f"{view}_time")
            assert exp.method == view
            np.testing.assert_array_equal(exp.scores, hybrid.others[view])


@pytest.mark.slow
def test_stems_through_the_command_line(run_and_audio, capsys):
    root = run_and_audio
    out = root / "stems"
    code = cli.main(
        [
            "explain",
            str(root / "run"),
            str(root / "clip.wav"),
            "--methods",
            "shap",
            "--components",
            "stems",
            "--samples",
            "40",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    exp = Explanation.load(out / "segments" / "000" / "kernel_shap_stems")
    assert exp.components.kind == "stems" and exp.scores.shape == (3, 30)
    y, _ = sf.read(root / "clip.wav", dtype="float32")
    top, _ = sf.read(out / "segments" / "000" / "kernel_shap_stems_top.wav", dtype="float32")
    rest, _ = sf.read(out / "segments" / "000" / "kernel_shap_stems_rest.wav", dtype="float32")
    segment = y[: CONFIG.segment_samples]
    assert 10 * np.log10(np.sum(segment**2) / np.sum((segment - top - rest) ** 2)) > 40
    assert (out / "track" / "kernel_shap_stems.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "track" / "kernel_shap_stems_top.wav").exists()  # stems have no timeline


def test_target_and_segments_options(run_and_audio, capsys):
    root = run_and_audio
    code = cli.main(
        [
            "explain",
            str(root / "run" / "checkpoint.pt"),
            str(root / "clip.wav"),
            "--methods",
            "occlusion",
            "--components",
            "freq",
            "--segments",
            "1",
            "--target",
            "metal",
            "--out",
            str(root / "o2"),
            "--no-progress",
            "--fill",
            "-80",
        ]
    )
    assert code == 0
    summary = json.loads((root / "o2" / "summary.json").read_text())
    assert summary["target"] == {"index": 2, "name": "metal"} and summary["segment_index"] == [1]
    top, _ = sf.read(root / "o2" / "track" / "occlusion_frequency_top.wav")
    assert top.size == CONFIG.segment_samples  # the track view of one segment is that segment
    exp = Explanation.load(root / "o2" / "segments" / "001" / "occlusion_frequency")
    assert exp.fill.kind == "constant" and exp.fill.params["value"] == -80.0
    assert "metal" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--methods", "magic"], "methods="),
        (["--components", "pixels"], "kinds="),
        (["--target", "polka"], "target='polka'"),
        (["--segments", "7"], "segment_index="),
        (["--segments", "a"], "--segments='a'"),
    ],
)
def test_errors_are_one_line_exit_3(run_and_audio, tmp_path, capsys, extra, message):
    root = run_and_audio
    code = cli.main(
        [
            "explain",
            str(root / "run"),
            str(root / "clip.wav"),
            "--out",
            str(tmp_path / "o"),
            "--methods",
            "occlusion",
            "--components",
            "time",
            "--no-progress",
            *extra,
        ]
    )
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("genrelens explain: error:") and message in err and "\n" not in err


def test_missing_checkpoint_is_an_error(tmp_path, run_and_audio, capsys):
    code = cli.main(
        ["explain", str(tmp_path), str(run_and_audio / "clip.wav"), "--out", str(tmp_path / "o")]
    )
    assert code == 3 and "checkpoint" in capsys.readouterr().err
