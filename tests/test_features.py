import dataclasses

import numpy as np
import pytest
import torch

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.features import (
    LogMel,
    hz_to_mel,
    istft,
    log_mel,
    mel_band_edges,
    mel_filterbank,
    mel_frequencies,
    mel_power_from_stft,
    mel_to_hz,
    power_to_db,
    stft,
)

DEFAULT = FeatureConfig()
OTHER = FeatureConfig(
    sr=16000, n_fft=1024, hop_length=256, n_mels=64, fmin=50.0, fmax=7000.0, amin=1e-8, ref=0.5
)
TINY = FeatureConfig(sr=800, n_fft=32, hop_length=8, n_mels=4, segment_seconds=0.1)


def _music(sr: int, *, seconds: float, noise: float, seed: int) -> np.ndarray:
    """Harmonic tones (three voices, 7 partials each) + white noise, with two silent gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for f0, amp in [(110.0, 0.5), (440.0, 0.3), (1234.5, 0.2)]:
        for h in range(1, 8):
            if f0 * h < sr / 2:
                y += amp / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    y += noise * rng.standard_normal(t.size)
    y[int(0.3 * t.size) : int(0.38 * t.size)] = 0.0
    y[int(0.7 * t.size) : int(0.72 * t.size)] = 0.0
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


SIGNALS = {
    "noisy": dict(noise=1e-2, seed=0),
    "quiet-noise": dict(noise=1e-4, seed=1),
    "pure-tones": dict(noise=0.0, seed=2),
}


@pytest.fixture(scope="module")
def reference():
    """Every librosa computation of this module, once (librosa's first call compiles numba)."""
    librosa = pytest.importorskip("librosa")
    out = {}
    for cfg_name, cfg in [("default", DEFAULT), ("other", OTHER)]:
        out[cfg_name, "filterbank"] = librosa.filters.mel(
            sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax,
            dtype=np.float64,
        )
        out[cfg_name, "mel_frequencies"] = librosa.mel_frequencies(
            n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax_hz
        )
        for sig_name, kw in SIGNALS.items():
            y = _music(cfg.sr, seconds=4.0, **kw)
            for precision in ("float64", "float32"):
                mel = librosa.feature.melspectrogram(
                    y=y.astype(precision), sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                    n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0,
                )
                out[cfg_name, sig_name, precision] = (
                    y,
                    librosa.power_to_db(mel, ref=cfg.ref, amin=cfg.amin, top_db=None),
                )
        y = _music(cfg.sr, seconds=1.0, noise=1e-3, seed=3).astype(np.float64)
        out[cfg_name, "stft"] = (y, librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length))
    return out


# --------------------------------------------------------------------------- mel scale


