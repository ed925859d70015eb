"""The numpy reader of TF1 checkpoints: CRC32C, the index table, data, errors, mapping.

Fixtures are written by a minimal writer of the same format (``tf_writer.py``, tests only), so
the reader is tested without the musicnn wheel; a copy of a wheel checkpoint is used when the
wheel is installed.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from genrelens.errors import CheckpointError
from genrelens.models.tf_checkpoint import (
    checkpoint_files,
    crc32c,
    map_tf_tensors,
    mask_crc32c,
    read_tf_checkpoint,
    read_tf_index,
)
from tf_writer import write_tf_checkpoint


def _crc32c_bitwise(data: bytes) -> int:
    """CRC32C one bit at a time (the definition, RFC 3720 B.4)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    tensors = {
        "conv/kernel": rng.standard_normal((3, 3, 1, 4)).astype(np.float32),
        "conv/bias": np.arange(4, dtype=np.float32),
        "dense/kernel": rng.standard_normal((5, 2)),
        "global_step": np.array(1234, dtype=np.int64),
        "conv/kernel/Adam": np.zeros((3, 3, 1, 4), dtype=np.float32),
        "half": np.array([1.5, -2.0], dtype=np.float16),
    }
    return write_tf_checkpoint(tmp_path / "model.ckpt", tensors), tensors


def test_crc32c_check_value_and_bitwise_reference():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(bytes(range(32))) == 0x46DD794E  # RFC 3720 B.4: incrementing bytes
    rng = np.random.default_rng(1)
    for n in [1, 2, 3, 4, 5, 63, 64, 65, 127, 128, 129, 1000, 4099]:
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == _crc32c_bitwise(data), n
    array = rng.standard_normal((7, 11)).astype(np.float32)
    assert crc32c(array) == _crc32c_bitwise(array.tobytes())


def test_mask_matches_tensorflow_definition():
    crc = 0x12345678
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    assert mask_crc32c(crc) == (rotated + 0xA282EAD8) & 0xFFFFFFFF
    assert mask_crc32c(0) == 0xA282EAD8


def test_round_trip_of_tiny_checkpoint(tiny):
    prefix, tensors = tiny
    entries = read_tf_index(prefix)
    assert list(entries) == sorted(tensors)
    assert entries["conv/kernel"].shape == (3, 3, 1, 4)
    assert entries["global_step"].dtype == np.dtype("<i8")
    read = read_tf_checkpoint(prefix)
    assert set(read) == set(tensors)
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)
    assert read["conv/bias"].flags.writeable


def test_folder_prefix_means_empty_file_name(tmp_path):
    folder = tmp_path / "MSD_like"
    folder.mkdir()
    write_tf_checkpoint(folder, {"w": np.ones(3, dtype=np.float32)})
    assert sorted(p.name for p in folder.iterdir()) == [".data-00000-of-00001", ".index"]
    np.testing.assert_array_equal(read_tf_checkpoint(folder)["w"], np.ones(3))


def test_flipped_data_byte_names_the_tensor(tiny):
    prefix, _ = tiny
    entry = read_tf_index(prefix)["dense/kernel"]
    data_file = checkpoint_files(prefix)[1]
    raw = bytearray(data_file.read_bytes())
    raw[entry.offset + 3] ^= 0x01
    data_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"damaged: the CRC32C of tensor 'dense/kernel'"):
        read_tf_checkpoint(prefix)


def test_truncated_data_file_names_tensor_and_sizes(tiny):
    prefix, _ = tiny
    entries = read_tf_index(prefix)
    last = max(entries.values(), key=lambda e: e.offset)
    data_file = checkpoint_files(prefix)[1]
    data_file.write_bytes(data_file.read_bytes()[: last.offset + 1])
    with pytest.raises(CheckpointError) as info:
        read_tf_checkpoint(prefix)
    message = str(info.value)
    assert "truncated" in message and repr(last.name) in message
    assert f"has {last.offset + 1}" in message and data_file.name in message


def test_damaged_or_truncated_index(tiny):
    prefix, _ = tiny
    index_file = checkpoint_files(prefix)[0]
    good = index_file.read_bytes()
    damaged = bytearray(good)
    damaged[10] ^= 0x40  # inside the data block
    index_file.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match=r"damaged: the CRC32C of its data block 0"):
        read_tf_index(prefix)
    index_file.write_bytes(good[:-20])
    with pytest.raises(CheckpointError, match=r"not a TensorFlow checkpoint index"):
        read_tf_index(prefix)
    index_file.unlink()
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.index does not exist"):
        read_tf_checkpoint(prefix)


def test_size_that_does_not_fit_shape_is_refused(tmp_path):
    prefix = write_tf_checkpoint(tmp_path / "m", {"w": np.zeros((2, 2), dtype=np.float32)},
                                 declared_sizes={"w": 12})
    with pytest.raises(CheckpointError, match=r"tensor 'w' of shape \(2, 2\).*needs 16 bytes"):
        read_tf_checkpoint(prefix)


def test_map_names_missing_and_unused_tensors(tiny):
    prefix, tensors = tiny
    read = read_tf_checkpoint(prefix)
    transpose = np.transpose
    mapping = {
        "conv.weight": ("conv/kernel", lambda a: a.transpose(3, 2, 0, 1)),
        "conv.bias": ("conv/bias", lambda a: a),
        "fc.weight": ("dense/kernel", transpose),
        "half": ("half", lambda a: a),
    }
    state = map_tf_tensors(read, mapping, source="tiny")
    assert state["conv.weight"].shape == (4, 1, 3, 3) and state["fc.weight"].shape == (2, 5)
    assert state["fc.weight"].dtype == np.float32 and state["fc.weight"].flags.c_contiguous
    np.testing.assert_allclose(state["fc.weight"], tensors["dense/kernel"].T, rtol=1e-6)
    # global_step and the Adam slot are optimizer state: neither missing nor unused
    broken = dict(mapping, **{"fc.bias": ("dense/bias", lambda a: a)})
    del broken["half"]
    with pytest.raises(CheckpointError) as info:
        map_tf_tensors(read, broken, source="tiny")
    assert str(info.value) == ("checkpoint tiny does not match the model's architecture; "
                               "missing tensors: dense/bias; unused tensors: half.")
    wrong_rank = dict(mapping, **{"conv.bias": ("conv/bias", lambda a: a.transpose(3, 2, 0, 1))})
    with pytest.raises(CheckpointError, match=r"tensor 'conv/bias' of shape \(4,\) does not fit "
                       r"the model's 'conv.bias'"):
        map_tf_tensors(read, wrong_rank, source="tiny")


@pytest.mark.skipif(importlib.util.find_spec("musicnn") is None, reason="musicnn wheel absent")
def test_flipped_byte_in_copy_of_wheel_checkpoint(tmp_path):
    folder = Path(list(importlib.util.find_spec("musicnn").submodule_search_locations)[0])
    copy = shutil.copytree(folder / "MSD_vgg", tmp_path / "MSD_vgg")
    entry = read_tf_index(copy)["3CNN/kernel"]
    data_file = checkpoint_files(copy)[1]
    raw = bytearray(data_file.read_bytes())
    raw[entry.offset + entry.size // 2] ^= 0x80
    data_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"CRC32C of tensor '3CNN/kernel'"):
        read_tf_checkpoint(copy)
