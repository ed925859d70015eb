import io
import json
import shutil
import urllib.error
from collections import Counter
from pathlib import Path

import pytest

from genrelens import cli
from genrelens.cli import _options
from genrelens.data import Dataset, Track, default_split, fault_filtered_split, kfold_splits
from genrelens.data import open_dataset, random_split
from genrelens.data import splits as sp
from genrelens.data.gtzan import GTZAN_GENRES
from genrelens.errors import ParameterError, SplitError


def _fake_dataset(root, *, layout="gtzan-original", genres=GTZAN_GENRES, n=100):
    tracks = tuple(
        Track(f"{g}.{i:05d}", Path(root) / g / f"{g}.{i:05d}.wav", g)
        for g in genres
        for i in range(n)
    )
    return Dataset(root=Path(root), layout=layout, tracks=tracks, class_names=tuple(sorted(genres)))


@pytest.fixture
def lists(shared_dir, tmp_path):
    """A copy of the three fault-filtered lists in tmp_path."""
    out = tmp_path / "lists"
    out.mkdir()
    for name in sp.SET_NAMES:
        shutil.copy(shared_dir / "reference" / "gtzan-ff" / f"{name}.txt", out / f"{name}.txt")
    return out


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


class _FakeOpener:
    """Serves the reference lists for the fault-filtered URLs; counts requests."""

    def __init__(self, folder, *, alter=None, fail=False):
        self.folder, self.alter, self.fail, self.urls = folder, alter, fail, []

    def __call__(self, url, timeout):
        self.urls.append(url)
        if self.fail:
            raise urllib.error.URLError("no network")
        name = next(n for n in sp.SET_NAMES if url.endswith(f"/gtzan/{n}_filtered.txt"))
        data = (self.folder / f"{name}.txt").read_bytes()
        if name == self.alter:
            data = data.replace(b"blues", b"bluez", 1)
        return io.BytesIO(data)


# ------------------------------------------------------------------ checksums and lists


def test_published_checksums_match_the_reference_copies(shared_dir):
    text = (shared_dir / "reference" / "gtzan-ff" / "SHA256SUMS").read_text()
    sums = {line.split()[1].removesuffix(".txt"): line.split()[0] for line in text.splitlines()}
    assert sums == sp.FF_SHA256
    assert sp.FF_SOURCE.format(name="train") == (
        "https://raw.githubusercontent.com/coreyker/dnn-mgr/"
        "bdad579ea6cb37b665ea6019fe1026a6ce20cbc7/gtzan/train_filtered.txt"
    )


def test_read_split_lists_verifies(lists):
    read = sp.read_split_lists(lists)
    assert {k: len(v) for k, v in read.items()} == {"train": 443, "valid": 197, "test": 290}
    assert read["train"][0] == "blues/blues.00029.wav"


def test_original_file_names_are_accepted(lists):
    for name in sp.SET_NAMES:
        (lists / f"{name}.txt").rename(lists / f"{name}_filtered.txt")
    assert len(sp.read_split_lists(lists)["test"]) == 290


def test_one_changed_byte_fails_verification(lists):
    path = lists / "valid.txt"
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(SplitError, match="sha256.*--no-verify"):
        sp.read_split_lists(lists)
    assert len(sp.read_split_lists(lists, verify=False)["valid"]) == 197


def test_missing_list_says_how_to_get_it(lists):
    (lists / "test.txt").unlink()
    with pytest.raises(SplitError, match="fetch-split gtzan-ff"):
        sp.read_split_lists(lists)


# ------------------------------------------------------------------ download


def test_fetch_split_downloads_verifies_and_writes(lists, cache_home, monkeypatch):
    opener = _FakeOpener(lists)
    monkeypatch.setattr(sp, "urlopen", opener)
    dest = sp.fetch_split("gtzan-ff")
    assert dest == cache_home / "genrelens" / "splits" / "gtzan-ff"
    assert sorted(p.name for p in dest.iterdir()) == ["test.txt", "train.txt", "valid.txt"]
    for name in sp.SET_NAMES:
        assert (dest / f"{name}.txt").read_bytes() == (lists / f"{name}.txt").read_bytes()
    assert opener.urls == [sp.FF_SOURCE.format(name=n) for n in sp.SET_NAMES]
    sp.fetch_split("gtzan-ff")  # verified lists present: no new request
    assert len(opener.urls) == 3
    sp.fetch_split("gtzan-ff", force=True)
    assert len(opener.urls) == 6


