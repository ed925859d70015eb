import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genrelens.errors import ParameterError
from genrelens.explain.gradients import (
    grad_cam,
    grad_cam_maps,
    integrated_gradients,
    integrated_gradients_maps,
    quadrature,
)
from genrelens.models.fold import inference_copy

N_MELS, N_FRAMES = 16, 20


def _logmel(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(N_MELS, N_FRAMES)) * 10 - 40).astype(
        np.float32
    )


class Tiny(nn.Module):
    """conv -> (in-place) ReLU -> pool -> linear; ``relu`` chooses the ReLU flavour."""

    def __init__(self, relu: str = "module_inplace") -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(3 * (N_MELS // 2) * (N_FRAMES // 2), 4)
        self.relu = relu

    def forward(self, x):
        h = self.conv(x / 40.0)
        h = self.act(h) if self.relu == "module_inplace" else F.relu(h, inplace=True)
        return self.fc(torch.flatten(self.pool(h), 1))


def _hooks_empty(model: nn.Module) -> bool:
    return all(
        not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        for m in model.modules()
    )


def _hand_grad_cam(model: Tiny, logmel: np.ndarray, output: str) -> np.ndarray:
    x = torch.as_tensor(logmel)[None, None]
    a = model.conv(x / 40.0)  # the activation, computed outside the model
    logits = model.fc(torch.flatten(model.pool(torch.relu(a)), 1))
    scores = torch.softmax(logits, -1) if output == "probabilities" else logits
    maps = []
    for c in range(scores.shape[1]):
        (g,) = torch.autograd.grad(scores[0, c], a, retain_graph=True)
        alpha = g[0].sum(dim=(1, 2)) / (g.shape[2] * g.shape[3])
        cam = torch.clamp((alpha[:, None, None] * a[0]).sum(0), min=0)
        maps.append(
            F.interpolate(cam[None, None].double(), size=(N_MELS, N_FRAMES), mode="bilinear")[0, 0]
        )
    return torch.stack(maps).detach().numpy()


@pytest.mark.parametrize("relu", ["module_inplace", "functional_inplace"])
@pytest.mark.parametrize("output", ["logits", "probabilities"])
def test_grad_cam_matches_hand_computation_with_inplace_relu(relu, output):
    model = Tiny(relu).eval()
    x = _logmel()
    res = grad_cam_maps(model, x, output=output)  # default: the last Conv2d called, "conv"
    assert res.layer == "conv"
    expected = _hand_grad_cam(model, x, output)
    assert res.maps.shape == (4, N_MELS, N_FRAMES)
    assert res.coarse.shape == (4, N_MELS, N_FRAMES)
    np.testing.assert_allclose(res.maps, expected, rtol=1e-5, atol=1e-7 * np.abs(expected).max())
    assert np.all(res.maps >= 0) and res.maps.max() > 0
    np.testing.assert_array_equal(res.targets, np.arange(4))
    assert _hooks_empty(model)


def test_grad_cam_chosen_targets_and_layer_by_module():
    model = Tiny().eval()
    x = _logmel(1)
    full = grad_cam_maps(model, x, output="logits")
    some = grad_cam_maps(model, x, layer=model.conv, targets=[2, 0], output="logits")
    np.testing.assert_allclose(some.maps, full.maps[[2, 0]], rtol=1e-6)
    one = grad_cam_maps(model, x, targets=3, output="logits")
    np.testing.assert_allclose(one.maps, full.maps[[3]], rtol=1e-6)


class CallOrder(nn.Module):
    """``late`` is registered first but called last: the default must follow the call order."""

    def __init__(self) -> None:
        super().__init__()
        self.late = nn.Conv2d(2, 2, 3, padding=1)
        self.early = nn.Conv2d(1, 2, 3, padding=1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        return self.fc(self.late(torch.tanh(self.early(x / 40))).mean(dim=(2, 3)))


def test_grad_cam_default_layer_is_last_called_conv():
    assert grad_cam_maps(CallOrder(), _logmel()).layer == "late"


class Reused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        return self.fc(self.act(self.conv2(self.act(self.conv1(x)))).mean(dim=(2, 3)))


def test_grad_cam_reused_layer_raises_and_removes_hooks():
    model = Reused()
    with pytest.raises(ParameterError, match="called 2 times"):
        grad_cam_maps(model, _logmel(), layer="act")
    assert _hooks_empty(model)


class Failing(Tiny):
    def forward(self, x):
        self.conv(x)
        raise RuntimeError("boom")


def test_hooks_removed_when_the_model_raises():
    model = Failing()
    with pytest.raises(RuntimeError, match="boom"):
        grad_cam_maps(model, _logmel(), layer="conv")
    assert _hooks_empty(model)
    with pytest.raises(RuntimeError, match="boom"):
        grad_cam_maps(model, _logmel())  # the probe pass for the default layer
    assert _hooks_empty(model)


class TimeMel(nn.Module):
    """Transposes its input to (time, mel) like the musicnn ports, then a 1x1 convolution of
    weight 1 (its activation is the input itself) and logits ``w_c * sum(A)``."""

    conv_layout = ("time", "mel")

    def __init__(self, weights=(2.0, -1.0, 0.5)) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.ones_(self.conv.weight)
        self.register_buffer("w", torch.tensor(weights))

    def forward(self, x):
        return self.conv(x.transpose(2, 3)).sum(dim=(1, 2, 3))[:, None] * self.w


def test_grad_cam_turns_time_mel_activations_to_mel_time():
    # By hand: d logit_c / dA = w_c everywhere, so alpha_c = w_c and the map is ReLU(w_c A),
    # A (time, mel) = x transposed; back in (mel, time) it is ReLU(w_c x), and upsampling to
    # the same size is the identity. A non-square input catches a wrong transpose.
    x = _logmel()[:5, :7] + 40
    res = grad_cam_maps(TimeMel(), x, output="logits")
    expected = np.maximum(np.array([2.0, -1.0, 0.5])[:, None, None] * x, 0)
    assert res.coarse.shape == res.maps.shape == (3, 5, 7)
    np.testing.assert_allclose(res.maps, expected, rtol=1e-6)
    np.testing.assert_allclose(res.coarse, expected, rtol=1e-6)
    model = TimeMel()
    model.conv_layout = ("mel", "frequency")
    with pytest.raises(ParameterError, match=r"conv_layout=\('mel', 'frequency'\) is invalid"):
        grad_cam_maps(model, x)


def test_grad_cam_error_paths():
    model = Tiny()
    with pytest.raises(ParameterError, match="layer='nope'"):
        grad_cam_maps(model, _logmel(), layer="nope")
    with pytest.raises(ParameterError, match="4-D activation"):
        grad_cam_maps(model, _logmel(), layer="fc")
    with pytest.raises(ParameterError, match="not a submodule"):
        grad_cam_maps(model, _logmel(), layer=nn.Conv2d(1, 1, 1))
    with pytest.raises(ParameterError, match="no Conv2d"):
        grad_cam_maps(nn.Sequential(nn.Flatten(), nn.Linear(N_MELS * N_FRAMES, 2)), _logmel())
    with pytest.raises(ParameterError, match="targets"):
        grad_cam_maps(model, _logmel(), targets=[4])
    with pytest.raises(ParameterError, match="output='softmax'"):
        grad_cam_maps(model, _logmel(), output="softmax")
    with pytest.raises(ParameterError, match="logmel has shape"):  # two inputs at once
        grad_cam_maps(model, np.stack([_logmel(), _logmel()]))
    # one input with leading singleton axes is accepted, as by explain()
    np.testing.assert_array_equal(grad_cam_maps(model, _logmel()[None, None]).maps,
                                  grad_cam_maps(model, _logmel()).maps)
    assert _hooks_empty(model)


def test_mode_is_restored_and_parameters_get_no_grad():
    model = Tiny().train()
    model.pool.eval()
    grad_cam_maps(model, _logmel())
    integrated_gradients_maps(model, _logmel(), baseline=-100.0, n_steps=4)
    assert model.training and model.conv.training and not model.pool.training
    assert all(p.grad is None for p in model.parameters())


def test_works_under_inference_mode():
    model = Tiny().eval()
    with torch.inference_mode():
        cam = grad_cam_maps(model, _logmel())
        ig = integrated_gradients_maps(model, _logmel(), baseline=-100.0, n_steps=4)
    assert cam.maps.max() > 0 and np.abs(ig.attributions).max() > 0


# ---------------------------------------------------------------------------- IG


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.fc = nn.Linear(N_MELS * N_FRAMES, 3)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


def test_ig_of_a_linear_model_is_delta_times_weight():
    model = Linear()
    x, b = _logmel(2), np.full((N_MELS, N_FRAMES), -80.0, np.float32)
    res = integrated_gradients_maps(model, x, baseline=b, output="logits", n_steps=3, rule="left")
    w = model.fc.weight.detach().double().numpy().reshape(3, N_MELS, N_FRAMES)
    np.testing.assert_allclose(
        res.attributions, (x - b)[None].astype(np.float64) * w, rtol=1e-6, atol=1e-9
    )
    scale = np.abs(res.outputs - res.baseline_outputs).max()
    assert res.completeness_gap.max() < 1e-5 * scale
    assert res.n_evaluations == 5


@pytest.mark.parametrize("rule", ["gauss-legendre", "trapezoid"])
def test_ig_completeness_gap_shrinks_with_steps_on_a_nonlinear_model(rule):
    model = Tiny().eval()
    x = _logmel(3)
    coarse = integrated_gradients_maps(model, x, baseline=-80.0, n_steps=2, rule=rule)
    fine = integrated_gradients_maps(
        model, x, baseline=-80.0, n_steps=256, rule=rule, batch_size=100
    )
    change = np.abs(fine.outputs - fine.baseline_outputs)
    assert fine.completeness_gap.max() < 2e-3 * change.max()
    assert fine.completeness_gap.max() < coarse.completeness_gap.max()
    assert fine.attributions.shape == (4, N_MELS, N_FRAMES)


def test_ig_batching_does_not_change_the_result():
    model = Tiny().eval()
    a = integrated_gradients_maps(model, _logmel(), baseline=-80.0, n_steps=10, batch_size=3)
    b = integrated_gradients_maps(model, _logmel(), baseline=-80.0, n_steps=10, batch_size=10)
    np.testing.assert_allclose(
        a.attributions, b.attributions, rtol=1e-5, atol=1e-6 * np.abs(b.attributions).max()
    )


class Constant(nn.Module):
    """Calls a conv but its output does not depend on the input."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bias = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))

    def forward(self, x):
        return self.bias.expand(x.shape[0], 3) + 0.0 * self.conv(x).sum()


def test_input_independent_model_gets_zero_attribution():
    model = Constant()
    ig = integrated_gradients_maps(model, _logmel(), baseline=-80.0, n_steps=8)
    assert np.all(ig.attributions == 0) and np.all(ig.completeness_gap == 0)
    assert np.all(grad_cam_maps(model, _logmel()).maps == 0)


def test_ig_error_paths():
    model = Linear()
    with pytest.raises(ParameterError, match="baseline has shape"):
        integrated_gradients_maps(model, _logmel(), baseline=np.zeros(3))
    with pytest.raises(ParameterError, match="n_steps=0"):
        integrated_gradients_maps(model, _logmel(), baseline=0.0, n_steps=0)
    with pytest.raises(ParameterError, match="rule='simpson'"):
        integrated_gradients_maps(model, _logmel(), baseline=0.0, rule="simpson")
    with pytest.raises(ParameterError, match="batch_size"):
        integrated_gradients_maps(model, _logmel(), baseline=0.0, batch_size=0)
    with pytest.raises(ParameterError, match="NaN"):
        integrated_gradients_maps(model, np.full((N_MELS, N_FRAMES), np.nan), baseline=0.0)


@pytest.mark.parametrize("rule", ["gauss-legendre", "left", "right", "middle", "trapezoid"])
def test_quadrature_rules(rule):
    alphas, weights = quadrature(5, rule=rule)
    assert alphas.shape == weights.shape == (5,)
    assert np.all((alphas >= 0) & (alphas <= 1))
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-14)
    if rule == "gauss-legendre":  # exact up to degree 2n - 1 = 9
        np.testing.assert_allclose(np.sum(weights * alphas**9), 0.1, rtol=1e-12)
    with pytest.raises(ParameterError, match="trapezoid"):
        quadrature(1, rule="trapezoid")


# ---------------------------------------------------------------------------- folded model


class BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(6, 3)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-1, 1)
                    m.running_var.uniform_(0.5, 2)
                    m.weight.uniform_(0.5, 1.5)

    def forward(self, x):
        return self.fc(self.features(x / 40).mean(dim=(2, 3)))


def test_explanations_of_the_folded_model_equal_the_original():
    model = BNNet().eval()
    folded = inference_copy(model)
    x = _logmel(4)
    ig_a = integrated_gradients_maps(model, x, baseline=-80.0, n_steps=16)
    ig_b = integrated_gradients_maps(folded, x, baseline=-80.0, n_steps=16)
    np.testing.assert_allclose(
        ig_b.attributions, ig_a.attributions, rtol=1e-3, atol=1e-4 * np.abs(ig_a.attributions).max()
    )
    # Grad-CAM on a layer after the folded batch norm (the block's ReLU) is unchanged
    cam_a = grad_cam_maps(model, x, layer="features.6")
    cam_b = grad_cam_maps(folded, x, layer="features.6")
    np.testing.assert_allclose(cam_b.maps, cam_a.maps, rtol=1e-3, atol=1e-4 * cam_a.maps.max())


# ---------------------------------------------------------------------------- Explanation objects


def test_grad_cam_explanation(tmp_path):
    model = Tiny().eval()
    x = _logmel(5)
    exp = grad_cam(model, x, targets=[1, 3], output="logits", class_names=list("abcd"))
    maps = grad_cam_maps(model, x, output="logits").maps
    assert exp.method == "gradcam" and exp.is_dense and exp.fill is None
    np.testing.assert_allclose(exp.scores[[1, 3]], maps[[1, 3]])
    assert np.all(exp.scores[[0, 2]] == 0)
    assert exp.params["layer"] == "conv" and exp.params["targets"] == [1, 3]
    assert exp.cost["n_evaluations"] == 2 and exp.output == "logits"
    logits = model(torch.as_tensor(x)[None, None]).detach().double()
    np.testing.assert_allclose(exp.prediction, torch.softmax(logits, -1)[0].numpy(), rtol=1e-6)
    loaded = type(exp).load(exp.save(tmp_path / "cam"))
    np.testing.assert_array_equal(loaded.scores, exp.scores)
    assert loaded.params == exp.params


def test_ig_explanation_uses_the_shared_fill(tmp_path):
    from genrelens.config import FeatureConfig

    model = Tiny().eval()
    x = _logmel(6)
    config = FeatureConfig(n_mels=N_MELS)
    exp = integrated_gradients(model, x, fill="min", config=config, targets=[0], n_steps=8)
    ref = integrated_gradients_maps(model, x, baseline=config.floor_db, targets=[0], n_steps=8)
    np.testing.assert_allclose(exp.scores[0], ref.attributions[0])
    assert exp.fill.kind == "min" and np.all(exp.fill.array == config.floor_db)
    assert exp.fit["completeness_gap"][0] == ref.completeness_gap[0]
    assert np.isnan(exp.fit["completeness_gap"][1:]).all()
    np.testing.assert_allclose(exp.prediction, ref.outputs)  # probabilities by default
    assert exp.params["n_steps"] == 8 and exp.params["random_state"] == 0
    loaded = type(exp).load(exp.save(tmp_path / "ig"))
    np.testing.assert_array_equal(loaded.scores, exp.scores)
    assert loaded.fill.kind == "min"
    mean = integrated_gradients(model, x, fill="mean", targets=[0], n_steps=8)
    assert mean.fill.kind == "mean" and not np.allclose(mean.scores, exp.scores)


def test_explain_api_dispatches_to_the_gradient_methods():
    from genrelens.explain import explain

    model = Tiny().eval()
    x = _logmel(7)
    via_api = explain(model, x, method="gradcam", output="logits", layer="conv")
    direct = grad_cam(model, x, output="logits", layer="conv")
    np.testing.assert_array_equal(via_api.scores, direct.scores)
    ig = explain(model, x, method="ig", fill="mean", n_steps=4, targets=[1])
    assert ig.method == "ig" and ig.fill.kind == "mean" and ig.params["n_steps"] == 4
