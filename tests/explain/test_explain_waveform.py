"""Explaining models that read waveforms (:class:`genrelens.models.waveform.WaveformModel`):
components edited in the STFT domain, resynthesised, passed through the model's own front end."""

from __future__ import annotations

import doctest
from pathlib import Path

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
from genrelens.explain.listen import resynthesize
from genrelens.explain.track import explain_track
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


def test_integrated_gradients_over_gates_attribute_to_components_completely():
    model = WaveformModel(band_energy(1200, 1800), sample_rate=SR, feature_config=CONFIG)
    y = noise()
    bands = C.frequency_bands(config=CONFIG, n_frames=N_FRAMES,
                              edges_hz=[0, 600, 1000, 2000, 4000])
    exp = explain(model, y, method="ig", components=bands, fill="min", output="raw",
                  n_steps=4, targets=0)
    full = band_energy(1200, 1800)(torch.from_numpy(y)[None])[0, 0].item()
    # the band's energy is quadratic in its gate: 4 Gauss-Legendre nodes integrate 2 g E exactly
    assert exp.scores[0, 2] == pytest.approx(full, rel=1e-4)
    assert np.abs(np.delete(exp.scores[0], 2)).max() < 1e-3 * full
    assert exp.fit["completeness_gap"][0] < 1e-5 * full and np.isnan(exp.fit["completeness_gap"][1])
    assert exp.components is bands and exp.params["input"] == "waveform"
    # stems: the all-off end is silence (every part removed)
    stems = C.stems(y, config=CONFIG, n_segments=2)
    exp = explain(model, y, method="ig", components=stems, output="raw", n_steps=4, targets=0)
    assert exp.scores[0].sum() == pytest.approx(full, rel=1e-4)


