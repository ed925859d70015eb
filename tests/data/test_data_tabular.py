import numpy as np
import pytest

from genrelens.data.splits import Split
from genrelens.data.tabular import find_feature_tables, load_feature_table, split_feature_table
from genrelens.errors import DatasetError

HEADER = "filename,length,chroma_stft_mean,rms_mean,tempo,label"


def _write_3s(path, tracks=("blues.00000", "blues.00001", "jazz.00000", "jazz.00001"), pieces=3):
    lines = [HEADER]
    for k, track in enumerate(tracks):
        for j in range(pieces):
            label = track.split(".")[0]
            lines.append(f"{track}.{j}.wav,66149,{k + j / 10},{0.5 * k},{120 + j},{label}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_3_sec_table_keyed_by_track(tmp_path):
    table = load_feature_table(_write_3s(tmp_path / "features_3_sec.csv"))
    assert len(table) == 12
    assert table.feature_names == ("chroma_stft_mean", "rms_mean", "tempo")
    assert table.X.shape == (12, 3) and table.X.dtype == np.float64
    np.testing.assert_allclose(table.X[4], [1.1, 0.5, 121.0])
    assert list(table.track_ids[:4]) == ["blues.00000"] * 3 + ["blues.00001"]
    np.testing.assert_array_equal(table.segment_index[:4], [0, 1, 2, 0])
    assert table.class_names == ("blues", "jazz")
    np.testing.assert_array_equal(table.labels, [0] * 6 + [1] * 6)
    np.testing.assert_array_equal(table.lengths, 66149)


def test_load_30_sec_table(tmp_path):
    path = tmp_path / "features_30_sec.csv"
    path.write_text(HEADER + "\nblues.00000.wav,661794,0.3,0.1,99.4,blues\n"
                    "rock.00099.wav,661794,0.4,0.2,120.1,rock\n")
    table = load_feature_table(path)
    assert list(table.track_ids) == ["blues.00000", "rock.00099"]
    np.testing.assert_array_equal(table.segment_index, [-1, -1])


def test_split_never_puts_pieces_of_one_track_in_two_sets(tmp_path):
    table = load_feature_table(_write_3s(tmp_path / "f.csv"))
    split = Split(name="s", train=("blues.00000", "jazz.00000"), valid=("jazz.00001",),
                  test=("blues.00001",))
    parts = split_feature_table(table, split)
    assert {k: len(v) for k, v in parts.items()} == {"train": 6, "valid": 3, "test": 3}
    for name, part in parts.items():
        assert set(part.track_ids) == set(getattr(split, name))
    np.testing.assert_array_equal(parts["test"].X, table.X[3:6])
    np.testing.assert_array_equal(parts["valid"].labels, [1, 1, 1])
    sets = [set(p.track_ids) for p in parts.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_rows_of_tracks_outside_the_split_are_dropped(tmp_path):
    table = load_feature_table(_write_3s(tmp_path / "f.csv"))
    parts = split_feature_table(table, Split(name="s", train=("blues.00000",), valid=(), test=()))
    assert len(parts["train"]) == 3 and len(parts["valid"]) == 0
    assert parts["valid"].X.shape == (0, 3)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("name,label\nblues.00000.wav,blues\n", "no 'filename' column"),
        ("filename,x\nblues.00000.wav,1\n", "no 'label' column"),
        (HEADER + "\nblues.00000.wav,1,2,3\n", "line 2: 4 fields, expected 6"),
        (HEADER + "\nblues.00000.wav,1,2,x,4,blues\n", "line 2: non-numeric"),
        (HEADER + "\nblues.00000.wav,1,2,nan,4,blues\n", "line 2: column 'rms_mean' is not finite"),
        (HEADER + "\nmysong.wav,1,2,3,4,blues\n", "not a GTZAN name"),
    ],
)
def test_bad_tables(tmp_path, text, match):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=match):
        load_feature_table(path)


def test_missing_table_and_finding_tables(tmp_path):
    with pytest.raises(DatasetError, match="no such feature table"):
        load_feature_table(tmp_path / "features_3_sec.csv")
    _write_3s(tmp_path / "gtzan" / "Data" / "features_3_sec.csv")
    (tmp_path / "gtzan" / "Data" / "genres_original").mkdir()
    (tmp_path / "gtzan" / "Data" / "features_30_sec.csv").write_text(HEADER + "\n")
    expected = {
        "30_sec": tmp_path / "gtzan" / "Data" / "features_30_sec.csv",
        "3_sec": tmp_path / "gtzan" / "Data" / "features_3_sec.csv",
    }
    for start in ("gtzan", "gtzan/Data", "gtzan/Data/genres_original", "."):
        assert find_feature_tables(tmp_path / start) == expected
    assert find_feature_tables(tmp_path / "gtzan" / "nowhere") == {}
