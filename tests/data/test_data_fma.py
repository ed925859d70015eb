"""The FMA layout: fma_metadata/tracks.csv beside fma_small|medium|large|full/NNN/NNNNNN.mp3."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from genrelens import cli
from genrelens.cache import load_features, prepare
from genrelens.config import FeatureConfig
from genrelens.data import default_split, fma_split, open_dataset, random_split
from genrelens.data.check import check_dataset
from genrelens.data.fma import audio_path, find_fma, read_tracks_csv
from genrelens.errors import DatasetError, SplitError

# Columns in the order of the real file (a few of its 52), with free-text ones between.
HEADER = [
    ("album", "id"),
    ("album", "title"),
    ("artist", "id"),
    ("artist", "name"),
    ("set", "split"),
    ("set", "subset"),
    ("track", "genre_top"),
    ("track", "information"),
    ("track", "title"),
]
# track id: (subset, split, genre_top, artist id)
TRACKS = {
    2: ("small", "training", "Hip-Hop", 1),
    3: ("small", "training", "Hip-Hop", 1),
    5: ("small", "validation", "Hip-Hop", 2),
    10: ("small", "test", "Pop", 3),
    20: ("small", "training", "Pop", 4),
    26: ("small", "test", "Pop", 5),  # its mp3 is missing everywhere
    140: ("medium", "training", "Folk", 6),
    141: ("medium", "test", "Folk", 7),
    1000: ("medium", "validation", "Old-Time / Historic", 8),
    1001: ("large", "training", "", 9),  # no top genre
    1002: ("large", "test", "Rock", 10),  # damaged mp3
    1003: ("large", "training", "Rock", 11),  # 1 s: shorter than a segment
    1004: ("large", "validation", "Rock", 12),
}
NO_AUDIO = {26}
SUBSETS = {
    "fma_small": {"small"},
    "fma_medium": {"small", "medium"},
    "fma_large": {"small", "medium", "large"},
    "fma_full": {"small", "medium", "large"},
}


def _row(track_id, subset, split, genre, artist):
    return [
        str(track_id),
        str(100 + artist),
        f'Live at "The Hall", vol. {artist}',  # commas and quotes, quoted by the writer
        str(artist),
        f"Artist {artist}, the band",
        split,
        subset,
        genre,
        "<p>Recorded live,\nsecond line</p>",  # a newline inside a field
        f'Song "{track_id}", take 2',
    ]


def write_tracks_csv(path: Path, tracks=TRACKS, *, header=HEADER) -> Path:
    """tracks.csv as pandas writes a two-level header with a named index (3 header rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")  # as pandas' to_csv writes it
        writer.writerow(["", *(g for g, _ in header)])
        writer.writerow(["", *(c for _, c in header)])
        writer.writerow(["track_id", *([""] * len(header))])
        writer.writerows(_row(tid, *values) for tid, values in sorted(tracks.items()))
    return path


def make_fma(root: Path, make_wav, *, folders=("fma_small",), tracks=TRACKS) -> Path:
    """A fake FMA download in ``root``: tracks.csv and the given audio folders (real mp3)."""
    write_tracks_csv(root / "fma_metadata" / "tracks.csv", tracks)
    pool = root / ".pool"
    for k, tid in enumerate(sorted(tracks)):
        name = f"{tid:06d}.mp3"
        if tid == 1002:
            (pool / name).write_bytes(b"ID3" + bytes(range(256)) * 8)
        elif tid not in NO_AUDIO:
            make_wav(pool / name, seconds=1.0 if tid == 1003 else 3.5, sr=22050, freq=150 + 40 * k)
    for folder in folders:
        for tid, (subset, *_) in tracks.items():
            if subset in SUBSETS[folder] and tid not in NO_AUDIO:
                dest = audio_path(root / folder, tid)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(pool / f"{tid:06d}.mp3", dest)
    shutil.rmtree(pool)
    return root


@pytest.fixture
def fma(tmp_path, make_wav):
    root = make_fma(tmp_path / "fma", make_wav, folders=("fma_small", "fma_large"))
    make_wav(root / "fma_small" / "000" / "000099.mp3", seconds=3.5, sr=22050)  # not listed
    (root / "fma_small" / "README.txt").write_text("not audio")
    (root / "fma_small" / "checksums").write_text("not audio")
    return root


def test_audio_path_follows_fma_naming(tmp_path):
    assert audio_path(tmp_path, 2) == tmp_path / "000" / "000002.mp3"
    assert audio_path(tmp_path, "155320") == tmp_path / "155" / "155320.mp3"


def test_small_audio_folder(fma):
    ds = open_dataset(fma / "fma_small")
    assert ds.layout == "fma" and ds.root == fma / "fma_small"
    assert ds.track_ids == ("000002", "000003", "000005", "000010", "000020")
    assert ds.class_names == ("Hip-Hop", "Pop")
    np.testing.assert_array_equal(ds.labels, [0, 0, 0, 1, 1])
    assert ds.track("000010").path == fma / "fma_small" / "000" / "000010.mp3"
    assert ds.missing == ("000/000026.mp3",)
    assert ds.ignored == ("000/000099.mp3",)
    assert ds.notes == ()


@pytest.mark.parametrize(
    ("folder", "ids", "classes"),
    [
        ("fma_medium", (2, 3, 5, 10, 20, 140, 141, 1000), 4),
        ("fma_large", (2, 3, 5, 10, 20, 140, 141, 1000, 1002, 1003, 1004), 5),
        ("fma_full", (2, 3, 5, 10, 20, 140, 141, 1000, 1002, 1003, 1004), 5),
    ],
)
def test_subsets_nest_and_unlabelled_tracks_are_counted(tmp_path, make_wav, folder, ids, classes):
    root = make_fma(tmp_path, make_wav, folders=(folder,))
    ds = open_dataset(root / folder)
    assert ds.track_ids == tuple(f"{i:06d}" for i in ids)
    assert len(ds.class_names) == classes and "Old-Time / Historic" in ds.class_names
    assert ds.track("001000").label == "Old-Time / Historic"
    assert ds.missing == ("000/000026.mp3",)
    assert ds.ignored == ()  # the unlabelled track's file is accounted for by the note
    if folder == "fma_medium":
        assert ds.notes == ()
    else:
        assert len(ds.notes) == 1
        assert ds.notes[0].startswith(f"1 of the 13 tracks of {folder} (subset small + medium + ")
        assert "no top genre" in ds.notes[0]


def test_parent_folder_with_one_audio_folder(tmp_path, make_wav):
    root = make_fma(tmp_path, make_wav, folders=("fma_medium",))
    assert open_dataset(root) == open_dataset(root / "fma_medium")


def test_parent_folder_with_several_audio_folders_asks_to_name_one(fma):
    with pytest.raises(DatasetError, match=r"several FMA audio folders \(fma_large, fma_small\)"):
        open_dataset(fma)


def test_metadata_without_audio_folder_and_audio_folder_without_metadata(fma):
    shutil.rmtree(fma / "fma_small")
    shutil.rmtree(fma / "fma_large")
    with pytest.raises(DatasetError, match="fma_metadata/ but no FMA audio folder"):
        open_dataset(fma)
    (fma / "fma_small" / "000").mkdir(parents=True)
    shutil.rmtree(fma / "fma_metadata")
    with pytest.raises(DatasetError, match=r"tracks.csv: no FMA metadata .*fma_metadata.zip"):
        open_dataset(fma / "fma_small")


def test_no_audio_for_any_track(tmp_path):
    write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv")
    (tmp_path / "fma_small" / "000").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"none of the 6 labelled .*e\.g\. 000/000002\.mp3"):
        open_dataset(tmp_path / "fma_small")


