"""A minimal writer of TF1 checkpoints (index table + data file), for test fixtures only."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from genrelens.models.tf_checkpoint import checkpoint_files, crc32c, mask_crc32c

_DTYPE_CODES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3,
                np.dtype("int64"): 9, np.dtype("float16"): 19}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A table block (each key sharing its prefix with the previous one, as TensorFlow writes
    them; one restart point) and its 5-byte trailer."""
    body, previous = bytearray(), b""
    for key, value in entries:
        shared = len(os.path.commonprefix([previous, key]))
        body += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        body += key[shared:] + value
        previous = key
    body += struct.pack("<II", 0, 1)
    return bytes(body) + b"\0" + struct.pack("<I", mask_crc32c(crc32c(body + b"\0")))


def write_tf_checkpoint(
    prefix: Path,
    tensors: dict[str, np.ndarray],
    *,
    declared_sizes: dict[str, int] | None = None,
    per_block: int = 3,
) -> Path:
    """Write ``tensors`` as a TF1 checkpoint ``prefix.index`` + ``prefix.data-00000-of-00001``
    (in ``prefix`` as ``.index`` ... when it is a folder), ``per_block`` index entries per data
    block; ``declared_sizes`` overrides the byte count the index gives for a tensor."""
    data, entries = bytearray(), [(b"", _varint(1 << 3) + _varint(1))]  # header: 1 shard
    for name in sorted(tensors):
        array = np.asarray(tensors[name])  # tobytes() is C order; keeps 0-d shapes
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        shape = b"".join(_field(2, _varint(1 << 3) + _varint(d)) for d in array.shape)
        proto = (_varint(1 << 3) + _varint(_DTYPE_CODES[array.dtype]) + _field(2, shape)
                 + _varint(4 << 3) + _varint(len(data))
                 + _varint(5 << 3) + _varint((declared_sizes or {}).get(name, len(raw)))
                 + _varint(6 << 3 | 5) + struct.pack("<I", mask_crc32c(crc32c(raw))))
        entries.append((name.encode(), proto))
        data += raw
    index, handles = bytearray(), []
    for first in range(0, len(entries), per_block):  # several data blocks, as in large indexes
        block = entries[first:first + per_block]
        handles.append((block[-1][0], _varint(len(index)) + _varint(len(_block(block)) - 5)))
        index += _block(block)
    meta_offset = len(index)
    index += _block([])
    index_offset = len(index)
    index += _block(handles)
    footer = (_varint(meta_offset) + _varint(len(_block([])) - 5) + _varint(index_offset)
              + _varint(len(index) - index_offset - 5))
    index += footer.ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    index_file, data_file = checkpoint_files(prefix)
    index_file.write_bytes(bytes(index))
    data_file.write_bytes(bytes(data))
    return prefix