def test_mel_scale_analytic_points():
    # Slaney: 3 mels per 200 Hz below 1 kHz (1 kHz = 15 mel), 27 mels per factor 6.4 above.
    np.testing.assert_allclose(hz_to_mel([0.0, 200.0, 1000.0, 6400.0]), [0.0, 3.0, 15.0, 42.0])
    hz = np.array([0.0, 31.0, 999.0, 1000.0, 1001.0, 11025.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("cfg_name, cfg", [("default", DEFAULT), ("other", OTHER)])
def test_filterbank_and_frequencies_match_librosa(reference, cfg_name, cfg):
    fb = mel_filterbank(cfg)
    assert fb.shape == (cfg.n_mels, 1 + cfg.n_fft // 2) and fb.dtype == np.float64
    np.testing.assert_allclose(fb, reference[cfg_name, "filterbank"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        mel_frequencies(cfg), reference[cfg_name, "mel_frequencies"][1:-1], rtol=1e-12
    )
    edges = mel_band_edges(cfg)
    assert edges[0] == pytest.approx(cfg.fmin) and edges[-1] == pytest.approx(cfg.fmax_hz)
    # Each filter peaks at its centre frequency, and is zero outside its two edges.
    bins_hz = np.arange(fb.shape[1]) * cfg.sr / cfg.n_fft
    for m in (3, cfg.n_mels // 2, cfg.n_mels - 1):
        inside = (bins_hz > edges[m]) & (bins_hz < edges[m + 2])
        assert np.all(fb[m, ~inside] == 0) and np.all(fb[m, inside] > 0)


def test_filterbank_is_a_fresh_copy():
    fb = mel_filterbank(DEFAULT)
    fb[:] = 0
    assert mel_filterbank(DEFAULT).max() > 0


# --------------------------------------------------------------------------- log-mel vs librosa


@pytest.mark.parametrize("signal", list(SIGNALS))
@pytest.mark.parametrize("cfg_name, cfg", [("default", DEFAULT), ("other", OTHER)])
def test_log_mel_matches_librosa_within_1e3_db(reference, signal, cfg_name, cfg):
    y, ref64 = reference[cfg_name, signal, "float64"]
    _, ref32 = reference[cfg_name, signal, "float32"]
    out = log_mel(y, config=cfg)
    assert out.shape == ref64.shape and out.dtype == np.float32
    # Required: within 1e-3 dB. Measured: against librosa run in float64, float32 output
    # rounding only (< 1e-5 dB); float64 output leaves librosa's float32 filterbank (4e-7 dB).
    assert np.abs(out - ref64).max() < 2e-5
    assert np.abs(log_mel(y.astype(np.float64), config=cfg) - ref64).max() < 1e-6
    # Against librosa on the same float32 samples (its own float32 FFT rounding included).
    assert np.abs(out - ref32).max() < 5e-5
    # The signals reach the floor (silent gaps) and loud bands: the whole range was compared.
    assert out.min() == pytest.approx(cfg.floor_db, abs=1e-4) and out.max() > cfg.floor_db + 90


def test_stft_matches_librosa(reference):
    for cfg_name, cfg in [("default", DEFAULT), ("other", OTHER)]:
        y, expected = reference[cfg_name, "stft"]
        spec = stft(y, config=cfg)
        assert spec.dtype == np.complex128 and spec.shape == expected.shape
        np.testing.assert_allclose(spec, expected, rtol=0, atol=1e-9 * np.abs(expected).max())


# --------------------------------------------------------------------------- analytic cases


def test_silence_is_the_floor_and_ref_shifts_db():
    zeros = np.zeros(DEFAULT.segment_samples, dtype=np.float32)
    np.testing.assert_array_equal(log_mel(zeros, config=DEFAULT), np.float32(DEFAULT.floor_db))
    y = _music(DEFAULT.sr, seconds=1.0, noise=1e-2, seed=4)
    shifted = FeatureConfig(ref=10.0)
    base, other = log_mel(y, config=DEFAULT), log_mel(y, config=shifted)
    loud = base > -60  # far above the floor, where amin does not act
    np.testing.assert_allclose(other[loud], base[loud] - 10.0, atol=2e-5)


def test_sine_power_lands_in_its_band():
    cfg = DEFAULT
    freq = 2000.0
    t = np.arange(cfg.segment_samples) / cfg.sr
    out = log_mel(np.sin(2 * np.pi * freq * t), config=cfg)
    centre_band = int(np.argmin(np.abs(mel_frequencies(cfg) - freq)))
    loudest = out[:, 10:-10].mean(axis=1).argmax()
    assert abs(int(loudest) - centre_band) <= 1


def test_power_to_db_values():
    power = np.array([0.0, 1e-12, 1e-10, 1.0, 100.0])
    np.testing.assert_allclose(
        power_to_db(power, config=DEFAULT), [-100.0, -100.0, -100.0, 0.0, 20.0], atol=1e-12
    )
    out = power_to_db(torch.tensor([1.0, 10.0]), config=FeatureConfig(ref=10.0))
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, torch.tensor([-10.0, 0.0]))
    np.testing.assert_allclose(power_to_db(np.array([1, 10]), config=DEFAULT), [0.0, 10.0])


# --------------------------------------------------------------------------- array behaviour


def test_segment_gives_config_n_frames():
    y = _music(DEFAULT.sr, seconds=3.0, noise=1e-2, seed=5)[: DEFAULT.segment_samples]
    assert log_mel(y, config=DEFAULT).shape == (DEFAULT.n_mels, DEFAULT.n_frames) == (128, 130)
    assert log_mel(y[:1000], config=OTHER).shape == (OTHER.n_mels, 1 + 1000 // OTHER.hop_length)


def test_batched_equals_per_item_and_leading_dims_kept():
    rng = np.random.default_rng(6)
    y = rng.standard_normal((2, 3, 4000)).astype(np.float32) * np.float32(0.1)
    out = log_mel(y, config=OTHER)
    assert out.shape == (2, 3, OTHER.n_mels, 1 + 4000 // OTHER.hop_length)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(out[i, j], log_mel(y[i, j], config=OTHER), atol=1e-5)


def test_array_types_and_dtypes_round_trip():
    y = np.random.default_rng(7).standard_normal(3000).astype(np.float32)
    out_np = log_mel(y, config=OTHER)
    out_t = log_mel(torch.from_numpy(y), config=OTHER)
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    np.testing.assert_array_equal(out_np, out_t.numpy())
    out64 = log_mel(y.astype(np.float64), config=OTHER)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, out_np, atol=2e-5)
    ints = (y * 1000).astype(np.int16)
    np.testing.assert_allclose(
        log_mel(ints, config=OTHER), log_mel(ints.astype(np.float32), config=OTHER), atol=0
    )
    assert stft(y, config=OTHER).dtype == np.complex64
    assert stft(torch.from_numpy(y), config=OTHER).dtype == torch.complex64


def test_log_mel_equals_power_to_db_of_mel_power_of_stft():
    y = _music(DEFAULT.sr, seconds=2.0, noise=1e-3, seed=8).astype(np.float64)
    composed = power_to_db(mel_power_from_stft(stft(y, config=DEFAULT), config=DEFAULT),
                           config=DEFAULT)
    np.testing.assert_allclose(composed, log_mel(y, config=DEFAULT), atol=1e-9)
    spec = stft(y, config=DEFAULT)
    dense = mel_filterbank(DEFAULT) @ (spec.real**2 + spec.imag**2)
    np.testing.assert_allclose(mel_power_from_stft(spec, config=DEFAULT), dense, rtol=1e-12,
                               atol=1e-14 * dense.max())
    spec32 = stft(torch.from_numpy(y.astype(np.float32)), config=DEFAULT)
    mel32 = mel_power_from_stft(spec32, config=DEFAULT)
    assert mel32.dtype == torch.float32 and mel32.shape == (128, 1 + y.size // 512)


# --------------------------------------------------------------------------- module, gradients


def test_module_equals_function_and_keeps_buffers_out_of_state_dict():
    module = LogMel(OTHER)
    y = torch.from_numpy(_music(OTHER.sr, seconds=1.0, noise=1e-2, seed=9)).reshape(2, -1)
    torch.testing.assert_close(module(y), log_mel(y, config=OTHER), rtol=0, atol=0)
    assert module.state_dict() == {}
    assert set(dict(module.named_buffers())) == {"window", "filterbank"}
    assert module.filterbank.shape == (OTHER.n_mels, 1 + OTHER.n_fft // 2)
    assert "n_mels=64" in repr(module)
    module = module.float()  # buffers become float32: the STFT still runs in float64
    torch.testing.assert_close(module(y), log_mel(y, config=OTHER), rtol=1e-6, atol=1e-5)


def test_gradient_flows_and_passes_gradcheck():
    y = torch.randn(2, 40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: log_mel(x, config=TINY), (y,), eps=1e-6, atol=1e-5)
    y32 = torch.randn(TINY.segment_samples, requires_grad=True)
    LogMel(TINY)(y32).sum().backward()
    assert y32.grad is not None and y32.grad.dtype == torch.float32
    assert torch.isfinite(y32.grad).all() and y32.grad.abs().sum() > 0


# --------------------------------------------------------------------------- inverse STFT


@pytest.mark.parametrize("cfg", [DEFAULT, OTHER, TINY])
def test_istft_inverts_stft(cfg):
    rng = np.random.default_rng(10)
    y = rng.standard_normal((2, 5 * cfg.n_fft + 37))
    back = istft(stft(y, config=cfg), config=cfg, length=y.shape[-1])
    assert back.shape == y.shape and back.dtype == np.float64
    np.testing.assert_allclose(back, y, atol=1e-10)
    y32 = torch.from_numpy(y.astype(np.float32))
    back32 = istft(stft(y32, config=cfg), config=cfg, length=y.shape[-1])
    assert back32.dtype == torch.float32
    torch.testing.assert_close(back32, y32, rtol=0, atol=2e-6)


def test_istft_of_masked_stft_keeps_only_the_masked_band():
    cfg = DEFAULT
    t = np.arange(cfg.sr) / cfg.sr
    low, high = np.sin(2 * np.pi * 200 * t), 0.5 * np.sin(2 * np.pi * 3000 * t)
    spec = stft(low + high, config=cfg)
    bins_hz = np.arange(spec.shape[0]) * cfg.sr / cfg.n_fft
    kept = istft(spec * (bins_hz < 1000)[:, None], config=cfg, length=t.size)
    np.testing.assert_allclose(kept[2048:-2048], low[2048:-2048], atol=1e-3)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ([0.0, 1.0], "type list"),
        (np.zeros(0, dtype=np.float32), "n_samples >= 1"),
        (np.zeros(10, dtype=np.complex64), "real-valued"),
        (np.zeros(10, dtype=bool), "real-valued"),
    ],
)
def test_log_mel_rejects_bad_waveforms(bad, fragment):
    with pytest.raises(ParameterError, match=fragment):
        log_mel(bad, config=DEFAULT)
    with pytest.raises(ParameterError):
        stft(bad, config=DEFAULT)


def test_spectral_functions_reject_bad_input():
    spec = stft(np.zeros(4096), config=DEFAULT)
    with pytest.raises(ParameterError, match="spec has dtype"):
        istft(spec[:-1], config=DEFAULT, length=4096)
    with pytest.raises(ParameterError, match="spec has dtype"):
        istft(np.abs(spec), config=DEFAULT, length=4096)
    with pytest.raises(ParameterError, match="length=0"):
        istft(spec, config=DEFAULT, length=0)
    with pytest.raises(ParameterError, match="hop_length=2048"):
        istft(spec, config=FeatureConfig(hop_length=2048), length=4096)
    with pytest.raises(ParameterError, match="spec has dtype"):
        mel_power_from_stft(np.abs(spec), config=DEFAULT)
    with pytest.raises(ParameterError, match="power has dtype"):
        power_to_db(spec, config=DEFAULT)
    with pytest.raises(ParameterError, match="config has type"):
        LogMel({"sr": 22050})
    with pytest.raises(ParameterError, match="torch.Tensor"):
        LogMel(DEFAULT)(np.zeros(100))


def test_outputs_are_contiguous():
    y = np.random.default_rng(11).standard_normal((2, 3000)).astype(np.float32)
    assert log_mel(y, config=OTHER).flags["C_CONTIGUOUS"]
    assert stft(y, config=OTHER).flags["C_CONTIGUOUS"]
    assert log_mel(torch.from_numpy(y), config=OTHER).is_contiguous()


def test_empty_mel_filters_read_the_floor():
    # 60 bands over 4 kHz with 125-Hz FFT bins: the lowest filters fall between two bins.
    cfg = FeatureConfig(sr=8000, n_fft=64, hop_length=16, n_mels=60, segment_seconds=0.5)
    fb = mel_filterbank(cfg)
    empty = ~fb.any(axis=1)
    assert empty.any() and not empty.all()
    y = np.random.default_rng(12).standard_normal(4000)
    out = log_mel(y, config=cfg)
    spec = stft(y, config=cfg)
    dense = 10 * np.log10(np.maximum(fb @ np.abs(spec) ** 2, cfg.amin))
    np.testing.assert_allclose(out, dense, atol=1e-9)
    assert np.all(out[empty] == cfg.floor_db)


def test_float32_fft_precision_is_close_and_faster_path(reference):
    # fft_precision="float32": complex64 FFT. Measured on these signals: within 2e-4 dB on
    # music with noise, up to 0.16 dB on quiet bands of pure tones (float32 FFT rounding).
    cfg = dataclasses.replace(DEFAULT, fft_precision="float32")
    assert cfg.digest() != DEFAULT.digest()
    y, ref64 = reference["default", "noisy", "float64"]
    out = log_mel(y, config=cfg)
    assert out.dtype == np.float32 and out.shape == ref64.shape
    assert 0 < np.abs(out - ref64).max() < 1e-3
    _, tones = reference["default", "pure-tones", "float64"]
    assert np.abs(log_mel(_music(DEFAULT.sr, seconds=4.0, **SIGNALS["pure-tones"]),
                          config=cfg) - tones).max() < 0.5
    # float64 input keeps the float64 FFT (gradient checks stay exact).
    np.testing.assert_allclose(log_mel(y.astype(np.float64), config=cfg),
                               log_mel(y.astype(np.float64), config=DEFAULT), atol=1e-9)
    assert stft(y, config=cfg).dtype == np.complex64
    with pytest.raises(ParameterError, match="fft_precision='float16'"):
        FeatureConfig(fft_precision="float16")
