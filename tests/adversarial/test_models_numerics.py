"""Hostile checkpoints and models: huge model_args, NaN weights and outputs, class names that
do not match the outputs, models returning the wrong thing, empty component maps."""

import numpy as np
import pytest
import soundfile as sf
import torch

from genrelens import cli
from genrelens.config import FeatureConfig
from genrelens.errors import CheckpointError, ParameterError
from genrelens.explain import components as components_mod
from genrelens.explain.api import explain
from genrelens.models import get_model, load_checkpoint, save_checkpoint
from genrelens.models.checkpoint import LoadedModel
from genrelens.models.inference import predict_files, predict_logits

CONFIG = FeatureConfig(
    sr=8000, n_fft=512, hop_length=128, n_mels=16, segment_seconds=1.0, segment_hop_seconds=1.0
)
CLASSES = ("blues", "jazz", "metal")
ARGS = {"n_classes": 3, "channels": [2, 2, 2, 2]}


def _checkpoint(path, *, edit=None):
    """A tiny cnn checkpoint; ``edit(payload)`` changes the saved dict before it is re-saved."""
    torch.manual_seed(0)
    model = get_model("cnn", **ARGS).eval()
    save_checkpoint(path, model=model, model_name="cnn", model_args=ARGS, feature_config=CONFIG,
                    class_names=CLASSES)
    if edit is not None:
        payload = torch.load(path, weights_only=True)
        edit(payload)
        torch.save(payload, path)
    return path


def _clip(path):
    t = np.arange(int(2.2 * CONFIG.sr)) / CONFIG.sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), CONFIG.sr)
    return path


def _logmel():
    return np.random.default_rng(0).normal(-40, 10, (CONFIG.n_mels, CONFIG.n_frames))


def test_huge_model_args_are_refused_before_the_model_is_built(tmp_path):
    def huge(payload):  # the weights stay tiny; the arguments ask for petabytes
        payload["model_args"] = {"n_classes": 3, "channels": [10**7] * 4}

    path = _checkpoint(tmp_path / "bomb.pt", edit=huge)
    with pytest.raises(CheckpointError, match="shape mismatches") as info:
        load_checkpoint(path)
    assert "bomb.pt" in str(info.value) and "features.0.0.weight" in str(info.value)


def test_nan_weights_are_refused_at_load_naming_the_tensor(tmp_path):
    def poison(payload):
        payload["state_dict"]["classifier.1.weight"][0, 0] = float("nan")

    path = _checkpoint(tmp_path / "nan.pt", edit=poison)
    with pytest.raises(CheckpointError, match="NaN or infinite weights") as info:
        load_checkpoint(path)
    assert "nan.pt" in str(info.value) and "classifier.1.weight" in str(info.value)


@pytest.mark.parametrize("command", ["predict", "explain"])
def test_cli_stops_on_nan_weights_and_writes_nothing(tmp_path, capsys, command):
    def poison(payload):
        payload["state_dict"]["classifier.1.bias"][:] = float("inf")

    run = tmp_path / "run"
    _checkpoint(run / "checkpoint.pt", edit=poison)
    clip = _clip(tmp_path / "clip.wav")
    out = tmp_path / "out"
    extra = ["--out", str(out), "--no-progress", "--methods", "occlusion"] * (command == "explain")
    code = cli.main([command, str(run), str(clip), *extra])
    captured = capsys.readouterr()
    assert code == 3
    assert "classifier.1.bias" in captured.err and "nan" not in captured.out.lower()
    assert not out.exists()


def test_class_names_not_one_per_output_are_refused_at_load(tmp_path, capsys):
    def drop(payload):
        payload["class_names"] = ["blues", "jazz"]

    run = tmp_path / "run"
    _checkpoint(run / "checkpoint.pt", edit=drop)
    with pytest.raises(CheckpointError, match="2 class_names") as info:
        load_checkpoint(run / "checkpoint.pt")
    assert "3 outputs" in str(info.value) and "checkpoint.pt" in str(info.value)
    assert cli.main(["predict", str(run), str(_clip(tmp_path / "clip.wav"))]) == 3
    assert "class_names" in capsys.readouterr().err


class _NaNModel(torch.nn.Module):
    """Finite weights, NaN outputs for the inputs whose mean is above -40 dB."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)

    def forward(self, x):
        h = self.conv(x).mean(dim=(1, 2, 3))
        loud = (x.mean(dim=(1, 2, 3)) > -40)[:, None]
        return torch.where(loud, float("nan"), h[:, None].repeat(1, 3))


def test_predict_logits_names_the_input_with_a_nan_output():
    x = np.full((5, CONFIG.n_mels, CONFIG.n_frames), -60.0, np.float32)
    x[3] = -10.0
    with pytest.raises(ParameterError, match=r"NaN or infinite output\(s\).*input 3, class 0"):
        predict_logits(_NaNModel(), x, batch_size=2)


def test_predict_files_names_the_file_where_outputs_turned_nan(tmp_path):
    model = _NaNModel()
    with torch.no_grad():
        model.conv.bias.fill_(float("nan"))  # NaN for every segment
    loaded = LoadedModel(model=model, model_name="custom", model_args={},
                         feature_config=CONFIG, class_names=CLASSES, extra={}, versions={})
    with pytest.raises(ParameterError, match=r"clip\.wav: segments as inputs: .*NaN or infinite"):
        predict_files(loaded, [_clip(tmp_path / "clip.wav")])


@pytest.mark.parametrize("method", ["occlusion", "lime", "gradcam", "ig"])
def test_explain_stops_on_nan_outputs(method):
    x = np.full((CONFIG.n_mels, CONFIG.n_frames), -10.0)
    comps = components_mod.time_segments(n_mels=CONFIG.n_mels, n_frames=CONFIG.n_frames,
                                         n_segments=3, config=CONFIG)
    with pytest.raises(ParameterError, match="NaN or infinite output"):
        sampled = {"n_samples": 16} if method == "lime" else {}
        explain(_NaNModel(), x, method=method, components=comps, config=CONFIG, fill=-80.0,
                fast=False, **sampled)


@pytest.mark.parametrize("method", ["gradcam", "ig"])
def test_gradient_methods_need_a_module_not_a_function(method):
    def fn(x):
        return torch.zeros(x.shape[0], 3)

    with pytest.raises(ParameterError, match=rf"model is a function: method='{method}' needs"):
        explain(fn, _logmel(), method=method, config=CONFIG)


@pytest.mark.parametrize(
    "returned", [lambda x: torch.zeros(x.shape[0], 0), lambda x: "metal", lambda x: None,
                 lambda x: np.array(["a"] * x.shape[0])],
    ids=["no_classes", "string", "none", "string_array"],
)
def test_model_returning_the_wrong_thing_is_a_parameter_error(returned):
    with pytest.raises(ParameterError, match=r"model returned .*expected a real tensor of shape"):
        explain(returned, _logmel(), method="occlusion", config=CONFIG, fill=-80.0)


def test_component_map_without_components_is_refused():
    with pytest.raises(ParameterError, match="component_map .* holds no component"):
        components_mod.from_map(np.full((CONFIG.n_mels, CONFIG.n_frames), -1), config=CONFIG)
