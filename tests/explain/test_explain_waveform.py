"""Explaining models that read waveforms (:class:`genrelens.models.waveform.WaveformModel`):
components edited in the STFT domain, resynthesised, passed through the model's own front end."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import genrelens
from genrelens import features
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import components as C
from genrelens.explain import explain
from genrelens.explain.engine import evaluate_masks, mask_inputs
from genrelens.explain.explanation import Explanation
from genrelens.explain.fill import resolve_stft_fill
from genrelens.models import waveform as waveform_mod
from genrelens.models.waveform import WaveformModel

SR = 8000
#: Short windows (32 ms) so that a time span of the waveform maps onto whole frames.
CONFIG = FeatureConfig(sr=SR, n_fft=256, hop_length=64, n_mels=32, segment_seconds=1.0,
                       segment_hop_seconds=1.0)
N = SR  # one second
N_FRAMES = 1 + N // CONFIG.hop_length


def noise(seed: int = 0, n: int = N) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def band_energy(low: float, high: float):
    """Logit 0: the energy of ``[low, high)`` Hz, by the model's own FFT; logit 1: 0."""

    def fn(waveforms: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(waveforms.to(torch.float64), dim=1)
        hz = torch.fft.rfftfreq(waveforms.shape[1], 1 / SR)
        energy = (spectrum.abs() ** 2 * ((hz >= low) & (hz < high))).sum(1) / waveforms.shape[1]
        return torch.stack([energy, torch.zeros_like(energy)], dim=1)

    return fn


def span_energy(start_s: float, stop_s: float):
    """Logit 0: the energy of the samples in ``[start_s, stop_s)`` seconds; logit 1: 0."""

    def fn(waveforms: torch.Tensor) -> torch.Tensor:
        part = waveforms[:, int(start_s * SR):int(stop_s * SR)].to(torch.float64)
        energy = part.pow(2).sum(1)
        return torch.stack([energy, torch.zeros_like(energy)], dim=1)

    return fn


def test_band_model_puts_all_attribution_on_its_band():
    model = WaveformModel(band_energy(1200, 1800), sample_rate=SR, feature_config=CONFIG)
    comps = C.frequency_bands(config=CONFIG, n_frames=N_FRAMES,
                              edges_hz=[0, 600, 1000, 2000, 4000])
    y = noise()
    occ = explain(model, y, method="occlusion", components=comps, fill="min", output="raw")
    shap = explain(model, y, method="kernel_shap", components=comps, fill="min", output="raw",
                   n_samples=16)  # 2^4 coalitions: exact Shapley values
    full = band_energy(1200, 1800)(torch.from_numpy(y)[None])[0, 0].item()
    for exp in (occ, shap):
        scores = exp.scores[0]
        assert np.argmax(scores) == 2 and comps.names[2] == "f 1000-2000 Hz"
        # everything in the band: the band alone, resynthesised, carries the model's energy
        assert scores[2] == pytest.approx(full, rel=2e-3)
        assert np.abs(np.delete(scores, 2)).max() < 1e-3 * full
        np.testing.assert_array_equal(exp.scores[1], 0.0)
    # efficiency: f(all on) - f(all off = silence) = sum of Shapley values
    assert shap.scores[0].sum() == pytest.approx(full - shap.fit["base_value"][0], rel=1e-6)
    assert shap.params["input"] == "waveform" and shap.params["sample_rate"] == SR


def test_span_model_puts_all_attribution_on_its_time_segment():
    model = WaveformModel(span_energy(0.3, 0.45), sample_rate=SR, feature_config=CONFIG)
    comps = C.time_segments(config=CONFIG, n_frames=N_FRAMES, n_segments=4)
    y = noise(1)
    exp = explain(model, y, method="occlusion", components=comps, fill="min", output="raw")
    full = span_energy(0.3, 0.45)(torch.from_numpy(y)[None])[0, 0].item()
    # frames covering 0.3-0.45 s (centres 0.284-0.466 s) all lie in segment 1 (0.256-0.496 s)
    assert comps.extents[1].start_s < 0.284 and comps.extents[1].end_s > 0.466
    np.testing.assert_allclose(exp.scores[0], [0.0, full, 0.0, 0.0], atol=1e-5 * full)


def test_all_on_resynthesis_gives_back_the_waveform():
    y = noise(2)
    spec = np.asarray(features.stft(y, config=CONFIG))
    fill = resolve_stft_fill("texture", spec, config=CONFIG, rng=np.random.default_rng(0))
    for comps, f in ((C.tf_grid(config=CONFIG, n_frames=N_FRAMES, n_time=5, n_freq=4), fill),
                     (C.stems(y, config=CONFIG, n_segments=4), None)):
        ones = np.ones((1, comps.n_components), dtype=np.int8)
        back = mask_inputs(None, comps, ones, f, waveform=y)(0, 1)
        assert back.shape == (1, N) and back.dtype == torch.float32
        np.testing.assert_allclose(back[0].numpy(), y, atol=1e-5)


def test_outputs_do_not_depend_on_the_batch_size():
    model = WaveformModel(band_energy(300, 2500), sample_rate=SR, feature_config=CONFIG)
    y = noise(3)
    comps = C.tf_grid(config=CONFIG, n_frames=N_FRAMES, n_time=4, n_freq=3)
    fill = resolve_stft_fill("local_median", np.asarray(features.stft(y, config=CONFIG)),
                             config=CONFIG, rng=np.random.default_rng(0))
    z = np.random.default_rng(0).integers(0, 2, (9, comps.n_components))
    one = evaluate_masks(model, y, comps, z, fill=fill, batch_size=1, output="raw")
    many = evaluate_masks(model, y, comps, z, fill=fill, batch_size=4, output="raw")
    np.testing.assert_allclose(one.outputs, many.outputs, rtol=1e-6)
    assert one.outputs.shape == (9, 2)


def test_stft_fills_keep_the_clip_phase_and_silence_is_zero():
    y = noise(4)
    spec = np.asarray(features.stft(y, config=CONFIG))
    rng = np.random.default_rng(0)
    silent = resolve_stft_fill("min", spec, config=CONFIG, rng=rng)
    assert silent.array.shape == spec.shape and np.all(silent.array == 0)
    median = resolve_stft_fill("band_median", spec, config=CONFIG, rng=rng)
    level = 10 * np.log10(np.maximum(np.abs(spec) ** 2, CONFIG.amin))
    expected = np.sqrt(10 ** (np.median(level, axis=1, keepdims=True) / 10))
    np.testing.assert_allclose(np.abs(median.array), np.broadcast_to(expected, spec.shape),
                               rtol=1e-4)
    np.testing.assert_allclose(np.angle(median.array), np.angle(spec), atol=1e-4)
    assert median.params["domain"] == "stft"


def test_components_map_stft_bins_into_their_mel_rows():
    comps = C.frequency_bands(config=CONFIG, n_frames=N_FRAMES, edges_hz=[0, 1000, 4000])
    cells = comps.stft_map()
    hz = np.arange(1 + CONFIG.n_fft // 2) * SR / CONFIG.n_fft
    assert cells.shape == (1 + CONFIG.n_fft // 2, N_FRAMES)
    # the first mel row of the upper band starts midway between its centre and the one below
    centres = features.mel_frequencies(CONFIG)
    first = int(np.argmax(comps.map[:, 0] == 1))
    boundary = (centres[first - 1] + centres[first]) / 2
    assert 1000 < boundary < 1040
    np.testing.assert_array_equal(cells[:, 0], np.where(hz < boundary, 0, 1))
    with pytest.raises(ParameterError, match="stems"):
        C.stems(noise(), config=CONFIG, n_segments=2).stft_map()


def test_explanation_of_a_waveform_model_round_trips_and_shows_a_log_mel(tmp_path):
    model = WaveformModel(band_energy(1200, 1800), sample_rate=SR, feature_config=CONFIG,
                          class_names=("band", "none"))
    y = noise(5)
    exp = explain(model, y, method="lime", n_samples=100)  # default tf_grid: 80 components
    assert exp.class_names == ("band", "none") and exp.fill.kind == "texture"
    np.testing.assert_allclose(exp.logmel, features.log_mel(y, config=CONFIG), atol=1e-3)
    exp.save(tmp_path / "exp")
    back = Explanation.load(tmp_path / "exp")
    np.testing.assert_array_equal(back.fill.array, exp.fill.array)
    assert back.fill.array.dtype == np.complex64
    np.testing.assert_array_equal(back.scores, exp.scores)


def test_explain_file_explains_a_waveform_model(tmp_path, make_wav):
    energy = band_energy(300, 500)
    model = WaveformModel(lambda w: energy(w) * (20 / w.shape[1]),  # logits ~2.5: no saturation
                          sample_rate=SR, segment_seconds=1.0, class_names=("low", "none"))
    path = make_wav(tmp_path / "tone.wav", seconds=2.0, sr=SR, freq=400.0, noise=0.05)
    # "min": silence; a running-median fill would keep a steady tone (it is its own median)
    track = genrelens.explain_file(model, path, method="occlusion", kind="frequency",
                                   fill="min", batch_size=4)
    assert track.segment_index.tolist() == [0, 1] and "WaveformModel" in genrelens.__all__
    for exp in track.segments:
        assert exp.params["input"] == "waveform"
        (best,) = exp.top(1, target="low")
        tone_band = exp.components.extents[best.index]
        assert tone_band.low_hz <= 400.0 < tone_band.high_hz
        assert exp.scores[0, best.index] > 0.9 * np.abs(exp.scores[0]).sum()


def test_clear_errors():
    with pytest.raises(ParameterError, match="sample_rate"):
        WaveformModel(band_energy(0, 1), sample_rate=0)
    with pytest.raises(ParameterError, match="feature_config.sr=8000 differs from sample_rate"):
        WaveformModel(band_energy(0, 1), sample_rate=16000, feature_config=CONFIG)
    with pytest.raises(ParameterError, match="not callable"):
        WaveformModel("model", sample_rate=SR)
    model = WaveformModel(band_energy(0, 1000), sample_rate=SR, feature_config=CONFIG)
    y = noise()
    for method in ("gradcam", "ig"):
        with pytest.raises(ParameterError, match="black box on waveforms"):
            explain(model, y, method=method)
    with pytest.raises(ParameterError, match="mono waveform"):
        explain(model, np.zeros((32, N_FRAMES), np.float32), method="occlusion")
    other = C.time_segments(config=FeatureConfig(sr=16000, n_mels=32), n_frames=N_FRAMES)
    with pytest.raises(ParameterError, match="components.config.sr=16000 differs"):
        explain(model, y, method="occlusion", components=other)
    flat = WaveformModel(lambda w: w.sum(1), sample_rate=SR, feature_config=CONFIG)
    with pytest.raises(ParameterError, match=r"model returned shape \(\d+,\)"):
        explain(flat, y, method="occlusion")
    named = WaveformModel(band_energy(0, 1000), sample_rate=SR, feature_config=CONFIG,
                          class_names=("a", "b", "c"))
    with pytest.raises(ParameterError, match="class_names has 3"):
        named(torch.zeros(1, N))


def test_module_example_runs():
    result = doctest.testmod(waveform_mod, raise_on_error=False)
    assert result.attempted >= 3 and result.failed == 0
