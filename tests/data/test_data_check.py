import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from genrelens import cli
from genrelens.config import FeatureConfig
from genrelens.data import open_dataset
from genrelens.data.check import check_dataset, file_sha256
from genrelens.data.loading import Loaded, Skip, iter_audio
from genrelens.errors import ParameterError


@pytest.fixture
def kaggle(tmp_path, make_wav):
    """A small Kaggle-layout GTZAN with the usual faults."""
    root = tmp_path / "gtzan"
    genres = root / "Data" / "genres_original"
    for g, seconds in (("blues", 3.2), ("jazz", 3.6), ("metal", 4.0)):
        for i in range(3):
            make_wav(genres / g / f"{g}.{i:05d}.wav", seconds=seconds, sr=8000, freq=100 + 60 * i)
    (genres / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    shutil.copy(genres / "blues" / "blues.00001.wav", genres / "metal" / "metal.00007.wav")
    make_wav(genres / "metal" / "metal.00008.wav", seconds=1.0, sr=8000)  # shorter than 3 s
    sf.write(genres / "blues" / "blues.00009.wav", np.zeros(30000, dtype=np.float32), 8000)
    return root


def test_check_reports_counts_durations_faults_and_duplicates(kaggle):
    report = check_dataset(open_dataset(kaggle), progress=False)
    assert report.layout == "gtzan-kaggle"
    assert report.n_tracks == 13 and report.n_readable == 9 + 1
    assert report.class_counts == {"blues": [3, 4], "jazz": [3, 4], "metal": [4, 5]}
    assert report.durations["min"] == pytest.approx(3.2)
    assert report.durations["median"] == pytest.approx(3.6)
    assert report.durations["max"] == pytest.approx(4.0)
    assert report.sample_rates == {"8000": 10}
    assert report.n_segments == 10  # each file 3.2-4.0 s gives one 3-s segment
    reasons = {s.track_id: s.reason for s in report.unreadable}
    assert reasons == {
        "jazz.00054": "undecodable",
        "metal.00008": "too_short",
        "blues.00009": "silent",
    }
    assert report.duplicates == [["blues.00001", "metal.00007"]]
    assert report.usable and report.problems == []
    text = report.format()
    assert "jazz.00054: undecodable" in text and "blues.00001 = metal.00007" in text
    # Worker processes give the same report; a bad jobs value is refused.
    assert check_dataset(open_dataset(kaggle), progress=False, jobs=2) == report
    with pytest.raises(ParameterError, match="jobs=0"):
        check_dataset(open_dataset(kaggle), progress=False, jobs=0)


def test_segment_length_changes_too_short_and_segment_count(kaggle):
    config = FeatureConfig(segment_seconds=1.0, segment_hop_seconds=1.0)
    report = check_dataset(open_dataset(kaggle), config=config, progress=False)
    assert "metal.00008" not in {s.track_id for s in report.unreadable}
    # blues 3 x 3.2 s, jazz 3 x 3.6 s, metal 3 x 4.0 s + a 3.2-s copy + 1.0 s: 9 + 9 + 12 + 3 + 1
    assert report.n_segments == 34


def test_unusable_datasets(tmp_path, make_wav):
    make_wav(tmp_path / "one" / "a.wav", seconds=3.5, sr=8000)
    report = check_dataset(open_dataset(tmp_path), progress=False)
    assert not report.usable and "fewer than 2 classes" in report.problems[0]
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "b.wav").write_bytes(b"garbage")
    (tmp_path / "one" / "a.wav").write_bytes(b"")
    report = check_dataset(open_dataset(tmp_path), progress=False)
    assert report.problems == ["no readable tracks"]
    assert np.isnan(report.durations["median"])
    assert {s.reason for s in report.unreadable} == {"empty", "undecodable"}


def test_iter_audio_skips_and_finishes(kaggle):
    ds = open_dataset(kaggle)
    items = list(iter_audio(ds.tracks, sr=4000, progress=False))
    assert len(items) == len(ds)
    skipped = [i.track_id for i in items if isinstance(i, Skip)]
    assert skipped == ["blues.00009", "jazz.00054"]
    loaded = [i for i in items if isinstance(i, Loaded)]
    assert all(i.sr == 4000 and i.y.dtype == np.float32 for i in loaded)
    assert loaded[0].y.shape == (12800,)  # 3.2 s at 4 kHz


def test_file_sha256(tmp_path):
    (tmp_path / "x").write_bytes(b"abc")
    assert file_sha256(tmp_path / "x") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_cli_check_exit_status_and_json(kaggle, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert cli.main(["data", "check", str(kaggle), "--json", str(out), "--no-progress"]) == 0
    data = json.loads(out.read_text())
    assert data["usable"] is True and data["n_readable"] == 10
    assert data["unreadable"][0]["reason"] in {"undecodable", "too_short", "silent"}
    assert "gtzan-kaggle" in capsys.readouterr().out
    single = tmp_path / "single"
    shutil.copytree(kaggle / "Data" / "genres_original" / "blues", single / "blues")
    assert cli.main(["data", "check", str(single), "--no-progress"]) == 1
    assert cli.main(["data", "check", str(tmp_path / "nowhere")]) == 3
    assert "no such folder" in capsys.readouterr().err


def test_cli_help(capsys):
    for sub in ("check", "fetch-split", "split"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["data", sub, "--help"])
        assert exc.value.code == 0
    assert "gtzan-ff" in capsys.readouterr().out
