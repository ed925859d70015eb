"""Forward contracts of the registered models, the registry and the input normalisation."""

import numpy as np
import pytest
import torch
from torch import nn

from genrelens.errors import ParameterError
from genrelens.models import available_models, get_model, register_model
from genrelens.models.layers import InputNorm

# Small widths keep the tests fast; vgg16 has no width option (torchvision-compatible names).
ARGS = {"cnn": {}, "shortchunk": {"n_channels": 8}, "vgg16": {}}


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {name: get_model(name, n_classes=10, **ARGS[name]).eval() for name in ARGS}


def test_builtin_models_are_registered():
    assert set(ARGS) <= set(available_models())


@pytest.mark.parametrize("name", sorted(ARGS))
@pytest.mark.parametrize("shape", [(2, 1, 128, 130), (1, 1, 96, 200)])
def test_forward_shape(models, name, shape):
    x = torch.randn(shape) * 20 - 40
    with torch.no_grad():
        out = models[name](x)
    assert out.shape == (shape[0], 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(ARGS))
def test_outputs_are_logits_not_probabilities(models, name):
    """Shifting the last layer's bias by c shifts every output by c: nothing normalises after it."""
    model = models[name]
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    x = torch.randn(4, 1, 64, 44) * 20 - 40
    with torch.no_grad():
        before = model(x)
        last.bias += 7.0
        after = model(x)
        last.bias -= 7.0
    torch.testing.assert_close(after - before, torch.full_like(before, 7.0), rtol=0, atol=1e-4)
    assert not torch.allclose(before.sum(dim=1), torch.ones(4))


@pytest.mark.parametrize("name", sorted(ARGS))
def test_batched_equals_per_item(models, name):
    x = torch.randn(3, 1, 64, 48) * 20 - 40
    with torch.no_grad():
        batched = models[name](x)
        single = torch.cat([models[name](x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(2, 128, 130), (2, 3, 128, 130)])
def test_wrong_input_shape_is_a_parameter_error(models, shape):
    with pytest.raises(ParameterError, match=r"expected \(batch, 1, n_mels, n_frames\)"):
        models["cnn"](torch.zeros(shape))


def test_vgg16_has_torchvision_parameter_names(models):
    names = {k for k in models["vgg16"].state_dict() if not k.startswith("input_norm.")}
    convs = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    expected = {f"features.{i}.{p}" for i in convs for p in ("weight", "bias")}
    expected |= {f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")}
    assert names == expected
    assert models["vgg16"].features[0].weight.shape == (64, 1, 3, 3)
    assert models["vgg16"].classifier[6].weight.shape == (10, 4096)


def test_shortchunk_follows_won_et_al(models):
    model = get_model("shortchunk", n_classes=50)  # paper width n = 128
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [128, 128, 256, 256, 256, 256, 512]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 7
    assert model.classifier[0].in_features == 512 and model.classifier[-1].out_features == 50


def test_cnn_has_four_conv_blocks_with_batch_norm(models):
    blocks = list(models["cnn"].features)
    assert len(blocks) == 4
    for block in blocks:
        kinds = [type(m) for m in block]
        assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]


def test_unknown_model_and_bad_arguments():
    with pytest.raises(ParameterError, match="model='nope' is unknown.*cnn"):
        get_model("nope")
    with pytest.raises(ParameterError, match="invalid for model 'cnn'"):
        get_model("cnn", width=3)
    with pytest.raises(ParameterError, match="n_classes=0"):
        get_model("cnn", n_classes=0)
    with pytest.raises(ParameterError, match="channels="):
        get_model("cnn", channels=(8, 8, 8))
    with pytest.raises(ParameterError, match="dropout=1.5"):
        get_model("shortchunk", dropout=1.5)


def test_register_model_refuses_a_taken_name():
    class Other(nn.Module):
        pass

    with pytest.raises(ParameterError, match="already registered"):
        register_model("cnn")(Other)
    with pytest.raises(ParameterError, match="non-empty string"):
        register_model("")


def test_input_norm_fits_mean_and_std():
    rng = np.random.default_rng(0)
    x = rng.normal(-40.0, 20.0, size=(700, 16, 9)).astype(np.float32)  # > one 256-segment chunk
    norm = InputNorm()
    norm.fit(x)
    assert float(norm.mean) == pytest.approx(x.astype(np.float64).mean(), abs=1e-4)
    assert float(norm.std) == pytest.approx(x.astype(np.float64).std(), rel=1e-5)
    y = norm(torch.from_numpy(x)).double()
    assert float(y.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(y.std(correction=0)) == pytest.approx(1.0, abs=1e-5)
    assert set(dict(norm.named_buffers())) == {"mean", "std"}
    assert not list(norm.parameters())


@pytest.mark.parametrize("bad", [np.zeros((0, 4, 4)), np.full((3, 4, 4), -100.0),
                                 np.array([[[np.nan, 1.0]]])])
def test_input_norm_rejects_degenerate_data(bad):
    with pytest.raises(ParameterError, match="x "):
        InputNorm().fit(bad)
