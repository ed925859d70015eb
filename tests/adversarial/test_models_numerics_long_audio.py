"""Long audio: a documented maximum duration (raised by an option) and bounded memory while
decoding, resampling and cutting a file into segments."""

import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch

from genrelens import audio, cli
from genrelens.config import FeatureConfig
from genrelens.errors import AudioLoadError, ParameterError
from genrelens.models import get_model, save_checkpoint

CONFIG = FeatureConfig(
    sr=8000, n_fft=512, hop_length=128, n_mels=16, segment_seconds=1.0, segment_hop_seconds=1.0
)


def _quiet(path, *, seconds, sr=8000, seed=0):
    """Near-silence (one 16-bit step of noise): compresses well, decodes to many samples."""
    n = int(seconds * sr)
    sf.write(path, np.random.default_rng(seed).integers(-2, 3, n).astype(np.int16), sr,
             subtype="PCM_16")
    return path


def test_default_maximum_is_thirty_minutes_refused_from_the_header(tmp_path):
    assert audio.MAX_SECONDS == 1800.0
    path = _quiet(tmp_path / "long.flac", seconds=audio.MAX_SECONDS + 5, sr=1000)
    with pytest.raises(AudioLoadError, match="longer than the maximum duration of 1800 s") as e:
        audio.load_audio_native(path)
    assert e.value.reason == "too_long" and "long.flac" in str(e.value)
    assert "its header gives 1805 s" in str(e.value) and "--max-duration" in str(e.value)


def test_a_header_that_understates_the_length_is_caught_while_decoding(tmp_path, monkeypatch):
    real = audio._decode_soundfile
    monkeypatch.setattr(audio, "_decode_soundfile", lambda p: (*real(p)[:2], None))
    path = _quiet(tmp_path / "six.flac", seconds=6)
    with pytest.raises(AudioLoadError, match="found while decoding") as e:
        list(audio.iter_segments(path, config=CONFIG, max_seconds=5))
    assert e.value.reason == "too_long"


def test_max_seconds_raises_or_lowers_the_limit(tmp_path, monkeypatch):
    path = _quiet(tmp_path / "six.flac", seconds=6)
    with pytest.raises(AudioLoadError, match="six.flac") as e:
        audio.load_audio(path, sr=8000, max_seconds=5)
    assert e.value.reason == "too_long"
    assert audio.load_audio(path, sr=8000, max_seconds=7).shape == (48000,)
    monkeypatch.setenv(audio.MAX_SECONDS_ENV, "5")
    with pytest.raises(AudioLoadError, match="too_long|maximum duration of 5 s"):
        audio.load_segments(path, config=CONFIG)
    monkeypatch.setenv(audio.MAX_SECONDS_ENV, "soon")
    with pytest.raises(ParameterError, match=f"{audio.MAX_SECONDS_ENV}='soon' is invalid"):
        audio.load_segments(path, config=CONFIG)


@pytest.mark.parametrize("native_sr", [8000, 11025])
@pytest.mark.parametrize("seconds,hop", [(1.0, 1.0), (1.0, 0.4), (0.5, 0.9)])
def test_streamed_segments_equal_the_whole_file_ones(tmp_path, native_sr, seconds, hop):
    config = FeatureConfig(sr=8000, n_fft=512, hop_length=128, n_mels=16,
                           segment_seconds=seconds, segment_hop_seconds=hop)
    y = 0.3 * np.random.default_rng(1).standard_normal((int(native_sr * 5.3), 2))
    path = tmp_path / "a.flac"
    sf.write(path, y.astype(np.float32), native_sr)
    expected = audio.segment_audio(audio.load_audio(path, sr=8000), config=config)
    for batch in (1, 3, 64):
        got = list(audio.iter_segments(path, config=config, batch_segments=batch))
        assert max(len(b) for b in got) <= batch
        np.testing.assert_array_equal(np.concatenate(got), expected)


def _streaming_peak(path):
    tracemalloc.start()
    try:
        n = sum(len(b) for b in audio.iter_segments(path, config=CONFIG, batch_segments=2))
        return n, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_the_file(tmp_path):
    n_short, peak_short = _streaming_peak(_quiet(tmp_path / "one.flac", seconds=60))
    n_long, peak_long = _streaming_peak(_quiet(tmp_path / "four.flac", seconds=240))
    assert (n_short, n_long) == (60, 240)
    decoded = 240 * 8000 * 4  # 7.7 MB of float32: never held at once
    assert peak_long < decoded / 4
    assert peak_long < 1.5 * peak_short


def test_segment_audio_allocates_only_its_output():
    y = np.ones(200 * CONFIG.segment_samples, np.float32)
    tracemalloc.start()
    try:
        out = audio.segment_audio(y, config=CONFIG)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (200, CONFIG.segment_samples)
    assert peak < 1.2 * out.nbytes  # no index matrix of int64 beside the copy


def test_cli_predict_refuses_a_long_file_unless_the_option_raises_the_limit(tmp_path, capsys):
    torch.manual_seed(0)
    args = {"n_classes": 2, "channels": [2, 2, 2, 2]}
    save_checkpoint(tmp_path / "run" / "checkpoint.pt", model=get_model("cnn", **args).eval(),
                    model_name="cnn", model_args=args, feature_config=CONFIG,
                    class_names=("a", "b"))
    path = _quiet(tmp_path / "long.flac", seconds=6)
    run = str(tmp_path / "run")
    assert cli.main(["--max-duration", "5", "predict", run, str(path)]) == 1
    captured = capsys.readouterr()
    assert "long.flac (too_long)" in captured.err and captured.out == ""
    assert cli.main(["--max-duration", "7", "predict", run, str(path)]) == 0
    assert "long.flac: " in capsys.readouterr().out
    assert cli.main(["--max-duration", "0", "predict", run, str(path)]) == 3
    assert "--max-duration=0.0 is invalid" in capsys.readouterr().err