def test_fetch_split_mismatch_leaves_nothing_behind(lists, tmp_path, monkeypatch):
    monkeypatch.setattr(sp, "urlopen", _FakeOpener(lists, alter="test"))
    out = tmp_path / "out"
    with pytest.raises(SplitError, match="sha256.*nothing was written"):
        sp.fetch_split("gtzan-ff", out=out)
    assert not out.exists() or list(out.iterdir()) == []


def test_fetch_split_network_error_and_bad_name(lists, tmp_path, monkeypatch):
    monkeypatch.setattr(sp, "urlopen", _FakeOpener(lists, fail=True))
    with pytest.raises(SplitError, match="cannot download .*--split-dir"):
        sp.fetch_split("gtzan-ff", out=tmp_path / "out")
    with pytest.raises(ParameterError, match="name="):
        sp.fetch_split("fma", out=tmp_path / "out")


def test_cli_fetch_split(lists, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sp, "urlopen", _FakeOpener(lists))
    assert cli.main(["data", "fetch-split", "gtzan-ff", "--out", str(tmp_path / "o")]) == 0
    assert "train 443, valid 197, test 290" in capsys.readouterr().out
    monkeypatch.setattr(sp, "urlopen", _FakeOpener(lists, alter="train"))
    argv = ["data", "fetch-split", "gtzan-ff", "--out", str(tmp_path / "p"), "--force"]
    assert cli.main(argv) == 3
    assert "sha256" in capsys.readouterr().err


# ------------------------------------------------------------------ fault-filtered split


def test_fault_filtered_split_on_full_gtzan(lists, tmp_path):
    ds = _fake_dataset(tmp_path)
    split = fault_filtered_split(ds, split_dir=lists)
    assert (len(split.train), len(split.valid), len(split.test)) == (443, 197, 290)
    assert split.name == "gtzan-ff" and split.warnings == () and split.random_state is None
    assert split.train[0] == "blues.00029" and split.set_of("blues.00012") == "test"
    split.validate(ds)
    assert len(set(split.train) | set(split.valid) | set(split.test)) == 930


def test_fault_filtered_split_reports_entries_missing_from_the_dataset(lists, tmp_path):
    # ".au" copies of the list map to the same track ids (checked without verification)
    for name in sp.SET_NAMES:
        p = lists / f"{name}.txt"
        p.write_text(p.read_text().replace(".wav", ".au"))
    ds = _fake_dataset(tmp_path, n=50)
    split = fault_filtered_split(ds, split_dir=lists, verify=False)
    n_in = sum(1 for t in ds.track_ids if split.set_of(t))
    assert len(split.train) + len(split.valid) + len(split.test) == n_in
    expected = f"{930 - n_in} of 930 fault-filtered list entries are not in the dataset"
    assert expected in split.warnings[0]


def test_fault_filtered_split_errors(lists, tmp_path):
    with pytest.raises(SplitError, match="for GTZAN"):
        fault_filtered_split(_fake_dataset(tmp_path, layout="folder"), split_dir=lists)
    with pytest.raises(SplitError, match="empty"):
        fault_filtered_split(_fake_dataset(tmp_path, genres=("pop",), n=3), split_dir=lists)
    (lists / "test.txt").write_text("not a gtzan name\n")
    with pytest.raises(SplitError, match="not a GTZAN file name"):
        fault_filtered_split(_fake_dataset(tmp_path), split_dir=lists, verify=False)


# ------------------------------------------------------------------ default split


