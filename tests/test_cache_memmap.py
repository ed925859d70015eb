"""load_features(..., memmap=True): one consolidated .npy per dataset, reused, atomic, small RAM."""

import mmap
import os
import tracemalloc

import numpy as np
import pytest

from genrelens import cache as cache_mod
from genrelens.cache import config_dir, load_features, prepare
from genrelens.config import FeatureConfig
from genrelens.data import open_dataset
from genrelens.errors import CacheError, StorageError

CONFIG = FeatureConfig()  # 7-s tones give 2 segments of 3 s


@pytest.fixture
def data_dir(tmp_path, make_wav):
    """2 classes x 4 tracks x 7 s of tones, class-per-folder layout, prepared in tmp/cache."""
    root = tmp_path / "data"
    for c, label in enumerate(["bass", "treble"]):
        for k in range(4):
            make_wav(root / label / f"t{k}.wav", seconds=7.0,
                     freq=(110.0 if c == 0 else 1760.0) * (1 + k))
    prepare(open_dataset(root), cache_dir=tmp_path / "cache", config=CONFIG, progress=False)
    return root


def _assembled(tmp_path):
    return sorted((config_dir(tmp_path / "cache", CONFIG) / "assembled").glob("*"))


def _load(root, tmp_path, *, memmap=True, tracks=None):
    dataset = open_dataset(root)
    if tracks is not None:
        dataset = dataset.subset(tracks)
    return load_features(dataset, cache_dir=tmp_path / "cache", config=CONFIG, memmap=memmap)


def test_memmap_gives_the_in_ram_features_from_one_read_only_file(data_dir, tmp_path):
    in_ram = _load(data_dir, tmp_path, memmap=False)
    mapped = _load(data_dir, tmp_path)
    assert isinstance(mapped.logmel, np.memmap) and not mapped.logmel.flags.writeable
    assert isinstance(mapped.logmel.base, mmap.mmap)
    assert mapped.logmel.shape == (16, CONFIG.n_mels, CONFIG.n_frames)
    assert mapped.logmel.dtype == np.float32
    np.testing.assert_array_equal(mapped.logmel, in_ram.logmel)
    for name in ("track_ids", "segment_index", "labels"):
        np.testing.assert_array_equal(getattr(mapped, name), getattr(in_ram, name))
    assert (mapped.class_names, mapped.config, mapped.skipped) == (
        in_ram.class_names, in_ram.config, in_ram.skipped)
    (path,) = _assembled(tmp_path)
    assert path.suffix == ".npy" and os.fspath(mapped.logmel.filename) == str(path)
    assert path.stat().st_size == 128 + mapped.logmel.nbytes  # header + data, nothing else
    # A subset's copy into RAM equals the in-RAM subset.
    part = mapped.subset(in_ram.tracks[1:3])
    np.testing.assert_array_equal(part.logmel, in_ram.subset(in_ram.tracks[1:3]).logmel)


def test_the_file_is_reused_and_rebuilt_when_the_entries_change(data_dir, tmp_path, monkeypatch,
                                                                make_wav):
    first = _load(data_dir, tmp_path)
    (path,) = _assembled(tmp_path)
    stamp = path.stat().st_mtime_ns
    with monkeypatch.context() as m:
        m.setattr(cache_mod, "_read_entry", lambda *a, **k: pytest.fail("entries read again"))
        again = _load(data_dir, tmp_path)
    assert path.stat().st_mtime_ns == stamp and _assembled(tmp_path) == [path]
    np.testing.assert_array_equal(again.logmel, first.logmel)

    # Another dataset (a split's set) gets its own file, in its own order.
    tracks = first.tracks[2:5]
    part = _load(data_dir, tmp_path, tracks=tracks)
    assert len(_assembled(tmp_path)) == 2
    np.testing.assert_array_equal(part.logmel, first.subset(tracks).logmel)

    # Changed audio: prepare recomputes it, load_features writes a new file; old ones stay.
    make_wav(data_dir / "bass" / "t0.wav", seconds=7.0, freq=300.0)
    with pytest.raises(CacheError, match="changed since prepare"):
        _load(data_dir, tmp_path)
    prepare(open_dataset(data_dir), cache_dir=tmp_path / "cache", config=CONFIG, progress=False)
    changed = _load(data_dir, tmp_path)
    assert len(_assembled(tmp_path)) == 3 and path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(changed.logmel, _load(data_dir, tmp_path, memmap=False).logmel)
    assert not np.array_equal(changed.logmel[:2], first.logmel[:2])
    np.testing.assert_array_equal(changed.logmel[2:], first.logmel[2:])


