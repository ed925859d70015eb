import torch
from torch import nn
from torch.nn import functional as F

from genrelens.models.fold import ChannelClamp, find_conv_bn_pairs, inference_copy


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every batch norm non-trivial statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 3 + 0.1)
                if m.affine:
                    m.weight.copy_(torch.randn(m.num_features, generator=g))
                    m.bias.copy_(torch.randn(m.num_features, generator=g))
    return model.eval()


class FourBlockCNN(nn.Module):
    def __init__(self, n_classes: int = 10, width: int = 8) -> None:
        super().__init__()
        layers, c_in = [], 1
        for i in range(4):
            c_out = width * 2**i
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=i % 2 == 0),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, n_classes)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


class AttrBlock(nn.Module):
    """conv/bn held as attributes, functional in-place ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(F.relu(self.bn(self.conv(x)), inplace=True).amax(dim=(2, 3)))


class Untraceable(nn.Module):
    """Data-dependent control flow defeats torch.fx: the Sequential walk must fold."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        if x.sum() > 0:
            x = x * 2
        return self.fc(self.body(x).mean(dim=(2, 3)))


class Reused(nn.Module):
    """One conv called twice, one bn called twice: nothing may be folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.stem(x)
        x = self.bn(self.conv(x))
        x = self.bn(self.conv(torch.relu(x)))
        return self.fc(x.mean(dim=(2, 3)))


class SkipConnection(nn.Module):
    """The conv output feeds both the bn and a residual add: not foldable."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.bn = nn.BatchNorm2d(1)
        self.fc = nn.Linear(1, 2)

    def forward(self, x):
        y = self.conv(x)
        return self.fc((self.bn(y) + y).mean(dim=(2, 3)))


def _check_equal(model: nn.Module, shape=(3, 1, 32, 40)) -> nn.Module:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) * 20 - 40
    before = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    folded = inference_copy(model)
    model.eval()
    with torch.no_grad():
        expected = model(x)
        got = folded(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    model.train(was_training)
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert not folded.training
    return folded


def test_four_block_cnn_folds_every_pair_and_keeps_outputs():
    model = _randomise_bn(FourBlockCNN())
    assert find_conv_bn_pairs(model) == [
        (f"features.{4 * i}", f"features.{4 * i + 1}") for i in range(4)
    ]
    folded = _check_equal(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 4  # original untouched
    assert type(folded) is FourBlockCNN
    for m in folded.modules():
        if isinstance(m, nn.Conv2d):
            assert m.weight.is_contiguous(memory_format=torch.channels_last)
            assert m.bias is not None


def test_folded_model_accepts_ordinary_and_single_inputs():
    model = _randomise_bn(FourBlockCNN())
    folded = inference_copy(model)
    x = torch.randn(1, 1, 128, 130)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)


def test_original_in_train_mode_is_left_in_train_mode():
    model = _randomise_bn(FourBlockCNN()).train()
    _check_equal(model)
    assert model.training


def test_attribute_conv_bn_with_functional_inplace_relu():
    model = _randomise_bn(AttrBlock())
    assert find_conv_bn_pairs(model) == [("conv", "bn")]
    folded = _check_equal(model)
    assert isinstance(folded.bn, nn.Identity)


def test_untraceable_model_falls_back_to_sequential_walk():
    model = _randomise_bn(Untraceable())
    assert find_conv_bn_pairs(model) == [("body.0", "body.1")]
    folded = _check_equal(model)
    assert isinstance(folded.body[1], nn.Identity)


def test_no_bn_model_is_an_equal_copy():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    model(torch.zeros(1, 1, 32, 40))  # materialise the lazy layer
    assert find_conv_bn_pairs(model) == []
    _check_equal(model)


def test_bn_without_preceding_conv_is_left_alone():
    model = _randomise_bn(
        nn.Sequential(
            nn.BatchNorm2d(1), nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2), nn.Flatten(1)
        )
    )
    assert find_conv_bn_pairs(model) == []
    folded = _check_equal(model)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == 2


def test_reused_modules_are_not_folded():
    model = _randomise_bn(Reused())
    assert find_conv_bn_pairs(model) == []
    _check_equal(model)


def test_module_shared_between_two_sequentials_is_not_folded():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    model = _randomise_bn(
        nn.Sequential(
            nn.Sequential(conv, nn.BatchNorm2d(1)), nn.Sequential(conv, nn.BatchNorm2d(1))
        )
    )
    assert find_conv_bn_pairs(model) == []
    _check_equal(model)


def test_conv_output_with_second_user_is_not_folded():
    model = _randomise_bn(SkipConnection())
    assert find_conv_bn_pairs(model) == []
    _check_equal(model)


def test_bn_with_batch_statistics_is_not_folded():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False))
    assert find_conv_bn_pairs(model) == []


def test_bn_without_affine_is_folded():
    model = _randomise_bn(
        nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3, affine=False), nn.Flatten(1))
    )
    assert find_conv_bn_pairs(model) == [("0", "1")]
    _check_equal(model)