def test_default_split_uses_cached_lists_else_random_with_hint(lists, tmp_path, cache_home):
    ds = _fake_dataset(tmp_path)
    split = default_split(ds)
    assert split.name == "random"
    assert "fetch-split gtzan-ff" in split.warnings[0] and "10+ points" in split.warnings[1]
    shutil.copytree(lists, sp.split_cache_dir("gtzan-ff"))
    assert default_split(ds).name == "gtzan-ff"
    assert default_split(ds, split_dir=lists).name == "gtzan-ff"
    small = _fake_dataset(tmp_path, n=10)  # e.g. the synthetic data set: 10 per genre
    split = default_split(small, random_state=3)
    assert split.name == "random"
    assert "only 10% of the fault-filtered list entries" in split.warnings[0]
    assert default_split(_fake_dataset(tmp_path, layout="folder")).name == "random"


def test_default_split_with_explicit_split_dir_propagates_errors(tmp_path):
    with pytest.raises(SplitError, match="fetch-split"):
        default_split(_fake_dataset(tmp_path), split_dir=tmp_path / "nothing")


# ------------------------------------------------------------------ random and k-fold


def test_random_split_is_stratified_seeded_and_disjoint(tmp_path):
    ds = _fake_dataset(tmp_path, genres=("blues", "jazz", "rock"), n=20)
    split = random_split(ds, valid_fraction=0.1, test_fraction=0.25, random_state=7)
    label = {t.track_id: t.label for t in ds.tracks}
    assert Counter(label[t] for t in split.test) == {"blues": 5, "jazz": 5, "rock": 5}
    assert Counter(label[t] for t in split.valid) == {"blues": 2, "jazz": 2, "rock": 2}
    assert len(split.train) == 39
    assert sorted(split.train + split.valid + split.test) == sorted(ds.track_ids)
    assert split == random_split(ds, valid_fraction=0.1, test_fraction=0.25, random_state=7)
    other = random_split(ds, valid_fraction=0.1, test_fraction=0.25, random_state=8)
    assert split.test != other.test
    assert split.random_state == 7 and "10+ points" in split.warnings[0]
    folder = random_split(_fake_dataset(tmp_path, layout="folder", n=5))
    assert "artist" in folder.warnings[0] and "GTZAN" not in folder.warnings[0]


def test_random_split_small_classes_keep_a_training_track(tmp_path):
    split = random_split(_fake_dataset(tmp_path, genres=("a", "b"), n=1), test_fraction=0.5)
    assert split.train == ("a.00000", "b.00000") and split.test == ()
    assert any("test set is empty" in w for w in split.warnings)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"valid_fraction": 0.5, "test_fraction": 0.5},
        {"valid_fraction": -0.1},
        {"test_fraction": 1.0},
        {"random_state": 1.5},
        {"random_state": None},
    ],
)
def test_random_split_parameter_errors(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        random_split(_fake_dataset(tmp_path, n=5), **kwargs)


def test_kfold_tests_every_track_once_and_validates_on_training_folds(tmp_path):
    ds = _fake_dataset(tmp_path, genres=("blues", "jazz"), n=11)
    folds = kfold_splits(ds, n_folds=4, valid_fraction=0.25, random_state=1)
    assert [f.name for f in folds] == ["kfold-1of4", "kfold-2of4", "kfold-3of4", "kfold-4of4"]
    tested = Counter(t for f in folds for t in f.test)
    assert set(tested) == set(ds.track_ids) and set(tested.values()) == {1}
    for f in folds:
        per_class = Counter(t.split(".")[0] for t in f.test)
        assert set(per_class.values()) <= {2, 3}  # 11 tracks in 4 folds: 3, 3, 3, 2
        n_rest = 11 - per_class["blues"]
        assert sum(t.startswith("blues") for t in f.valid) == round(n_rest * 0.25)
        assert sorted(f.train + f.valid + f.test) == sorted(ds.track_ids)
    assert folds == kfold_splits(ds, n_folds=4, valid_fraction=0.25, random_state=1)
    for bad in (1, 23, 2.0):
        with pytest.raises(ParameterError, match="n_folds"):
            kfold_splits(ds, n_folds=bad)


# ------------------------------------------------------------------ Split object


def test_split_save_load_round_trip_and_errors(tmp_path):
    split = sp.Split(
        name="mine", train=["a", "b"], valid=("c",), test=("d",), random_state=3, warnings=["w"]
    )
    assert split.train == ("a", "b") and split.warnings == ("w",)
    path = split.save(tmp_path / "s" / "split.json")
    assert sp.Split.load(path) == split
    assert json.loads(path.read_text())["format"] == "genrelens-split"
    with pytest.raises(SplitError, match="both train and test"):
        sp.Split(name="x", train=("a",), valid=(), test=("a",))
    with pytest.raises(SplitError, match="no such split file"):
        sp.Split.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SplitError, match="not a readable JSON"):
        sp.Split.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(SplitError, match="not a genrelens split"):
        sp.Split.load(tmp_path / "other.json")
    (tmp_path / "partial.json").write_text('{"format": "genrelens-split", "name": "x"}')
    with pytest.raises(SplitError, match="lacks keys"):
        sp.Split.load(tmp_path / "partial.json")