def test_other_layouts_are_not_taken_for_fma(tmp_path, make_wav):
    make_wav(tmp_path / "jazz" / "a.wav", seconds=0.2, sr=8000)
    assert find_fma(tmp_path) is None
    with pytest.raises(DatasetError, match=r"Tried GTZAN .*FMA .*fma_small.*class-per-folder"):
        open_dataset(tmp_path / "jazz")


def test_reader_matches_pandas_on_the_three_row_header(tmp_path):
    pd = pytest.importorskip("pandas")
    path = write_tracks_csv(tmp_path / "tracks.csv")
    frame = pd.read_csv(path, index_col=0, header=[0, 1])  # how FMA's utils.py reads it
    records = read_tracks_csv(path)
    assert [int(r.track_id) for r in records] == frame.index.tolist()
    assert [r.split for r in records] == frame[("set", "split")].tolist()
    assert [r.subset for r in records] == frame[("set", "subset")].tolist()
    assert [r.genre_top for r in records] == frame[("track", "genre_top")].fillna("").tolist()
    assert [int(r.artist_id) for r in records] == frame[("artist", "id")].tolist()
    assert frame[("track", "title")].iloc[0] == 'Song "2", take 2'


def test_reader_keeps_parsed_rows_until_the_file_changes(tmp_path):
    path = write_tracks_csv(tmp_path / "tracks.csv")
    first = read_tracks_csv(path)
    assert read_tracks_csv(path) is first and len(first) == len(TRACKS)
    write_tracks_csv(path, {k: v for k, v in TRACKS.items() if k != 2})
    assert [r.track_id for r in read_tracks_csv(path)][:1] == ["000003"]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda lines: lines[1:], r"header starts"),  # saved with a 2-row header
        (lambda lines: [lines[1], lines[0], *lines[2:]], r"lacks the columns"),
        (lambda lines: lines[:2], r"ends before its 3 header rows"),
        (lambda lines: [*lines, "x7,1,a,1,b,training,small,Pop,c,d\n"], r"line \d+: track id 'x7'"),
        (lambda lines: [*lines, "7,1,a,1\n"], r"line \d+: track 7 has 4 fields"),
        (lambda lines: [*lines, "2,1,a,1,b,test,small,Pop,c,d\n"], r"track 2 is listed twice"),
    ],
)
def test_malformed_tracks_csv(tmp_path, edit, match):
    path = write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv")
    path.write_text("".join(edit(_lines(path))), encoding="utf-8")
    with pytest.raises(DatasetError, match=match):
        read_tracks_csv(path)


