import io
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrelens.audio import (
    check_waveform,
    load_audio,
    load_audio_native,
    segment_audio,
)
from genrelens.config import FeatureConfig
from genrelens.errors import AudioLoadError, ParameterError

SR = 22050

#: libsndfile (format, subtype) written for each ending libsndfile decodes.
SF_FORMATS = {
    ".wav": ("WAV", None), ".au": ("AU", None), ".aiff": ("AIFF", None), ".aif": ("AIFF", None),
    ".flac": ("FLAC", None), ".ogg": ("OGG", None), ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", None),
}


def _reason(path, sr=SR):
    with pytest.raises(AudioLoadError) as exc:
        load_audio(path, sr=sr)
    assert exc.value.path == str(path)
    assert str(path) in str(exc.value)
    return exc.value.reason


@pytest.mark.parametrize("ext", SF_FORMATS)
def test_every_format_loads_as_float32_mono(tmp_path, ext):
    fmt, subtype = SF_FORMATS[ext]
    rate = 48000 if subtype == "OPUS" else SR  # Opus encodes 8, 12, 16, 24 or 48 kHz only
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(rate) / rate)
    path = tmp_path / f"a{ext}"
    sf.write(path, tone.astype(np.float32), rate, format=fmt, subtype=subtype)
    y = load_audio(path, sr=SR)
    assert y.dtype == np.float32 and y.ndim == 1
    # lossy codecs add encoder delay/padding; lossless ones are exact in length
    if ext in (".wav", ".au", ".aiff", ".aif", ".flac"):
        assert y.shape == (SR,)
        expected = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(SR) / SR)
        np.testing.assert_allclose(y, expected, atol=1e-4)
    else:
        assert abs(y.shape[0] - SR) < 0.1 * SR
        assert 0.3 < np.max(np.abs(y)) < 0.7


def test_stereo_is_averaged_to_mono(tmp_path):
    left = np.full(1000, 0.2, dtype=np.float32)
    right = np.full(1000, -0.6, dtype=np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), SR, subtype="FLOAT")
    y = load_audio(tmp_path / "s.wav", sr=SR)
    np.testing.assert_allclose(y, -0.2, atol=1e-7)


def test_resampling_keeps_duration_and_pitch(tmp_path, make_wav):
    path = make_wav(tmp_path / "a.wav", seconds=2.0, sr=44100, freq=1000.0)
    y = load_audio(path, sr=16000)
    assert y.dtype == np.float32 and y.shape == (32000,)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert np.argmax(spectrum) * 16000 / y.size == pytest.approx(1000.0, abs=1.0)
    assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.5, abs=0.01)


def test_native_rate_is_kept(tmp_path, make_wav):
    path = make_wav(tmp_path / "a.wav", seconds=1.0, sr=8000)
    y, rate = load_audio_native(path)
    assert rate == 8000 and y.shape == (8000,)
    assert load_audio(path, sr=None).shape == (8000,)


def test_missing_empty_and_undecodable_files(tmp_path):
    assert _reason(tmp_path / "none.wav") == "missing"
    (tmp_path / "empty.wav").write_bytes(b"")
    assert _reason(tmp_path / "empty.wav") == "empty"
    (tmp_path / "junk.mp3").write_bytes(b"this is not audio at all" * 10)
    assert _reason(tmp_path / "junk.mp3") == "undecodable"
    (tmp_path / "dir.wav").mkdir()
    assert _reason(tmp_path / "dir.wav") == "not_a_file"


def test_header_without_samples_is_empty(tmp_path):
    sf.write(tmp_path / "z.wav", np.zeros((0,), dtype=np.float32), SR)
    assert _reason(tmp_path / "z.wav") == "empty"