def test_perturbation_and_gradient_explanations_of_the_folded_model_equal_the_original():
    import numpy as np

    from genrelens.explain import components, explain

    model = _randomise_bn(FourBlockCNN(n_classes=3, width=4))
    folded = inference_copy(model)
    x = np.random.default_rng(0).normal(-40, 15, size=(32, 40)).astype(np.float32)
    comps = components.tf_grid(n_mels=32, n_frames=40, n_time=4, n_freq=2, config=_config32())
    for method, kwargs in (
        ("kernel_shap", {"components": comps, "n_samples": 64}),
        ("occlusion", {"components": comps}),
        ("ig", {"n_steps": 8}),
    ):
        a = explain(model, x, method=method, fast=False, batch_size=64, **kwargs)
        b = explain(folded, x, method=method, fast=False, batch_size=64, **kwargs)
        scale = np.abs(a.scores).max()
        np.testing.assert_allclose(b.scores, a.scores, rtol=1e-3, atol=1e-4 * scale, err_msg=method)
        np.testing.assert_allclose(b.prediction, a.prediction, rtol=1e-4, err_msg=method)


def _config32():
    from genrelens.config import FeatureConfig

    return FeatureConfig(n_mels=32)


class ScaledConv(nn.Conv2d):
    """A Conv2d subclass with its own forward: folding its weights would be wrong."""

    def forward(self, x):
        return super().forward(x) ** 2


def test_conv_subclasses_are_not_folded():
    model = _randomise_bn(nn.Sequential(ScaledConv(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(1)))
    assert find_conv_bn_pairs(model) == []
    _check_equal(model)


class MaxPooledBlocks(nn.Module):
    """TensorFlow-style ``conv -> ReLU -> BN -> max`` blocks: a 2-D one max-pooled, a 1-D one
    maxed over time, and one whose ReLU is functional (not declared foldable)."""

    max_pooled_blocks = ("first", "second", "plain")

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.ModuleDict({"conv": nn.Conv2d(1, 6, 3, padding=1), "relu": nn.ReLU(),
                                    "bn": nn.BatchNorm2d(6), "post": nn.Identity()})
        self.second = nn.ModuleDict({"conv": nn.Conv1d(6 * 8, 5, 3), "relu": nn.ReLU(),
                                     "bn": nn.BatchNorm1d(5), "post": nn.Identity()})
        self.plain = nn.ModuleDict({"conv": nn.Conv1d(6 * 8, 4, 1), "bn": nn.BatchNorm1d(4),
                                    "post": nn.Identity()})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.first
        h = b["post"](F.max_pool2d(b["bn"](b["relu"](b["conv"](x))), (4, 5)))  # (B, 6, 8, 8)
        h = h.flatten(1, 2)
        b = self.second
        a = b["post"](b["bn"](b["relu"](b["conv"](h))).amax(dim=2))
        b = self.plain
        c = b["post"](b["bn"](torch.relu(b["conv"](h))).amax(dim=2))
        return torch.cat([a, c], dim=1)


def test_relu_bn_before_a_max_folds_into_conv_and_clamp_for_every_gamma_sign():
    model = _randomise_bn(MaxPooledBlocks())
    with torch.no_grad():
        model.first["bn"].weight[:3] = torch.tensor([2.0, -1.5, 0.0])  # +, -, zero scale
    assert model.first["bn"].weight.min() < 0 < model.first["bn"].weight.max()
    folded = _check_equal(model, shape=(3, 1, 32, 40))
    for name in ("first", "second"):
        block = getattr(folded, name)
        assert isinstance(block["relu"], nn.Identity) and isinstance(block["bn"], nn.Identity)
        assert isinstance(block["post"], ChannelClamp)
    # clamp bounds: lower = shift where the scale is positive, upper = shift where negative
    bn = model.first["bn"]
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - scale * bn.running_mean
    clamp = folded.first["post"]
    torch.testing.assert_close(clamp.lower[:1], shift[:1].detach())
    assert clamp.lower[1] == -torch.inf and clamp.upper[0] == torch.inf
    torch.testing.assert_close(clamp.upper[1], shift[1].detach())
    conv = folded.first["conv"]  # zero scale: the folded convolution is the constant shift
    assert not conv.weight[2].any() and torch.isclose(conv.bias[2], shift[2])
    assert isinstance(folded.plain["bn"], nn.BatchNorm1d)  # no declared ReLU module: kept
    assert isinstance(folded.plain["post"], nn.Identity)


def _port_outputs(name: str) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    from genrelens.models import get_model

    torch.manual_seed(0)
    model = _randomise_bn(get_model("transfer", backbone=name, n_classes=3))
    x = torch.rand(2, 1, 96, 187, generator=torch.Generator().manual_seed(2)) * 4
    folded = inference_copy(model)
    with torch.no_grad():
        return folded, model(x), folded(x)


def test_musicnn_and_vgg_ports_fold_their_front_end_within_1e_5():
    """The ports' conv -> ReLU -> BN -> max blocks are folded, the outputs stay within 1e-5;
    musicnn keeps the default layout (channels-last was slower), the vgg goes channels-last."""
    for name, blocks, last in (("MSD_musicnn", 5, False), ("MSD_vgg", 5, True)):
        folded, expected, got = _port_outputs(name)
        assert sum(isinstance(m, ChannelClamp) for m in folded.modules()) == blocks
        assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == 1  # input BN
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        conv = folded.backbone.get_submodule(folded.backbone.max_pooled_blocks[1])["conv"]
        layout = torch.channels_last if last else torch.contiguous_format
        assert conv.weight.stride() == torch.empty_like(conv.weight.data, memory_format=layout).stride()
