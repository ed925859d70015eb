"""Issue 13, item 7: the same recording under two labels (byte-identical, or re-encoded) is
found, kept in one set of the split, and `train` says so."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

import genrelens.training.run as run_mod

from genrelens import cli
from genrelens.cache import iter_track_features, prepare
from genrelens.config import FeatureConfig
from genrelens.data import Split, open_dataset
from genrelens.data.duplicates import Duplicates, find_duplicates, fingerprint
from genrelens.data.splits import keep_together

SR = 22050


def _music(path, *, seed, seconds=3.5, fmt=None):
    """Tones and noise bursts switching on and off every quarter second (moving envelopes)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    steps = int(seconds * 4) + 1
    for _ in range(6):
        gate = np.repeat(rng.random(steps) < 0.5, SR // 4)[: t.size]
        y += 0.1 * gate * np.sin(2 * np.pi * rng.uniform(80, 4000) * t)
    gate = np.repeat(rng.random(steps) < 0.3, SR // 4)[: t.size]
    y += 0.05 * gate * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR, format=fmt)
    return path


@pytest.fixture
def prepared(tmp_path):
    """A dataset with a re-encoded copy and a byte copy under other labels, prepared."""
    data = tmp_path / "data"
    _music(data / "rock" / "a.wav", seed=0)
    _music(data / "metal" / "a.ogg", seed=0, fmt="OGG")  # the same audio, Ogg Vorbis
    _music(data / "rock" / "b.wav", seed=1)
    (data / "jazz").mkdir()
    shutil.copy(data / "rock" / "b.wav", data / "jazz" / "c.wav")
    for seed in (2, 3, 4):
        _music(data / "jazz" / f"other{seed}.wav", seed=seed)
    dataset = open_dataset(data)
    prepare(dataset, cache_dir=tmp_path / "cache", config=FeatureConfig(), progress=False)
    return dataset, tmp_path / "cache"


def test_reencoded_and_byte_identical_copies_are_found(prepared):
    dataset, cache = prepared
    found = find_duplicates(
        (track.track_id, sha, fingerprint(logmel, block_frames=11))
        for track, sha, logmel in iter_track_features(dataset, cache_dir=cache,
                                                      config=FeatureConfig())
    )
    assert found.groups == (("jazz/c", "rock/b"), ("metal/a", "rock/a"))
    assert found.identical == (True, False)
    assert found.describe(1) == "metal/a = rock/a (same audio, re-encoded)"
    assert run_mod._duplicates(dataset, cache_dir=cache, config=FeatureConfig()) == found


def test_large_datasets_are_searched_byte_for_byte_only(prepared, monkeypatch):
    from genrelens.data import duplicates

    monkeypatch.setattr(duplicates, "MAX_COMPARED", 5)
    dataset, cache = prepared
    found = run_mod._duplicates(dataset, cache_dir=cache, config=FeatureConfig())
    assert found.groups == (("jazz/c", "rock/b"),) and found.identical == (True,)
    assert found.notes == ("re-encoded copies were not searched, only byte-identical files "
                           "(7 tracks, more than 5)",)


def _dataset(tmp_path, ids):
    for track_id in ids:
        path = tmp_path / "d" / f"{track_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return open_dataset(tmp_path / "d")


def test_keep_together_moves_a_group_into_one_set_and_warns(tmp_path):
    ids = ["metal/a", "metal/x", "metal/y", "rock/a", "rock/p", "rock/q"]
    dataset = _dataset(tmp_path, ids)
    split = Split(name="random", train=["metal/a", "metal/x", "rock/p"], valid=["metal/y"],
                  test=["rock/a", "rock/q"], random_state=0)
    dup = Duplicates(groups=(("metal/a", "rock/a"),), identical=(False,))
    kept = keep_together(split, dup, dataset=dataset)
    assert kept.train == ("metal/a", "metal/x", "rock/a", "rock/p")
    assert kept.test == ("rock/q",) and kept.valid == ("metal/y",)
    text = " ".join(kept.warnings)
    assert "1 groups of duplicate recordings" in text and "kept in one set" in text
    assert "metal/a = rock/a (same audio, re-encoded)" in text
    assert "under two labels" in text and "['metal', 'rock']" in text
    assert keep_together(kept, dup, dataset=dataset).warnings == kept.warnings  # once


def test_a_fixed_split_is_not_changed_but_warned(tmp_path):
    dataset = _dataset(tmp_path, ["metal/a", "metal/x", "rock/a", "rock/p"])
    split = Split(name="given", train=["metal/a", "rock/p"], valid=["metal/x"], test=["rock/a"])
    dup = Duplicates(groups=(("metal/a", "rock/a"),), identical=(True,))
    kept = keep_together(split, dup, dataset=dataset, move=False)
    assert kept.sets() == split.sets()
    assert any("1 lie in two sets of split 'given'" in w for w in kept.warnings)


def test_train_keeps_a_relabelled_copy_in_one_set_and_says_so(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    for i in range(6):
        _music(data / "rock" / f"r{i}.wav", seed=10 + i)
        _music(data / "metal" / f"m{i}.wav", seed=20 + i)
    # the same recordings under the other label: one byte copy, one re-encoded
    shutil.copy(data / "rock" / "r0.wav", data / "metal" / "copy.wav")
    _music(data / "metal" / "r1.ogg", seed=11, fmt="OGG")

    def stop(**kwargs):
        raise KeyboardInterrupt  # the split is made and saved before training starts

    monkeypatch.setattr(run_mod, "fit", stop)
    run = tmp_path / "runs" / "r"
    code = cli.main(["train", "--data", str(data), "--out", str(run), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 130
    assert "genrelens train: warning: 2 groups of duplicate recordings" in err
    assert "metal/copy = rock/r0 (byte-identical)" in err
    assert "metal/r1 = rock/r1 (same audio, re-encoded)" in err
    assert "2 recordings are in the dataset under two labels" in err
    split = Split.load(run / "split.json")
    for group in (("metal/copy", "rock/r0"), ("metal/r1", "rock/r1")):
        assert len({split.set_of(t) for t in group}) == 1
    assert any("groups of duplicate recordings" in w
               for w in json.loads((run / "split.json").read_text())["warnings"])


def test_steady_and_different_recordings_are_not_duplicates():
    rng = np.random.default_rng(5)
    steady = [np.full((2, 16, 6), level, dtype=np.float32) for level in (-30.0, -60.0)]
    prints = [("steady1", "1", steady[0]), ("steady2", "2", steady[1]),
              ("a", "3", rng.normal(-40, 10, (2, 16, 6))),
              ("b", "4", rng.normal(-40, 10, (3, 16, 6)))]
    assert find_duplicates(prints) == Duplicates()


def test_data_split_keeps_byte_identical_copies_in_one_set(tmp_path, capsys):
    data = tmp_path / "data"
    for i in range(6):
        for label in ("rock", "metal"):
            path = data / label / f"{label}{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{label}{i}".encode())  # never decoded: only hashed
    for i in range(3):
        shutil.copy(data / "rock" / f"rock{i}.wav", data / "metal" / f"copy{i}.wav")
    out = tmp_path / "split.json"
    assert cli.main(["data", "split", str(data), "--out", str(out), "--method", "random"]) == 0
    err = capsys.readouterr().err
    assert "warning: 3 groups of duplicate recordings" in err and "(byte-identical)" in err
    assert "3 recordings are in the dataset under two labels" in err
    split = Split.load(out)
    for i in range(3):
        assert split.set_of(f"rock/rock{i}") == split.set_of(f"metal/copy{i}")
