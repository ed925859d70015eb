"""Small pure synthesis functions used by :mod:`genrelens.data.synthetic`.

Every function returns a float64 waveform of shape ``(n_samples,)`` and draws randomness only
from the :class:`numpy.random.Generator` it is given, so a track is a deterministic function
of its generator. Tonal voices use band-limited wavetables (the single-cycle table holds only
harmonics below Nyquist for the highest frequency played, so nothing aliases); drum voices are
the textbook subtractive recipes (a pitch-swept sine for the kick, filtered noise bursts for
snare and cymbals, inharmonic partials for the ride bell). See Russ (2013), *Sound Synthesis
and Sampling*, 3rd ed., ch. 5-6, and Smith (2010), *Physical Audio Signal Processing* (plucked
strings).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = [
    "midi_hz",
    "harmonic_amplitudes",
    "oscillator",
    "envelope",
    "filtered",
    "saturate",
    "kick",
    "snare",
    "noise_hit",
    "clap",
    "ride",
    "tone",
    "pluck",
    "add_at",
]

_TABLE_SIZE = 4096


def midi_hz(note: float | np.ndarray) -> float | np.ndarray:
    """Frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz, equal temperament)."""
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=float) - 69.0) / 12.0)


def harmonic_amplitudes(kind: str, n_harmonics: int) -> np.ndarray:
    """Amplitudes of harmonics ``1..n_harmonics`` of a named waveform, shape ``(n_harmonics,)``.

    ``"sine"``; ``"saw"`` (1/k); ``"square"`` (1/k, odd k); ``"triangle"`` (1/k^2, odd k);
    ``"organ"`` (drawbars at harmonics 1, 2, 3, 4, 6, 8); ``"reed"`` (odd-heavy, 1/k^0.7).
    """
    k = np.arange(1, n_harmonics + 1, dtype=float)
    odd = (k % 2) == 1
    if kind == "sine":
        amps = (k == 1).astype(float)
    elif kind == "saw":
        amps = 1.0 / k
    elif kind == "square":
        amps = np.where(odd, 1.0 / k, 0.0)
    elif kind == "triangle":
        amps = np.where(odd, 1.0 / k**2, 0.0)
    elif kind == "organ":
        amps = np.where(np.isin(k, (1, 2, 3, 4, 6, 8)), 1.0 / np.sqrt(k), 0.0)
    elif kind == "reed":
        amps = np.where(odd, 1.0, 0.45) / k**0.7
    else:
        raise ValueError(f"kind={kind!r} is unknown")
    return amps


def _table(kind: str, f_max: float, sr: int) -> np.ndarray:
    # A single cycle holding only the harmonics below 0.45 * sr at the highest frequency played.
    n_harm = int(max(1, min(_TABLE_SIZE // 2 - 1, np.floor(0.45 * sr / max(f_max, 1.0)))))
    spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=complex)
    spectrum[1 : n_harm + 1] = -1j * harmonic_amplitudes(kind, n_harm) * (_TABLE_SIZE / 2)
    return np.fft.irfft(spectrum, n=_TABLE_SIZE)


def oscillator(
    freq: float | np.ndarray, n: int, *, sr: int, kind: str, phase: float = 0.0
) -> np.ndarray:
    """A band-limited periodic waveform of ``n`` samples at ``freq`` Hz (scalar or ``(n,)``).

    A time-varying ``freq`` (glides, vibrato, bends) is integrated to a phase; the wavetable
    holds harmonics up to ``0.45 * sr / max(freq)``. Peak amplitude is about 1.
    """
    f = np.asarray(freq, dtype=float)
    if f.ndim == 0:
        pos = np.arange(n) * (float(f) * _TABLE_SIZE / sr)
        f_max = float(f)
    else:
        pos = np.cumsum(f) * (_TABLE_SIZE / sr)
        pos -= pos[0]
        f_max = float(f.max())
    pos += phase * _TABLE_SIZE
    np.mod(pos, _TABLE_SIZE, out=pos)
    table = _table(kind, f_max, sr)
    table = np.append(table, table[0]) / np.abs(table).max()  # wrap-around sample
    i0 = pos.astype(np.intp)
    pos -= i0  # fractional part
    out = table[i0]
    out += (table[i0 + 1] - out) * pos
    return out


def envelope(
    n: int, *, sr: int, attack: float, decay: float, sustain: float = 0.0, release: float = 0.01
) -> np.ndarray:
    """An attack / exponential-decay / release amplitude envelope of ``n`` samples.

    Linear rise over ``attack`` s, then ``sustain + (1 - sustain) * exp(-t / decay)``, and a
    linear fade to 0 over the last ``release`` s (so notes end without clicks).
    """
    t = np.arange(n) / sr
    env = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack, 0.0) / decay)
    n_att = min(n, max(1, int(attack * sr)))
    env[:n_att] *= np.linspace(0.0, 1.0, n_att, endpoint=False)
    n_rel = min(n, max(1, int(release * sr)))
    env[n - n_rel :] *= np.linspace(1.0, 0.0, n_rel)
    return env


def filtered(
    x: np.ndarray, *, sr: int, low: float | None = None, high: float | None = None, order: int = 2
) -> np.ndarray:
    """Butterworth filtering: high-pass above ``low`` Hz and/or low-pass below ``high`` Hz."""
    nyq = 0.5 * sr
    if high is not None and high >= 0.98 * nyq:
        high = None
    if low is not None and high is not None:
        sos = signal.butter(order, [low, high], btype="bandpass", fs=sr, output="sos")
    elif low is not None:
        sos = signal.butter(order, low, btype="highpass", fs=sr, output="sos")
    elif high is not None:
        sos = signal.butter(order, high, btype="lowpass", fs=sr, output="sos")
    else:
        return x
    return signal.sosfilt(sos, x)


def saturate(x: np.ndarray, drive: float) -> np.ndarray:
    """Soft clipping ``tanh(drive * x) / tanh(drive)`` (guitar-amplifier style distortion)."""
    return np.tanh(drive * x) / np.tanh(drive)


def kick(*, sr: int, f_start: float, f_end: float, decay: float, length: float = 0.4) -> np.ndarray:
    """Bass drum: a sine whose pitch falls exponentially from ``f_start`` to ``f_end`` Hz."""
    t = np.arange(int(length * sr)) / sr
    f = f_end + (f_start - f_end) * np.exp(-t / 0.025)
    y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / decay)
    return y * envelope(t.size, sr=sr, attack=0.001, decay=1e9, sustain=1.0, release=0.02)


def snare(
    rng: np.random.Generator,
    *,
    sr: int,
    tone_hz: float,
    decay: float,
    band: tuple[float, float] = (1000.0, 7000.0),
    length: float = 0.35,
) -> np.ndarray:
    """Snare drum: a band-passed noise burst plus a short tone at ``tone_hz``."""
    t = np.arange(int(length * sr)) / sr
    body = filtered(rng.standard_normal(t.size), sr=sr, low=band[0], high=band[1])
    body /= np.abs(body).max()
    y = body * np.exp(-t / decay) + 0.6 * np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.04)
    return y * envelope(t.size, sr=sr, attack=0.0005, decay=1e9, sustain=1.0, release=0.02)


def noise_hit(
    rng: np.random.Generator,
    *,
    sr: int,
    low: float,
    high: float | None,
    decay: float,
    attack: float = 0.0005,
    length: float | None = None,
    order: int = 4,
) -> np.ndarray:
    """Filtered noise with an exponential decay: hi-hats (closed/open), crash, brushes, rim."""
    n = int((length if length is not None else min(6 * decay + attack, 2.5)) * sr)
    y = filtered(rng.standard_normal(n), sr=sr, low=low, high=high, order=order)
    y /= np.abs(y).max()
    return y * envelope(n, sr=sr, attack=attack, decay=decay, release=0.01)


def clap(
    rng: np.random.Generator, *, sr: int, band: tuple[float, float] = (900.0, 5000.0)
) -> np.ndarray:
    """Hand clap: three 10-ms-spaced noise bursts and a decaying tail, band-passed."""
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    env = sum(
        np.where(t >= d, np.exp(-np.maximum(t - d, 0) / 0.006), 0.0) for d in (0.0, 0.011, 0.022)
    )
    env = env + 0.8 * np.where(t >= 0.03, np.exp(-np.maximum(t - 0.03, 0) / 0.07), 0.0)
    y = filtered(rng.standard_normal(n), sr=sr, low=band[0], high=band[1]) * env
    return y / np.abs(y).max()


def ride(rng: np.random.Generator, *, sr: int, f_base: float, decay: float) -> np.ndarray:
    """Ride cymbal: inharmonic bell partials above ``f_base`` Hz plus high-passed noise."""
    n = int(min(5 * decay, 2.0) * sr)
    t = np.arange(n) / sr
    ratios = np.array([1.0, 1.47, 1.83, 2.39, 2.94, 3.61])
    ratios = ratios[ratios * f_base < 0.45 * sr]
    phases = rng.uniform(0, 2 * np.pi, ratios.size)
    bell = np.sin(2 * np.pi * f_base * ratios[:, None] * t + phases[:, None]).sum(0) / ratios.size
    wash = filtered(rng.standard_normal(n), sr=sr, low=f_base, order=4)
    wash /= np.abs(wash).max()
    y = (bell + 0.5 * wash) * np.exp(-t / decay)
    return y * envelope(n, sr=sr, attack=0.0005, decay=1e9, sustain=1.0, release=0.02)


def tone(
    freq: float | np.ndarray,
    n: int,
    *,
    sr: int,
    kind: str,
    attack: float,
    decay: float,
    sustain: float,
    release: float = 0.03,
    detune_cents: float = 0.0,
) -> np.ndarray:
    """An enveloped oscillator note; ``detune_cents > 0`` adds two detuned copies (chorus)."""
    y = oscillator(freq, n, sr=sr, kind=kind)
    if detune_cents:
        for c, ph in ((detune_cents, 0.31), (-detune_cents, 0.67)):
            y = y + oscillator(np.asarray(freq) * 2 ** (c / 1200), n, sr=sr, kind=kind, phase=ph)
        y /= 3.0
    return y * envelope(n, sr=sr, attack=attack, decay=decay, sustain=sustain, release=release)


def pluck(
    freq: float | np.ndarray,
    n: int,
    *,
    sr: int,
    bright_decay: float,
    body_decay: float,
    brightness: float = 1.0,
) -> np.ndarray:
    """Plucked string: a saw whose bright partials die in ``bright_decay`` s over a triangle body.

    A two-layer approximation of a string's frequency-dependent damping (Smith 2010).
    """
    t = np.arange(n) / sr
    bright = oscillator(freq, n, sr=sr, kind="saw") * np.exp(-t / bright_decay)
    body = oscillator(freq, n, sr=sr, kind="triangle") * np.exp(-t / body_decay)
    y = brightness * bright + body
    return y * envelope(n, sr=sr, attack=0.001, decay=1e9, sustain=1.0, release=0.02)


def add_at(buffer: np.ndarray, x: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``gain * x`` into ``buffer`` from sample ``start`` on, clipped at both ends (in place)."""
    lo, hi = max(start, 0), min(start + x.size, buffer.size)
    if hi > lo:
        buffer[lo:hi] += gain * x[lo - start : hi - start]
