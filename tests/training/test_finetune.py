"""Fine-tuning a pretrained musicnn backbone with its head (``genrelens train --finetune``):
which weights change, the frozen recipe's head as the start, resume, the self-describing
checkpoint, the learning rates, and the refusals."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from transfer_data import split_by_class, tone_noise_folder

from genrelens.cli import EXIT_ERROR, main
from genrelens.data import open_dataset
from genrelens.errors import ParameterError
from genrelens.models import get_model, load_checkpoint, save_checkpoint
from genrelens.models.checkpoint import read_checkpoint_dict
from genrelens.models.musicnn import MUSICNN_FEATURES
from genrelens.models.transfer import TransferModel, state_digest
from genrelens.training import TrainConfig
from genrelens.training import loop
from genrelens.training.run import train_run, train_transfer_run
from genrelens.training.transfer import finetune_initialiser

needs_wheel = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                 reason="musicnn wheel absent (pip install --no-deps "
                                 "musicnn==0.1.0)")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Tremolo tones vs gated noise, 3 tracks each."""
    return tone_noise_folder(tmp_path_factory.mktemp("finetune") / "data", n_per_class=3,
                             tremolo=True)


@pytest.fixture(scope="module")
def split(folder):
    return split_by_class(folder, n_train=1)


def _config(backbone, finetune, *, epochs=2, **kwargs):
    return TrainConfig(model="transfer", model_args={"backbone": backbone, "finetune": finetune},
                       epochs=epochs, patience=epochs, lr=1e-2, batch_size=2, threads=1,
                       **kwargs)


def _changed(before, after):
    return {k for k in before if not torch.equal(before[k], after[k])}


@pytest.fixture(scope="module")
def backend_run(tmp_path_factory, folder, split):
    out = tmp_path_factory.mktemp("runs") / "backend"
    result = train_run(folder, out=out, config=_config("MSD_musicnn", "backend"), split=split,
                       progress=False, device="cpu")
    return out, result


@needs_wheel
def test_backend_fine_tuning_changes_only_the_back_end(backend_run, monkeypatch):
    out, result = backend_run
    pretrained = get_model("MSD_musicnn").state_dict()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # no wheel
    loaded = load_checkpoint(out / "checkpoint.pt")  # weights_only=True inside
    monkeypatch.undo()
    assert isinstance(loaded.model, TransferModel) and loaded.model.finetune == "backend"
    tuned = {f"backbone.{k}": v for k, v in pretrained.items()}
    state = loaded.model.state_dict()
    changed = _changed(tuned, state)
    # Exactly the back end's weights moved: its batch-norm statistics and the front and mid
    # end (and the unused tag layer) are the pretrained ones, bit for bit.
    assert changed == {f"backbone.{m}.{p}" for m in ("pool_bn", "dense", "dense_bn")
                       for p in ("weight", "bias")}
    assert result.fit.epochs_run == 2 and result.metrics["segment"]["n"] == 2
    assert loaded.feature_config == MUSICNN_FEATURES
    extra = read_checkpoint_dict(out / "checkpoint.pt")["extra"]
    assert extra["backbone"] == "MSD_musicnn" and extra["finetune"] == "backend"
    assert extra["frozen"] is False and extra["backbone_lr"] == pytest.approx(1e-3)
    assert extra["backbone_sha256"] == state_digest(get_model("MSD_musicnn"))
    settings = json.loads((out / "train_config.json").read_text())
    assert settings["transfer"] == {k: extra[k] for k in
                                    ("backbone", "backbone_sha256", "frozen", "finetune",
                                     "backbone_lr")}
    # Only the chosen part requires gradients; the optimiser gives it a tenth of the rate.
    assert {n for n, p in loaded.model.backbone.named_parameters() if p.requires_grad} == {
        f"{m}.{p}" for m in ("pool_bn", "dense", "dense_bn") for p in ("weight", "bias")}
    resume = torch.load(out / "last.pt", weights_only=True)
    assert [g["lr"] for g in resume["optimizer"]["param_groups"]] == [1e-2, pytest.approx(1e-3)]


@needs_wheel
def test_fine_tuned_checkpoint_round_trips(backend_run, tmp_path):
    out, _ = backend_run
    loaded = load_checkpoint(out / "checkpoint.pt")
    copy = save_checkpoint(tmp_path / "copy.pt", model=loaded.model, model_name=loaded.model_name,
                           model_args=loaded.model_args, feature_config=loaded.feature_config,
                           class_names=loaded.class_names, extra=loaded.extra)
    again = load_checkpoint(copy)
    assert again.model_args == loaded.model_args and again.extra == loaded.extra
    assert not _changed(loaded.model.state_dict(), again.model.state_dict())
    x = torch.rand(2, 1, 96, 187, generator=torch.Generator().manual_seed(0)) * 4
    with torch.no_grad():
        torch.testing.assert_close(again.model(x), loaded.model(x), rtol=0, atol=0)


