"""Tests of the synthetic GTZAN-layout data set (genrelens.data.synthetic) and `data synth`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from genrelens import cli
from genrelens.config import FeatureConfig
from genrelens.data import open_dataset
from genrelens.data.gtzan import GTZAN_GENRES
from genrelens.data.synthetic import (
    GENRES,
    STEMS,
    CueEvent,
    cue_mask,
    load_cues,
    synthesize_dataset,
    synthesize_track,
)
from genrelens.errors import DatasetError, ParameterError

SR = 22050
DURATION = 6.0


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One 6-s track per genre, seed 3, written serially."""
    return synthesize_dataset(
        tmp_path_factory.mktemp("synth") / "ds", n_per_genre=1, duration=DURATION, seed=3
    )


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# -- layout and file formats ---------------------------------------------------------------


def test_layout_is_gtzan_original_with_stems_and_cues(small):
    expected = {"synth.json"}
    for g in GTZAN_GENRES:
        tid = f"{g}.00000"
        expected |= {f"genres/{g}/{tid}.wav", f"cues/{tid}.json"}
        expected |= {f"stems/{tid}/{s}.wav" for s in STEMS}
    assert set(_files(small)) == expected
    mix = sf.info(small / "genres" / "jazz" / "jazz.00000.wav")
    assert (mix.samplerate, mix.channels, mix.frames, mix.subtype) == (SR, 1, 6 * SR, "PCM_16")
    stem = sf.info(small / "stems" / "jazz.00000" / "bass.wav")
    assert (stem.samplerate, stem.channels, stem.frames, stem.subtype) == (SR, 1, 6 * SR, "FLOAT")


def test_open_dataset_finds_ten_gtzan_classes(small):
    ds = open_dataset(small)
    assert ds.layout == "gtzan-original"
    assert ds.class_names == tuple(sorted(GTZAN_GENRES))
    assert len(ds) == 10 and ds.ignored == ()


def test_synth_json_records_parameters_and_cues(small):
    meta = json.loads((small / "synth.json").read_text())
    assert (meta["seed"], meta["n_per_genre"], meta["duration"], meta["sr"]) == (3, 1, 6.0, SR)
    assert meta["stems"] == list(STEMS)
    assert set(meta["genres"]) == set(GTZAN_GENRES)
    for g in GTZAN_GENRES:
        assert meta["genres"][g]["cues"] == GENRES[g].cues
        lo, hi = meta["genres"][g]["tempo_bpm"]
        assert 50 <= lo < hi <= 200


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_serial_or_parallel(small, tmp_path):
    again = synthesize_dataset(tmp_path / "again", n_per_genre=1, duration=DURATION, seed=3, jobs=2)
    assert _files(again) == _files(small)
    for rel in _files(small):
        assert (again / rel).read_bytes() == (small / rel).read_bytes(), rel


def test_file_equals_in_memory_track_whatever_the_order(small):
    # a track depends on (seed, genre, index) only, not on what was generated before it
    track = synthesize_track("reggae", index=0, seed=3, duration=DURATION)
    pcm, sr = sf.read(small / "genres" / "reggae" / "reggae.00000.wav", dtype="int16")
    assert sr == SR
    np.testing.assert_array_equal(pcm, track.pcm)


def test_different_seed_or_index_gives_different_audio():
    a = synthesize_track("pop", index=0, seed=0, duration=2.0)
    b = synthesize_track("pop", index=0, seed=1, duration=2.0)
    c = synthesize_track("pop", index=1, seed=0, duration=2.0)
    d = synthesize_track("pop", index=0, seed=0, duration=2.0)
    np.testing.assert_array_equal(a.pcm, d.pcm)
    for other in (b, c):
        assert np.abs(a.mix - other.mix).max() > 0.01
        assert a.cues.summary["tempo_bpm"] != other.cues.summary["tempo_bpm"]


# -- stems and levels ------------------------------------------------------------------------


@pytest.mark.parametrize("genre", GTZAN_GENRES)
def test_stems_on_disk_sum_to_the_mix(small, genre):
    tid = f"{genre}.00000"
    mix, _ = sf.read(small / "genres" / genre / f"{tid}.wav", dtype="float32")
    stems = [sf.read(small / "stems" / tid / f"{s}.wav", dtype="float32")[0] for s in STEMS]
    total = np.sum(stems, axis=0, dtype=np.float32)
    assert np.abs(total - mix).max() <= 4e-7
    # and the sum is not trivially carried by one stem: at least three stems sound
    # (classical has no drums)
    assert sum(float(np.abs(s).max()) > 1e-3 for s in stems) >= 3


def test_classical_has_silent_drums_and_every_other_genre_has_drums():
    for g in GTZAN_GENRES:
        drums = synthesize_track(g, seed=5, duration=2.0).stems["drums"]
        assert (np.abs(drums).max() < 1e-4) == (g == "classical"), g