@pytest.mark.parametrize("ext", [".wav", ".au", ".flac", ".mp3"])
def test_truncated_files(tmp_path, make_wav, ext):
    path = make_wav(tmp_path / f"t{ext}", seconds=2.0, noise=0.1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert _reason(path) == "truncated"


def test_streamed_wav_with_unknown_size_loads(tmp_path, make_wav):
    # writers that stream set the data size to 0xFFFFFFFF: not truncation
    path = make_wav(tmp_path / "s.wav", seconds=1.0)
    data = bytearray(path.read_bytes())
    pos = data.index(b"data")
    data[pos + 4 : pos + 8] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    assert load_audio(path, sr=SR).shape == (SR,)


def test_silent_and_non_finite_audio(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    assert _reason(tmp_path / "silent.wav") == "silent"
    y = np.full(SR, 0.1, dtype=np.float32)
    y[100] = np.nan
    sf.write(tmp_path / "nan.wav", y, SR, subtype="FLOAT")
    assert _reason(tmp_path / "nan.wav") == "non_finite"
    y[100] = np.inf
    sf.write(tmp_path / "inf.wav", y, SR, subtype="FLOAT")
    assert _reason(tmp_path / "inf.wav") == "non_finite"


def test_check_waveform_accepts_quiet_audio():
    check_waveform(np.full(10, 2e-6, dtype=np.float32))
    with pytest.raises(AudioLoadError) as exc:
        check_waveform(np.full(10, 5e-7, dtype=np.float32))
    assert exc.value.reason == "silent" and exc.value.path is None


def test_bad_sr_is_a_parameter_error(tmp_path, make_wav):
    path = make_wav(tmp_path / "a.wav", seconds=0.5)
    for bad in (0, -1, 22050.0, True):
        with pytest.raises(ParameterError, match="sr="):
            load_audio(path, sr=bad)


@pytest.mark.parametrize(
    ("seconds", "expected"), [(29.9, 9), (30.0, 10), (30.7, 10), (3.0, 1), (5.99, 1)]
)
def test_segment_count_drops_partial_segment(seconds, expected):
    config = FeatureConfig()
    y = np.arange(int(round(seconds * config.sr)), dtype=np.float32)
    segments = segment_audio(y, config=config)
    assert segments.shape == (expected, config.segment_samples)
    # segments are consecutive slices of the waveform
    np.testing.assert_array_equal(segments[:, 0], np.arange(expected) * config.segment_samples)
    np.testing.assert_array_equal(segments[-1], y[(expected - 1) * 66150 : expected * 66150])


def test_segment_hop():
    config = FeatureConfig(segment_seconds=3.0, segment_hop_seconds=1.5)
    y = np.arange(int(10 * config.sr), dtype=np.float32)
    segments = segment_audio(y, config=config)
    # floor((220500 - 66150) / 33075) + 1 = 5
    assert segments.shape == (5, 66150)
    np.testing.assert_array_equal(segments[:, 0], np.arange(5) * 33075)


def test_segment_too_short_and_bad_shape():
    config = FeatureConfig()
    with pytest.raises(AudioLoadError) as exc:
        segment_audio(np.ones(config.segment_samples - 1, dtype=np.float32), config=config)
    assert exc.value.reason == "too_short" and exc.value.path is None
    with pytest.raises(AudioLoadError, match=r"^x\.wav: 66149 samples \(3\.00 s\)") as exc:
        segment_audio(np.ones(66149), config=config, path="x.wav")
    assert exc.value.path == "x.wav"
    assert segment_audio(np.ones(config.segment_samples), config=config).shape == (1, 66150)
    with pytest.raises(ParameterError, match="shape"):
        segment_audio(np.ones((2, 70000)), config=config)


# ------------------------------------------------------------------ property-based robustness


def _valid_bytes(ext):
    rng = np.random.default_rng(0)
    y = (0.3 * rng.standard_normal((2000, 2))).astype(np.float32)
    buf = io.BytesIO()
    fmt, subtype = SF_FORMATS[ext]
    sf.write(buf, y, 8000, format=fmt, subtype=subtype)
    return buf.getvalue()


_VALID = {ext: _valid_bytes(ext) for ext in SF_FORMATS}


@st.composite
def _mangled(draw):
    ext = draw(st.sampled_from(sorted(SF_FORMATS)))
    kind = draw(st.sampled_from(["random", "truncate", "flip", "splice"]))
    data = bytearray(_VALID[ext])
    if kind == "random":
        data = bytearray(draw(st.binary(max_size=4096)))
        if draw(st.booleans()):  # keep a plausible magic number so decoders go further
            data[:0] = _VALID[ext][:4]
    elif kind == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 20))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
    else:
        pos = draw(st.integers(0, len(data)))
        data[pos:pos] = draw(st.binary(min_size=1, max_size=256))
    return ext, bytes(data)


@pytest.mark.timeout(180)
@settings(
    max_examples=300,
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=_mangled())
def test_mangled_bytes_load_or_raise_audio_load_error(tmp_path_factory, case):
    ext, data = case
    path = tmp_path_factory.getbasetemp() / f"fuzz{ext}"
    path.write_bytes(data)
    try:
        y = load_audio(path, sr=16000)
    except AudioLoadError as exc:
        assert exc.reason in {"empty", "truncated", "undecodable", "silent", "non_finite",
                              "too_long"}
        return
    assert y.dtype == np.float32 and y.ndim == 1 and y.size > 0
    assert np.all(np.isfinite(y))


def test_audioread_fallback_when_libsndfile_cannot_open(tmp_path, make_wav, monkeypatch):
    import genrelens.audio as audio

    path = make_wav(tmp_path / "a.wav", seconds=0.5, sr=8000, subtype="PCM_16")

    def refuse(p):
        raise RuntimeError("Format not recognised")

    monkeypatch.setattr(audio, "_decode_soundfile", refuse)
    y, rate = load_audio_native(path)
    assert rate == 8000 and y.shape == (4000,)
    expected = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(4000) / 8000)
    np.testing.assert_allclose(y, expected, atol=1e-4)
    (tmp_path / "b.wav").write_bytes(b"RIFF\x04\x00\x00\x00WAVE garbage")
    with pytest.raises(AudioLoadError, match="Format not recognised") as exc:
        load_audio(tmp_path / "b.wav", sr=8000)
    assert exc.value.reason == "undecodable"


def test_unreadable_file_is_an_audio_load_error(tmp_path, make_wav, monkeypatch):
    import genrelens.audio as audio

    path = make_wav(tmp_path / "a.wav", seconds=0.5)

    def denied(p, size):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(audio, "_check_declared_size", denied)
    with pytest.raises(AudioLoadError, match="Permission denied.*permissions") as exc:
        load_audio(path, sr=SR)
    assert exc.value.reason == "undecodable"
