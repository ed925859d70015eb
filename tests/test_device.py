"""Device plumbing: --device names, the model's device, inputs built where the model is.

CI has no GPU: the plumbing is tested on the CPU and with torch's ``meta`` device (tensors
without storage), through models that assert the device of what they receive.
"""

import numpy as np
import pytest
import torch
from torch import nn

from genrelens import cli, device as dev
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import components as C
from genrelens.explain import engine
from genrelens.explain.fill import resolve_fill

META = torch.device("meta")
CONFIG = FeatureConfig(sr=8000, n_fft=256, hop_length=128, n_mels=16, segment_seconds=0.5,
                       segment_hop_seconds=0.5)
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


class DeviceProbe(nn.Module):
    """A model whose weights live on ``device``; it records the device of every input and
    answers constant logits on the CPU (a meta tensor has no values to return)."""

    def __init__(self, device: torch.device, *, n_classes: int = 2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_classes, device=device))
        self.seen: list[torch.device] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.device)
        if x.device != self.weight.device:
            raise AssertionError(f"input on {x.device}, model on {self.weight.device}")
        return torch.arange(self.weight.numel(), dtype=torch.float32).repeat(x.shape[0], 1)


class Reached(Exception):
    """Raised by :class:`GradientProbe` once it has checked its input's device."""


class GradientProbe(DeviceProbe):
    """For gradient methods: checks the input's device, then stops the computation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        super().forward(x)
        raise Reached(str(x.device))


# ------------------------------------------------------------------------- resolve_device


def test_resolve_device_names(monkeypatch):
    assert dev.resolve_device("cpu") == torch.device("cpu")
    assert dev.resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setitem(dev._AVAILABLE, "cuda", lambda: False)
    assert dev.resolve_device("auto") == dev.resolve_device(None) == torch.device("cpu")
    monkeypatch.setitem(dev._AVAILABLE, "cuda", lambda: True)
    assert dev.resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert dev.resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ParameterError, match=r"'cuda:3' is not available.*1 CUDA device"):
        dev.resolve_device("cuda:3")


@pytest.mark.parametrize("name, message", [
    ("gpu", "'gpu' is unknown: expected one of"),
    ("meta", "'meta' is not supported"),
])
def test_resolve_device_refuses_unknown_names(name, message):
    with pytest.raises(ParameterError, match=message):
        dev.resolve_device(name)


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(dev._AVAILABLE, "cuda", lambda: False)
    with pytest.raises(ParameterError, match=r"device='cuda' is not available on this machine.*"
                                             r"sees no CUDA device\): use one of \['cpu'"):
        dev.resolve_device("cuda")


def test_model_device():
    assert dev.model_device(DeviceProbe(META)) == META
    assert dev.model_device(nn.BatchNorm1d(2, affine=False)) == torch.device("cpu")  # buffers
    assert dev.model_device(lambda x: x) == torch.device("cpu")
    assert dev.model_device(nn.ReLU()) == torch.device("cpu")


@NO_CUDA
@pytest.mark.parametrize("command", [["predict", "RUN", "a.wav"], ["train", "--data", "D",
                                                                   "--out", "R"]])
def test_cli_device_cuda_without_cuda_is_a_usage_error(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--device", "cuda"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--device: device='cuda' is not available on this machine" in err


@pytest.mark.parametrize("argv", [
    ["train", "--data", "D", "--out", "R"], ["evaluate", "R"], ["predict", "R", "a.wav"],
    ["explain", "R", "a.wav", "--out", "O"], ["explain-dataset", "R"], ["evaluate-xai", "R"],
    ["global", "R"],
])
def test_cli_device_option_on_every_model_command(argv):
    parser = cli.build_parser()
    assert parser.parse_args(argv).device == "auto"
    assert parser.parse_args([*argv, "--device", "cpu"]).device == "cpu"


# ------------------------------------------------------------------------ the hot paths


def _logmel(seed=0):
    return np.random.default_rng(seed).normal(-40, 10, (CONFIG.n_mels, CONFIG.n_frames)) \
        .astype(np.float32)


def test_engine_builds_masks_on_the_model_device():
    x = _logmel()
    comps = C.tf_grid(config=CONFIG, n_time=4, n_freq=4, n_frames=x.shape[1])
    fill = resolve_fill("min", x, config=CONFIG, rng=np.random.default_rng(0))
    z = np.random.default_rng(1).integers(0, 2, (20, comps.n_components))
    for fast in (True, False):  # fast: the folded inference copy stays on the device
        model = DeviceProbe(META).eval()
        res = engine.evaluate_masks(model, x, comps, z, fill=fill, batch_size=8, fast=fast,
                                    output="logits")
        # outputs came back as numpy; the model's check of each input's device passed
        assert res.outputs.shape == (20, 2) and np.all(res.outputs == [0.0, 1.0])
    assert model.seen and set(model.seen) == {META}  # the last one ran the model itself
    # the inputs themselves are made on the device (no batch built on the CPU then moved)
    make = engine.mask_inputs(x, comps, z, fill, device=META)
    batch = make(0, 5)
    assert batch.device == META and batch.shape == (5, 1, CONFIG.n_mels, CONFIG.n_frames)


def test_stems_are_mixed_on_the_model_device():
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(CONFIG.segment_samples)).astype(np.float32)
    comps = C.stems(y, config=CONFIG, n_segments=2)
    fill = resolve_fill(None, _logmel(), config=CONFIG, rng=rng, stems=True)
    make = engine.mask_inputs(_logmel(), comps, np.ones((3, comps.n_components)), fill,
                              device=META)
    batch = make(0, 3)
    assert batch.device == META and batch.shape == (3, 1, CONFIG.n_mels, CONFIG.n_frames)


def test_torch_masks_equal_numpy_masks(monkeypatch):
    """The path used off the CPU (torch.where on the device) gives the numpy path's inputs."""
    x = _logmel()
    comps = C.tf_grid(config=CONFIG, n_time=3, n_freq=2, n_frames=x.shape[1])
    fill = resolve_fill("local_median", x, config=CONFIG, rng=np.random.default_rng(0))
    z = np.random.default_rng(2).integers(0, 2, (7, comps.n_components))
    expected = engine.mask_inputs(x, comps, z, fill)(0, 7).numpy()
    monkeypatch.setattr(engine, "_numpy_masks", lambda device: False)
    got = engine.mask_inputs(x, comps, z, fill)(0, 7)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), expected)
    cells = np.asarray(comps.map)
    np.testing.assert_array_equal(expected[3, 0], np.where(z[3][cells] == 1, x, fill.array))


