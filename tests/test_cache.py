import json

import h5py
import numpy as np
import pytest
import soundfile as sf

from genrelens import cache as cache_mod
from genrelens import cli
from genrelens.audio import load_audio, segment_audio
from genrelens.cache import Features, cached_configs, config_dir, load_features, prepare
from genrelens.config import FeatureConfig
from genrelens.data import open_dataset
from genrelens.errors import CacheError, ParameterError
from genrelens.features import log_mel

CONFIG = FeatureConfig()  # 7-s tracks give 2 segments of 3 s
SR = CONFIG.sr


def _write_tone(path, *, freq: float, seconds: float = 7.0) -> None:
    t = np.arange(int(seconds * SR)) / SR
    y = 0.5 * np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * 2.5 * freq * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")


@pytest.fixture
def data_dir(tmp_path):
    """2 classes x 2 tracks x 7 s of tones, class-per-folder layout."""
    root = tmp_path / "data"
    for c, label in enumerate(["bass", "treble"]):
        for k in range(2):
            _write_tone(root / label / f"t{k}.wav", freq=(110.0 if c == 0 else 1760.0) * (1 + k))
    return root


def _entries(cache_dir, config=CONFIG):
    return sorted((config_dir(cache_dir, config) / "entries").glob("*"))


def test_prepare_then_load_gives_segments_labels_and_values(data_dir, tmp_path):
    dataset = open_dataset(data_dir)
    report = prepare(dataset, cache_dir=tmp_path / "cache", config=CONFIG, progress=False)
    assert (report.n_tracks, report.n_computed, report.n_cached, report.skipped) == (4, 4, 0, [])
    assert report.n_segments == report.n_segments_computed == 8
    assert report.segments_per_second > 0
    assert report.cache_dir == tmp_path / "cache" / CONFIG.digest()
    assert len(_entries(tmp_path / "cache")) == 4

    feats = load_features(dataset, cache_dir=tmp_path / "cache", config=CONFIG)
    assert isinstance(feats, Features) and len(feats) == 8
    assert feats.logmel.shape == (8, CONFIG.n_mels, CONFIG.n_frames)
    assert feats.logmel.dtype == np.float32
    assert feats.track_ids.tolist() == [t for t in dataset.track_ids for _ in range(2)]
    assert feats.segment_index.tolist() == [0, 1] * 4
    assert feats.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert feats.class_names == ("bass", "treble") and feats.config == CONFIG
    assert feats.tracks == dataset.track_ids
    for i, track in enumerate(dataset.tracks):
        expected = log_mel(segment_audio(load_audio(track.path, sr=SR), config=CONFIG),
                           config=CONFIG)
        np.testing.assert_array_equal(feats.logmel[2 * i : 2 * i + 2], expected)
    with h5py.File(_entries(tmp_path / "cache")[0], "r") as f:
        assert json.loads(f.attrs["feature_config"]) == CONFIG.to_dict()
    assert cached_configs(tmp_path / "cache") == [CONFIG]


def test_second_prepare_computes_nothing(data_dir, tmp_path, monkeypatch):
    dataset = open_dataset(data_dir)
    prepare(dataset, cache_dir=tmp_path / "cache", config=CONFIG, progress=False)
    monkeypatch.setattr(cache_mod, "_compute_track", lambda *a, **k: pytest.fail("recomputed"))
    again = prepare(dataset, cache_dir=tmp_path / "cache", config=CONFIG, progress=False)
    assert (again.n_cached, again.n_computed, again.n_segments) == (4, 0, 8)
    assert again.segments_per_second == 0.0


def test_changed_file_is_recomputed_alone(data_dir, tmp_path):
    dataset = open_dataset(data_dir)
    cache = tmp_path / "cache"
    prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    changed = dataset.tracks[1]
    _write_tone(changed.path, freq=333.0, seconds=8.0)
    with pytest.raises(CacheError, match="changed since prepare"):
        load_features(dataset, cache_dir=cache, config=CONFIG)
    report = prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    assert (report.n_computed, report.n_cached) == (1, 3)
    feats = load_features(dataset, cache_dir=cache, config=CONFIG)
    rows = feats.track_ids == changed.track_id
    expected = log_mel(segment_audio(load_audio(changed.path, sr=SR), config=CONFIG),
                       config=CONFIG)
    np.testing.assert_array_equal(feats.logmel[rows], expected)


def test_changed_config_uses_a_new_key(data_dir, tmp_path):
    dataset = open_dataset(data_dir)
    cache = tmp_path / "cache"
    prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    other = FeatureConfig(n_mels=64, segment_seconds=2.0, segment_hop_seconds=1.0)
    assert other.digest() != CONFIG.digest()
    with pytest.raises(CacheError, match="no features for this FeatureConfig"):
        load_features(dataset, cache_dir=cache, config=other)
    report = prepare(dataset, cache_dir=cache, config=other, progress=False)
    assert (report.n_computed, report.n_cached, report.n_segments) == (4, 0, 4 * 6)
    feats = load_features(dataset, cache_dir=cache, config=other)
    assert feats.logmel.shape == (24, 64, other.n_frames)
    assert feats.segment_index.tolist()[:6] == [0, 1, 2, 3, 4, 5]
    assert load_features(dataset, cache_dir=cache, config=CONFIG).logmel.shape[1] == 128
    assert sorted(c.digest() for c in cached_configs(cache)) == sorted(
        [CONFIG.digest(), other.digest()]
    )