def test_loudness_is_normalised_with_random_gain_and_headroom(small):
    levels = []
    for g in GTZAN_GENRES:
        x, _ = sf.read(small / "genres" / g / f"{g}.00000.wav", dtype="float64")
        rms_db = 20 * math.log10(np.sqrt(np.mean(x**2)))
        peak_db = 20 * math.log10(np.abs(x).max())
        assert -26.05 <= rms_db <= -17.95 and peak_db <= -1.0 + 1e-3, g
        levels.append(rms_db)
    assert max(levels) - min(levels) > 2.0  # a random level per track, not one for all


# -- cue records -----------------------------------------------------------------------------


@pytest.mark.parametrize("genre", GTZAN_GENRES)
def test_cue_events_lie_in_the_track_and_every_cue_sounds_in_every_3s_segment(small, genre):
    record = load_cues(small, f"{genre}.00000")
    assert record.genre == genre and record.events
    for e in record.events:
        assert 0.0 <= e.start <= e.end <= DURATION
        assert 0.0 <= e.fmin < e.fmax <= SR / 2
        assert e.cue in GENRES[genre].cues and e.stem in STEMS
    for start in (0.0, 3.0):
        present = {e.cue for e in record.events if e.start < start + 3.0 and e.end > start}
        assert present == set(GENRES[genre].cues), (genre, start)
    assert set(record.summary["cues"]) == set(GENRES[genre].cues)


@pytest.mark.slow
def test_every_cue_sounds_in_every_3s_window_of_full_length_tracks():
    for g in GTZAN_GENRES:
        for i in range(3):
            events = synthesize_track(g, index=i, seed=11, duration=30.0).cues.events
            for start in np.arange(0.0, 27.01, 0.5):
                present = {e.cue for e in events if e.start < start + 3.0 and e.end > start}
                assert present == set(GENRES[g].cues), (g, i, start)


def test_load_cues_round_trips_the_in_memory_events(small):
    track = synthesize_track("metal", index=0, seed=3, duration=DURATION)
    loaded = load_cues(small, "metal.00000")
    assert [e.to_dict() for e in loaded.events] == [e.to_dict() for e in track.cues.events]
    assert loaded.summary == json.loads(json.dumps(track.cues.summary))


def test_load_cues_missing_or_malformed_raises(small, tmp_path):
    with pytest.raises(DatasetError, match="no cue record"):
        load_cues(small, "blues.00099")
    (tmp_path / "cues").mkdir()
    (tmp_path / "cues" / "x.json").write_text('{"events": [{"cue": "a"}]}')
    with pytest.raises(DatasetError, match="malformed"):
        load_cues(tmp_path, "x")


# -- cue_mask --------------------------------------------------------------------------------


def _centres(config):
    import librosa

    return librosa.mel_frequencies(n_mels=config.n_mels + 2, fmin=config.fmin, fmax=config.fmax_hz)[
        1:-1
    ]


def test_cue_mask_marks_exactly_the_frames_and_bins_inside_the_event():
    config = FeatureConfig()
    event = CueEvent("x", "lead", start=1.0, end=1.5, fmin=500.0, fmax=2000.0)
    mask = cue_mask([event], config=config, start=0.5, n_frames=config.n_frames)
    assert mask.shape == (128, 130) and mask.dtype == bool
    # frame i is centred at 0.5 + i * 512 / 22050 s: i = 22 (1.0075 s) .. 43 (1.4984 s)
    cols = np.flatnonzero(mask.any(axis=0))
    np.testing.assert_array_equal(cols, np.arange(22, 44))
    rows = np.flatnonzero(mask.any(axis=1))
    centres = _centres(config)
    np.testing.assert_array_equal(rows, np.flatnonzero((centres >= 500) & (centres <= 2000)))
    assert (
        centres[rows[0] - 1] < 500 <= centres[rows[0]]
        and centres[rows[-1]] <= 2000 < centres[rows[-1] + 1]
    )
    assert mask.sum() == rows.size * cols.size  # a full rectangle


def test_cue_mask_short_or_narrow_events_mark_the_nearest_frame_or_bin():
    config = FeatureConfig(n_mels=64, fmax=8000.0)
    hop = 512 / 22050
    short = CueEvent(
        "x", "drums", start=0.2 + 10.3 * hop, end=0.2 + 10.4 * hop, fmin=100.0, fmax=100.0
    )
    mask = cue_mask([short.to_dict()], config=config, start=0.2, n_frames=40)
    assert mask.sum() == 1
    b, i = np.argwhere(mask)[0]
    assert i == 10
    assert b == int(np.argmin(np.abs(_centres(config) - 100.0)))


