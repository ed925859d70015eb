"""The pretrained musicnn ports: parity with TensorFlow, front end, tags, registry, errors."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from genrelens.errors import CheckpointError, ParameterError
from genrelens.models import get_model, load_checkpoint, save_checkpoint
from genrelens.models.musicnn import (
    MUSICNN_FEATURES,
    MUSICNN_MODELS,
    MUSICNN_PATCH_FRAMES,
    musicnn_input,
    musicnn_patches,
    musicnn_tags,
    musicnn_wheel_dir,
)
from genrelens.models.tf_checkpoint import read_tf_checkpoint
from tf_writer import write_tf_checkpoint

HAS_WHEEL = importlib.util.find_spec("musicnn") is not None
needs_wheel = pytest.mark.skipif(not HAS_WHEEL, reason="musicnn wheel absent "
                                 "(pip install --no-deps musicnn==0.1.0)")


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> Path:
    folder = shared_dir / "reference" / "musicnn"
    if not (folder / "tf_logits.npz").is_file():
        pytest.skip("reference/musicnn is absent")
    return folder


def _as_model_input(x: np.ndarray) -> torch.Tensor:
    """(batch, frames, mels) patches as the wheel feeds them -> (batch, 1, mels, frames)."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)[:, None]))


@needs_wheel
@pytest.mark.parametrize("name", MUSICNN_MODELS)
def test_ports_reproduce_tensorflow_logits(name, reference):
    x = np.load(reference / "x.npy")
    expected = np.load(reference / "tf_logits.npz")[name]
    model = get_model(name).eval()
    with torch.no_grad():
        logits = model(_as_model_input(x)).numpy()
    assert logits.shape == (2, 50)
    assert np.abs(logits - expected).max() < 4e-5
    assert np.abs(expected).max() > 1.0  # the reference is not trivially near zero


