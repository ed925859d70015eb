"""Planted cues: the box is where the sound is, to the cell; levels are what they say."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from genrelens.config import FeatureConfig
from genrelens.data.planted import CUE_KINDS, LEVELS, PlantedCue, plant, random_cue, render_cue
from genrelens.errors import ParameterError
from genrelens.features import log_mel

CFG = FeatureConfig()
N = CFG.segment_samples


def _music(seed: int = 0) -> np.ndarray:
    """Broadband 'music': pink-ish noise with a few tones, 3 s."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(N))
    spec /= np.maximum(1.0, np.arange(spec.size)) ** 0.5
    y = np.fft.irfft(spec, n=N)
    t = np.arange(N) / CFG.sr
    y += 0.02 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.sin(2 * np.pi * 1760 * t)
    return (0.1 * y / np.abs(y).max()).astype(np.float32)


@pytest.mark.parametrize("kind", ["tonal", "percussive"])
@pytest.mark.parametrize("seed", range(4))
def test_additive_cue_energy_fills_its_box_and_nothing_else(kind, seed):
    rng = np.random.default_rng(seed)
    cue = random_cue(kind, "loud", config=CFG, rng=rng)
    sound = log_mel(render_cue(cue, n_samples=N, config=CFG, rng=rng).astype(np.float32),
                    config=CFG)
    box = cue.mask(config=CFG, n_frames=sound.shape[1])
    peak = sound.max()
    assert box.any() and sound[box].max() == peak  # the loudest cell is in the box
    assert np.mean(sound[box] > peak - 20) > 0.85  # the box is filled
    assert np.percentile(sound[box], 2) > peak - 40  # only edge cells may be quieter
    outside = ~binary_dilation(box, np.ones((3, 3), bool))  # one cell of slack for leakage
    assert sound[outside].max() < peak - 20


@pytest.mark.parametrize("level", ["loud", "subtle"])
def test_timbral_cue_raises_its_box_by_the_gain_and_leaves_the_rest(level):
    rng = np.random.default_rng(1)
    y = _music()
    cue = random_cue("timbral", level, config=CFG, rng=rng)
    diff = log_mel(plant(y, cue, config=CFG, rng=rng), config=CFG) - log_mel(y, config=CFG)
    box = cue.mask(config=CFG, n_frames=diff.shape[1])
    assert np.median(diff[box]) == pytest.approx(LEVELS["timbral"][level], abs=0.5)
    outside = ~binary_dilation(box, np.ones((3, 3), bool))
    assert np.percentile(np.abs(diff[outside]), 99) < 0.05


@pytest.mark.parametrize("kind", ["tonal", "percussive"])
def test_cue_to_music_ratio_in_the_box_is_the_level(kind):
    rng = np.random.default_rng(2)
    y = _music(2)
    cue = random_cue(kind, "medium", config=CFG, rng=rng)
    planted = plant(y, cue, config=CFG, rng=np.random.default_rng(5))
    cue_alone = planted.astype(np.float64) - y
    box = cue.mask(config=CFG, n_frames=1 + N // CFG.hop_length)

    def power(w: np.ndarray) -> float:
        return float(np.mean(10 ** (log_mel(w.astype(np.float32), config=CFG)[box] / 10)))

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
