import numpy as np
import pytest
import soundfile as sf

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import components as C
from genrelens.explain.explanation import Explanation
from genrelens.explain.listen import (
    listenable,
    mel_to_stft_mask,
    resynthesize,
    wav_bytes,
    write_wav,
)
from genrelens.features import log_mel

CONFIG = FeatureConfig(
    sr=8000, n_fft=512, hop_length=128, n_mels=32, segment_seconds=1.0, segment_hop_seconds=1.0
)


def _audio(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(CONFIG.segment_samples) / CONFIG.sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1800 * t) * (t > 0.5)
    return (y + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def _snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    return 10 * np.log10(np.sum(ref**2) / np.sum((ref - estimate) ** 2))


def _components(kind: str, y: np.ndarray) -> C.Components:
    if kind == "time":
        return C.time_segments(config=CONFIG, n_segments=5)
    if kind == "frequency":
        return C.frequency_bands(config=CONFIG, n_bands=4)
    if kind == "tf_grid":
        return C.tf_grid(config=CONFIG, n_time=4, n_freq=4)
    return C.stems(y, config=CONFIG, n_segments=3)


def _explanation(comps: C.Components, y: np.ndarray, seed: int = 0) -> Explanation:
    scores = np.random.default_rng(seed).normal(size=(3, comps.n_components))
    return Explanation(
        method="lime",
        scores=scores,
        prediction=np.array([0.2, 0.5, 0.3]),
        logmel=log_mel(y, config=CONFIG),
        components=comps,
        class_names=("a", "b", "c"),
    )


KINDS = ["time", "frequency", "tf_grid", "stems"]


@pytest.mark.parametrize("kind", KINDS)
def test_all_components_give_the_original_and_none_give_silence(kind):
    y = _audio()
    comps = _components(kind, y)
    everything = resynthesize(comps, np.ones(comps.n_components), y=y)
    assert everything.dtype == np.float32 and everything.shape == y.shape
    assert _snr_db(y, everything) > 40
    nothing = resynthesize(comps, np.zeros(comps.n_components), y=y)
    assert np.abs(nothing).max() < 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_top_plus_rest_is_the_original(kind):
    y = _audio(1)
    comps = _components(kind, y)
    exp = _explanation(comps, y)
    res = listenable(exp, y, k=2, target="c")
    row = exp.scores[2]
    expected = [int(i) for i in np.argsort(-row)[:2] if row[i] > 0]
    assert res.kept == expected and res.target == 2 and res.sr == CONFIG.sr
    assert res.names == [comps.names[i] for i in expected]
    assert _snr_db(y, res.top + res.rest) > 40
    assert np.abs(res.top).max() > 0 and np.abs(res.rest).max() > 0


def test_time_components_are_audible_only_in_their_time_span():
    y = _audio(2)
    comps = C.time_segments(config=CONFIG, n_segments=4)
    keep = np.array([0.0, 0.0, 1.0, 0.0])
    out = resynthesize(comps, keep, y=y)
    start, end = (int(v * CONFIG.sr) for v in (comps.extents[2].start_s, comps.extents[2].end_s))
    margin = CONFIG.n_fft  # the window's spread at the edges
    inside = slice(start + margin, end - margin)
    np.testing.assert_allclose(out[inside], y[inside], atol=1e-4)
    assert np.abs(out[: max(0, start - margin)]).max() < 1e-6
    assert np.abs(out[end + margin :]).max() < 1e-6


def test_frequency_band_keeps_its_tone():
    y = _audio(3)
    comps = C.frequency_bands(config=CONFIG, edges_hz=[0, 1000, 4000])
    low = resynthesize(comps, np.array([1.0, 0.0]), y=y)
    spectrum = np.abs(np.fft.rfft(low))
    freqs = np.fft.rfftfreq(low.size, 1 / CONFIG.sr)
    assert spectrum[np.argmin(np.abs(freqs - 220))] > 50 * spectrum[np.argmin(np.abs(freqs - 1800))]


def test_uncovered_cells_count_as_rest():
    y = _audio(4)
    cmap = np.full((CONFIG.n_mels, CONFIG.n_frames), -1)
    cmap[:, :10] = 0
    comps = C.from_map(cmap, config=CONFIG)
    exp = _explanation(comps, y)
    res = listenable(exp, y, k=1, target=int(np.argmax(exp.scores[:, 0])))
    assert _snr_db(y, res.top + res.rest) > 40


def test_mel_to_stft_mask_is_a_row_stochastic_linear_map():
    ones = mel_to_stft_mask(np.ones((CONFIG.n_mels, 7)), config=CONFIG)
    assert ones.shape == (1 + CONFIG.n_fft // 2, 7)
    np.testing.assert_allclose(ones, 1.0, rtol=1e-12)
    rng = np.random.default_rng(0)
    a, b = rng.random((2, CONFIG.n_mels, 7))
    np.testing.assert_allclose(
        mel_to_stft_mask(a + b, config=CONFIG),
        mel_to_stft_mask(a, config=CONFIG) + mel_to_stft_mask(b, config=CONFIG),
        rtol=1e-12,
    )
    one_band = np.zeros((CONFIG.n_mels, 1))
    one_band[5] = 1
    lin = mel_to_stft_mask(one_band, config=CONFIG)[:, 0]
    assert np.all((lin >= 0) & (lin <= 1)) and lin.max() > 0.3 and lin[0] == 0


def test_dense_explanations_keep_the_top_cells():
    y = _audio(5)
    logmel = log_mel(y, config=CONFIG)
    scores = np.zeros((2, *logmel.shape))
    scores[1, :10, :] = 1.0  # the lowest mel bins
    exp = Explanation(method="ig", scores=scores, prediction=np.array([0.4, 0.6]), logmel=logmel)
    res = listenable(exp, y, fraction=0.5, config=CONFIG)
    assert res.kept == [] and "cells" in res.names[0]
    assert _snr_db(y, res.top + res.rest) > 40
    with pytest.raises(ParameterError, match="config="):
        listenable(exp, y)
    with pytest.raises(ParameterError, match="fraction"):
        listenable(exp, y, fraction=0.0, config=CONFIG)


def test_no_positive_component_gives_silent_top():
    y = _audio(6)
    comps = C.time_segments(config=CONFIG, n_segments=3)
    exp = Explanation(
        method="lime",
        scores=-np.ones((2, 3)),
        prediction=np.array([0.5, 0.5]),
        logmel=log_mel(y, config=CONFIG),
        components=comps,
    )
    res = listenable(exp, y)
    assert res.kept == [] and np.abs(res.top).max() < 1e-6
    assert _snr_db(y, res.rest) > 40


def test_error_paths():
    y = _audio()
    comps = C.time_segments(config=CONFIG, n_segments=3)
    exp = _explanation(comps, y)
    with pytest.raises(ParameterError, match="y= "):
        listenable(exp)
    with pytest.raises(ParameterError, match="STFT frames"):
        listenable(exp, y[:-1000])
    with pytest.raises(ParameterError, match="k=0"):
        listenable(exp, y, k=0)
    with pytest.raises(ParameterError, match="keep has shape"):
        resynthesize(comps, np.ones(2), y=y)
    with pytest.raises(ParameterError, match="mono"):
        listenable(exp, np.stack([y, y]))


def test_wav_files_round_trip(tmp_path):
    y = _audio()
    path = write_wav(tmp_path / "sub" / "top.wav", y, sr=CONFIG.sr)
    back, sr = sf.read(path, dtype="float32")
    assert sr == CONFIG.sr and np.abs(back - y).max() < 1 / 2**15 + 1e-7
    assert wav_bytes(y, sr=CONFIG.sr)[:4] == b"RIFF"
    assert [p.name for p in path.parent.iterdir()] == ["top.wav"]  # no temporary left behind
