import numpy as np
import pytest
import torch

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.inspection.descriptors import (
    BandEnergy,
    HarmonicPercussiveBalance,
    Loudness,
    SpectralTilt,
    Tempo,
    default_descriptors,
    descriptor_ale,
)

CONFIG = FeatureConfig(n_mels=32, segment_seconds=3.0)


def _segments(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return (-40 + 10 * rng.standard_normal((n, CONFIG.n_mels, CONFIG.n_frames))).astype(np.float32)


def _edit(desc, x, delta):
    cur = desc.measure(x)
    tgt = cur + delta
    out = desc.apply(torch.from_numpy(x), torch.from_numpy(cur), torch.from_numpy(tgt)).numpy()
    return cur, tgt, out


@pytest.mark.parametrize(
    "desc",
    [
        BandEnergy("b", CONFIG, low_bin=3, high_bin=9),
        Loudness("loud", CONFIG),
        SpectralTilt("tilt", CONFIG),
        HarmonicPercussiveBalance("hp", CONFIG),
    ],
)
def test_edits_move_the_measured_value_to_the_target(desc):
    x = _segments()
    x[:, 5::7, :] += 30.0  # harmonic lines
    x[:, :, 3::11] += 25.0  # percussive lines
    delta = np.linspace(-6, 6, len(x))
    cur, tgt, out = _edit(desc, x, delta)
    assert out.shape == x.shape and out.dtype == np.float32
    if isinstance(desc, HarmonicPercussiveBalance):
        # the edit is g_h * H + g_p * P of the unedited segment's parts H, P (masks m_h, m_p):
        # their balance moves by exactly delta; re-estimated masks move the same way
        mh, mp = desc._masks(x)
        gh, gp = 10 ** (delta / 40)[:, None, None], 10 ** (-delta / 40)[:, None, None]
        np.testing.assert_allclose(out, x + 20 * np.log10(gh * mh + gp * mp), atol=1e-3)
        power = 10 ** (x.astype(float) / 10)
        parts = 10 * np.log10(((gh * mh) ** 2 * power).sum((1, 2)) / ((gp * mp) ** 2 * power).sum((1, 2)))
        np.testing.assert_allclose(parts, tgt, atol=1e-6)
        assert np.all(np.sign(desc.measure(out) - cur) == np.sign(delta))
    else:
        np.testing.assert_allclose(desc.measure(out), tgt, atol=1e-3)
    # a zero edit changes nothing
    same = desc.apply(torch.from_numpy(x), torch.from_numpy(cur), torch.from_numpy(cur)).numpy()
    np.testing.assert_allclose(same, x, atol=1e-4)


def test_band_energy_touches_only_its_band_and_keeps_the_floor():
    x = _segments(2)
    d = BandEnergy("b", CONFIG, low_bin=3, high_bin=9)
    _, _, out = _edit(d, x, np.array([5.0, -500.0]))
    np.testing.assert_array_equal(out[:, :3], x[:, :3])
    np.testing.assert_array_equal(out[:, 9:], x[:, 9:])
    np.testing.assert_allclose(out[0, 3:9], x[0, 3:9] + 5.0, atol=1e-4)
    assert out[1, 3:9].min() == pytest.approx(CONFIG.floor_db)
    # measure: mean power in dB, hand-checked on a two-value band
    y = np.full((1, CONFIG.n_mels, CONFIG.n_frames), -100.0, dtype=np.float32)
    y[0, 0, : CONFIG.n_frames // 2 + 1] = 0.0  # half+ of the cells at 0 dB
    expect = 10 * np.log10(((CONFIG.n_frames // 2 + 1) * 1.0 + (CONFIG.n_frames // 2) * 1e-10) / CONFIG.n_frames)
    assert BandEnergy("b0", CONFIG, low_bin=0, high_bin=1).measure(y)[0] == pytest.approx(expect)


def test_spectral_tilt_of_a_tilted_spectrum():
    from genrelens.features import mel_frequencies

    o = np.log2(mel_frequencies(CONFIG))
    x = np.broadcast_to((-3.0 * o)[:, None], (CONFIG.n_mels, CONFIG.n_frames))[None].astype(np.float32)
    assert SpectralTilt("t", CONFIG).measure(x)[0] == pytest.approx(-3.0, abs=1e-4)


def _clicks(period_frames, n=1):
    x = np.full((n, CONFIG.n_mels, CONFIG.n_frames), -60.0, dtype=np.float32)
    x[:, :, ::period_frames] = -10.0
    return x


def test_tempo_of_a_click_track_and_its_stretch():
    t = Tempo("tempo", CONFIG)
    fr = CONFIG.sr / CONFIG.hop_length
    x = _clicks(20)
    bpm = t.measure(x)[0]
    assert bpm == pytest.approx(60 * fr / 20, rel=0.03)  # ~129 BPM
    stretched = t.apply(torch.from_numpy(x), torch.tensor([bpm]), torch.tensor([bpm * 1.25])).numpy()
    assert t.measure(stretched)[0] == pytest.approx(bpm * 1.25, rel=0.06)
    # no onsets: the prior's centre
    assert t.measure(np.full_like(x, -50.0))[0] == 120.0
    with pytest.raises(ParameterError, match="min_bpm"):
        Tempo("t", CONFIG, min_bpm=200.0)


def test_default_descriptors_follow_the_frequency_band_components():
    from genrelens.explain.components import frequency_bands

    descs = default_descriptors(CONFIG, n_bands=4)
    bands = frequency_bands(config=CONFIG, n_bands=4)
    assert len(descs) == bands.n_components + 4
    column = np.asarray(bands.map)[:, 0]
    for b, d in enumerate(descs[: bands.n_components]):
        assert isinstance(d, BandEnergy)
        np.testing.assert_array_equal(np.flatnonzero(column == b), np.arange(d.low_bin, d.high_bin))
    assert [d.name for d in descs[-4:]] == ["loudness", "spectral_tilt", "hp_balance", "tempo"]
    assert len({d.name for d in descs}) == len(descs)
    assert descs[0].describe()["unit"] == "dB"


class _BandMean(torch.nn.Module):
    """Output 0: mean dB of mel bins 3..8 (linear in the band gain); output 1: constant."""

    def forward(self, x):
        m = x[:, 0, 3:9].mean(dim=(1, 2))
        return torch.stack([m, torch.zeros_like(m)], dim=1)


def test_descriptor_ale_recovers_a_linear_band_response():
    x = _segments(40, seed=1)
    d = BandEnergy("b", CONFIG, low_bin=3, high_bin=9)
    res = descriptor_ale(_BandMean(), x, d, class_names=["a", "b"], n_bins=5, n_bootstrap=20,
                         output="raw", batch_size=16)
    slope = np.diff(res.average[0]) / np.diff(res.grid_values[0])
    np.testing.assert_allclose(slope, 1.0, atol=1e-4)  # +1 dB of band energy -> +1 output
    np.testing.assert_allclose(res.average[1], 0.0, atol=1e-12)
    assert res.n_evaluations == 80
    assert res.params["units"] == ["dB"] and res.params["output"] == "raw"
    np.testing.assert_allclose(res.feature_values, d.measure(x))
    pair = descriptor_ale(_BandMean(), x, (d, Loudness("loud", CONFIG)), class_names=["a", "b"],
                          n_bins=3, output="raw", batch_size=32)
    assert pair.average.shape == (2, 4, 4) and pair.n_evaluations == 160


def test_descriptor_ale_errors():
    d = Loudness("loud", CONFIG)
    with pytest.raises(ParameterError, match="logmel has shape"):
        descriptor_ale(_BandMean(), np.zeros((2, 5, 10)), d, class_names=["a", "b"])
    with pytest.raises(ParameterError, match="descriptors="):
        descriptor_ale(_BandMean(), _segments(2), [d, d, d], class_names=["a", "b"])
    with pytest.raises(ParameterError, match="NaN"):
        d.measure(np.full((1, CONFIG.n_mels, 4), np.nan))
    with pytest.raises(ParameterError, match="low_bin"):
        BandEnergy("b", CONFIG, low_bin=5, high_bin=5)
