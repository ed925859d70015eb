"""Components: maps, extents, stems (HPSS) and the fills."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_explain import CONFIG, N_FRAMES, N_MELS, TinyCNN, logmel

from genrelens import features
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import components, explain
from genrelens.explain.engine import mask_inputs
from genrelens.explain.fill import TEXTURE_SEED, resolve_fill, texture_fill


def test_tf_grid_map_layout_and_extents():
    c = components.tf_grid(n_mels=N_MELS, n_frames=N_FRAMES, n_time=4, n_freq=2)
    assert c.n_components == 8 and c.map.shape == (N_MELS, N_FRAMES)
    # component f * n_time + t: frequency group f (low first), time segment t
    assert c.map[0, 0] == 0 and c.map[0, -1] == 3 and c.map[-1, 0] == 4 and c.map[-1, -1] == 7
    assert np.all(np.bincount(c.map.ravel()) == 40)
    step = CONFIG.hop_length / CONFIG.sr
    assert c.extents[1].start_s == pytest.approx(5 * step) and c.extents[1].end_s == pytest.approx(
        10 * step)
    assert c.extents[0].low_hz == 0.0 and c.extents[4].high_hz == pytest.approx(CONFIG.fmax_hz)
    assert c.extents[0].high_hz == pytest.approx(c.extents[4].low_hz)
    assert "Hz" in c.names[0] and " s" in c.names[0]
    with pytest.raises(ValueError):
        c.map[0, 0] = 3  # read-only


def test_time_segments_by_count_and_by_seconds():
    c = components.time_segments(n_mels=N_MELS, n_frames=N_FRAMES, n_segments=5)
    assert np.array_equal(c.map[3], np.repeat(np.arange(5), 4))
    seconds = 6 * CONFIG.hop_length / CONFIG.sr
    c2 = components.time_segments(n_mels=N_MELS, n_frames=N_FRAMES, seconds=seconds)
    assert c2.n_components == 4  # 6 + 6 + 6 + 2 frames
    assert np.array_equal(np.bincount(c2.map[0]), [6, 6, 6, 2])


def test_frequency_bands_follow_hz_edges():
    centres = features.mel_frequencies(CONFIG)
    c = components.frequency_bands(n_mels=N_MELS, n_frames=N_FRAMES, edges_hz=[0, 1000, 4000,
                                                                                 11025])
    expected = np.searchsorted([1000, 4000], centres, side="right")
    assert np.array_equal(c.map[:, 0], expected)
    assert [e.low_hz for e in c.extents] == [0, 1000, 4000]
    default = components.frequency_bands(n_mels=N_MELS, n_frames=N_FRAMES, n_bands=8)
    # 16 mel bins cannot fill 8 log-spaced bands from 30 Hz: empty ones are merged
    assert 1 < default.n_components <= 8
    assert np.all(np.bincount(default.map[:, 0]) > 0)
    assert default.params["edges_hz"][0] == 0.0
    assert len(default.params["edges_hz"]) == default.n_components + 1
    big = components.frequency_bands(n_bands=8)  # default config: 128 mel bins
    assert big.n_components == 8


def test_from_map_and_superpixels():
    cmap = -np.ones((N_MELS, N_FRAMES), np.int64)
    cmap[2:5, 3:7] = 0
    cmap[8:, :] = 1
    c = components.from_map(cmap)
    assert c.n_components == 2
    step = CONFIG.hop_length / CONFIG.sr
    assert c.extents[0].start_s == pytest.approx(3 * step) and c.extents[0].end_s == pytest.approx(
        7 * step)
    keep, cells = c.cell_mask_factors(np.array([[0, 1]]))
    masks = keep[:, cells].reshape(1, N_MELS, N_FRAMES)
    assert masks[0, 0, 0] == 1 and masks[0, 3, 4] == 0 and masks[0, 9, 0] == 1
    pytest.importorskip("skimage")
    sp = components.superpixels(logmel(), n_segments=6)
    assert sp.kind == "superpixels" and sp.map.min() == 0 and sp.n_components >= 2


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: components.tf_grid(n_mels=16, n_frames=20, n_time=21), "n_time"),
        (lambda: components.tf_grid(n_mels=16, n_frames=20, n_freq=0), "n_freq"),
        (lambda: components.time_segments(n_mels=16, n_frames=20, n_segments=0), "n_segments"),
        (lambda: components.time_segments(n_mels=16, n_frames=20, seconds=-1.0), "seconds"),
        (lambda: components.frequency_bands(n_mels=16, n_frames=20, edges_hz=[0, 10, 20]),
         "edges_hz"),
        (lambda: components.frequency_bands(n_mels=16, n_frames=20, edges_hz=[5, 1]), "edges_hz"),
        (lambda: components.tf_grid(n_mels=16, config=FeatureConfig()), "n_mels"),
        (lambda: components.from_map(np.zeros((4, 4))), "component_map"),
        (lambda: components.from_map(np.array([[0, 2], [0, 2]])), "map"),
        (lambda: components.from_map(np.array([[0, 1]]), names=["a"]), "names"),
    ],
)
def test_component_errors_name_the_parameter(call, param):
    with pytest.raises(ParameterError, match=param):
        call()


STEM_CONFIG = FeatureConfig(sr=8000, n_fft=256, hop_length=64, n_mels=16, segment_seconds=0.25)


def _waveform() -> np.ndarray:
    t = np.arange(STEM_CONFIG.segment_samples) / STEM_CONFIG.sr
    y = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1320 * t)
    clicks = np.zeros_like(t)
    clicks[::400] = 1.0
    rng = np.random.default_rng(0)
    return (y + clicks + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_hpss_parts_sum_to_mixture_and_separate():
    y = _waveform()
    S = features.stft(y, config=STEM_CONFIG)
    parts = components.hpss(S, kernel_size=9)
    np.testing.assert_allclose(sum(parts.values()), S, atol=1e-5)
    # the steady 440 Hz bin is mostly harmonic, a click frame's high bins mostly percussive
    k440 = int(round(440 * STEM_CONFIG.n_fft / STEM_CONFIG.sr))
    h, p = np.abs(parts["harmonic"]), np.abs(parts["percussive"])
    assert h[k440].sum() > 5 * p[k440].sum()
    click_frame = round(400 / STEM_CONFIG.hop_length)  # centred frames: click at sample 400
    assert p[60:, click_frame].sum() > h[60:, click_frame].sum()


def test_stems_all_kept_reproduce_log_mel_and_parts_mix_in_stft_domain():
    y = _waveform()
    c = components.stems(y, config=STEM_CONFIG, n_segments=4, kernel_size=9)
    assert c.kind == "stems" and c.n_components == 12 and c.map is None
    assert c.names[0].startswith("harmonic") and c.names[4].startswith("percussive")
    ref = features.log_mel(y, config=STEM_CONFIG)
    fill = resolve_fill("min", ref, config=STEM_CONFIG, rng=np.random.default_rng(0), stems=True)
    make = mask_inputs(ref, c, np.ones((1, 12), np.int8), fill)
    np.testing.assert_allclose(make(0, 1)[0, 0].numpy(), ref, atol=2e-3)
    # harmonic part only, in segment 1 only: log-mel of that part's STFT in those frames
    z = np.zeros((1, 12), np.int8)
    z[0, 1] = 1
    got = mask_inputs(ref, c, z, fill)(0, 1)[0, 0].numpy()
    seg = c.stems.segment_of_frame
    part = np.asarray(c.stems.stft[0]) * (seg == 1)[None, :]
    want = features.power_to_db(features.mel_power_from_stft(part, config=STEM_CONFIG),
                                config=STEM_CONFIG)
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert np.all(got[:, seg != 1] == STEM_CONFIG.floor_db)


def test_stems_with_separator_callable():
    y = _waveform()

    def split(wave):
        return {"low": 0.25 * wave, "high": 0.75 * wave}

    c = components.stems(y, config=STEM_CONFIG, n_segments=2, separator=split)
    assert c.stems.names == ("low", "high") and c.stems.separator == "split"
    with pytest.raises(ParameterError, match="separator"):
        components.stems(y, config=STEM_CONFIG, separator=lambda w: {"x": w[:100]})
    with pytest.raises(ParameterError, match="separator"):
        components.stems(y, config=STEM_CONFIG, separator=lambda w: [w])


@pytest.mark.parametrize("kind", ["min", "clip_min", "mean", "noise", "blur", -55.0, "array"])
def test_fills(kind):
    x = logmel()
    rng = np.random.default_rng(3)
    spec = np.full_like(x, -70.0) if kind == "array" else kind
    f = resolve_fill(spec, x, config=CONFIG, rng=rng)
    assert f.array.shape == x.shape and f.array.dtype == np.float32
    expected = {"min": CONFIG.floor_db, "clip_min": x.min(), "mean": x.mean(), -55.0: -55.0,
                "array": -70.0}
    if kind in expected:
        np.testing.assert_allclose(f.array, expected[kind], rtol=1e-6)
    if kind == "noise":
        again = resolve_fill("noise", x, config=CONFIG, rng=np.random.default_rng(3))
        assert np.array_equal(f.array, again.array) and "seed" in f.params
    if kind == "blur":
        assert f.array.std() < x.std()


@pytest.mark.parametrize("kind", ["band_median", "local_median", "ring_median"])
def test_median_fills_take_short_events_out_and_keep_each_band_level(kind):
    x = np.tile(np.linspace(-80, -20, N_MELS, dtype=np.float32)[:, None], (1, N_FRAMES))
    x += np.random.default_rng(0).normal(0, 0.5, x.shape).astype(np.float32)
    event = x.copy()
    event[4:8, 9:11] += 30.0  # a short, loud event in four bands
    f = resolve_fill(kind, event, config=CONFIG, rng=np.random.default_rng(0))
    assert f.kind == kind and f.array.shape == x.shape and f.array.dtype == np.float32
    # the event is gone: the fill is within the noise of each band's own level
    assert np.abs(f.array - np.median(x, axis=1, keepdims=True)).max() < 2.0
    if kind == "band_median":
        assert np.all(f.array == f.array[:, :1])
    elif kind == "local_median":
        assert f.params["width"] % 2 == 1


def test_ring_median_takes_out_events_too_long_for_the_local_median():
    n = 130  # a 3-s clip at the default hop
    rng = np.random.default_rng(0)
    x = np.tile(np.linspace(-80, -20, 8, dtype=np.float32)[:, None], (1, n))
    x += rng.normal(0, 0.5, x.shape).astype(np.float32)
    event = x.copy()
    event[2:5, 50:80] += 30.0  # 0.7 s: longer than half the local median's window (43 frames)
    ring = resolve_fill("ring_median", event, config=CONFIG, rng=rng)
    local = resolve_fill("local_median", event, config=CONFIG, rng=rng)
    level = np.median(x, axis=1, keepdims=True)
    assert np.abs(ring.array - level).max() < 2.0
    assert (local.array[2:5, 65] - level[2:5, 0]).min() > 20.0  # kept at the event's centre
    # each frame's value is the median of the frames gap..outer away on both sides
    gap, outer = ring.params["gap"], ring.params["outer"]
    assert 0 < gap < outer
    for t in (0, 3, 34, 50, 65, 129):  # the clip's ends are mirrored
        frames = [abs(s) if s < n else 2 * (n - 1) - s
                  for s in range(t - outer, t + outer + 1) if abs(s - t) >= gap]
        upper_middle = np.sort(event[:, frames], axis=1)[:, len(frames) // 2]
        np.testing.assert_allclose(ring.array[:, t], upper_middle, rtol=1e-6)


def test_texture_fill_keeps_each_bands_level_and_fluctuation_and_takes_out_events():
    n = 130
    rng = np.random.default_rng(0)
    level = np.linspace(-80, -20, 8, dtype=np.float32)[:, None]
    spread = np.linspace(1.0, 6.0, 8, dtype=np.float32)[:, None]  # each band's own fluctuation
    x = (level + spread * rng.standard_normal((8, n))).astype(np.float32)
    event = x.copy()
    event[2:5, 60:70] += 30.0  # a short, loud event
    f = resolve_fill("texture", event, config=CONFIG, rng=np.random.default_rng(1))
    assert f.kind == "texture" and f.array.dtype == np.float32 and f.array.shape == x.shape
    # the band's level (the running median) with its own spread, not a smooth curve
    assert np.all(np.abs(f.array.mean(axis=1, keepdims=True) - level) < 0.4 * spread)
    smooth = resolve_fill("local_median", event, config=CONFIG, rng=np.random.default_rng(1))
    # the texture is the seed's standard normal noise scaled by each band's robust spread
    residual = f.array - smooth.array
    noise = np.random.default_rng(TEXTURE_SEED).standard_normal(x.shape)
    scale = residual[:, :1] / noise[:, :1]
    np.testing.assert_allclose(residual, scale * noise, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scale, spread, rtol=0.3)
    assert np.all(smooth.array.std(axis=1) < 0.6 * spread[:, 0])  # the median is smooth
    # the event is gone: its cells are back at their band's level
    assert np.abs(f.array[2:5, 60:70].mean(axis=1) - level[2:5, 0]).max() < 3.0
    assert f.params == {"width": smooth.params["width"], "seed": TEXTURE_SEED}


def test_ring_texture_takes_out_events_too_long_for_the_texture_fill():
    n = 130
    rng = np.random.default_rng(0)
    x = np.tile(np.linspace(-80, -20, 8, dtype=np.float32)[:, None], (1, n))
    x += rng.normal(0, 2.0, x.shape).astype(np.float32)
    event = x.copy()
    event[2:5, 50:80] += 30.0  # 0.7 s: longer than half the local median's window (43 frames)
    level = np.median(x, axis=1)[2:5]
    texture = resolve_fill("texture", event, config=CONFIG, rng=rng)
    ring = resolve_fill("ring_texture", event, config=CONFIG, rng=rng)
    assert (texture.array[2:5, 60:70].mean(axis=1) - level).min() > 20.0  # kept at its centre
    assert np.abs(ring.array[2:5, 50:80].mean(axis=1) - level).max() < 3.0  # taken out
    # the ring median's level plus the texture's noise (the same seed, recorded)
    median = resolve_fill("ring_median", event, config=CONFIG, rng=rng)
    assert ring.kind == "ring_texture"
    assert ring.params == {"gap": median.params["gap"], "outer": median.params["outer"],
                           "seed": TEXTURE_SEED}
    residual = ring.array - median.array
    noise = np.random.default_rng(TEXTURE_SEED).standard_normal(x.shape)
    np.testing.assert_allclose(residual, residual[:, :1] / noise[:, :1] * noise, atol=1e-3)
    with pytest.raises(ParameterError, match="around='edge'"):
        texture_fill(event, around="edge")


def test_texture_fill_has_its_own_seed_not_the_sampling_one():
    x = logmel()
    fills = [resolve_fill("texture", x, config=CONFIG, rng=np.random.default_rng(s))
             for s in (1, 2)]
    assert np.array_equal(fills[0].array, fills[1].array)  # whatever the sampling rng
    assert np.array_equal(fills[0].array, texture_fill(x, seed=TEXTURE_SEED).array)
    other = texture_fill(x, seed=3)  # another seed: the same level and spread, other noise
    assert other.params["seed"] == 3 and not np.array_equal(other.array, fills[0].array)
    assert resolve_fill(other, x, config=CONFIG, rng=np.random.default_rng(0)) is other
    # through explain(): two random_states, one fill (recorded), different samples
    model = TinyCNN()
    c = components.tf_grid(n_mels=N_MELS, n_frames=N_FRAMES, n_time=4, n_freq=2)
    a, b = (explain(model, x, method="kernel_shap", components=c, n_samples=40,
                    random_state=s) for s in (7, 8))
    assert np.array_equal(a.fill.array, b.fill.array) and a.fill.params["seed"] == TEXTURE_SEED
    assert not np.allclose(a.scores, b.scores)
    again = explain(model, x, method="kernel_shap", components=c, n_samples=40, random_state=7)
    assert np.array_equal(again.scores, a.scores)
    mine = explain(model, x, method="kernel_shap", components=c, n_samples=40, random_state=7,
                   fill=other)
    assert mine.fill.params["seed"] == 3 and not np.allclose(mine.scores, a.scores)


def test_a_fill_object_must_fit_the_input():
    built = texture_fill(np.zeros((4, 9), np.float32))
    with pytest.raises(ParameterError, match=r"Fill of kind 'texture'.*shape \(4, 9\)"):
        resolve_fill(built, logmel(), config=CONFIG, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="seed=-1"):
        texture_fill(logmel(), seed=-1)


@pytest.mark.parametrize("bad", ["loud", np.zeros((3, 3)), float("nan"), True])
def test_bad_fill_raises(bad):
    with pytest.raises(ParameterError, match="fill"):
        resolve_fill(bad, logmel(), config=CONFIG, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="fill"):
        resolve_fill("mean", logmel(), config=CONFIG, rng=np.random.default_rng(0), stems=True)


def test_components_validate_their_map():
    c = components.tf_grid(n_mels=N_MELS, n_frames=N_FRAMES, n_time=2, n_freq=1)
    import dataclasses

    with pytest.raises(ParameterError, match="map has shape"):
        dataclasses.replace(c, map=np.zeros((N_MELS, N_FRAMES + 1), np.int64))
    with pytest.raises(ParameterError, match="map has no cell"):
        dataclasses.replace(c, map=np.zeros((N_MELS, N_FRAMES), np.int64))
    with pytest.raises(ParameterError, match="names"):
        dataclasses.replace(c, names=("only one",))
    with pytest.raises(ParameterError, match="cell_mask_factors"):
        components.stems(_waveform(), config=STEM_CONFIG, n_segments=2).cell_mask_factors(
            np.ones((1, 6)))
