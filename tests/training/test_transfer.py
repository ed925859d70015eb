"""Transfer learning with a frozen musicnn backbone: embeddings and their cache, the head,
the self-describing checkpoint (its front end), ``genrelens train --frozen``, predict,
evaluate and explain (every method, Grad-CAM on the backbone), errors."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from genrelens.audio import load_audio
from transfer_data import split_by_class, tone_noise_folder

from genrelens.cli import EXIT_ERROR, main
from genrelens.config import preset
from genrelens.data import open_dataset
from genrelens.data.splits import Split
from genrelens.errors import CheckpointError, ParameterError
from genrelens.explain.explanation import Explanation
from genrelens.features import log_mel
from genrelens.models import get_model, load_checkpoint
from genrelens.models.inference import predict_proba
from genrelens.models.checkpoint import read_checkpoint_dict
from genrelens.models.musicnn import MUSICNN_FEATURES, musicnn_file_patches
from genrelens.models.transfer import TransferModel, state_digest
from genrelens.training import TrainConfig
from genrelens.training.run import train_transfer_run
from genrelens.training.transfer import (
    embed_dataset,
    embedding_cache_file,
    head_probabilities,
)

needs_wheel = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                 reason="musicnn wheel absent (pip install --no-deps "
                                 "musicnn==0.1.0)")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two classes in class-per-folder form: steady tones vs noise bursts, 4 tracks each."""
    return tone_noise_folder(tmp_path_factory.mktemp("transfer") / "data", n_per_class=4)


@pytest.fixture(scope="module")
def split(folder):
    return split_by_class(folder, n_train=2)


def _config(seed=0, **head):
    return TrainConfig(model="transfer", model_args={"backbone": "MSD_musicnn", **head},
                       epochs=25, patience=25, lr=1e-2, batch_size=4, seed=seed)


@pytest.fixture(scope="module")
def run(tmp_path_factory, folder, split):
    """The tracks' embeddings go to ``RUN/../cache``, shared by the other tests."""
    out = tmp_path_factory.mktemp("runs") / "run"
    return train_transfer_run(folder, out=out, config=_config(), split=split, progress=False)


@needs_wheel
def test_embeddings_shapes_values_and_cache_round_trip(folder, run):
    assert run.embedding_seconds > 0  # computed once, by the run
    ds = open_dataset(folder)
    cache = run.run_dir.parent / "cache"
    model = run.model
    first, skips, seconds = embed_dataset(ds, model=model, backbone="MSD_musicnn",
                                          cache_dir=cache)
    assert skips == () and seconds == 0.0  # read from the cache
    assert first.layers["penultimate"].shape == (8, 200)
    assert first.layers["pooled"].shape == (8, 1506)
    assert list(first.track_ids) == list(ds.track_ids) and set(first.segment_index) == {0}
    assert list(first.labels) == list(ds.labels)
    # The cached values are the backbone's own embeddings of the file's patches.
    track = ds.tracks[5]
    with torch.no_grad():
        penultimate, pooled = model.backbone.embed(
            torch.from_numpy(musicnn_file_patches(track.path)).unsqueeze(1))
    np.testing.assert_allclose(first.layers["penultimate"][5], penultimate[0], atol=1e-5)
    np.testing.assert_allclose(first.layers["pooled"][5], pooled[0], atol=1e-5)
    path = embedding_cache_file(ds, backbone="MSD_musicnn", digest=state_digest(model.backbone),
                                cache_dir=cache)
    assert path.is_file() and path.parent.name == "embeddings"
    # Other weights are another cache entry.
    other = get_model("transfer", backbone="MSD_musicnn", n_classes=2)
    assert embedding_cache_file(ds, backbone="MSD_musicnn", digest=state_digest(other.backbone),
                                cache_dir=cache) != path


