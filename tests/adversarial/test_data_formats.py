"""Issue 13, items 6 and 18: every installed format is read, unknown files are listed, files
whose first bytes do not match their ending are rejected before any decoder guesses."""

import json
import os
import warnings

import numpy as np
import pytest
import soundfile as sf

from genrelens import cli
from genrelens.audio import load_audio
from genrelens.data import open_dataset
from genrelens.errors import AudioLoadError

SR = 22050


def _tone(path, *, fmt, subtype=None, rate=SR, seconds=3.5, freq=440.0):
    y = 0.5 * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), rate, format=fmt, subtype=subtype)
    return path


def test_opus_and_aiff_files_are_tracks_and_decode(tmp_path):
    opus = _tone(tmp_path / "data" / "rock" / "a.opus", fmt="OGG", subtype="OPUS", rate=48000)
    aiff = _tone(tmp_path / "data" / "jazz" / "b.aiff", fmt="AIFF")
    aif = _tone(tmp_path / "data" / "jazz" / "c.AIF", fmt="AIFF")
    dataset = open_dataset(tmp_path / "data")
    assert dataset.track_ids == ("jazz/b", "jazz/c", "rock/a")
    for path in (opus, aiff, aif):
        y = load_audio(path, sr=SR)
        assert abs(y.shape[0] - 3.5 * SR) < 0.05 * SR and 0.3 < np.abs(y).max() < 0.7


def test_random_bytes_named_au_are_rejected_not_read_as_mu_law(tmp_path):
    path = tmp_path / "noise.au"
    path.write_bytes(np.random.default_rng(0).bytes(40000))
    with pytest.raises(AudioLoadError) as exc:
        load_audio(path, sr=SR)
    assert exc.value.reason == "undecodable" and exc.value.path == str(path)
    assert str(path) in str(exc.value) and "AU header" in str(exc.value)


def test_random_bytes_named_mp3_are_rejected_without_decoder_noise(tmp_path, capfd):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(1).bytes(40000))
    with pytest.raises(AudioLoadError, match="MP3 header") as exc:
        load_audio(path, sr=SR)
    assert exc.value.reason == "undecodable"
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no "Note: Illegal Audio-MPEG-Header" from mpg123


def test_misnamed_file_names_the_format_it_really_is(tmp_path):
    path = _tone(tmp_path / "song.wav", fmt="FLAC")
    with pytest.raises(AudioLoadError, match=r"starts like a FLAC file: rename it to song\.flac"):
        load_audio(path, sr=SR)


def test_folder_named_like_audio_is_not_reported_missing(tmp_path):
    path = tmp_path / "x.wav"
    path.mkdir()
    with pytest.raises(AudioLoadError, match="is a folder, not an audio file") as exc:
        load_audio(path, sr=SR)
    assert exc.value.reason == "not_a_file" and exc.value.path == str(path)


def test_m4a_without_a_decoder_says_what_to_install(tmp_path, monkeypatch):
    import audioread

    with warnings.catch_warnings():  # audioread's raw backend imports aifc, sunau
        warnings.simplefilter("ignore", DeprecationWarning)
        from audioread.rawread import RawAudioFile

    monkeypatch.setattr(audioread, "available_backends", lambda flush_cache=False: [RawAudioFile])
    path = tmp_path / "a.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(4000))
    with pytest.raises(AudioLoadError, match="no decoder for M4A files.*install ffmpeg") as exc:
        load_audio(path, sr=SR)
    assert exc.value.reason == "undecodable"


def test_data_check_lists_files_of_unknown_type(tmp_path, capsys):
    data = tmp_path / "data"
    for label in ("rock", "jazz"):
        _tone(data / label / "a.wav", fmt="WAV")
    (data / "rock" / "notes.txt").write_text("liner notes")
    (data / "jazz" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    report = tmp_path / "check.json"
    assert cli.main(["data", "check", str(data), "--no-progress", "--jobs", "1",
                     "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "files of unknown type, not read (2)" in out
    assert "jazz/cover.jpg" in out and "rock/notes.txt" in out
    assert json.loads(report.read_text())["unknown"] == ["jazz/cover.jpg", "rock/notes.txt"]


def test_gtzan_file_of_unknown_type_is_no_track(tmp_path):
    genres = tmp_path / "genres"
    for g in ("blues", "jazz"):
        _tone(genres / g / f"{g}.00000.wav", fmt="WAV")
    (genres / "blues" / "blues.00001.mf").write_text("a marsyas collection file")
    dataset = open_dataset(tmp_path)
    assert dataset.track_ids == ("blues.00000", "jazz.00000")
    assert dataset.unknown == ("blues/blues.00001.mf",)


@pytest.mark.parametrize("name", ["noise.au", "noise.mp3"])
def test_data_check_reports_random_bytes_as_unreadable(tmp_path, capfd, name):
    data = tmp_path / "data"
    _tone(data / "rock" / "a.wav", fmt="WAV")
    _tone(data / "jazz" / "b.wav", fmt="WAV")
    (data / "jazz" / name).write_bytes(os.urandom(30000))
    assert cli.main(["data", "check", str(data), "--no-progress", "--jobs", "1"]) == 0
    out, err = capfd.readouterr()
    assert f"jazz/{name.split('.')[0]}: undecodable" in out and "header" in out
    assert "mpg123" not in err and "MPEG" not in err