def test_cue_mask_ignores_events_outside_the_segment_and_unions_overlaps():
    config = FeatureConfig()
    hop = 512 / 22050
    # the segment spans frame centres 1.0 .. 1.0 + 129 * hop = 3.995 s
    outside = [
        CueEvent("x", "bass", 0.0, 1.0 - 0.6 * hop, 50.0, 300.0),
        CueEvent("x", "bass", 1.0 + 129.6 * hop, 5.0, 50.0, 300.0),
        CueEvent("x", "bass", 1.0, 2.0, 0.0, 0.0),
    ]  # below the lowest bin centre
    mask = cue_mask(outside[:2], config=config, start=1.0, n_frames=130)
    assert not mask.any()
    # a band below every bin centre but inside the filterbank range marks the lowest bin
    mask = cue_mask(outside[2:], config=config, start=1.0, n_frames=130)
    assert mask[0, : 1 + int(1.0 / hop)].all() and mask.sum() == 1 + int(1.0 / hop)
    a = CueEvent("x", "drums", 1.0, 1.0 + 20 * hop, 100.0, 1000.0)
    b = CueEvent("y", "lead", 1.0 + 10 * hop, 1.0 + 30 * hop, 500.0, 4000.0)
    both = cue_mask([a, b], config=config, start=1.0, n_frames=130)
    np.testing.assert_array_equal(
        both,
        cue_mask([a], config=config, start=1.0, n_frames=130)
        | cue_mask([b], config=config, start=1.0, n_frames=130),
    )


def test_cue_mask_on_a_real_track_covers_some_but_not_all_of_a_segment(small):
    config = FeatureConfig()
    for g in GTZAN_GENRES:
        events = load_cues(small, f"{g}.00000").events
        for start in (0.0, 3.0):
            frac = cue_mask(events, config=config, start=start, n_frames=config.n_frames).mean()
            assert 0.02 < frac < 0.95, (g, start, frac)


def test_cue_mask_and_events_reject_bad_input():
    config = FeatureConfig()
    ev = CueEvent("x", "drums", 0.0, 1.0, 0.0, 100.0)
    with pytest.raises(ParameterError, match="n_frames=0"):
        cue_mask([ev], config=config, start=0.0, n_frames=0)
    with pytest.raises(ParameterError, match="start=nan"):
        cue_mask([ev], config=config, start=float("nan"), n_frames=10)
    with pytest.raises(ParameterError, match="start=2.0, end=1.0"):
        CueEvent("x", "drums", 2.0, 1.0, 0.0, 100.0)
    with pytest.raises(ParameterError, match="fmin=200.0, fmax=100.0"):
        CueEvent("x", "drums", 0.0, 1.0, 200.0, 100.0)
    with pytest.raises(ParameterError, match="stem='vocals'"):
        CueEvent("x", "vocals", 0.0, 1.0, 0.0, 100.0)
    with pytest.raises(ParameterError, match="lacks keys"):
        cue_mask([{"cue": "x"}], config=config, start=0.0, n_frames=10)


# -- difficulty ------------------------------------------------------------------------------


def test_not_trivial_loudness_alone_fails_while_spectral_statistics_succeed():
    import librosa
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rms, mfcc, labels = [], [], []
    for k, g in enumerate(GTZAN_GENRES):
        for i in range(6):
            x = synthesize_track(g, index=i, seed=0, duration=6.0).mix
            rms.append([20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))])
            m = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=20)
            mfcc.append(np.r_[m.mean(axis=1), m.std(axis=1)])
            labels.append(k)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)

    def accuracy(features):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        return cross_val_score(clf, np.asarray(features), labels, cv=cv).mean()

    acc_rms, acc_mfcc = accuracy(rms), accuracy(mfcc)
    # measured (seed 0): RMS 0.15 (chance 0.10), MFCC mean/std 1.00
    assert acc_rms < 0.3
    assert acc_mfcc > 0.85


# -- parameters and command line ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_per_genre": 0}, "n_per_genre=0"),
        ({"duration": 0.5}, "duration=0.5"),
        ({"sr": 8000}, "sr=8000"),
        ({"seed": -1}, "seed=-1"),
        ({"jobs": 0}, "jobs=0"),
    ],
)
def test_synthesize_dataset_rejects_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        synthesize_dataset(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_synthesize_track_rejects_unknown_genre_or_index():
    with pytest.raises(ParameterError, match="genre='polka'"):
        synthesize_track("polka")
    with pytest.raises(ParameterError, match="index=100000"):
        synthesize_track("rock", index=100000)


def test_cli_synth_writes_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "ds"
    argv = [
        "data",
        "synth",
        "--out",
        str(out),
        "--per-genre",
        "1",
        "--duration",
        "3",
        "--seed",
        "7",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    assert "10 tracks of 3 s (seed 7)" in capsys.readouterr().out
    assert len(open_dataset(out)) == 10
    before = (out / "genres" / "rock" / "rock.00000.wav").read_bytes()
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and err.count("\n") == 1
    assert cli.main([*argv, "--force"]) == 0
    assert (out / "genres" / "rock" / "rock.00000.wav").read_bytes() == before
    lean = tmp_path / "lean"
    assert (
        cli.main(
            [
                "data",
                "synth",
                "--out",
                str(lean),
                "--per-genre",
                "1",
                "--duration",
                "2",
                "--no-stems",
                "--no-progress",
            ]
        )
        == 0
    )
    assert not (lean / "stems").exists() and len(list((lean / "cues").iterdir())) == 10
    assert json.loads((lean / "synth.json").read_text())["stems"] == []
    (tmp_path / "file").write_text("x")
    assert cli.main(["data", "synth", "--out", str(tmp_path / "file"), "--no-progress"]) == 3
    assert "is a file" in capsys.readouterr().err