@needs_wheel
def test_head_separates_tones_from_noise(run):
    assert run.fit.best_valid_accuracy == 1.0
    assert run.metrics["track"]["accuracy"] == 1.0 and run.metrics["segment"]["n"] == 2
    assert run.fit.seconds > 0  # measured; its speed is a benchmark, not a test
    history = (run.run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 1 + run.fit.epochs_run


@needs_wheel
def test_checkpoint_is_self_describing_and_round_trips(run, folder, monkeypatch):
    digest = state_digest(get_model("MSD_musicnn"))  # the wheel's weights
    # The checkpoint holds the backbone's weights: it loads without the wheel.
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    loaded = load_checkpoint(run.run_dir / "checkpoint.pt")  # weights_only=True inside
    monkeypatch.undo()
    assert isinstance(loaded.model, TransferModel) and loaded.class_names == ("noise", "tones")
    assert loaded.model_args == {"backbone": "MSD_musicnn", "layers": ["penultimate", "pooled"],
                                 "n_classes": 2}
    assert loaded.extra["backbone_sha256"] == digest == state_digest(loaded.model.backbone)
    # Its front end is the checkpoint's FeatureConfig: the musicnn preset, log10 compression.
    assert loaded.feature_config == preset("musicnn") == MUSICNN_FEATURES
    assert loaded.feature_config.compression == "log10" and loaded.feature_config.n_frames == 187
    assert loaded.extra["head"].startswith("Sequential(") and loaded.extra["frozen"] is True
    settings = json.loads((run.run_dir / "train_config.json").read_text())
    assert settings["transfer"]["backbone_sha256"] == digest
    x = torch.from_numpy(np.stack([musicnn_file_patches(t.path)[0]
                                   for t in open_dataset(folder).tracks]))[:, None]
    with torch.no_grad():
        expected = run.model(x)
        np.testing.assert_allclose(loaded.model(x).numpy(), expected.numpy(), atol=1e-6)
    # The head on cached embeddings gives the whole model's probabilities.
    ds = open_dataset(folder)
    features = embed_dataset(ds, model=loaded.model, backbone="MSD_musicnn",
                             cache_dir=run.run_dir.parent / "cache")[0]
    np.testing.assert_allclose(head_probabilities(loaded.model, features),
                               predict_proba(loaded.model, x), atol=1e-5)


@needs_wheel
def test_same_seed_same_head_other_seed_other_head(run, folder, split, tmp_path):
    again = train_transfer_run(folder, out=tmp_path / "again", config=_config(), split=split,
                               cache_dir=run.run_dir.parent / "cache", evaluate=False,
                               progress=False)
    assert again.embedding_seconds == 0.0  # the first run's cache
    for key, value in run.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value), key
    other = train_transfer_run(folder, out=tmp_path / "other", config=_config(seed=1),
                               split=split, cache_dir=run.run_dir.parent / "cache",
                               evaluate=False, progress=False)
    assert not torch.equal(other.model.head[0].weight, run.model.head[0].weight)


@needs_wheel
def test_mlp_head_on_the_penultimate_layer(folder, split, run, tmp_path):
    result = train_transfer_run(
        folder, out=tmp_path / "mlp", config=_config(hidden=8, layers=["penultimate"]),
        split=split, cache_dir=run.run_dir.parent / "cache", progress=False)
    assert [type(m).__name__ for m in result.model.head] == ["Linear", "ReLU", "Linear"]
    assert result.model.head[0].in_features == 200
    assert result.metrics["track"]["accuracy"] == 1.0


@needs_wheel
def test_gradients_reach_the_backbone_convolutions(run, folder):
    """Grad-CAM needs the class score's gradient at the backbone's conv activations."""
    x = torch.from_numpy(musicnn_file_patches(open_dataset(folder).tracks[0].path))[:, None]
    kept = {}
    conv = run.model.backbone.timbral[0]["conv"]
    handle = conv.register_forward_hook(lambda m, i, out: kept.update(a=out) or out.retain_grad())
    try:
        run.model(x)[0, 1].backward()
    finally:
        handle.remove()
        run.model.zero_grad()
    assert kept["a"].grad is not None and float(kept["a"].grad.abs().sum()) > 0