def test_an_interrupted_write_leaves_no_file_and_the_next_call_finishes(data_dir, tmp_path,
                                                                        monkeypatch):
    real = cache_mod._read_entry
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cache_mod, "_read_entry", failing)
    with pytest.raises(KeyboardInterrupt):
        _load(data_dir, tmp_path)
    folder = config_dir(tmp_path / "cache", CONFIG) / "assembled"
    assert folder.is_dir() and list(folder.iterdir()) == []  # no .npy, no temporary file
    monkeypatch.setattr(cache_mod, "_read_entry", real)
    np.testing.assert_array_equal(_load(data_dir, tmp_path).logmel,
                                  _load(data_dir, tmp_path, memmap=False).logmel)


def test_a_damaged_file_is_rebuilt(data_dir, tmp_path):
    expected = _load(data_dir, tmp_path).logmel.copy()
    (path,) = _assembled(tmp_path)
    for size in (path.stat().st_size - 4, 50):  # truncated data, then truncated header
        os.truncate(path, size)
        np.testing.assert_array_equal(_load(data_dir, tmp_path).logmel, expected)
        assert path.stat().st_size == 128 + expected.nbytes
    np.save(path, expected[:3])  # a valid .npy of another shape
    np.testing.assert_array_equal(_load(data_dir, tmp_path).logmel, expected)


def test_errors_name_the_entry_and_leave_no_file(data_dir, tmp_path):
    dataset = open_dataset(data_dir)
    entries = sorted((config_dir(tmp_path / "cache", CONFIG) / "entries").glob("*.h5"))
    entries[0].unlink()
    with pytest.raises(CacheError, match=rf"{entries[0].name}: cached features of .* unreadable"):
        _load(data_dir, tmp_path)
    assert _assembled(tmp_path) == []
    with pytest.raises(CacheError, match="no features for this FeatureConfig"):
        load_features(dataset, cache_dir=tmp_path / "other", config=CONFIG, memmap=True)


def test_a_full_disk_is_reported_with_the_space_needed(data_dir, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", full)
    with pytest.raises(StorageError, match=r"\.npy: no space left on its file system \(it "
                       r"needs 1\.0 MiB,"):
        _load(data_dir, tmp_path)
    assert _assembled(tmp_path) == []


def test_a_dataset_without_usable_tracks_maps_an_empty_array(data_dir, tmp_path, make_wav):
    make_wav(data_dir / "bass" / "short.wav", seconds=1.0)
    prepare(open_dataset(data_dir), cache_dir=tmp_path / "cache", config=CONFIG, progress=False)
    empty = _load(data_dir, tmp_path, tracks=["bass/short"])
    assert empty.logmel.shape == (0, CONFIG.n_mels, CONFIG.n_frames)
    assert empty.skipped == ("bass/short",) and len(empty) == 0


def test_assembling_holds_one_entry_in_ram_not_the_dataset(data_dir, tmp_path):
    """numpy reports its buffers to tracemalloc: the peak is one track, not 8 (1 MB)."""
    def peak(memmap):
        _load(data_dir, tmp_path, memmap=memmap)  # warm-up: imports, assembled file
        for path in _assembled(tmp_path):
            path.unlink()
        tracemalloc.start()
        try:
            features = _load(data_dir, tmp_path, memmap=memmap)
            return tracemalloc.get_traced_memory()[1], features.logmel.nbytes
        finally:
            tracemalloc.stop()

    in_ram, total = peak(False)
    mapped, _ = peak(True)
    one_track = total // 8
    assert in_ram >= total
    assert mapped < one_track + total // 4, (mapped, one_track, total)