def test_split_validate_against_dataset(tmp_path):
    ds = _fake_dataset(tmp_path, genres=("blues",), n=3)
    sp.Split(name="ok", train=("blues.00000",), valid=(), test=("blues.00001",)).validate(ds)
    with pytest.raises(SplitError, match="absent from dataset"):
        sp.Split(name="bad", train=("pop.00001",), valid=(), test=()).validate(ds)


def test_cli_split_writes_json(tmp_path, make_wav, lists, capsys):
    for g in ("blues", "jazz"):
        for i in (0, 12, 29, 30, 31):  # blues: valid, test, train, train, train in gtzan-ff
            # distinct contents: byte-identical files would be kept in one set
            make_wav(tmp_path / "genres" / g / f"{g}.{i:05d}.wav", seconds=0.1, sr=8000,
                     freq=100.0 + 10 * i + 5 * (g == "jazz"))
    out = tmp_path / "split.json"
    assert cli.main(["data", "split", str(tmp_path), "--out", str(out), "--method", "random",
                     "--test-fraction", "0.2", "--seed", "4"]) == 0
    split = sp.Split.load(out)
    assert (len(split.train), len(split.valid), len(split.test)) == (6, 2, 2)
    assert "10+ points" in capsys.readouterr().err
    assert cli.main(["data", "split", str(tmp_path), "--out", str(tmp_path / "k"), "--method",
                     "kfold", "--folds", "5"]) == 0
    assert len(list((tmp_path / "k").glob("fold-*.json"))) == 5
    assert cli.main(["data", "split", str(tmp_path), "--out", str(out), "--method", "gtzan-ff",
                     "--split-dir", str(lists)]) == 0
    split = sp.Split.load(out)
    assert split.name == "gtzan-ff" and split.test[0] == "blues.00012"


def test_cli_split_options_helper(tmp_path, lists, cache_home):
    import argparse

    parser = argparse.ArgumentParser()
    _options.add_split_options(parser)
    ds = _fake_dataset(tmp_path)
    saved = random_split(ds, random_state=5).save(tmp_path / "mine.json")
    args = parser.parse_args(["--split", str(saved)])
    assert _options.split_from_args(args, ds) == sp.Split.load(saved)
    with pytest.raises(SplitError, match="absent from dataset"):
        _options.split_from_args(args, _fake_dataset(tmp_path, n=3))
    args = parser.parse_args(["--split-dir", str(lists)])
    assert _options.split_from_args(args, ds).name == "gtzan-ff"
    (lists / "test.txt").write_text((lists / "test.txt").read_text() + "\n")
    with pytest.raises(SplitError, match="--no-verify"):
        _options.split_from_args(args, ds)
    args = parser.parse_args(["--split-dir", str(lists), "--no-verify"])
    assert len(_options.split_from_args(args, ds).test) == 290
    assert _options.split_from_args(parser.parse_args([]), ds, random_state=2).random_state == 2


def test_synthetic_dataset_gets_a_random_split_without_the_gtzan_artist_warning(tmp_path):
    from genrelens.data.synthetic import synthesize_dataset

    root = synthesize_dataset(tmp_path / "synth", n_per_genre=5, duration=3.5, stems=False)
    split = default_split(open_dataset(root))
    assert split.name == "random"
    assert len(split.warnings) == 1
    assert "synthetic" in split.warnings[0] and "Sturm" not in split.warnings[0]
