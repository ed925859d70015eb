"""Planted cues: known sounds at known times and frequencies in real recordings.

A ground truth for explanations of real music. A model is trained to tell excerpts that carry
a planted sound from excerpts that do not; an explanation of its decision should then point at
the place where the sound was planted, which is known to the cell of the log-mel grid.

Three kinds of cue, each at three levels from clearly audible to subtle:

``"tonal"``
    A sustained cluster chord: one sine partial at the centre frequency of every mel band in
    ``[fmin, fmax]`` (random phases and amplitudes within 3 dB), so that every band of the box
    holds a partial.
``"percussive"``
    A roll of noise bursts (one every 40 ms, each decaying in 8 ms) band-limited to
    ``[fmin, fmax]`` (STFT bins outside the band set to zero, resynthesised by overlap-add).
``"timbral"``
    An EQ bump: the music itself, raised by ``level_db`` in ``[fmin, fmax]`` during
    ``[start, end]`` (STFT-domain gain, resynthesised by overlap-add). Nothing is added; the
    music's own spectral shape changes.

Tonal and percussive cues are added at a **cue-to-music ratio** inside the box
(:data:`LEVELS`, in dB: the cue's mel power over the music's, averaged over the box's cells);
timbral cues at a gain. Every cue is gated to ``[start, end]`` with 10-ms raised-cosine ramps.

The box (:meth:`PlantedCue.mask`) is the set of log-mel cells whose frame centre lies within
``[start - q, end + q]``, ``q = n_fft / (4 sr)`` (where the Hann window's central half still
overlaps the sound), and whose mel band centre lies within ``[fmin, fmax]``
(:func:`genrelens.features.box_mask`). Cues are drawn, planted and boxed in one front end, the
one of the model that will see them (:func:`genrelens.evaluate.planted_bench.model_front_end`):
in musicnn's (16 kHz, 96 bands, hop 256) the box follows its bands and 16-ms frames; there the
bands below about 1 kHz are as narrow as the 31-Hz FFT bins, so a sound leaks into the next
two bands (about -19 dB) where the default front end keeps it within one.

References
----------
Arras, L., Osman, A. & Samek, W. (2022). CLEVR-XAI: A benchmark dataset for the ground truth
evaluation of neural network explanations. Information Fusion 81, 14-40 (ground truth by
construction).
Kim, J. S. et al. (2021). Sanity simulations for saliency methods. arXiv:2105.06506 (planted
signals with known location).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError

__all__ = ["CUE_KINDS", "LEVELS", "PlantedCue", "random_cue", "plant", "render_cue"]

CUE_KINDS = ("tonal", "percussive", "timbral")
#: Level names and their values in dB: cue-to-music ratio in the box (tonal, percussive) or
#: EQ gain (timbral).
LEVELS: Mapping[str, Mapping[str, float]] = {
    "tonal": {"loud": 10.0, "medium": 3.0, "subtle": -3.0},
    "percussive": {"loud": 10.0, "medium": 3.0, "subtle": -3.0},
    "timbral": {"loud": 12.0, "medium": 9.0, "subtle": 6.0},
}
_RAMP_SECONDS = 0.010
_BURST_PERIOD, _BURST_DECAY = 0.040, 0.008


@dataclasses.dataclass(frozen=True)
class PlantedCue:
    """One planted sound: what, how loud, where in time (s) and frequency (Hz).

    Parameters
    ----------
    kind : str
        One of :data:`CUE_KINDS`.
    level : str
        A level name of :data:`LEVELS` (``"loud"``, ``"medium"``, ``"subtle"``).
    level_db : float
        The level in dB (see :data:`LEVELS`).
    start, end : float
        The sound's span in seconds from the excerpt's start, ``0 <= start < end``.
    fmin, fmax : float
        Its band in Hz, ``0 < fmin < fmax``.
    """

    kind: str
    level: str
    level_db: float
    start: float
    end: float
    fmin: float
    fmax: float

    def __post_init__(self) -> None:
        if self.kind not in CUE_KINDS:
            raise ParameterError(f"kind={self.kind!r} is invalid: expected one of {CUE_KINDS}.")
        values = (self.level_db, self.start, self.end, self.fmin, self.fmax)
        if not all(math.isfinite(v) for v in values):
            raise ParameterError(f"cue {self.to_dict()} has a non-finite value.")
        if not (0 <= self.start < self.end and 0 < self.fmin < self.fmax):
            raise ParameterError(
                f"cue span [{self.start}, {self.end}] s x [{self.fmin}, {self.fmax}] Hz is "
                "invalid: expected 0 <= start < end and 0 < fmin < fmax."
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    def mask(self, *, config: FeatureConfig, n_frames: int) -> np.ndarray:
        """The cue's box on the log-mel grid, bool ``(n_mels, n_frames)`` (module docstring)."""
        from genrelens.features import box_mask

        q = config.n_fft / (4 * config.sr)
        return box_mask(start=self.start - q, end=self.end + q, fmin=self.fmin, fmax=self.fmax,
                        config=config, n_frames=n_frames)