def test_front_end_matches_reference_patches(reference):
    y = np.load(reference / "y.npy")  # (2, 48000) at 16 kHz
    x = np.load(reference / "x.npy")  # (2, 187, 96)
    ours = musicnn_input(y)
    assert ours.shape == (2, 96, 1 + 48000 // 256) and ours.dtype == np.float32
    patch = ours[..., :MUSICNN_PATCH_FRAMES].transpose(0, 2, 1)
    np.testing.assert_allclose(patch, x, rtol=0, atol=2e-6 * float(np.abs(x).max()))


def test_front_end_analytic_values():
    assert MUSICNN_FEATURES.n_frames == MUSICNN_PATCH_FRAMES == 187
    assert (MUSICNN_FEATURES.sr, MUSICNN_FEATURES.n_fft, MUSICNN_FEATURES.hop_length,
            MUSICNN_FEATURES.n_mels) == (16000, 512, 256, 96)
    np.testing.assert_array_equal(musicnn_input(np.zeros(1024, dtype=np.float32)), 0.0)
    # a 1 kHz sine: the loudest band is the one around 1 kHz, log10(1e4 S + 1) > 0 there
    t = np.arange(16000) / 16000
    x = musicnn_input(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    from genrelens.features import mel_frequencies

    centre = mel_frequencies(MUSICNN_FEATURES)[int(np.argmax(x[:, 30]))]
    assert 900 < centre < 1100


def test_architecture_covers_every_weight_without_the_wheel():
    for name in MUSICNN_MODELS:
        model = get_model(name, weights=None).eval()
        mapping = model._mapping()
        own = set(model.state_dict())
        assert set(mapping) == {k for k in own if not k.endswith("num_batches_tracked")}
        assert all(m.eps == 1e-3 for m in model.modules()
                   if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
        with torch.no_grad():
            assert model(torch.zeros(1, 1, 96, 187)).shape == (1, 50)
    n_params = {n: sum(p.numel() for p in get_model(n, weights=None).parameters())
                for n in ("MSD_musicnn", "MSD_vgg")}
    assert n_params == {"MSD_musicnn": 787_159, "MSD_vgg": 605_748}  # the 0.79 M, 0.61 M


@needs_wheel
def test_tags_are_read_from_the_wheel():
    msd, mtt = musicnn_tags("MSD_musicnn"), musicnn_tags("MTT_vgg")
    assert len(msd) == len(set(msd)) == 50 and len(mtt) == len(set(mtt)) == 50
    assert msd[:3] == ("rock", "pop", "alternative") and "Hip-Hop" in msd
    assert mtt[:3] == ("guitar", "classical", "slow") and musicnn_tags("MTT_musicnn") == mtt


def test_tags_are_parsed_never_executed(tmp_path):
    folder = tmp_path / "musicnn"
    folder.mkdir()
    tags = [f"tag{i}" for i in range(50)]
    (folder / "configuration.py").write_text(
        f"raise SystemExit('executed')\nimport tensorflow\nMSD_LABELS = {tags!r}\n")
    assert musicnn_tags("MSD_vgg", wheel=folder) == tuple(tags)
    with pytest.raises(CheckpointError, match=r"configuration\.py has no list of strings MTT_LABELS"):
        musicnn_tags("MTT_vgg", wheel=folder)
    with pytest.raises(ParameterError, match=r"model='vgg16' is invalid"):
        musicnn_tags("vgg16", wheel=folder)


def test_missing_wheel_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(CheckpointError, match=r'pip install --no-deps "musicnn==0\.1\.0"'):
        get_model("MSD_musicnn")
    with pytest.raises(CheckpointError, match=r"has no configuration\.py"):
        musicnn_wheel_dir(tmp_path)


@needs_wheel
def test_wheel_folder_given_by_path_and_missing_tensor_named(tmp_path):
    wheel = musicnn_wheel_dir()
    copy = tmp_path / "musicnn"
    copy.mkdir()
    shutil.copy(wheel / "configuration.py", copy)
    tensors = read_tf_checkpoint(wheel / "MSD_vgg")
    (copy / "MSD_vgg").mkdir()
    write_tf_checkpoint(copy / "MSD_vgg", tensors)
    x = torch.linspace(0, 3, 2 * 96 * 187).reshape(2, 1, 96, 187)
    with torch.no_grad():
        expected = get_model("MSD_vgg").eval()(x)
        np.testing.assert_array_equal(get_model("MSD_vgg", weights=copy).eval()(x), expected)
    del tensors["dense/bias"], tensors["1CNN/kernel/Adam"]
    tensors["extra_layer/kernel"] = np.zeros(3, dtype=np.float32)
    write_tf_checkpoint(copy / "MSD_vgg", tensors)
    with pytest.raises(CheckpointError) as info:
        get_model("MSD_vgg", weights=copy)
    assert "missing tensors: dense/bias; unused tensors: extra_layer/kernel." in str(info.value)


@needs_wheel
def test_pretrained_model_saves_and_loads_as_genrelens_checkpoint(tmp_path):
    model = get_model("MSD_vgg").eval()
    tags = musicnn_tags("MSD_vgg")
    path = save_checkpoint(tmp_path / "msd.pt", model=model, model_name="MSD_vgg",
                           model_args={"weights": None}, feature_config=MUSICNN_FEATURES,
                           class_names=tags)
    raw = torch.load(path, weights_only=True)
    assert raw["model_name"] == "MSD_vgg" and raw["class_names"] == list(tags)
    loaded = load_checkpoint(path)
    assert loaded.feature_config == MUSICNN_FEATURES and loaded.class_names == tags
    x = torch.rand(1, 1, 96, 187) * 3
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("per_chunk", [1, 2, 32])
def test_patches_equal_the_whole_file_front_end_cut(per_chunk):
    y = np.random.default_rng(3).standard_normal(16000 * 10).astype(np.float32) * 0.1
    whole = musicnn_input(y)  # (96, 626)
    patches = musicnn_patches(y, patches_per_chunk=per_chunk)
    n = 1 + (whole.shape[1] - 187) // 187
    assert patches.shape == (n, 96, 187) == (3, 96, 187)
    expected = whole[:, : n * 187].reshape(96, n, 187).transpose(1, 0, 2)
    np.testing.assert_allclose(patches, expected, rtol=1e-6, atol=1e-6)


def test_short_recording_is_repeat_padded_to_one_patch():
    y = np.sin(np.linspace(0, 900, 16000)).astype(np.float32)  # 1 s: 63 frames
    whole = musicnn_input(y)
    patches = musicnn_patches(y)
    assert patches.shape == (1, 96, 187)
    np.testing.assert_array_equal(patches[0], whole[:, np.arange(187) % 63])


def test_input_shape_is_checked():
    musicnn, vgg = get_model("MSD_musicnn", weights=None).eval(), get_model("MTT_vgg", weights=None)
    with torch.no_grad():
        assert musicnn(torch.zeros(1, 1, 96, 100)).shape == (1, 50)  # any patch length
        with pytest.raises(ParameterError, match=r"MTT_vgg expects \(batch, 1, 96, 187\)"):
            vgg.eval()(torch.zeros(1, 1, 96, 100))
        with pytest.raises(ParameterError, match=r"shape \(1, 1, 128, 187\): MSD_musicnn expects"):
            musicnn(torch.zeros(1, 1, 128, 187))


@needs_wheel
def test_msd_vgg_needs_its_graphs_pooling(reference):
    """The MSD_vgg weights in the MTT_vgg architecture (the wheel's models.py pooling) do not
    reproduce TensorFlow: the port follows the checkpoint's graph."""
    x = _as_model_input(np.load(reference / "x.npy"))
    expected = np.load(reference / "tf_logits.npz")["MSD_vgg"]
    as_models_py = get_model("MTT_vgg", weights=None).eval()
    as_models_py.load_state_dict(get_model("MSD_vgg").state_dict())
    with torch.no_grad():
        assert np.abs(as_models_py(x).numpy() - expected).max() > 0.1