def test_explain_track_runs_ig_on_components_for_waveform_models():
    model = WaveformModel(span_energy(0.1, 0.2), sample_rate=SR, feature_config=CONFIG)
    segments = np.stack([noise(7, N // 2), noise(8, N // 2)])
    results = explain_track(model, segments, config=CONFIG, methods=["ig", "occlusion"],
                            kinds=["time"], fill="min")
    assert set(results) == {("ig", "time"), ("occlusion", "time")}
    for res in results.values():
        best = [int(np.argmax(e.scores[0])) for e in res.segments]
        # 0.1-0.2 s lies in the second of ten 50-ms segments of a 0.5-s segment... or its
        # neighbours' frames: the argmax is the segment holding most of the span
        assert all(0.05 <= res.segments[0].components.extents[b].start_s < 0.2 for b in best)


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


def test_local_median_off_state_removes_a_short_event_and_keeps_the_background():
    """``local_median`` in the STFT domain: each bin's running-median level over a third of the
    clip, so a 0.1-s tone burst is replaced by the level of the noise around it, and the
    background keeps its loudness."""
    t = np.arange(N) / SR
    burst = (np.abs(t - 0.5) < 0.05) * 0.5 * np.sin(2 * np.pi * 1000 * t)
    y = (noise(9) + burst).astype(np.float32)
    spec = np.asarray(features.stft(y, config=CONFIG))
    fill = resolve_stft_fill("local_median", spec, config=CONFIG, rng=np.random.default_rng(0))
    comps = C.time_segments(config=CONFIG, n_frames=N_FRAMES, n_segments=4)
    off = mask_inputs(None, comps, np.zeros((1, 4)), fill, waveform=y)(0, 1)[0].numpy()
    tone = band_energy(950, 1050)
    span = slice(int(0.45 * SR), int(0.55 * SR))
    before = tone(torch.from_numpy(y[None, span]))[0, 0].item()
    after = tone(torch.from_numpy(off[None, span]))[0, 0].item()
    background = tone(torch.from_numpy(noise(9)[None, span]))[0, 0].item()
    # the burst loses 99.4% of its energy (-22 dB); the kept phase leaves it ~5 dB above the
    # noise around it (coherent overlap-add of the tone's phase at the noise's level)
    assert after < 0.01 * before and background < after < 10 * background
    quiet = slice(int(0.1 * SR), int(0.3 * SR))  # no event: the level is kept within 3 dB
    ratio = np.mean(off[quiet] ** 2) / np.mean(y[quiet] ** 2)
    assert 0.5 < ratio < 2.0


def test_the_model_hears_what_the_listenable_explanation_plays():
    """With silence as the fill, the engine's input for ``z`` is the listenable audio of the
    kept components (one mel-to-STFT mapping for both)."""
    y = noise(6)
    spec = np.asarray(features.stft(y, config=CONFIG))
    silent = resolve_stft_fill("min", spec, config=CONFIG, rng=np.random.default_rng(0))
    z = np.random.default_rng(1).integers(0, 2, (3, 12))
    for comps in (C.tf_grid(config=CONFIG, n_frames=N_FRAMES, n_time=4, n_freq=3),
                  C.stems(y, config=CONFIG, n_segments=4)):
        heard = mask_inputs(None, comps, z, silent, waveform=y)(0, 3).numpy()
        for row, audio in zip(z, heard, strict=True):
            np.testing.assert_allclose(audio, resynthesize(comps, row, y=y), atol=2e-6)
    # a band switched off is gone from the waveform the model reads
    bands = C.frequency_bands(config=CONFIG, n_frames=N_FRAMES, edges_hz=[0, 1000, 4000])
    low_off = mask_inputs(None, bands, np.array([[0, 1]]), silent, waveform=y)(0, 1)[0]
    power = np.abs(np.fft.rfft(low_off.numpy())) ** 2
    hz = np.fft.rfftfreq(N, 1 / SR)
    assert power[hz < 900].sum() < 1e-4 * power[hz > 1100].sum()


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
    with pytest.raises(ParameterError, match="black box on waveforms: use 'ig'"):
        explain(model, y, method="gradcam")
    as_numpy = WaveformModel(lambda w: band_energy(0, 1000)(w).detach().numpy(), sample_rate=SR,
                             feature_config=CONFIG)
    with pytest.raises(ParameterError, match="differentiable with torch"):
        explain(as_numpy, y, method="ig", n_steps=2)
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


#: The README's "Explaining your own pretrained model" example, run as it is printed there.
def _readme_example() -> str:
    """The first Python block of README's "Explaining your own pretrained model" section."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Explaining your own pretrained model"):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("```\n", start)]




def test_readme_example_runs(tmp_path, monkeypatch, make_wav, capsys):
    make_wav(tmp_path / "song.wav", seconds=2.0, sr=16000, freq=300.0, noise=0.01)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_readme_example(), "README example", "exec"), scope)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("[TopComponent(index=")
    assert "'waveform'" in printed[1] or printed[1].endswith("waveform")
    # the waveform model's "low" class rests on the lowest frequencies
    assert scope["exp"].components.extents[scope["exp"].top(1, target="low")[0].index].low_hz < 1000
    top = scope["track"].summary(k=1)["top_components"][0]
    assert "f " in top["name"] and top["mean_score"] > 0


def test_write_track_writes_the_files_of_a_waveform_model(tmp_path):
    import json

    import soundfile as sf

    from genrelens.explain.track import write_track

    model = WaveformModel(span_energy(0.1, 0.2), sample_rate=SR, feature_config=CONFIG,
                          class_names=("span", "none"))
    segments = np.stack([noise(10, N // 2), noise(11, N // 2)])
    results = explain_track(model, segments, config=CONFIG, methods=["occlusion"],
                            kinds=["frequency", "stems"], fill="min", batch_size=4)
    summary = json.loads(write_track(results, segments, tmp_path / "out", k=1).read_text())
    assert [(r["method"], r["kind"]) for r in summary["results"]] == [
        ("occlusion", "frequency"), ("occlusion", "stems")]
    top, _ = sf.read(tmp_path / "out" / "segments" / "000" / "occlusion_stems_top.wav")
    rest, _ = sf.read(tmp_path / "out" / "segments" / "000" / "occlusion_stems_rest.wav")
    np.testing.assert_allclose(top + rest, segments[0], atol=1e-3)  # 16-bit WAVs