@needs_wheel
def test_the_start_is_the_frozen_recipes_head(backend_run, folder, split):
    out, _ = backend_run
    frozen = train_transfer_run(
        folder, out=out.parent / "frozen",
        config=TrainConfig(model="transfer", model_args={"backbone": "MSD_musicnn"}, epochs=2,
                           patience=2, lr=1e-2, batch_size=2, threads=1),
        split=split, cache_dir=out.parent / "cache", evaluate=False, progress=False)
    torch.manual_seed(0)  # as fit() does before building the model
    model = get_model("transfer", backbone="MSD_musicnn", n_classes=2, finetune="backend")
    finetune_initialiser(open_dataset(folder), split=split, cache_dir=out.parent / "cache",
                         config=_config("MSD_musicnn", "backend"), weights="wheel")(model)
    for name, value in frozen.model.state_dict().items():  # same backbone, same head
        torch.testing.assert_close(model.state_dict()[name], value, rtol=0, atol=0)


@needs_wheel
def test_all_layers_fine_tune_and_resume_gives_the_same_weights(folder, split, tmp_path,
                                                                 monkeypatch):
    config = _config("MSD_vgg", "all", epochs=3)
    straight = train_run(folder, out=tmp_path / "straight", config=config, split=split,
                         evaluate=False, progress=False, device="cpu")
    calls = []

    def interrupted(rows):  # the second epoch dies after its checkpoint, before last.pt
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return history_csv(rows)

    history_csv = loop._history_csv
    monkeypatch.setattr(loop, "_history_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_run(folder, out=tmp_path / "killed", config=config, split=split,
                  evaluate=False, progress=False, device="cpu")
    monkeypatch.undo()
    assert torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["epoch"] == 1
    resumed = train_run(folder, out=tmp_path / "killed", config=config, split=split,
                        evaluate=False, progress=False, device="cpu")
    assert resumed.fit.resumed_from == 1 and resumed.fit.epochs_run == 3
    a = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)["model"]
    assert not _changed(a, b)
    pretrained = {f"backbone.{k}": v for k, v in get_model("MSD_vgg").state_dict().items()}
    changed = _changed(pretrained, b)
    weights = {k for k in pretrained if k.endswith(("weight", "bias"))
               and not k.startswith("backbone.output")}
    assert changed == weights  # every layer feeding the embeddings, no statistic, no tag layer
    assert straight.fit.best_valid_loss == resumed.fit.best_valid_loss


@needs_wheel
def test_cli_fine_tunes(folder, split, tmp_path, capsys):
    split_file = tmp_path / "split.json"
    split.save(split_file)
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--out", str(out), "--model", "MSD_vgg",
                 "--finetune", "backend", "--backbone-lr", "0.002", "--epochs", "1",
                 "--batch-size", "2", "--split", str(split_file), "--threads", "1",
                 "--no-progress", "--device", "cpu"]) == 0
    assert "test segments: accuracy" in capsys.readouterr().out
    loaded = load_checkpoint(out / "checkpoint.pt")
    assert loaded.model_args["finetune"] == "backend" and loaded.model_args["backbone"] == "MSD_vgg"
    assert read_checkpoint_dict(out / "checkpoint.pt")["extra"]["backbone_lr"] == 0.002


def test_bad_values_are_refused_with_a_clear_error(folder, tmp_path, capsys):
    with pytest.raises(ParameterError, match=r"finetune='top' is invalid: expected one of"):
        TransferModel(backbone="MSD_vgg", n_classes=2, finetune="top")
    with pytest.raises(ParameterError, match=r"back end feeds only the 'penultimate'"):
        TransferModel(backbone="MSD_vgg", n_classes=2, finetune="backend", layers=["pooled"])
    with pytest.raises(ParameterError, match=r"backbone_lr=-1 is invalid"):
        _config("MSD_vgg", "all", backbone_lr=-1)
    with pytest.raises(ParameterError, match=r"backbone_lr=0.1 applies only to a fine-tuned"):
        TrainConfig(model="transfer", model_args={"backbone": "MSD_vgg"}, backbone_lr=0.1)
    with pytest.raises(ParameterError, match=r"--finetune\)"):
        train_transfer_run(folder, out=tmp_path / "a", config=_config("MSD_vgg", "all"))
    with pytest.raises(ParameterError, match=r"differs from the backbone's front end"):
        train_run(folder, out=tmp_path / "b", config=_config("MSD_vgg", "all"),
                  feature_config=MUSICNN_FEATURES.__class__())
    with pytest.raises(ParameterError, match=r"--frozen\)"):
        train_run(folder, out=tmp_path / "c",
                  config=TrainConfig(model="transfer", model_args={"backbone": "MSD_vgg"}))
    base = ["train", "--data", str(folder), "--out", str(tmp_path / "d")]
    for extra, message in (
        (["--model", "MSD_vgg", "--frozen", "--finetune", "all"], "add either --frozen"),
        (["--model", "cnn", "--finetune", "all"], "--finetune and --wheel need a pretrained"),
        (["--model", "MSD_vgg", "--frozen", "--backbone-lr", "0.1"],
         "--backbone-lr applies only with --finetune"),
    ):
        assert main(base + extra) == EXIT_ERROR
        assert message in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
