from pathlib import Path

import numpy as np
import pytest

from genrelens.data import Dataset, Track, open_dataset
from genrelens.data.gtzan import track_id_from_name
from genrelens.errors import DatasetError


def _gtzan(root: Path, make_wav, *, genres=("blues", "jazz", "rock"), n=3, ext=".wav"):
    for g in genres:
        for i in range(n):
            make_wav(root / g / f"{g}.{i:05d}{ext}", seconds=0.2, sr=8000, freq=200 + 50 * i)
    return root


@pytest.mark.parametrize(
    ("sub", "name"),
    [
        ("genres", "."),
        ("genres", "genres"),
        ("x/genres", "."),
        ("Data/genres_original", "."),
        ("Data/genres_original", "Data"),
        ("Data/genres_original", "Data/genres_original"),
        ("gtzan/Data/genres_original", "."),
    ],
)
def test_gtzan_layouts_are_found_from_the_named_folder(tmp_path, make_wav, sub, name):
    _gtzan(tmp_path / sub, make_wav)
    ds = open_dataset(tmp_path / name)
    assert ds.layout == ("gtzan-kaggle" if "genres_original" in sub else "gtzan-original")
    assert ds.root == tmp_path / sub
    assert ds.class_names == ("blues", "jazz", "rock")
    assert len(ds) == 9
    assert ds.track_ids[:3] == ("blues.00000", "blues.00001", "blues.00002")
    path = tmp_path / sub / "jazz" / "jazz.00001.wav"
    assert ds.track("jazz.00001") == Track("jazz.00001", path, "jazz")
    np.testing.assert_array_equal(ds.labels, [0, 0, 0, 1, 1, 1, 2, 2, 2])


def test_gtzan_prefers_wav_over_au_and_lists_ignored_files(tmp_path, make_wav):
    root = _gtzan(tmp_path / "genres", make_wav, n=2, ext=".au")
    make_wav(root / "blues" / "blues.00000.wav", seconds=0.2, sr=8000)
    make_wav(root / "blues" / "notes.wav", seconds=0.2, sr=8000)
    (root / "blues" / "readme.txt").write_text("x")
    ds = open_dataset(tmp_path)
    assert ds.track("blues.00000").path.suffix == ".wav"
    assert ds.track("blues.00001").path.suffix == ".au"
    assert sorted(ds.ignored) == ["blues/blues.00000.au", "blues/notes.wav"]
    assert len(ds) == 6


def test_folder_dataset_with_nested_files(tmp_path, make_wav):
    make_wav(tmp_path / "lofi" / "a.flac", seconds=0.2, sr=8000)
    make_wav(tmp_path / "lofi" / "album" / "b.ogg", seconds=0.2, sr=8000)
    make_wav(tmp_path / "lofi" / "album" / "b.wav", seconds=0.2, sr=8000)
    make_wav(tmp_path / "techno" / "c.wav", seconds=0.2, sr=8000)
    make_wav(tmp_path / "techno" / ".hidden.wav", seconds=0.2, sr=8000)
    (tmp_path / "techno" / "cover.jpg").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    ds = open_dataset(tmp_path)
    assert ds.layout == "folder"
    assert ds.track_ids == ("lofi/a", "lofi/album/b", "techno/c")
    assert ds.class_names == ("lofi", "techno")
    assert ds.track("lofi/album/b").path.name == "b.ogg"
    assert ds.ignored == ("lofi/album/b.wav",)


def test_folder_named_like_a_genre_but_not_gtzan_is_a_folder_dataset(tmp_path, make_wav):
    make_wav(tmp_path / "jazz" / "take1.wav", seconds=0.2, sr=8000)
    make_wav(tmp_path / "blues" / "take2.wav", seconds=0.2, sr=8000)
    ds = open_dataset(tmp_path)
    assert ds.layout == "folder" and ds.track_ids == ("blues/take2", "jazz/take1")


def test_nothing_usable_names_the_layouts_tried(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match="Tried GTZAN .*class-per-folder"):
        open_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        open_dataset(tmp_path / "missing")


def test_subset_and_errors(tmp_path, make_wav):
    ds = open_dataset(_gtzan(tmp_path / "genres", make_wav))
    sub = ds.subset(["rock.00001", "blues.00002"])
    assert sub.track_ids == ("blues.00002", "rock.00001")
    assert sub.class_names == ds.class_names
    with pytest.raises(DatasetError, match="no tracks"):
        ds.subset(["pop.00001"])
    with pytest.raises(DatasetError, match="no track"):
        ds.track("pop.00001")
    t = ds.tracks[0]
    with pytest.raises(DatasetError, match="duplicate"):
        Dataset(root=tmp_path, layout="folder", tracks=(t, t), class_names=("blues",))
    with pytest.raises(DatasetError, match="not in class_names"):
        Dataset(root=tmp_path, layout="folder", tracks=(t,), class_names=("jazz",))
    with pytest.raises(DatasetError, match="layout"):
        Dataset(root=tmp_path, layout="weird", tracks=(), class_names=())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("blues/blues.00029.wav", "blues.00029"),
        ("blues.00029.au", "blues.00029"),
        ("hiphop.00099.3.wav", "hiphop.00099"),
        ("genres\\rock\\rock.00001.wav", "rock.00001"),
        ("polka.00001.wav", None),
        ("blues.0001.wav", None),
        ("blues.00001.mp3", None),
    ],
)
def test_track_id_from_name(name, expected):
    assert track_id_from_name(name) == expected