def random_cue(
    kind: str,
    level: str,
    *,
    config: FeatureConfig,
    rng: np.random.Generator,
    seconds: float | None = None,
) -> PlantedCue:
    """A cue of ``kind`` at ``level``, placed at random in an excerpt.

    The span lasts 0.4-0.7 s and lies at least 0.1 s from the excerpt's ends; the band covers
    14-24 consecutive mel bands (an eighth to a fifth of the axis at 128 bands), above the
    lowest eighth of the bands.

    Parameters
    ----------
    kind, level : str
        See :data:`LEVELS`.
    config : FeatureConfig
    rng : numpy.random.Generator
    seconds : float, optional
        Excerpt length; default ``config.segment_seconds``.
    """
    from genrelens.features import mel_frequencies

    if kind not in LEVELS or level not in LEVELS[kind]:
        raise ParameterError(
            f"kind={kind!r}, level={level!r} is invalid: expected a kind of {CUE_KINDS} and a "
            f"level of {list(LEVELS.get(kind, LEVELS['tonal']))}."
        )
    seconds = config.segment_seconds if seconds is None else seconds
    duration = float(rng.uniform(0.4, 0.7))
    if seconds < duration + 0.2:
        raise ParameterError(f"seconds={seconds!r} is too short for a cue: expected >= 0.9 s.")
    start = float(rng.uniform(0.1, seconds - 0.1 - duration))
    centres = mel_frequencies(config)
    n = centres.size
    width = int(rng.integers(max(2, round(n * 0.11)), max(3, round(n * 0.19)) + 1))
    low = int(rng.integers(n // 8, n - width - n // 32 + 1))
    lo_hz, hi_hz = float(centres[low]), float(centres[low + width - 1])
    return PlantedCue(kind=kind, level=level, level_db=float(LEVELS[kind][level]), start=start,
                      end=start + duration, fmin=lo_hz, fmax=hi_hz)


def render_cue(cue: PlantedCue, *, n_samples: int, config: FeatureConfig,
               rng: np.random.Generator) -> np.ndarray:
    """The additive sound of a tonal or percussive cue at unit scale, float64 ``(n_samples,)``."""
    from genrelens.features import istft, mel_frequencies, stft

    sr = config.sr
    t = np.arange(n_samples) / sr
    if cue.kind == "tonal":
        centres = mel_frequencies(config)
        partials = centres[(centres >= cue.fmin) & (centres <= cue.fmax)]
        amps = 10 ** (rng.uniform(-3, 0, partials.size) / 20)
        phases = rng.uniform(0, 2 * np.pi, partials.size)
        sound = (amps[:, None] * np.sin(2 * np.pi * partials[:, None] * t + phases[:, None])).sum(0)
    elif cue.kind == "percussive":
        # the last burst starts 2 ramps before the end, so the sound lasts to the end
        onsets = np.arange(cue.end - 2 * _RAMP_SECONDS, cue.start, -_BURST_PERIOD)
        since = t[None, :] - onsets[:, None]
        decay = np.where(since >= 0, np.exp(-np.maximum(since, 0) / _BURST_DECAY), 0.0).sum(0)
        spec = stft(rng.standard_normal(n_samples) * decay, config=config)
        freqs = np.fft.rfftfreq(config.n_fft, 1 / sr)
        spec[~((freqs >= cue.fmin) & (freqs <= cue.fmax))] = 0
        sound = istft(spec, config=config, length=n_samples)
    else:
        raise ParameterError(f"render_cue() is for tonal and percussive cues, not {cue.kind!r}.")
    return sound * _gate(cue, t)


def plant(y: np.ndarray, cue: PlantedCue, *, config: FeatureConfig,
          rng: np.random.Generator) -> np.ndarray:
    """The excerpt ``y`` with ``cue`` planted, float32 of the same shape.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_samples,)
        A mono excerpt at ``config.sr``.
    cue : PlantedCue
    config : FeatureConfig
    rng : numpy.random.Generator
        For the cue's random phases, amplitudes and noise.

    Raises
    ------
    ParameterError
        If ``y`` is not a finite mono waveform or the music is silent in the cue's box (a
        level relative to silence is undefined).
    """
    from genrelens.features import istft, log_mel, stft

    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or not np.isfinite(y).all():
        raise ParameterError(f"y has shape {y.shape}: expected a finite mono waveform.")
    n_frames = 1 + y.size // config.hop_length
    box = cue.mask(config=config, n_frames=n_frames)
    if cue.kind == "timbral":
        spec = stft(y, config=config)
        freqs = np.fft.rfftfreq(config.n_fft, 1 / config.sr)
        times = np.arange(spec.shape[-1]) * config.hop_length / config.sr
        gain = 10 ** (cue.level_db / 20) - 1.0
        band = (freqs >= cue.fmin) & (freqs <= cue.fmax)
        span = (times >= cue.start) & (times <= cue.end)
        spec = spec * (1.0 + gain * (band[:, None] & span[None, :]))
        return istft(spec, config=config, length=y.size).astype(np.float32)
    sound = render_cue(cue, n_samples=y.size, config=config, rng=rng)
    music = _box_power(log_mel(y.astype(np.float32), config=config), box, config)
    if not music > 1000.0 * config.amin:
        raise ParameterError("the music is silent in the cue's box: no level can be set.")
    scale = math.sqrt(10 ** (cue.level_db / 10) * music
                      / _box_power(log_mel(sound.astype(np.float32), config=config), box, config))
    return (y + scale * sound).astype(np.float32)


def _gate(cue: PlantedCue, t: np.ndarray) -> np.ndarray:
    """1 inside ``[start, end]`` with raised-cosine ramps of 10 ms inside the span, else 0."""
    ramp = min(_RAMP_SECONDS, (cue.end - cue.start) / 2)
    rise = np.clip((t - cue.start) / ramp, 0, 1)
    fall = np.clip((cue.end - t) / ramp, 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))


def _box_power(logmel: np.ndarray, box: np.ndarray, config: FeatureConfig) -> float:
    """Mean mel power of the box's cells (linear, :func:`genrelens.features.decompress`)."""
    from genrelens.features import decompress

    return float(np.mean(decompress(np.asarray(logmel, np.float64)[box], config=config)))
