"""Planted cues: the box is where the sound is, to the cell, in the default front end and in
musicnn's (16 kHz, 96 mel bands, log10 compression); levels are what they say."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, maximum_filter1d

from genrelens.config import FeatureConfig, preset
from genrelens.data.planted import CUE_KINDS, LEVELS, PlantedCue, plant, random_cue, render_cue
from genrelens.errors import ParameterError
from genrelens.features import log_mel, to_db

CFG = FeatureConfig()
N = CFG.segment_samples
#: Both front ends: the default (dB) and the pretrained backbones' (``log10(C·S + 1)``), with
#: the leakage slack around the box: one cell, and in musicnn's two mel bands (below ~1 kHz its
#: 96 bands are as narrow as its 31-Hz FFT bins, so a sound confined to the band's bins leaks
#: into the next two bands through the window's main lobe: -19 dB measured) and a gain change
#: under 0.1 dB beyond them (the default: 0.05 dB).
SLACK = {"default": (np.ones((3, 3), bool), 0.05), "musicnn": (np.ones((5, 3), bool), 0.1)}
FRONT_ENDS = pytest.mark.parametrize("cfg", [CFG, preset("musicnn")], ids=list(SLACK))


def _slack(cfg: FeatureConfig) -> tuple[np.ndarray, float]:
    return SLACK["default" if cfg == CFG else "musicnn"]


def _music(seed: int = 0, cfg: FeatureConfig = CFG) -> np.ndarray:
    """Broadband 'music': pink-ish noise with a few tones, one segment."""
    n = cfg.segment_samples
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.maximum(1.0, np.arange(spec.size)) ** 0.5
    y = np.fft.irfft(spec, n=n)
    t = np.arange(n) / cfg.sr
    y += 0.02 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.sin(2 * np.pi * 1760 * t)
    return (0.1 * y / np.abs(y).max()).astype(np.float32)


def _db(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The log-mel of ``y`` in dB, whatever the front end's compression."""
    return np.asarray(to_db(log_mel(np.asarray(y, np.float32), config=cfg), config=cfg))


@FRONT_ENDS
@pytest.mark.parametrize("kind", ["tonal", "percussive"])
@pytest.mark.parametrize("seed", range(4))
def test_additive_cue_energy_fills_its_box_and_nothing_else(kind, seed, cfg):
    rng = np.random.default_rng(seed)
    cue = random_cue(kind, "loud", config=cfg, rng=rng)
    sound = _db(render_cue(cue, n_samples=cfg.segment_samples, config=cfg, rng=rng), cfg)
    box = cue.mask(config=cfg, n_frames=sound.shape[1])
    peak = sound.max()
    assert box.any() and sound[box].max() == peak  # the loudest cell is in the box
    level = sound
    if kind == "percussive" and cfg.hop_length / cfg.sr < 0.02:
        # musicnn's 16-ms hop and 32-ms window resolve the 40-ms gaps between bursts: a cell
        # midway between two bursts is quiet, its neighbouring frame holds a burst
        level = maximum_filter1d(sound, 3, axis=1)
    assert np.mean(level[box] > peak - 20) > 0.85  # the box is filled
    assert np.percentile(level[box], 2) > peak - 40  # only edge cells may be quieter
    outside = ~binary_dilation(box, _slack(cfg)[0])  # slack for leakage (SLACK)
    assert sound[outside].max() < peak - 20


@FRONT_ENDS
@pytest.mark.parametrize("level", ["loud", "subtle"])
def test_timbral_cue_raises_its_box_by_the_gain_and_leaves_the_rest(level, cfg):
    rng = np.random.default_rng(1)
    y = _music(cfg=cfg)
    cue = random_cue("timbral", level, config=cfg, rng=rng)
    diff = _db(plant(y, cue, config=cfg, rng=rng), cfg) - _db(y, cfg)
    box = cue.mask(config=cfg, n_frames=diff.shape[1])
    assert np.median(diff[box]) == pytest.approx(LEVELS["timbral"][level], abs=0.5)
    slack, tol = _slack(cfg)
    outside = ~binary_dilation(box, slack)
    assert np.percentile(np.abs(diff[outside]), 99) < tol


@FRONT_ENDS
@pytest.mark.parametrize("kind", ["tonal", "percussive"])
def test_cue_to_music_ratio_in_the_box_is_the_level(kind, cfg):
    rng = np.random.default_rng(2)
    y = _music(2, cfg)
    cue = random_cue(kind, "medium", config=cfg, rng=rng)
    planted = plant(y, cue, config=cfg, rng=np.random.default_rng(5))
    cue_alone = planted.astype(np.float64) - y
    box = cue.mask(config=cfg, n_frames=cfg.n_frames)

    def power(w: np.ndarray) -> float:
        return float(np.mean(10 ** (_db(w, cfg)[box] / 10)))

    ratio_db = 10 * np.log10(power(cue_alone) / power(y))
    assert ratio_db == pytest.approx(LEVELS[kind]["medium"], abs=0.2)


def test_random_cues_stay_inside_the_excerpt_and_are_reproducible():
    for kind in CUE_KINDS:
        for level in LEVELS[kind]:
            a = random_cue(kind, level, config=CFG, rng=np.random.default_rng(3))
            b = random_cue(kind, level, config=CFG, rng=np.random.default_rng(3))
            assert a == b and a.level_db == LEVELS[kind][level]
            assert 0.1 <= a.start < a.end <= CFG.segment_seconds - 0.1
            assert 0.4 <= a.end - a.start <= 0.7 and 0 < a.fmin < a.fmax < CFG.fmax_hz
    assert PlantedCue(**a.to_dict()) == a


def test_bad_cues_and_inputs_raise_named_errors():
    with pytest.raises(ParameterError, match="kind"):
        PlantedCue(kind="vocal", level="loud", level_db=0, start=0, end=1, fmin=1, fmax=2)
    with pytest.raises(ParameterError, match="span"):
        PlantedCue(kind="tonal", level="loud", level_db=0, start=1, end=1, fmin=1, fmax=2)
    with pytest.raises(ParameterError, match="level"):
        random_cue("tonal", "huge", config=CFG, rng=np.random.default_rng(0))
    cue = random_cue("tonal", "loud", config=CFG, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="silent"):
        plant(np.zeros(N, np.float32), cue, config=CFG, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="mono"):
        plant(np.zeros((2, N)), cue, config=CFG, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="timbral"):
        render_cue(random_cue("timbral", "loud", config=CFG, rng=np.random.default_rng(0)),
                   n_samples=N, config=CFG, rng=np.random.default_rng(0))