def test_descriptor_edits_run_on_the_model_device():
    from genrelens.inspection.descriptors import Loudness, descriptor_ale

    x = np.stack([_logmel(i) for i in range(6)])
    model = DeviceProbe(META)
    res = descriptor_ale(model, x, Loudness("loudness", CONFIG), class_names=["a", "b"],
                         n_bins=2, n_bootstrap=2, batch_size=4)
    assert res.n_evaluations > 0


def test_predict_logits_on_the_model_device():
    from genrelens.models.inference import predict_logits

    model = DeviceProbe(META)
    out = predict_logits(model, np.stack([_logmel(i) for i in range(5)]), batch_size=2)
    assert out.dtype == np.float32 and out.shape == (5, 2) and np.all(out == [0.0, 1.0])
    assert len(model.seen) == 3 and set(model.seen) == {META}


@pytest.mark.parametrize("method", ["gradcam", "ig"])
def test_gradient_methods_put_inputs_on_the_model_device(method):
    from genrelens.explain.gradients import grad_cam_maps, integrated_gradients_maps

    model = GradientProbe(META)
    with pytest.raises(Reached, match="meta"):
        if method == "gradcam":
            grad_cam_maps(model, _logmel())
        else:
            integrated_gradients_maps(model, _logmel(), baseline=0.0, n_steps=2)


def test_gradient_results_come_back_as_numpy_from_the_model_device():
    """On the CPU (the device CI has): results are numpy arrays whatever the device."""
    from genrelens.explain.gradients import integrated_gradients_maps

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(2, CONFIG.n_mels * CONFIG.n_frames) / 1000)

        def forward(self, x):
            return x.flatten(1) @ self.w.T

    x = _logmel()
    res = integrated_gradients_maps(Linear(), x, baseline=0.0, n_steps=4, output="logits")
    assert isinstance(res.attributions, np.ndarray)
    # IG of a linear model is exact: (x - 0) * w
    np.testing.assert_allclose(res.attributions[0], x / 1000, rtol=1e-5, atol=1e-7)


def test_fit_rejects_a_missing_device_and_trains_on_the_cpu(tmp_path, monkeypatch):
    from genrelens.training import TrainConfig
    from genrelens.training.loop import fit

    rng = np.random.default_rng(0)
    x = rng.normal(-40, 10, (8, 16, 20)).astype(np.float32)
    y = np.arange(8) % 2
    x[y == 1] += 20.0
    kwargs = dict(x_train=x, y_train=y, x_valid=x, y_valid=y, class_names=["a", "b"],
                  feature_config=FeatureConfig(n_mels=16),
                  config=TrainConfig(model="cnn", model_args={"channels": [2, 2, 2, 2]},
                                     epochs=1, batch_size=4, threads=1),
                  progress=False)
    monkeypatch.setitem(dev._AVAILABLE, "cuda", lambda: False)
    with pytest.raises(ParameterError, match="'cuda' is not available"):
        fit(run_dir=tmp_path / "a", device="cuda", **kwargs)
    result = fit(run_dir=tmp_path / "b", device="auto", **kwargs)
    assert result.epochs_run == 1
    from genrelens.models import load_checkpoint

    loaded = load_checkpoint(tmp_path / "b" / "checkpoint.pt", device="cpu")
    assert dev.model_device(loaded.model) == torch.device("cpu")
