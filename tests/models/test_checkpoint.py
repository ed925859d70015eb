"""Checkpoints: round trips, refusal of pickled code, key checks, torchvision VGG16 weights."""

import os

import pytest
import torch

from genrelens import __version__
from genrelens.config import FeatureConfig
from genrelens.errors import CheckpointError, ParameterError
from genrelens.models import get_model, load_checkpoint, load_torchvision_vgg16, save_checkpoint
from genrelens.models.checkpoint import CHECKPOINT_KEYS
from genrelens.models.vgg import VGG16_WEIGHTS_FILE, _torchvision_shapes, default_vgg16_weights_path

CLASSES = ("blues", "classical", "country")


def _touch(path):
    with open(path, "w") as f:
        f.write("executed")


class Payload:
    """Unpickling this would call _touch(marker): the classic pickle code-execution gadget."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_touch, (self.marker,))


def _save(path, name="cnn", **model_args):
    torch.manual_seed(1)
    model = get_model(name, n_classes=len(CLASSES), **model_args)
    model.input_norm.mean.fill_(-42.0)
    model.input_norm.std.fill_(17.0)
    with torch.no_grad():  # non-trivial batch-norm statistics must survive too
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    config = FeatureConfig(n_mels=64, segment_seconds=2.0, segment_hop_seconds=1.0)
    save_checkpoint(path, model=model, model_name=name, model_args={"n_classes": 3, **model_args},
                    feature_config=config, class_names=CLASSES, extra={"epoch": 4})
    return model.eval(), config


@pytest.mark.parametrize("name,args", [("cnn", {}), ("shortchunk", {"n_channels": 4})])
def test_round_trip_gives_identical_logits(tmp_path, name, args):
    path = tmp_path / "checkpoint.pt"
    model, config = _save(path, name, **args)
    loaded = load_checkpoint(path)
    assert loaded.model_name == name
    assert loaded.model_args == {"n_classes": 3, **args}
    assert loaded.feature_config == config
    assert loaded.class_names == CLASSES
    assert loaded.extra == {"epoch": 4}
    assert loaded.versions == {"genrelens": __version__, "torch": torch.__version__}
    assert not loaded.model.training
    x = torch.randn(3, 1, 64, 87) * 20 - 40
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model(x))
    assert float(loaded.model.input_norm.mean) == -42.0


def test_checkpoint_loads_with_plain_weights_only(tmp_path):
    path = tmp_path / "c.pt"
    _save(path)
    data = torch.load(path, weights_only=True)
    assert set(CHECKPOINT_KEYS) <= set(data)
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_pickled_code_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    _save(tmp_path / "good.pt")
    data = torch.load(tmp_path / "good.pt", weights_only=True)
    data["extra"] = {"note": Payload(str(marker))}
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="refused: it contains pickled objects or code"):
        load_checkpoint(path)
    assert not marker.exists()
    # The payload is live: an unsafe load would have run it.
    torch.load(path, weights_only=False)
    assert marker.read_text() == "executed"


def test_pickled_callable_is_refused(tmp_path):
    path = tmp_path / "callable.pt"
    torch.save({"format": "genrelens-checkpoint", "hook": os.system}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)


def test_missing_keys_are_named(tmp_path):
    path = tmp_path / "c.pt"
    _save(path)
    data = torch.load(path, weights_only=True)
    del data["class_names"], data["state_dict"]
    torch.save(data, path)
    with pytest.raises(CheckpointError, match=r"missing keys \['class_names', 'state_dict'\]"):
        load_checkpoint(path)


def test_state_dict_that_does_not_fit_is_described(tmp_path):
    path = tmp_path / "c.pt"
    _save(path)
    data = torch.load(path, weights_only=True)
    data["state_dict"].pop("classifier.1.bias")
    data["state_dict"]["extra.weight"] = torch.zeros(1)
    data["state_dict"]["features.0.0.weight"] = torch.zeros(2, 1, 3, 3)
    torch.save(data, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "missing keys: classifier.1.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "shape mismatches: features.0.0.weight (2, 1, 3, 3) (expected (16, 1, 3, 3))" in message


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda d: d.update(model_name="nope"), "model 'nope', which is not registered"),
        (lambda d: d.update(format_version=99), "version 99"),
        (lambda d: d["feature_config"].update(n_mels=0), "invalid settings.*n_mels=0"),
        (lambda d: d["model_args"].update(bogus=1), "invalid settings.*bogus"),
    ],
)
def test_invalid_contents(tmp_path, edit, match):
    path = tmp_path / "c.pt"
    _save(path)
    data = torch.load(path, weights_only=True)
    edit(data)
    torch.save(data, path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(tmp_path / "list.pt")


def test_save_refuses_what_could_not_be_loaded_safely(tmp_path):
    model = get_model("cnn", n_classes=3)
    common = dict(
        model=model, model_name="cnn", feature_config=FeatureConfig(), class_names=CLASSES
    )
    with pytest.raises(ParameterError, match=r"extra\['f'\] is a function"):
        save_checkpoint(tmp_path / "c.pt", model_args={}, extra={"f": _touch}, **common)
    with pytest.raises(ParameterError, match="model_name='nope'"):
        save_checkpoint(tmp_path / "c.pt", model_args={}, **{**common, "model_name": "nope"})
    with pytest.raises(ParameterError, match="distinct names"):
        save_checkpoint(tmp_path / "c.pt", model_args={}, **{**common, "class_names": ["a", "a"]})
    assert not (tmp_path / "c.pt").exists()


# --------------------------------------------------------------------------- VGG16 from torchvision


def fake_torchvision_state(*, leave_out=()):
    """A state dict with torchvision's vgg16 names and shapes (3 channels, 1000 classes).

    Random values, except a constant in the two big classifier matrices (cheap to make).
    """
    gen = torch.Generator().manual_seed(0)
    return {
        k: torch.full(shape, 0.003) if len(shape) == 2 and shape[0] == 4096
        else torch.randn(shape, generator=gen) * 0.01
        for k, shape in _torchvision_shapes().items()
        if k not in leave_out
    }


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return get_model("vgg16", n_classes=10)


def test_torchvision_shapes_are_vgg16_d():
    shapes = _torchvision_shapes()
    assert len(shapes) == 32
    assert sum(torch.Size(s).numel() for s in shapes.values()) == 138_357_544  # torchvision's count
    assert shapes["features.28.weight"] == (512, 512, 3, 3)
    assert shapes["classifier.0.weight"] == (4096, 25088)


@pytest.mark.slow  # writes and maps a 553 MB file: ~15 s on two busy cores
def test_vgg16_loads_fake_torchvision_weights(tmp_path, vgg):
    fake = fake_torchvision_state()
    path = tmp_path / VGG16_WEIGHTS_FILE
    torch.save(fake, path)
    head = vgg.classifier[6].weight.clone()
    assert load_torchvision_vgg16(vgg, path) is vgg
    state = vgg.state_dict()
    expected_first = fake["features.0.weight"].sum(dim=1, keepdim=True)
    assert torch.equal(state["features.0.weight"], expected_first)
    for key in (
        "features.0.bias", "features.28.weight", "classifier.0.weight", "classifier.3.bias"
    ):
        assert torch.equal(state[key], fake[key])
    assert torch.equal(vgg.classifier[6].weight, head)  # the 10-class head is kept
    # Summing the filters over colour equals feeding the grey image to all three channels.
    x = torch.randn(1, 1, 16, 16)
    rgb = torch.nn.functional.conv2d(
        x.expand(1, 3, 16, 16), fake["features.0.weight"], padding=1
    )
    grey = torch.nn.functional.conv2d(x, state["features.0.weight"], padding=1)
    torch.testing.assert_close(grey, rgb, rtol=1e-5, atol=1e-6)


def test_vgg16_rejects_mismatched_weights(tmp_path, vgg):
    # Leaving the two big classifier matrices out keeps the file small (and tests "missing").
    bad = fake_torchvision_state(
        leave_out={"features.26.bias", "classifier.0.weight", "classifier.3.weight"}
    )
    bad["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    bad["fc.weight"] = torch.zeros(2)
    path = tmp_path / "bad.pth"
    torch.save(bad, path)
    before = vgg.features[2].weight.clone()
    with pytest.raises(CheckpointError) as info:
        load_torchvision_vgg16(vgg, path)
    message = str(info.value)
    assert "missing keys: classifier.0.weight, classifier.3.weight, features.26.bias" in message
    assert "unexpected keys: fc.weight" in message
    assert "features.2.weight (64, 32, 3, 3) (expected (64, 64, 3, 3))" in message
    assert torch.equal(vgg.features[2].weight, before)  # nothing was loaded


def test_vgg16_missing_or_unsafe_weights_file(tmp_path, monkeypatch, vgg):
    with pytest.raises(CheckpointError, match="do not exist.*--pretrained PATH"):
        load_torchvision_vgg16(vgg, tmp_path / "absent.pth")
    torch.save({"features.0.weight": Payload(str(tmp_path / "marker"))}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="refused"):
        load_torchvision_vgg16(vgg, tmp_path / "evil.pth")
    assert not (tmp_path / "marker").exists()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / VGG16_WEIGHTS_FILE
    assert default_vgg16_weights_path() == expected
    with pytest.raises(CheckpointError, match="do not exist"):
        load_torchvision_vgg16(vgg)  # the default place is empty: never downloaded