def test_bad_files_are_skipped_with_reason_and_the_rest_finishes(data_dir, tmp_path):
    (data_dir / "bass" / "broken.wav").write_bytes(b"RIFF not really a wave file" * 10)
    _write_tone(data_dir / "treble" / "short.wav", freq=880.0, seconds=1.0)
    dataset = open_dataset(data_dir)
    report = prepare(dataset, cache_dir=tmp_path / "cache", config=CONFIG, progress=False)
    assert dict(report.skipped) == {"bass/broken": "undecodable", "treble/short": "too_short"}
    assert report.n_computed == 4 and report.n_segments == 8
    assert all(str(s.path) in s.message for s in report.skips)
    short = dict((s.track_id, s.message) for s in report.skips)["treble/short"]
    assert short.startswith(str(data_dir / "treble" / "short.wav")) and "waveform" not in short
    assert "bass/broken: undecodable" in report.summary()
    in_workers = prepare(dataset, cache_dir=tmp_path / "workers", config=CONFIG, progress=False,
                         jobs=2)
    assert in_workers.skips == report.skips and in_workers.n_computed == 4
    feats = load_features(dataset, cache_dir=tmp_path / "cache", config=CONFIG)
    assert len(feats) == 8 and sorted(feats.skipped) == ["bass/broken", "treble/short"]
    sub = feats.subset(["bass/broken", "treble/t1"])  # a skipped id is dropped silently
    assert sub.track_ids.tolist() == ["treble/t1"] * 2 and sub.labels.tolist() == [1, 1]
    assert sub.skipped == ("bass/broken",)
    with pytest.raises(ParameterError, match="nope"):
        feats.subset(["nope"])


def test_interrupted_run_resumes_with_only_the_rest(data_dir, tmp_path, monkeypatch):
    dataset = open_dataset(data_dir)
    cache = tmp_path / "cache"
    real = cache_mod._compute_track
    calls = []

    def flaky(path, *, config):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path, config=config)

    monkeypatch.setattr(cache_mod, "_compute_track", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    assert len(_entries(cache)) == 2  # finished tracks kept, nothing partial (no temp files)
    assert not list(config_dir(cache, CONFIG).rglob("*.tmp"))
    calls.clear()
    monkeypatch.setattr(cache_mod, "_compute_track", flaky)
    report = prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    assert (report.n_computed, report.n_cached) == (2, 2)
    assert [p.name for p in calls] == [t.path.name for t in dataset.tracks[2:]]
    assert len(load_features(dataset, cache_dir=cache, config=CONFIG)) == 8


def test_load_errors_name_the_problem(data_dir, tmp_path):
    dataset = open_dataset(data_dir)
    cache = tmp_path / "cache"
    prepare(dataset.subset(dataset.track_ids[:2]), cache_dir=cache, config=CONFIG,
            progress=False)
    with pytest.raises(CacheError, match=r"treble/t0 \(not prepared\)"):
        load_features(dataset, cache_dir=cache, config=CONFIG)
    prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    for entry in _entries(cache):
        entry.unlink()
    with pytest.raises(CacheError, match="missing or unreadable"):
        load_features(dataset, cache_dir=cache, config=CONFIG)
    dataset.tracks[0].path.unlink()
    with pytest.raises(CacheError, match=r"bass/t0 \(file missing\)"):
        load_features(dataset, cache_dir=cache, config=CONFIG)
    report = prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    assert report.skipped == [("bass/t0", "missing")] and report.n_computed == 3
    with pytest.raises(ParameterError, match="jobs=0"):
        prepare(dataset, cache_dir=cache, config=CONFIG, jobs=0)


def test_worker_processes_give_the_same_features(data_dir, tmp_path):
    dataset = open_dataset(data_dir)
    prepare(dataset, cache_dir=tmp_path / "a", config=CONFIG, progress=False)
    report = prepare(dataset, cache_dir=tmp_path / "b", config=CONFIG, progress=False, jobs=2)
    assert report.n_computed == 4
    a = load_features(dataset, cache_dir=tmp_path / "a", config=CONFIG)
    b = load_features(dataset, cache_dir=tmp_path / "b", config=CONFIG)
    np.testing.assert_array_equal(a.logmel, b.logmel)
    np.testing.assert_array_equal(a.track_ids, b.track_ids)


def test_cli_prepare(data_dir, tmp_path, capsys):
    args = ["prepare", "--data", str(data_dir), "--cache", str(tmp_path / "cache"),
            "--no-progress", "--n-mels", "64", "--segment-seconds", "2"]
    assert cli.main([*args, "--json", str(tmp_path / "report.json")]) == 0
    out = capsys.readouterr().out
    assert "4 computed, 0 cached, 0 skipped" in out
    config = FeatureConfig(n_mels=64, segment_seconds=2.0, segment_hop_seconds=2.0)
    assert json.loads((tmp_path / "report.json").read_text())["n_segments"] == 12
    assert load_features(open_dataset(data_dir), cache_dir=tmp_path / "cache",
                         config=config).logmel.shape == (12, 64, config.n_frames)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "0 computed, 4 cached" in out and "segments: 12 (all cached" in out
    assert cli.main([*args[:-2], "--segment-seconds", "60"]) == 1  # every track too short
    assert cli.main([*args, "--n-fft", "0"]) == 3
    assert "n_fft=0" in capsys.readouterr().err


def test_damaged_index_and_entry_are_rebuilt(data_dir, tmp_path):
    dataset = open_dataset(data_dir)
    cache = tmp_path / "cache"
    prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    (config_dir(cache, CONFIG) / "index.json").write_text("{ not json")
    with pytest.raises(CacheError, match="unreadable cache index"):
        load_features(dataset, cache_dir=cache, config=CONFIG)
    _entries(cache)[0].write_bytes(b"garbage")
    report = prepare(dataset, cache_dir=cache, config=CONFIG, progress=False)
    assert (report.n_computed, report.n_cached) == (1, 3)
    assert len(load_features(dataset, cache_dir=cache, config=CONFIG)) == 8
