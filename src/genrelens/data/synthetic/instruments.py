"""Instruments of the synthetic data set: the state of one track being rendered, musical helpers
(chords, scales, melodies) and the instruments shared between genres, each rendering one layer.

The sounds themselves are the pure functions of :mod:`genrelens.data._voices`; the functions
here draw their random parameters from the track's generator and place them on its beat grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from genrelens.data import _voices as v
from genrelens.data.synthetic.cues import STEMS, CueEvent

__all__ = [
    "TrackState",
    "chord_notes",
    "hz",
    "kick_drum",
    "closed_hat",
    "snare_drum",
    "crash_cymbal",
    "backbeat",
    "string_pad",
    "power_chords",
    "notes",
    "melody",
    "roots_at",
]

#: Numbers given as a sequence or an array: beat positions, onset times, MIDI notes, lengths.
Numbers = Sequence[float] | np.ndarray

# Chords and scales: semitones above the root.
MAJ, MIN = (0, 4, 7), (0, 3, 7)
DOM7, MAJ7, MIN7 = (0, 4, 7, 10), (0, 4, 7, 11), (0, 3, 7, 10)
POWER = (0, 7, 12)
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MAJOR_PENTA = (0, 2, 4, 7, 9)
MINOR_PENTA = (0, 3, 5, 7, 10)
BLUES_SCALE = (0, 3, 5, 6, 7, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)


class TrackState:
    """Mutable state while one track is rendered: stems, clock, key, cue events."""

    def __init__(
        self, rng: np.random.Generator, *, duration: float, sr: int, tempo: tuple[float, float]
    ) -> None:
        self.rng = rng
        self.sr = sr
        self.duration = duration
        self.n = int(round(duration * sr))
        self.tempo = float(rng.uniform(*tempo))
        self.beat = 60.0 / self.tempo
        self.key = int(rng.integers(12))
        self.bright = float(2 ** rng.uniform(-0.6, 0.6))  # multiplies every low-pass cutoff
        self.t0 = -float(rng.uniform(0, 4 * self.beat))  # the first bar starts before 0 s
        self.stems = {s: np.zeros(self.n) for s in STEMS}
        self.events: list[CueEvent] = []

    # -- time -----------------------------------------------------------------------------
    def grid_ix(
        self, positions: Numbers, *, period: float = 4.0, jitter: float = 0.004
    ) -> tuple[np.ndarray, np.ndarray]:
        """Onset times (s) of ``positions`` (in beats) repeated every ``period`` beats, with
        ``jitter`` s of random timing, and the index into ``positions`` of each onset."""
        pos = np.asarray(positions, dtype=float)
        n_rep = int(np.ceil((self.duration - self.t0) / (period * self.beat))) + 1
        t = self.t0 + (np.arange(n_rep)[:, None] * period + pos[None, :]).ravel() * self.beat
        t = t + self.rng.normal(0.0, jitter, t.size)
        idx = np.tile(np.arange(pos.size), n_rep)
        keep = (t > -2.0) & (t < self.duration)
        return t[keep], idx[keep]

    def grid(
        self, positions: Numbers, *, period: float = 4.0, jitter: float = 0.004
    ) -> np.ndarray:
        """The onset times of :meth:`grid_ix`."""
        return self.grid_ix(positions, period=period, jitter=jitter)[0]

    def bar_index(self, t: float) -> int:
        """Index of the 4-beat bar holding time ``t`` (bar 0 starts at ``t0 <= 0``)."""
        return int(np.floor((t - self.t0) / (4 * self.beat) + 1e-6))

    def velocities(self, size: int, spread_db: float = 2.0) -> np.ndarray:
        """Random per-hit gains, log-normal around 1 with ``spread_db`` dB deviation."""
        return 10 ** (self.rng.normal(0.0, spread_db, size) / 20)

    # -- rendering ------------------------------------------------------------------------
    def layer(self) -> np.ndarray:
        """A silent buffer the length of the track."""
        return np.zeros(self.n)

    def place(
        self, buffer: np.ndarray, x: np.ndarray, times: np.ndarray, gains: np.ndarray
    ) -> None:
        """Add the sound ``x`` at each onset time into ``buffer``, scaled by its gain."""
        for t, g in zip(times, gains):
            v.add_at(buffer, x, int(round(t * self.sr)), g)

    def mix_in(self, stem: str, buffer: np.ndarray, gain_db: float) -> None:
        """Add an instrument layer to a stem at ``gain_db`` (plus +-1.5 dB of random balance)."""
        self.stems[stem] += buffer * 10 ** ((gain_db + self.rng.uniform(-1.5, 1.5)) / 20)

    def cue(
        self,
        cue: str,
        stem: str,
        times: Numbers,
        length: float | np.ndarray,
        band: tuple[float, float],
    ) -> None:
        """Record cue events at ``times`` lasting ``length`` s in ``band`` Hz (clipped to the track)."""
        times = np.asarray(times, dtype=float).ravel()
        lengths = np.broadcast_to(np.asarray(length, dtype=float), times.shape)
        nyq = self.sr / 2
        lo, hi = max(0.0, float(band[0])), min(nyq, float(band[1]))
        for t, d in zip(times, lengths):
            start, end = max(0.0, float(t)), min(self.duration, float(t + d))
            if end > start:
                self.events.append(CueEvent(cue, stem, start, end, lo, hi))

    def vibrato(
        self, f0: float, n: int, *, rate: float, cents: float, delay: float = 0.0
    ) -> np.ndarray:
        """Frequency track ``(n,)`` of ``f0`` with a sinusoidal vibrato fading in after ``delay`` s."""
        t = np.arange(n) / self.sr
        depth = cents * np.clip((t - delay) / 0.15, 0.0, 1.0)
        phase = self.rng.uniform(0, 2 * np.pi)
        return f0 * 2 ** (depth * np.sin(2 * np.pi * rate * t + phase) / 1200)


def chord_notes(root_midi: float, intervals: Sequence[int]) -> np.ndarray:
    """MIDI notes of a chord: ``root_midi`` plus each interval (semitones)."""
    return root_midi + np.asarray(intervals, dtype=float)


def hz(midi: float | np.ndarray) -> Any:
    """Frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz)."""
    return v.midi_hz(midi)


# --------------------------------------------------------------------------------------------
# Shared instruments (each renders one layer)
# --------------------------------------------------------------------------------------------


def kick_drum(tr: TrackState, *, decay: float = 0.3) -> np.ndarray:
    """One kick: a sine sweeping down from 110-160 Hz to 45-58 Hz."""
    return v.kick(
        sr=tr.sr,
        f_start=tr.rng.uniform(110, 160),
        f_end=tr.rng.uniform(45, 58),
        decay=decay * tr.rng.uniform(0.8, 1.2),
    )


#: The band (Hz) recorded for cue events carried by the kick.
KICK_BAND = (30.0, 200.0)


def closed_hat(tr: TrackState) -> np.ndarray:
    """One closed hi-hat: a short high-passed noise burst (above about 7 kHz)."""
    low = min(7000.0 * tr.bright**0.5, 0.4 * tr.sr)
    return v.noise_hit(tr.rng, sr=tr.sr, low=low, high=None, decay=tr.rng.uniform(0.02, 0.04))


def snare_drum(tr: TrackState, *, decay: float = 0.12) -> np.ndarray:
    """One snare hit: a 170-240 Hz tone and a noise burst."""
    return v.snare(tr.rng, sr=tr.sr, tone_hz=tr.rng.uniform(170, 240), decay=decay)


def crash_cymbal(tr: TrackState) -> np.ndarray:
    """One crash: a long noise burst above 3.5 kHz."""
    return v.noise_hit(
        tr.rng, sr=tr.sr, low=3500.0, high=None, decay=tr.rng.uniform(0.6, 1.0), order=2
    )


def backbeat(
    tr: TrackState, *, kick: Numbers, snare: Numbers, hats: Numbers
) -> np.ndarray:
    """A standard kit layer: kick, snare and closed hats at the given beat positions."""
    drums = tr.layer()
    k = tr.grid(kick)
    tr.place(drums, kick_drum(tr), k, tr.velocities(k.size))
    s = tr.grid(snare)
    tr.place(drums, snare_drum(tr), s, 0.8 * tr.velocities(s.size))
    h = tr.grid(hats)
    tr.place(drums, closed_hat(tr), h, 0.35 * tr.velocities(h.size, 3.0))
    return drums


def string_pad(
    tr: TrackState, chords: Sequence[tuple[int, Sequence[int]]], *, octave: int, cue: str | None = None
) -> np.ndarray:
    """Sustained detuned-saw chords (one per bar) with slow attack and vibrato, low-passed:
    a string section. With ``cue``, each chord is recorded as a cue event."""
    pad = tr.layer()
    slot = 4 * tr.beat
    cutoff = 2500.0 * tr.bright
    for i in range(tr.bar_index(-1e-9), tr.bar_index(tr.duration) + 1):
        t = tr.t0 + i * slot
        root, quality = chords[i % len(chords)]
        notes = chord_notes(octave + tr.key + root, quality)
        n = int((slot + 0.3) * tr.sr)
        for m in notes:
            f = tr.vibrato(hz(m), n, rate=tr.rng.uniform(4.5, 6.0), cents=12, delay=0.3)
            x = v.tone(
                f,
                n,
                sr=tr.sr,
                kind="saw",
                attack=0.25,
                decay=1.0,
                sustain=0.8,
                release=0.3,
                detune_cents=8,
            )
            v.add_at(pad, x, int(round(t * tr.sr)), 1.0 / len(notes))
        if cue:
            tr.cue(cue, "harmony", [t], slot, (0.94 * hz(notes.min()), cutoff))
    return v.filtered(pad, sr=tr.sr, high=cutoff)


def power_chords(
    tr: TrackState,
    times: np.ndarray,
    roots: Numbers,
    *,
    length: float,
    decay: float,
    drive: float,
    cutoff: float,
) -> np.ndarray:
    """Distorted guitar power chords (root, fifth, octave through a tanh amplifier)."""
    gtr = tr.layer()
    n = int(length * tr.sr)
    for t, r in zip(times, roots):
        chord = sum(
            v.oscillator(hz(m) * 2 ** (tr.rng.normal(0, 4) / 1200), n, sr=tr.sr, kind="saw")
            for m in chord_notes(r, POWER)
        )
        env = v.envelope(n, sr=tr.sr, attack=0.003, decay=decay, sustain=0.0, release=0.02)
        v.add_at(
            gtr,
            v.saturate(0.35 * chord * env, drive),
            int(round(t * tr.sr)),
            float(tr.velocities(1, 1.0)[0]),
        )
    return v.filtered(v.filtered(gtr, sr=tr.sr, high=cutoff, order=4), sr=tr.sr, low=80.0)


def notes(
    tr: TrackState,
    buffer: np.ndarray,
    times: Numbers,
    midis: Numbers,
    length: float | Numbers,
    render: Callable[[float, int], np.ndarray],
    gain: float = 1.0,
) -> None:
    """Render one note per onset with ``render(f0_hz, n_samples)`` and add it into ``buffer``."""
    lengths = np.broadcast_to(np.asarray(length, dtype=float), (len(times),))
    for t, m, d in zip(times, midis, lengths):
        x = render(float(hz(m)), int(d * tr.sr))
        v.add_at(buffer, x, int(round(t * tr.sr)), gain * float(tr.velocities(1, 1.5)[0]))


def melody(
    tr: TrackState, n: int, scale: Sequence[int], *, low: int, high: int, step: int = 2
) -> np.ndarray:
    """A random walk of ``n`` MIDI notes on ``scale`` (in the track's key) between low and high."""
    pitches = np.array([o + tr.key + s for o in range(0, 128, 12) for s in scale])
    pitches = np.sort(pitches[(pitches >= low) & (pitches <= high)])
    idx = int(tr.rng.integers(pitches.size))
    out = np.empty(n)
    for i in range(n):
        idx = int(np.clip(idx + tr.rng.integers(-step, step + 1), 0, pitches.size - 1))
        out[i] = pitches[idx]
    return out


def roots_at(
    tr: TrackState, times: np.ndarray, chords: Sequence[tuple[int, Sequence[int]]], *, octave: int
) -> np.ndarray:
    """MIDI root, in the track's key, of the chord sounding at each time (one chord per bar)."""
    return np.array(
        [octave + tr.key + chords[tr.bar_index(t) % len(chords)][0] for t in times], dtype=float
    )