@needs_wheel
def test_cli_train_predict_evaluate(folder, run, tmp_path, capsys):
    split_file = tmp_path / "split.json"
    Split.load(run.run_dir / "split.json").save(split_file)
    out = tmp_path / "cli"
    assert main(["train", "--data", str(folder), "--out", str(out), "--model", "MSD_musicnn",
                 "--frozen", "--split", str(split_file), "--epochs", "25", "--lr", "0.01",
                 "--model-args", '{"hidden": 4}', "--cache", str(run.run_dir.parent / "cache"),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "frozen MSD_musicnn + head" in text and "embeddings from the cache" in text
    assert "test tracks: accuracy 1.000" in text
    assert load_checkpoint(out / "checkpoint.pt").model_args["hidden"] == 4
    tone = folder / "tones" / "tone3.wav"
    assert main(["predict", str(out), str(tone), "--json"]) == 0
    (prediction,) = json.loads(capsys.readouterr().out)
    assert prediction["label"] == "tones" and prediction["n_segments"] == 1
    assert main(["evaluate", str(out), "--no-progress"]) == 0
    assert "test tracks: accuracy 1.000" in capsys.readouterr().out


@needs_wheel
def test_checkpoint_written_with_db_loads_with_the_log10_front_end(run, tmp_path):
    """Transfer checkpoints written before the front end was the FeatureConfig said "db" (or
    had no compression): the model declares its own, so they load with log10."""
    data = read_checkpoint_dict(run.run_dir / "checkpoint.pt")
    for name, edit in (("db", {"compression": "db"}), ("absent", {})):
        config = {k: v for k, v in data["feature_config"].items()
                  if k not in ("compression", "log10_scale")}
        path = tmp_path / f"{name}.pt"
        torch.save({**data, "feature_config": {**config, **edit}}, path)
        assert load_checkpoint(path).feature_config == preset("musicnn"), name


def _explain(run, folder, out, methods, components="time"):
    tone = folder / "tones" / "tone1.wav"
    assert main(["explain", str(run.run_dir), str(tone), "--methods", methods, "--components",
                 components, "--samples", "90", "--fill", "min", "--out", str(out),
                 "--no-progress"]) == 0
    y = load_audio(tone, sr=16000)[:preset("musicnn").segment_samples]
    return out / "segments" / "000", log_mel(y, config=preset("musicnn"))


@needs_wheel
def test_explain_feeds_the_transfer_model_its_own_input(run, folder, tmp_path):
    """The explained input is the musicnn front end of the segment, 'off' (fill min) is
    silence = 0 in log10, and Grad-CAM maps the backbone's last convolution to (96, 187)."""
    segment, logmel = _explain(run, folder, tmp_path / "ex", "occlusion,gradcam")
    assert logmel.shape == (96, 187) and logmel.min() >= 0 and logmel.max() > 1
    occlusion = Explanation.load(segment / "occlusion_time.json")
    np.testing.assert_array_equal(occlusion.logmel, logmel)
    assert occlusion.fill.kind == "min" and occlusion.fill.params["value"] == 0.0
    np.testing.assert_array_equal(occlusion.fill.array, 0.0)
    cam = Explanation.load(segment / "gradcam_dense.json")
    np.testing.assert_array_equal(cam.logmel, logmel)
    assert cam.scores.shape == (2, 96, 187) and cam.scores.max() > 0
    assert cam.params["layer"].startswith("backbone.")


@pytest.mark.slow
@needs_wheel
def test_cli_explains_the_transfer_model_with_every_method(run, folder, tmp_path):
    """The issue's "done when": every method and component kind on a frozen transfer run."""
    segment, logmel = _explain(run, folder, tmp_path / "all",
                               "lime,shap,occlusion,gradcam,ig", "time,freq,tf")
    summary = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert summary["feature_config"] == preset("musicnn").to_dict()
    names = [f"{m}_{k}" for m in ("lime", "kernel_shap", "occlusion")
             for k in ("time", "frequency", "tf_grid")] + ["gradcam_dense", "ig_dense"]
    for name in names:
        explanation = Explanation.load(segment / f"{name}.json")
        np.testing.assert_array_equal(explanation.logmel, logmel)
        assert np.isfinite(explanation.scores).all() and np.abs(explanation.scores).max() > 0
        assert (segment / f"{name}.png").is_file() and (segment / f"{name}_top.wav").is_file()
        if name != "gradcam_dense":
            np.testing.assert_array_equal(explanation.fill.array, 0.0)
    assert Explanation.load(segment / "gradcam_dense.json").scores.shape == (2, 96, 187)


def test_cli_refuses_a_backbone_without_recipe_and_frozen_without_backbone(folder, tmp_path,
                                                                          capsys):
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "a"),
                 "--model", "MSD_musicnn"]) == EXIT_ERROR
    assert "add either --frozen" in capsys.readouterr().err
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "b"), "--frozen"]) == EXIT_ERROR
    assert "--frozen, --finetune and --wheel need a pretrained musicnn backbone" in (
        capsys.readouterr().err)
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "c"),
                 "--model", "MSD_vgg", "--frozen", "--spec-augment"]) == EXIT_ERROR
    assert "--spec-augment does not apply to --frozen" in capsys.readouterr().err


@pytest.mark.parametrize("backbone, sizes", [("MSD_musicnn", (200, 1506)),
                                             ("MTT_vgg", (256, 256))])
def test_embedding_sizes_of_each_backbone(backbone, sizes):
    model = TransferModel(backbone=backbone, n_classes=3).eval()  # random weights
    x = torch.randn(2, 1, 96, 187)
    with torch.no_grad():
        penultimate, pooled = model.backbone.embed(x)
        assert (penultimate.shape[1], pooled.shape[1]) == sizes == model.backbone.embedding_sizes
        # forward is the tag layer on the penultimate embedding
        torch.testing.assert_close(model.backbone(x), model.backbone.output(penultimate))
        assert model(x).shape == (2, 3) and model.embed(x).shape == (2, sum(sizes))


def test_unknown_backbone_and_bad_head_are_named():
    with pytest.raises(ParameterError, match=r"backbone='cnn' is unknown: expected one of"):
        TransferModel(backbone="cnn", n_classes=2)
    with pytest.raises(ParameterError, match=r"layers=\['mid'\] is invalid"):
        TransferModel(backbone="MSD_vgg", n_classes=2, layers=["mid"])
    with pytest.raises(ParameterError, match=r"hidden=-1 is invalid"):
        TransferModel(backbone="MSD_vgg", n_classes=2, hidden=-1)


def test_weights_are_not_a_model_argument(folder, tmp_path):
    config = TrainConfig(model="transfer",
                         model_args={"backbone": "MSD_vgg", "weights": "wheel"})
    with pytest.raises(ParameterError, match=r"model_args holds 'weights'.*--wheel"):
        train_transfer_run(folder, out=tmp_path / "run", config=config, progress=False)
    assert not (tmp_path / "run").exists()


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(CheckpointError, match=r"pip install --no-deps \"musicnn==0.1.0\""):
        TransferModel(backbone="MSD_musicnn", n_classes=2, weights="wheel")