def test_tracks_csv_without_a_needed_column(tmp_path):
    header = [c for c in HEADER if c != ("artist", "id")]
    path = write_tracks_csv(tmp_path / "tracks.csv", header=header)
    with pytest.raises(DatasetError, match=r"lacks the columns \[\('artist', 'id'\)\]"):
        read_tracks_csv(path)


def test_default_split_is_fmas_own_split(fma):
    small = open_dataset(fma / "fma_small")
    split = default_split(small, split_dir=fma / "unused", random_state=3)
    assert split.name == "fma" and split.random_state is None
    assert split.train == ("000002", "000003", "000020")
    assert split.valid == ("000005",)
    assert split.test == ("000010",)  # 000026 (test) has no audio: it drops out
    assert split.warnings == (
        "1 tracks of the split have no audio file in "
        f"{fma / 'fma_small'} (e.g. ['000/000026.mp3']); they are left out.",
    )
    split.validate(small)
    large = fma_split(open_dataset(fma / "fma_large"))
    assert large.train == ("000002", "000003", "000020", "000140", "001003")
    assert large.valid == ("000005", "001000", "001004")
    assert large.test == ("000010", "000141", "001002")  # the damaged file stays: prepare skips it
    assert "001001" not in large.train  # no top genre


def test_fma_split_warns_about_artists_in_two_sets_and_unknown_set_names(tmp_path, make_wav):
    tracks = {**TRACKS, 3: ("small", "test", "Hip-Hop", 1), 20: ("small", "", "Pop", 4)}
    root = make_fma(tmp_path, make_wav, tracks=tracks)
    split = fma_split(open_dataset(root / "fma_small"))
    assert split.test == ("000003", "000010") and "000020" not in split.train
    assert any(w.startswith("1 tracks have no ('set', 'split')") for w in split.warnings)
    assert any(w.startswith("1 artists have tracks in two sets (artist ids ['1'])")
               for w in split.warnings)


def test_fma_split_errors(tmp_path, make_wav):
    tracks = {k: v for k, v in TRACKS.items() if v[1] != "validation"}
    root = make_fma(tmp_path / "a", make_wav, tracks=tracks)
    with pytest.raises(SplitError, match=r"leaves set\(s\) \['valid'\] empty"):
        default_split(open_dataset(root / "fma_small"))
    make_wav(tmp_path / "b" / "jazz" / "x.wav", seconds=0.2, sr=8000)
    with pytest.raises(SplitError, match="FMA's split is for FMA"):
        fma_split(open_dataset(tmp_path / "b"))


def test_random_split_of_fma_points_to_the_official_split(fma):
    split = random_split(open_dataset(fma / "fma_small"), random_state=0)
    assert "random track-level split of FMA" in split.warnings[0]


def test_check_skips_and_reports_damaged_short_and_missing_files(fma, tmp_path, capsys):
    report = check_dataset(open_dataset(fma / "fma_large"), progress=False)
    assert report.layout == "fma" and report.n_tracks == 11 and report.n_readable == 9
    assert {s.track_id: s.reason for s in report.unreadable} == {
        "001002": "undecodable",
        "001003": "too_short",
    }
    assert report.class_counts["Rock"] == [1, 3]
    assert report.missing == ["000/000026.mp3"] and len(report.notes) == 1
    assert report.usable and report.duplicates == []
    out = tmp_path / "check.json"
    argv = ["data", "check", str(fma / "fma_large"), "--json", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "(layout fma)" in text and "9 of 11 files readable" in text
    assert "missing files, left out (1): 000/000026.mp3" in text
    assert "note: 1 of the 13 tracks of fma_large" in text
    data = json.loads(out.read_text())
    assert data["missing"] == ["000/000026.mp3"] and data["usable"] is True


def test_prepare_skips_the_damaged_file_and_training_sets_load(fma, tmp_path):
    dataset = open_dataset(fma / "fma_large")
    config = FeatureConfig()
    report = prepare(dataset, cache_dir=tmp_path / "cache", config=config, progress=False)
    assert sorted(report.skipped) == [("001002", "undecodable"), ("001003", "too_short")]
    features = load_features(dataset, cache_dir=tmp_path / "cache", config=config)
    test = features.subset(default_split(dataset).test)
    assert set(test.track_ids.tolist()) == {"000010", "000141"}
    assert test.skipped == ("001002",)
