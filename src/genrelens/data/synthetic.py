"""A procedurally synthesised stand-in for GTZAN, with stems and ground-truth cue locations.

:func:`synthesize_dataset` writes, with numpy alone (no downloads, no system synthesizer)::

    out/genres/<genre>/<genre>.000NN.wav     16-bit PCM mono mix (GTZAN original layout)
    out/stems/<genre>.000NN/{drums,bass,harmony,lead}.wav   32-bit float stems
    out/cues/<genre>.000NN.json              ground-truth cue events + per-track summary
    out/synth.json                           seed, version, parameters, cue descriptions

for the ten GTZAN genres (:data:`~genrelens.data.gtzan.GTZAN_GENRES`). Each genre has its own
tempo range, drum pattern, bass line, harmony and timbres, drawn anew for each track (key,
tempo within *overlapping* ranges, swing, brightness of every instrument, stem balance,
pattern variants, melodies, timing and velocity humanisation), so that a classifier has to
learn the genre cues rather than memorise clips. Instruments are shared between genres
(the kick, snare, hi-hats, crash, string pad, plucked strings, distorted guitar appear in
several), so no single sound names a genre; each genre has two or three *cues* — localised
time-frequency events that define it (metal: distorted power chords and a double kick;
reggae: off-beat skank stabs and the one-drop; ...; see :data:`GENRES` or ``synth.json``).
The gap between the end of one event of a cue and the start of the next is under 3 s at
every tempo (the widest: reggae's one-drop, once per bar of at most 3.16 s, lasting 0.2 s), so
every 3-s segment holds every cue of its genre.

Loudness is not a cue: each mix is scaled to a random RMS level between -26 and -18 dBFS
(then lowered, if needed, so that its peak stays below -1 dBFS of headroom).

Stems and mix
    The four stems sum to the mix as it is read back (``soundfile.read`` gives
    ``int16 / 32768``) to float32 precision (about 1e-7): the 16-bit quantisation residual of
    the mix (under half a step, below -96 dBFS) is shared equally among the four stems before
    they are written as 32-bit float WAV.

Cue records
    ``cues/<track_id>.json`` holds ``{"track_id", "genre", "events": [...], "summary": {...}}``;
    an event is ``{"cue", "stem", "start", "end", "fmin", "fmax"}`` (seconds, Hz), lying in
    ``[0, duration] x [0, sr / 2]``. :func:`cue_mask` turns the events into a boolean mask on
    the log-mel grid of one segment, used to score explanations (relevance mass inside the
    mask, pointing game; Zhang et al. 2018, "Top-down neural attention by excitation backprop").

Determinism
    Track ``<genre>.000NN`` is a function of ``(seed, genre, NN, duration, sr)`` only: its
    generator is ``np.random.default_rng([seed, genre_index, NN])``. The same seed gives
    byte-identical files, whatever the order of generation or the number of processes (with
    the same numpy and scipy builds; other builds may differ in the last bits of floats).

The idea of controlled synthetic music with known ground truth for testing explanations
follows Mishra, Sturm & Dixon (2017), "Local interpretable model-agnostic explanations for
music content analysis", and Sturm (2014), "A simple method to determine if a music
information retrieval system is a horse".
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._io import atomic_path, write_json
from genrelens._validation import check_int
from genrelens.config import FeatureConfig
from genrelens.data import _voices as v
from genrelens.data.gtzan import GTZAN_GENRES
from genrelens.errors import DatasetError, ParameterError

__all__ = [
    "SYNTH_VERSION",
    "STEMS",
    "GENRES",
    "GenreSpec",
    "CueEvent",
    "CueRecord",
    "SynthTrack",
    "synthesize_track",
    "synthesize_dataset",
    "cue_mask",
    "load_cues",
]

#: Version of the synthesis recipes; bumped whenever the audio for a given seed changes.
SYNTH_VERSION = 1

#: Stem names, in the order they are summed.
STEMS: tuple[str, ...] = ("drums", "bass", "harmony", "lead")

# Mix level: RMS drawn uniformly in this dBFS range, then peak kept below _PEAK.
_RMS_DBFS = (-26.0, -18.0)
_PEAK = 10 ** (-1.0 / 20)


@dataclasses.dataclass(frozen=True)
class CueEvent:
    """One genre-defining event: where in time (s) and frequency (Hz) a cue sounds.

    Parameters
    ----------
    cue : str
        Cue name (a key of ``GENRES[genre].cues``).
    stem : str
        The stem that carries it (one of :data:`STEMS`).
    start, end : float
        Seconds from the start of the track, ``0 <= start <= end``.
    fmin, fmax : float
        The frequency band in Hz holding the event's energy, ``0 <= fmin <= fmax``.
    """

    cue: str
    stem: str
    start: float
    end: float
    fmin: float
    fmax: float

    def __post_init__(self) -> None:
        if self.stem not in STEMS:
            raise ParameterError(f"stem={self.stem!r} is invalid: expected one of {STEMS}.")
        if not (
            math.isfinite(self.start) and math.isfinite(self.end) and 0 <= self.start <= self.end
        ):
            raise ParameterError(
                f"start={self.start!r}, end={self.end!r} are invalid: expected 0 <= start <= end."
            )
        if not (math.isfinite(self.fmax) and 0 <= self.fmin <= self.fmax):
            raise ParameterError(
                f"fmin={self.fmin!r}, fmax={self.fmax!r} are invalid: expected 0 <= fmin <= fmax."
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CueEvent:
        """Build from a mapping with the six field names (as stored in the JSON records)."""
        fields = [f.name for f in dataclasses.fields(cls)]
        missing = [k for k in fields if k not in data]
        if missing:
            raise ParameterError(
                f"cue event {dict(data)!r} lacks keys {missing}: expected {fields}."
            )
        return cls(
            cue=str(data["cue"]),
            stem=str(data["stem"]),
            start=float(data["start"]),
            end=float(data["end"]),
            fmin=float(data["fmin"]),
            fmax=float(data["fmax"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times rounded to 0.1 ms, frequencies to 0.1 Hz)."""
        return {
            "cue": self.cue,
            "stem": self.stem,
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "fmin": round(self.fmin, 1),
            "fmax": round(self.fmax, 1),
        }


@dataclasses.dataclass(frozen=True)
class CueRecord:
    """The ground truth of one track: its cue events and a summary of how it was made."""

    track_id: str
    genre: str
    events: tuple[CueEvent, ...]
    summary: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class SynthTrack:
    """One synthesised track in memory.

    Attributes
    ----------
    track_id : str
        ``"<genre>.000NN"``.
    pcm : np.ndarray
        int16 mix, shape ``(n_samples,)``, exactly what the mix file holds.
    stems : dict of str to np.ndarray
        float32 stems, shape ``(n_samples,)`` each; ``sum(stems) == pcm / 32768`` to ~1e-7.
    cues : CueRecord
    """

    track_id: str
    pcm: np.ndarray
    stems: dict[str, np.ndarray]
    cues: CueRecord

    @property
    def mix(self) -> np.ndarray:
        """The mix as float32 in [-1, 1), as ``soundfile.read`` returns it."""
        return self.pcm.astype(np.float32) / np.float32(32768)


# --------------------------------------------------------------------------------------------
# Musical helpers
# --------------------------------------------------------------------------------------------

MAJ, MIN = (0, 4, 7), (0, 3, 7)
DOM7, MAJ7, MIN7 = (0, 4, 7, 10), (0, 4, 7, 11), (0, 3, 7, 10)
POWER = (0, 7, 12)
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MAJOR_PENTA = (0, 2, 4, 7, 9)
MINOR_PENTA = (0, 3, 5, 7, 10)
BLUES_SCALE = (0, 3, 5, 6, 7, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)


class _Track:
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
        self, positions: Sequence[float], *, period: float = 4.0, jitter: float = 0.004
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
        self, positions: Sequence[float], *, period: float = 4.0, jitter: float = 0.004
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
        times: np.ndarray | Sequence[float],
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


def _chord_notes(root_midi: float, intervals: Sequence[int]) -> np.ndarray:
    return root_midi + np.asarray(intervals, dtype=float)


def _f(midi: float | np.ndarray) -> Any:
    return v.midi_hz(midi)


# --------------------------------------------------------------------------------------------
# Shared instruments (each renders one layer)
# --------------------------------------------------------------------------------------------


def _kick(tr: _Track, *, decay: float = 0.3) -> np.ndarray:
    return v.kick(
        sr=tr.sr,
        f_start=tr.rng.uniform(110, 160),
        f_end=tr.rng.uniform(45, 58),
        decay=decay * tr.rng.uniform(0.8, 1.2),
    )


_KICK_BAND = (30.0, 200.0)


def _closed_hat(tr: _Track) -> np.ndarray:
    low = min(7000.0 * tr.bright**0.5, 0.4 * tr.sr)
    return v.noise_hit(tr.rng, sr=tr.sr, low=low, high=None, decay=tr.rng.uniform(0.02, 0.04))


def _snare(tr: _Track, *, decay: float = 0.12) -> np.ndarray:
    return v.snare(tr.rng, sr=tr.sr, tone_hz=tr.rng.uniform(170, 240), decay=decay)


def _crash(tr: _Track) -> np.ndarray:
    return v.noise_hit(
        tr.rng, sr=tr.sr, low=3500.0, high=None, decay=tr.rng.uniform(0.6, 1.0), order=2
    )


def _backbeat(
    tr: _Track, *, kick: Sequence[float], snare: Sequence[float], hats: Sequence[float]
) -> np.ndarray:
    """A standard kit layer: kick, snare and closed hats at the given beat positions."""
    drums = tr.layer()
    k = tr.grid(kick)
    tr.place(drums, _kick(tr), k, tr.velocities(k.size))
    s = tr.grid(snare)
    tr.place(drums, _snare(tr), s, 0.8 * tr.velocities(s.size))
    h = tr.grid(hats)
    tr.place(drums, _closed_hat(tr), h, 0.35 * tr.velocities(h.size, 3.0))
    return drums


def _string_pad(
    tr: _Track, chords: Sequence[tuple[int, Sequence[int]]], *, octave: int, cue: str | None = None
) -> np.ndarray:
    """Sustained detuned-saw chords (one per bar) with slow attack and vibrato, low-passed:
    a string section. With ``cue``, each chord is recorded as a cue event."""
    pad = tr.layer()
    slot = 4 * tr.beat
    cutoff = 2500.0 * tr.bright
    for i in range(tr.bar_index(-1e-9), tr.bar_index(tr.duration) + 1):
        t = tr.t0 + i * slot
        root, quality = chords[i % len(chords)]
        notes = _chord_notes(octave + tr.key + root, quality)
        n = int((slot + 0.3) * tr.sr)
        for m in notes:
            f = tr.vibrato(_f(m), n, rate=tr.rng.uniform(4.5, 6.0), cents=12, delay=0.3)
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
            tr.cue(cue, "harmony", [t], slot, (0.94 * _f(notes.min()), cutoff))
    return v.filtered(pad, sr=tr.sr, high=cutoff)


def _power_chords(
    tr: _Track,
    times: np.ndarray,
    roots: Sequence[float],
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
            v.oscillator(_f(m) * 2 ** (tr.rng.normal(0, 4) / 1200), n, sr=tr.sr, kind="saw")
            for m in _chord_notes(r, POWER)
        )
        env = v.envelope(n, sr=tr.sr, attack=0.003, decay=decay, sustain=0.0, release=0.02)
        v.add_at(
            gtr,
            v.saturate(0.35 * chord * env, drive),
            int(round(t * tr.sr)),
            float(tr.velocities(1, 1.0)[0]),
        )
    return v.filtered(v.filtered(gtr, sr=tr.sr, high=cutoff, order=4), sr=tr.sr, low=80.0)


def _notes(
    tr: _Track,
    buffer: np.ndarray,
    times: Sequence[float],
    midis: Sequence[float],
    length: float | Sequence[float],
    render: Callable[[float, int], np.ndarray],
    gain: float = 1.0,
) -> None:
    """Render one note per onset with ``render(f0_hz, n_samples)`` and add it into ``buffer``."""
    lengths = np.broadcast_to(np.asarray(length, dtype=float), (len(times),))
    for t, m, d in zip(times, midis, lengths):
        x = render(float(_f(m)), int(d * tr.sr))
        v.add_at(buffer, x, int(round(t * tr.sr)), gain * float(tr.velocities(1, 1.5)[0]))


def _melody(
    tr: _Track, n: int, scale: Sequence[int], *, low: int, high: int, step: int = 2
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


def _roots_at(
    tr: _Track, times: np.ndarray, chords: Sequence[tuple[int, Sequence[int]]], *, octave: int
) -> np.ndarray:
    """MIDI root, in the track's key, of the chord sounding at each time (one chord per bar)."""
    return np.array(
        [octave + tr.key + chords[tr.bar_index(t) % len(chords)][0] for t in times], dtype=float
    )


# --------------------------------------------------------------------------------------------
# The ten genres
# --------------------------------------------------------------------------------------------


def _blues(tr: _Track) -> None:
    prog = (
        [(0, DOM7)] * 4
        + [(5, DOM7)] * 2
        + [(0, DOM7)] * 2
        + [(7, DOM7), (5, DOM7), (0, DOM7), (7, DOM7)]
    )
    first = int(tr.rng.integers(len(prog)))  # the clip starts anywhere in the 12-bar form
    prog = prog[first:] + prog[:first]
    shuffle = [b + s for b in range(4) for s in (0.0, 2 / 3)]
    drums = _backbeat(tr, kick=[0, 2], snare=[1, 3], hats=shuffle)
    tr.mix_in("drums", drums, 0.0)
    # boogie bass: R 3 5 6 b7 6 5 3 on swung eighths
    bass = tr.layer()
    t, slot = tr.grid_ix(shuffle)
    steps = np.array([0, 4, 7, 9, 10, 9, 7, 4])[slot]
    roots = _roots_at(tr, t, prog, octave=36)
    midis = roots + steps
    _notes(
        tr,
        bass,
        t,
        midis,
        0.9 * tr.beat * 2 / 3,
        lambda f, n: v.pluck(f, n, sr=tr.sr, bright_decay=0.05, body_decay=0.4, brightness=0.6),
    )
    bass_cut = 1200.0 * tr.bright
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=bass_cut), -2.0)
    tr.cue(
        "shuffle_boogie_bass",
        "bass",
        t,
        0.9 * tr.beat * 2 / 3,
        (0.94 * _f(midis.min()), min(6 * _f(midis.max()), bass_cut)),
    )
    # organ chords, one per bar
    organ = tr.layer()
    for i in range(tr.bar_index(0.0), tr.bar_index(tr.duration) + 1):
        root, q = prog[i % len(prog)]
        n = int(4 * tr.beat * tr.sr)
        for m in _chord_notes(60 + tr.key + root - 12 * (root > 6), q):
            x = v.tone(
                _f(m), n, sr=tr.sr, kind="organ", attack=0.02, decay=0.5, sustain=0.7, release=0.05
            )
            v.add_at(organ, x, int(round((tr.t0 + i * 4 * tr.beat) * tr.sr)), 0.25)
    tr.mix_in("harmony", v.filtered(organ, sr=tr.sr, high=3000.0 * tr.bright), -9.0)
    # lead guitar: blue notes bent up a semitone on beats 1 and 3, other notes in between
    lead = tr.layer()
    lead_cut = 4000.0 * tr.bright
    bends = tr.grid([0, 2], jitter=0.01)
    blue = 64 + tr.key + tr.rng.choice([3, 6, 10], bends.size)  # b3, b5, b7, bent up to 3, 5, 7
    length = 0.75 * tr.beat * 2

    def bent(f: float, n: int) -> np.ndarray:
        tt = np.arange(n) / tr.sr
        glide = f * 2 ** (np.clip((tt - 0.04) / 0.12, 0, 1) / 12)
        fr = glide * 2 ** (
            15 * np.clip((tt - 0.3) / 0.2, 0, 1) * np.sin(2 * np.pi * 5.5 * tt) / 1200
        )
        x = v.oscillator(fr, n, sr=tr.sr, kind="saw") * v.envelope(
            n, sr=tr.sr, attack=0.005, decay=0.6, sustain=0.4
        )
        return v.saturate(x, 2.5)

    _notes(tr, lead, bends, blue, length, bent)
    tr.cue(
        "blue_note_bend",
        "lead",
        bends,
        length,
        (0.94 * _f(blue.min()), min(8 * _f(blue.max() + 1), lead_cut)),
    )
    fills = tr.grid([1, 1 + 2 / 3, 3, 3 + 2 / 3])
    keep = tr.rng.random(fills.size) < 0.5
    _notes(
        tr,
        lead,
        fills[keep],
        _melody(tr, int(keep.sum()), BLUES_SCALE, low=62, high=79),
        0.6 * tr.beat,
        lambda f, n: v.saturate(
            v.tone(f, n, sr=tr.sr, kind="saw", attack=0.005, decay=0.3, sustain=0.3), 2.5
        ),
        0.7,
    )
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, high=lead_cut), -3.0)


def _classical(tr: _Track) -> None:
    major = tr.rng.random() < 0.5
    prog = (
        [(0, MAJ), (5, MAJ), (7, MAJ), (0, MAJ), (9, MIN), (2, MIN), (7, MAJ), (0, MAJ)]
        if major
        else [(0, MIN), (5, MIN), (7, MAJ), (0, MIN), (8, MAJ), (5, MIN), (7, MAJ), (0, MIN)]
    )
    tr.mix_in("harmony", _string_pad(tr, prog, octave=55, cue="string_pad"), -2.0)
    # cello: half notes on root and fifth
    cello = tr.layer()
    t, slot = tr.grid_ix([0, 2], jitter=0.01)
    roots = _roots_at(tr, t, prog, octave=36) + np.where(slot == 1, 7, 0)

    def bowed(f: float, n: int) -> np.ndarray:
        return v.tone(
            tr.vibrato(f, n, rate=5.0, cents=15, delay=0.2),
            n,
            sr=tr.sr,
            kind="saw",
            attack=0.08,
            decay=1.0,
            sustain=0.8,
            release=0.15,
        )

    _notes(tr, cello, t, roots, 2 * tr.beat, bowed)
    tr.mix_in("bass", v.filtered(cello, sr=tr.sr, high=1200.0 * tr.bright), -5.0)
    # violin melody with vibrato, quarter and half notes
    violin = tr.layer()
    t = tr.grid([0, 1, 2, 3], jitter=0.01)
    keep = np.ones(t.size, bool)
    keep[1::4] = tr.rng.random(keep[1::4].size) < 0.6  # sometimes a half note
    t = t[keep]
    lengths = np.diff(np.append(t, t[-1] + tr.beat)) + 0.05
    midis = _melody(
        tr, t.size, MAJOR_SCALE if major else (0, 2, 3, 5, 7, 8, 11), low=67, high=88, step=2
    )
    rate = tr.rng.uniform(5.5, 6.5)

    def violin_note(f: float, n: int) -> np.ndarray:
        return v.tone(
            tr.vibrato(f, n, rate=rate, cents=30, delay=0.08),
            n,
            sr=tr.sr,
            kind="saw",
            attack=0.06,
            decay=0.8,
            sustain=0.75,
            release=0.06,
        )

    _notes(tr, violin, t, midis, lengths, violin_note)
    cut = 5000.0 * tr.bright
    tr.mix_in("lead", v.filtered(violin, sr=tr.sr, high=cut), -4.0)
    tr.cue(
        "violin_vibrato",
        "lead",
        t,
        lengths,
        (0.94 * _f(midis.min()), min(6 * _f(midis.max()), cut)),
    )


def _country(tr: _Track) -> None:
    prog = [(0, MAJ), (0, MAJ), (5, MAJ), (5, MAJ), (7, MAJ), (7, MAJ), (0, MAJ), (0, MAJ)]
    # train beat: brushed snare on every sixteenth, accents on 2 and 4; kick on 1 and 3
    drums = tr.layer()
    k = tr.grid([0, 2])
    tr.place(drums, _kick(tr), k, 0.8 * tr.velocities(k.size))
    brush = v.noise_hit(tr.rng, sr=tr.sr, low=2000.0, high=9000.0, decay=0.05, attack=0.004)
    b, slot = tr.grid_ix(np.arange(16) / 4)
    tr.place(drums, brush, b, np.where(np.isin(slot, (4, 12)), 0.9, 0.4) * tr.velocities(b.size))
    tr.cue("train_beat", "drums", b, 0.1, (2000.0, 9000.0))
    tr.mix_in("drums", drums, -1.0)
    # boom-chick bass: root on 1, fifth below on 3
    bass = tr.layer()
    t, slot = tr.grid_ix([0, 2])
    midis = _roots_at(tr, t, prog, octave=40) - np.where(slot == 1, 5, 0)
    _notes(
        tr,
        bass,
        t,
        midis,
        0.9 * tr.beat,
        lambda f, n: v.pluck(f, n, sr=tr.sr, bright_decay=0.04, body_decay=0.5, brightness=0.5),
    )
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=1000.0 * tr.bright), -3.0)
    # acoustic guitar strums on 2 and 4 ("chick")
    gtr = tr.layer()
    for t in tr.grid([1, 3]):
        root, q = prog[tr.bar_index(t) % len(prog)]
        for j, m in enumerate(
            _chord_notes(52 + tr.key + root - 12 * (tr.key + root > 9), q + (12, 16))
        ):
            x = v.pluck(
                _f(m), int(0.6 * tr.sr), sr=tr.sr, bright_decay=0.06, body_decay=0.3, brightness=0.8
            )
            v.add_at(gtr, x, int(round((t + 0.008 * j) * tr.sr)), 0.2)
    tr.mix_in("harmony", v.filtered(gtr, sr=tr.sr, low=150.0, high=5000.0 * tr.bright), -6.0)
    # twangy lead: bright plucks, many bent up a whole tone into the note
    lead = tr.layer()
    t = tr.grid(np.arange(8) / 2, jitter=0.006)
    t = t[tr.rng.random(t.size) < 0.6]
    midis = _melody(tr, t.size, MAJOR_PENTA, low=64, high=84)
    bend = tr.rng.random(t.size) < 0.5

    def twang(f: float, n: int, bent: bool) -> np.ndarray:
        tt = np.arange(n) / tr.sr
        fr = f * 2 ** (-2 * np.clip(1 - tt / 0.07, 0, 1) / 12) if bent else f
        return v.saturate(
            v.pluck(fr, n, sr=tr.sr, bright_decay=0.12, body_decay=0.35, brightness=2.0), 1.5
        )

    for ti, m, bi in zip(t, midis, bend):
        v.add_at(
            lead,
            twang(float(_f(m)), int(0.45 * tr.sr), bool(bi)),
            int(round(ti * tr.sr)),
            float(tr.velocities(1, 1.5)[0]),
        )
    cut = 7000.0 * tr.bright
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, low=300.0, high=cut), -2.0)
    tr.cue("twang_lead", "lead", t, 0.3, (0.94 * _f(midis.min()), min(10 * _f(midis.max()), cut)))


def _disco(tr: _Track) -> None:
    prog = [(0, MIN7), (5, MIN7)] if tr.rng.random() < 0.5 else [(2, MIN7), (7, DOM7)]
    drums = tr.layer()
    k = tr.grid([0, 1, 2, 3])
    tr.place(drums, _kick(tr, decay=0.25), k, tr.velocities(k.size, 1.0))
    tr.cue("four_on_floor_kick", "drums", k, 0.2, _KICK_BAND)
    oh = tr.grid([0.5, 1.5, 2.5, 3.5])
    open_hat = v.noise_hit(
        tr.rng, sr=tr.sr, low=6500.0, high=None, decay=tr.rng.uniform(0.08, 0.14)
    )
    tr.place(drums, open_hat, oh, 0.6 * tr.velocities(oh.size))
    tr.cue("offbeat_open_hat", "drums", oh, 0.25, (6000.0, tr.sr / 2))
    c = tr.grid([1, 3])
    tr.place(drums, v.clap(tr.rng, sr=tr.sr), c, 0.6 * tr.velocities(c.size))
    tr.mix_in("drums", drums, 0.0)
    # octave bass on eighths
    bass = tr.layer()
    t, slot = tr.grid_ix(np.arange(8) / 2, jitter=0.003)
    midis = _roots_at(tr, t, prog, octave=36) + np.where(slot % 2 == 1, 12, 0)
    _notes(
        tr,
        bass,
        t,
        midis,
        0.45 * tr.beat,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="saw", attack=0.004, decay=0.12, sustain=0.3),
    )
    cut = 1000.0 * tr.bright
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=cut), -2.0)
    tr.cue(
        "octave_bass",
        "bass",
        t,
        0.45 * tr.beat,
        (0.94 * _f(midis.min()), min(5 * _f(midis.max()), cut)),
    )
    tr.mix_in("harmony", _string_pad(tr, prog, octave=60), -7.0)
    # brass stabs now and then
    brass = tr.layer()
    t = tr.grid([1.5, 3.5])
    t = t[tr.rng.random(t.size) < 0.4]
    for ti in t:
        root, q = prog[tr.bar_index(ti) % len(prog)]
        for m in _chord_notes(64 + tr.key + root - 12 * (tr.key + root > 6), q[:3]):
            x = v.tone(
                _f(m), int(0.2 * tr.sr), sr=tr.sr, kind="saw", attack=0.01, decay=0.1, sustain=0.5
            )
            v.add_at(brass, x, int(round(ti * tr.sr)), 0.3)
    tr.mix_in("lead", v.filtered(brass, sr=tr.sr, high=3000.0 * tr.bright), -8.0)


def _hiphop(tr: _Track) -> None:
    prog = [(0, MIN7), (8, MAJ7), (3, MAJ7), (10, DOM7)][: int(tr.rng.choice([2, 4]))]
    swing = tr.rng.uniform(0.58, 0.66)
    sixteenths = [b + s for b in range(4) for s in (0.0, swing / 2 + 0.0, 0.5, 0.5 + swing / 2)]
    kick_pos = [[0, 0.75, 2.5], [0, 1.5, 2.25, 2.75], [0, 0.75, 2, 2.5]][int(tr.rng.integers(3))]
    drums = tr.layer()
    k = tr.grid(kick_pos)
    tr.place(drums, _kick(tr, decay=0.3), k, tr.velocities(k.size))
    s = tr.grid([1, 3])
    tr.place(drums, _snare(tr, decay=0.2), s, tr.velocities(s.size, 1.0))
    tr.cue("boom_bap_snare", "drums", s, 0.3, (150.0, 7000.0))
    h = tr.grid(sixteenths)
    tr.place(drums, _closed_hat(tr), h, 0.2 * tr.velocities(h.size, 3.0))
    tr.mix_in("drums", drums, 0.0)
    # 808: long sine with a pitch drop, lightly saturated, on the kick pattern
    bass = tr.layer()
    midis = 28 + (_roots_at(tr, k, prog, octave=0) - 4) % 12  # 41-78 Hz
    length = 0.9 * tr.beat * 1.5

    def eight08(f: float, n: int) -> np.ndarray:
        tt = np.arange(n) / tr.sr
        x = np.sin(2 * np.pi * np.cumsum(f * (1 + 0.5 * np.exp(-tt / 0.02))) / tr.sr)
        return v.saturate(
            x * v.envelope(n, sr=tr.sr, attack=0.002, decay=0.8, sustain=0.0, release=0.05), 1.8
        )

    _notes(tr, bass, k, midis, length, eight08)
    tr.mix_in("bass", bass, -1.0)
    tr.cue("sub_bass_808", "bass", k, length, (0.8 * _f(midis.min()), 3.2 * _f(midis.max())))
    # dark electric piano
    ep = tr.layer()
    for t in tr.grid([0, 2.5 if tr.rng.random() < 0.5 else 2.0], jitter=0.01):
        root, q = prog[tr.bar_index(t) % len(prog)]
        for m in _chord_notes(57 + tr.key + root - 12 * (tr.key + root > 6), q):
            x = v.tone(
                _f(m),
                int(1.5 * tr.beat * tr.sr),
                sr=tr.sr,
                kind="triangle",
                attack=0.005,
                decay=0.7,
                sustain=0.15,
            )
            v.add_at(ep, x, int(round(t * tr.sr)), 0.25)
    tr.mix_in("harmony", v.filtered(ep, sr=tr.sr, high=1800.0 * tr.bright), -6.0)
    # sparse bell lead
    bell = tr.layer()
    t = tr.grid([0.5, 1.5, 3.0])
    t = t[tr.rng.random(t.size) < 0.5]
    _notes(
        tr,
        bell,
        t,
        _melody(tr, t.size, MINOR_PENTA, low=72, high=86),
        0.5,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="sine", attack=0.002, decay=0.2, sustain=0.0),
    )
    tr.mix_in("lead", bell, -12.0)


def _jazz(tr: _Track) -> None:
    prog = [(2, MIN7 + (14,)), (7, DOM7 + (14,)), (0, MAJ7 + (14,)), (0, MAJ7 + (14,))]
    sw = tr.rng.uniform(0.62, 0.7)
    drums = tr.layer()
    r, slot = tr.grid_ix([0, 1, 1 + sw, 2, 3, 3 + sw])
    ride_base = tr.rng.uniform(2300.0, 2900.0)
    tr.place(
        drums,
        v.ride(tr.rng, sr=tr.sr, f_base=ride_base, decay=tr.rng.uniform(0.3, 0.45)),
        r,
        np.where(np.isin(slot, (2, 5)), 0.45, 0.7) * tr.velocities(r.size),
    )
    tr.cue("swing_ride", "drums", r, 0.3, (0.9 * ride_base, tr.sr / 2))
    h = tr.grid([1, 3])
    tr.place(drums, _closed_hat(tr), h, 0.3 * tr.velocities(h.size))
    k = tr.grid([0, 1, 2, 3])
    tr.place(drums, _kick(tr, decay=0.15), k, 0.15 * tr.velocities(k.size))
    tr.mix_in("drums", drums, -2.0)
    # walking bass: chord tones with a chromatic approach to the next root
    bass = tr.layer()
    t, beat_in_bar = tr.grid_ix([0, 1, 2, 3], jitter=0.006)
    roots = _roots_at(tr, t, prog, octave=36)
    nxt = np.append(roots[1:], roots[-1])
    choice = tr.rng.choice([3, 4, 7, 9, 10], t.size) % 12
    midis = np.where(
        beat_in_bar == 0,
        roots,
        np.where(beat_in_bar == 3, nxt + tr.rng.choice([-1, 1], t.size), roots + choice),
    )
    _notes(
        tr,
        bass,
        t,
        midis,
        0.95 * tr.beat,
        lambda f, n: v.pluck(f, n, sr=tr.sr, bright_decay=0.03, body_decay=0.35, brightness=0.4),
    )
    cut = 900.0 * tr.bright
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=cut), 0.0)
    tr.cue(
        "walking_bass",
        "bass",
        t,
        0.95 * tr.beat,
        (0.94 * _f(midis.min()), min(5 * _f(midis.max()), cut)),
    )
    # piano comping on swung off-beats
    piano = tr.layer()
    comp = tr.grid([sw, 1 + sw, 2 + sw, 3 + sw], jitter=0.008)
    comp = comp[tr.rng.random(comp.size) < 0.45]
    for ti in comp:
        root, q = prog[tr.bar_index(ti) % len(prog)]
        for m in _chord_notes(55 + tr.key + root - 12 * (tr.key + root > 8), q[1:]):
            x = v.pluck(
                _f(m), int(0.7 * tr.sr), sr=tr.sr, bright_decay=0.08, body_decay=0.5, brightness=0.4
            )
            v.add_at(piano, x, int(round(ti * tr.sr)), 0.25)
    tr.mix_in("harmony", v.filtered(piano, sr=tr.sr, high=2500.0 * tr.bright), -5.0)
    # clean lead: swung eighths, soft triangle with vibrato
    lead = tr.layer()
    t = tr.grid([b + s for b in range(4) for s in (0.0, sw)], jitter=0.006)
    t = t[tr.rng.random(t.size) < 0.55]
    midis = _melody(tr, t.size, DORIAN, low=62, high=82)
    _notes(
        tr,
        lead,
        t,
        midis,
        0.5 * tr.beat,
        lambda f, n: v.tone(
            tr.vibrato(f, n, rate=5.0, cents=10),
            n,
            sr=tr.sr,
            kind="triangle",
            attack=0.02,
            decay=0.4,
            sustain=0.6,
        ),
    )
    tr.mix_in("lead", lead, -8.0)


def _metal(tr: _Track) -> None:
    riff = [0, 0, 0, 3, 0, 0, 5, 3] if tr.rng.random() < 0.5 else [0, 0, 1, 0, 0, 5, 0, 3]
    base = 28 + int(tr.rng.integers(0, 8))  # E1..B1: low tuning, independent of the key draw
    drums = tr.layer()
    k = tr.grid(np.arange(16) / 4, jitter=0.002)
    tr.place(
        drums,
        v.kick(
            sr=tr.sr,
            f_start=tr.rng.uniform(120, 160),
            f_end=tr.rng.uniform(50, 60),
            decay=0.09,
            length=0.2,
        ),
        k,
        0.8 * tr.velocities(k.size, 1.0),
    )
    tr.cue("double_kick", "drums", k, 0.12, _KICK_BAND)
    s = tr.grid([1, 3])
    tr.place(drums, _snare(tr, decay=0.1), s, tr.velocities(s.size, 1.0))
    c = tr.grid([0], period=8)
    tr.place(drums, _crash(tr), c, 0.5 * tr.velocities(c.size))
    tr.mix_in("drums", drums, 0.0)
    # palm-muted distorted power chords on eighths
    t, slot = tr.grid_ix(np.arange(8) / 2, jitter=0.003)
    roots = base + 12 + np.asarray(riff)[slot]
    cut = min(6000.0 * tr.bright, 0.45 * tr.sr)
    gtr = _power_chords(
        tr, t, roots, length=0.5 * tr.beat, decay=0.12, drive=tr.rng.uniform(12, 25), cutoff=cut
    )
    tr.mix_in("harmony", gtr, -3.0)
    # the distortion products: the dense high-mid band that sets metal apart from rock
    tr.cue("distorted_power_chords", "harmony", t, 0.5 * tr.beat, (1000.0, cut))
    # distorted bass doubling the riff
    bass = tr.layer()
    _notes(
        tr,
        bass,
        t,
        roots - 12,
        0.45 * tr.beat,
        lambda f, n: v.saturate(
            v.tone(f, n, sr=tr.sr, kind="saw", attack=0.003, decay=0.15, sustain=0.4), 3.0
        ),
    )
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=700.0 * tr.bright), -4.0)
    # tremolo-picked lead in every other bar
    lead = tr.layer()
    t = tr.grid(np.arange(16) / 4, period=8, jitter=0.002)
    midis = np.repeat(_melody(tr, t.size // 4 + 1, MINOR_PENTA, low=64, high=86, step=3), 4)[
        : t.size
    ]
    _notes(
        tr,
        lead,
        t,
        midis,
        0.25 * tr.beat,
        lambda f, n: v.saturate(
            v.tone(f, n, sr=tr.sr, kind="saw", attack=0.002, decay=0.1, sustain=0.5), 6.0
        ),
    )
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, high=5000.0 * tr.bright), -8.0)


def _pop(tr: _Track) -> None:
    prog = [(0, MAJ), (7, MAJ), (9, MIN), (5, MAJ)]
    drums = tr.layer()
    k = tr.grid([0, 1.5, 2])
    tr.place(drums, _kick(tr), k, tr.velocities(k.size))
    c = tr.grid([1, 3])
    tr.place(drums, v.clap(tr.rng, sr=tr.sr), c, 0.7 * tr.velocities(c.size))
    h = tr.grid(np.arange(8) / 2)
    tr.place(drums, _closed_hat(tr), h, 0.3 * tr.velocities(h.size, 3.0))
    tr.mix_in("drums", drums, -1.0)
    bass = tr.layer()
    t = tr.grid(np.arange(8) / 2, jitter=0.003)
    _notes(
        tr,
        bass,
        t,
        _roots_at(tr, t, prog, octave=36),
        0.45 * tr.beat,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="saw", attack=0.004, decay=0.15, sustain=0.3),
    )
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=700.0 * tr.bright), -3.0)
    # bright supersaw pad
    pad = tr.layer()
    for i in range(tr.bar_index(0.0), tr.bar_index(tr.duration) + 1):
        root, q = prog[i % len(prog)]
        n = int(4 * tr.beat * tr.sr)
        for m in _chord_notes(60 + tr.key + root - 12 * (tr.key + root > 6), q):
            x = v.tone(
                _f(m),
                n,
                sr=tr.sr,
                kind="saw",
                attack=0.05,
                decay=0.5,
                sustain=0.6,
                release=0.1,
                detune_cents=12,
            )
            v.add_at(pad, x, int(round((tr.t0 + i * 4 * tr.beat) * tr.sr)), 0.3)
    tr.mix_in("harmony", v.filtered(pad, sr=tr.sr, high=3500.0 * tr.bright), -8.0)
    # the hook: a one-bar square-wave motif, drawn once per track, repeated every bar
    n_notes = int(tr.rng.integers(4, 7))
    pos = np.sort(tr.rng.choice(np.arange(8) / 2, n_notes, replace=False))
    motif = _melody(tr, n_notes, MAJOR_PENTA, low=72, high=88)
    t, slot = tr.grid_ix(pos, jitter=0.002)
    midis = motif[slot]
    lead = tr.layer()
    _notes(
        tr,
        lead,
        t,
        midis,
        0.45 * tr.beat,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="square", attack=0.004, decay=0.15, sustain=0.5),
    )
    tr.mix_in("lead", lead, -3.0)
    tr.cue(
        "synth_hook",
        "lead",
        t,
        0.45 * tr.beat,
        (0.94 * _f(midis.min()), min(7 * _f(midis.max()), tr.sr / 2)),
    )


def _reggae(tr: _Track) -> None:
    prog = (
        [(0, MAJ), (5, MAJ)] if tr.rng.random() < 0.5 else [(0, MIN), (5, MIN), (0, MIN), (10, MAJ)]
    )
    drums = tr.layer()
    d = tr.grid([2])
    tr.place(drums, _kick(tr), d, tr.velocities(d.size))
    rim = v.noise_hit(tr.rng, sr=tr.sr, low=1500.0, high=5000.0, decay=0.02, length=0.1)
    rim = rim + 0.5 * np.sin(2 * np.pi * 850 * np.arange(rim.size) / tr.sr) * np.exp(
        -np.arange(rim.size) / (0.02 * tr.sr)
    )
    tr.place(drums, rim, d, 0.8 * tr.velocities(d.size))
    tr.cue("one_drop", "drums", d, 0.2, _KICK_BAND)
    tr.cue("one_drop", "drums", d, 0.06, (700.0, 5000.0))
    h = tr.grid(np.arange(8) / 2)
    tr.place(drums, _closed_hat(tr), h, 0.3 * tr.velocities(h.size, 3.0))
    tr.mix_in("drums", drums, -1.0)
    # deep round bass with rests (never on beat 1)
    patterns = [[0.5, 1.0, 1.5, 2.5, 3.0], [0.75, 1.5, 2.0, 3.0, 3.5], [0.5, 1.5, 2.5, 2.75, 3.5]]
    t = tr.grid(patterns[int(tr.rng.integers(3))], jitter=0.006)
    midis = _roots_at(tr, t, prog, octave=36) + tr.rng.choice([0, 0, 7, 12, 5], t.size)
    bass = tr.layer()
    _notes(
        tr,
        bass,
        t,
        midis,
        0.45 * tr.beat,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="triangle", attack=0.01, decay=0.3, sustain=0.5),
    )
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=400.0), 0.0)
    # skank: short bright chord stabs on every off-beat
    sk = tr.grid([0.5, 1.5, 2.5, 3.5], jitter=0.004)
    gtr = tr.layer()
    cut = min(4500.0 * tr.bright, 0.45 * tr.sr)
    for ti in sk:
        root, q = prog[tr.bar_index(ti) % len(prog)]
        for j, m in enumerate(
            _chord_notes(60 + tr.key + root - 12 * (tr.key + root > 6), q + (12,))
        ):
            x = v.pluck(
                _f(m),
                int(0.12 * tr.sr),
                sr=tr.sr,
                bright_decay=0.03,
                body_decay=0.06,
                brightness=1.2,
            )
            v.add_at(gtr, x, int(round((ti + 0.004 * j) * tr.sr)), 0.3)
    tr.mix_in("harmony", v.filtered(gtr, sr=tr.sr, low=350.0, high=cut), -1.0)
    tr.cue("offbeat_skank", "harmony", sk, 0.12, (350.0, cut))
    # melodica: sparse reedy notes
    lead = tr.layer()
    t = tr.grid([0, 1, 2, 3])
    t = t[tr.rng.random(t.size) < 0.3]
    _notes(
        tr,
        lead,
        t,
        _melody(tr, t.size, MAJOR_PENTA, low=67, high=84),
        0.8 * tr.beat,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="reed", attack=0.03, decay=0.5, sustain=0.6),
    )
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, high=3000.0 * tr.bright), -10.0)


def _rock(tr: _Track) -> None:
    prog = [(0, POWER), (10, POWER), (5, POWER), (0, POWER)]
    drums = _backbeat(tr, kick=[0, 2, 2.5], snare=[1, 3], hats=np.arange(8) / 2)
    c = tr.grid([0])
    tr.place(drums, _crash(tr), c, 0.55 * tr.velocities(c.size))
    tr.cue("crash_cymbal", "drums", c, 1.0, (3500.0, tr.sr / 2))
    tr.mix_in("drums", drums, 0.0)
    bass = tr.layer()
    t = tr.grid(np.arange(8) / 2, jitter=0.003)
    roots = _roots_at(tr, t, prog, octave=40)
    roots = roots - 12 * (roots > 47)
    _notes(
        tr,
        bass,
        t,
        roots,
        0.45 * tr.beat,
        lambda f, n: v.pluck(f, n, sr=tr.sr, bright_decay=0.05, body_decay=0.3, brightness=0.5),
    )
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=900.0 * tr.bright), -2.0)
    cut = min(4000.0 * tr.bright, 0.45 * tr.sr)
    gtr = _power_chords(
        tr,
        t,
        roots + 12,
        length=0.5 * tr.beat,
        decay=0.35,
        drive=tr.rng.uniform(2.5, 5.0),
        cutoff=cut,
    )
    tr.mix_in("harmony", gtr, -3.0)
    # the chord body: fundamentals and first harmonics of the strummed power chords
    tr.cue(
        "overdriven_eighths",
        "harmony",
        t,
        0.5 * tr.beat,
        (0.94 * _f(roots.min() + 12), min(2000.0, cut)),
    )
    lead = tr.layer()
    t = tr.grid([0, 1, 1.5, 2, 3], jitter=0.006)
    t = t[tr.rng.random(t.size) < 0.4]
    _notes(
        tr,
        lead,
        t,
        _melody(tr, t.size, MINOR_PENTA, low=64, high=84),
        0.9 * tr.beat,
        lambda f, n: v.saturate(
            v.tone(f, n, sr=tr.sr, kind="saw", attack=0.005, decay=0.4, sustain=0.5), 4.0
        ),
    )
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, high=4000.0 * tr.bright), -7.0)


@dataclasses.dataclass(frozen=True)
class GenreSpec:
    """How one synthetic genre is made: tempo range (bpm), cue descriptions, render function."""

    tempo: tuple[float, float]
    cues: dict[str, str]
    render: Callable[[_Track], None] = dataclasses.field(repr=False)


#: The recipe of each genre (keys: :data:`~genrelens.data.gtzan.GTZAN_GENRES`).
GENRES: dict[str, GenreSpec] = {
    "blues": GenreSpec(
        (70, 105),
        {
            "shuffle_boogie_bass": "bass: boogie line R-3-5-6-b7-6-5-3 on shuffled (triplet) eighths",
            "blue_note_bend": "lead: distorted guitar bending a blue note (b3, b5, b7) up a semitone "
            "on beats 1 and 3",
        },
        _blues,
    ),
    "classical": GenreSpec(
        (60, 100),
        {
            "string_pad": "harmony: sustained string-section chords (detuned saws, slow attack), no drums",
            "violin_vibrato": "lead: legato violin melody with 5.5-6.5 Hz vibrato",
        },
        _classical,
    ),
    "country": GenreSpec(
        (95, 135),
        {
            "train_beat": "drums: brushed snare on every sixteenth, accented on 2 and 4 (2-9 kHz)",
            "twang_lead": "lead: bright plucked guitar, half of the notes bent up a whole tone",
        },
        _country,
    ),
    "disco": GenreSpec(
        (110, 130),
        {
            "four_on_floor_kick": "drums: kick on every beat",
            "offbeat_open_hat": "drums: open hi-hat on every off-beat eighth (above 6 kHz)",
            "octave_bass": "bass: eighth-note bass jumping between root and octave",
        },
        _disco,
    ),
    "hiphop": GenreSpec(
        (72, 96),
        {
            "sub_bass_808": "bass: long pitch-dropping 808 sine (41-78 Hz fundamental) on the kick pattern",
            "boom_bap_snare": "drums: long loud snare on 2 and 4 over swung sixteenth hats",
        },
        _hiphop,
    ),
    "jazz": GenreSpec(
        (110, 190),
        {
            "swing_ride": "drums: ride cymbal 'ding, ding-da' swing pattern (bell partials from ~2.3 kHz)",
            "walking_bass": "bass: plucked upright walking quarter notes with chromatic approaches",
        },
        _jazz,
    ),
    "metal": GenreSpec(
        (110, 190),
        {
            "distorted_power_chords": "harmony: heavily distorted palm-muted power chords on eighths "
            "(marked: the dense 1 kHz-6 kHz distortion band)",
            "double_kick": "drums: double bass drum on every sixteenth",
        },
        _metal,
    ),
    "pop": GenreSpec(
        (95, 128),
        {
            "synth_hook": "lead: bright square-wave one-bar hook repeated every bar (~500 Hz-8 kHz)",
        },
        _pop,
    ),
    "reggae": GenreSpec(
        (76, 96),
        {
            "offbeat_skank": "harmony: short bright guitar chord stabs on every off-beat",
            "one_drop": "drums: kick and rim shot together on beat 3 only",
        },
        _reggae,
    ),
    "rock": GenreSpec(
        (100, 150),
        {
            "crash_cymbal": "drums: crash cymbal at the start of every bar",
            "overdriven_eighths": "harmony: moderately overdriven power chords strummed on straight "
            "eighths (marked: the chord body up to 2 kHz)",
        },
        _rock,
    ),
}


# --------------------------------------------------------------------------------------------
# One track
# --------------------------------------------------------------------------------------------


def _check_params(*, duration: float, sr: int, seed: int) -> None:
    check_int("sr", sr, minimum=16000)
    if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < 1.0:
        raise ParameterError(f"duration={duration!r} is invalid: expected seconds >= 1 (e.g. 30).")
    check_int("seed", seed, minimum=0)


def synthesize_track(
    genre: str, *, index: int = 0, seed: int = 0, duration: float = 30.0, sr: int = 22050
) -> SynthTrack:
    """Synthesise track ``<genre>.<index:05d>`` in memory.

    Parameters
    ----------
    genre : str
        One of :data:`~genrelens.data.gtzan.GTZAN_GENRES`.
    index : int
        Track number within the genre (0..99999).
    seed : int
        Dataset seed; the track's generator is ``default_rng([seed, genre_index, index])``.
    duration : float
        Seconds (>= 1).
    sr : int
        Sampling rate in Hz (>= 16000).

    Returns
    -------
    SynthTrack
        int16 mix, float32 stems (summing to ``pcm / 32768``), cue record.
    """
    if genre not in GENRES:
        raise ParameterError(f"genre={genre!r} is invalid: expected one of {GTZAN_GENRES}.")
    check_int("index", index, minimum=0, maximum=99999)
    _check_params(duration=duration, sr=sr, seed=seed)
    spec = GENRES[genre]
    rng = np.random.default_rng([seed, GTZAN_GENRES.index(genre), index])
    tr = _Track(rng, duration=float(duration), sr=sr, tempo=spec.tempo)
    spec.render(tr)

    stems = {s: tr.stems[s] for s in STEMS}
    mix = sum(stems.values())
    rms = float(np.sqrt(np.mean(mix**2)))
    target_db = float(rng.uniform(*_RMS_DBFS))
    scale = 10 ** (target_db / 20) / rms
    scale = min(scale, _PEAK / (float(np.abs(mix).max()) + 1e-12))
    stems = {s: x * scale for s, x in stems.items()}
    mix = mix * scale
    pcm = np.clip(np.round(mix * 32768), -32768, 32767).astype(np.int16)
    residual = (pcm / 32768.0 - mix) / len(STEMS)
    stems32 = {s: (x + residual).astype(np.float32) for s, x in stems.items()}

    track_id = f"{genre}.{index:05d}"
    events = tuple(sorted(tr.events, key=lambda e: (e.start, e.cue, e.fmin)))
    summary = {
        "track_id": track_id,
        "genre": genre,
        "duration": float(duration),
        "sr": sr,
        "tempo_bpm": round(tr.tempo, 3),
        "key_pitch_class": tr.key,
        "brightness": round(tr.bright, 4),
        "rms_dbfs": round(
            20 * math.log10(float(np.sqrt(np.mean((pcm / 32768.0) ** 2))) + 1e-12), 3
        ),
        "cues": {
            name: {
                "description": desc,
                "stem": next((e.stem for e in events if e.cue == name), None),
                "n_events": sum(e.cue == name for e in events),
                "fmin": min((e.fmin for e in events if e.cue == name), default=None),
                "fmax": max((e.fmax for e in events if e.cue == name), default=None),
            }
            for name, desc in spec.cues.items()
        },
    }
    return SynthTrack(
        track_id,
        pcm,
        stems32,
        CueRecord(track_id=track_id, genre=genre, events=events, summary=summary),
    )


# --------------------------------------------------------------------------------------------
# The data set on disk
# --------------------------------------------------------------------------------------------


def _write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    # scipy writes a plain RIFF/WAVE file: int16 -> PCM_16, float32 -> IEEE float. (libsndfile
    # adds a PEAK chunk holding the time of writing to float files, which breaks byte identity.)
    from scipy.io import wavfile

    with atomic_path(path) as tmp:
        wavfile.write(tmp, sr, x)


def _write_track(out: Path, track: SynthTrack, sr: int, *, stems: bool) -> None:
    _write_wav(out / "genres" / track.cues.genre / f"{track.track_id}.wav", track.pcm, sr)
    for name, x in track.stems.items() if stems else ():
        _write_wav(out / "stems" / track.track_id / f"{name}.wav", x, sr)
    write_json(
        out / "cues" / f"{track.track_id}.json",
        {
            "track_id": track.track_id,
            "genre": track.cues.genre,
            "events": [e.to_dict() for e in track.cues.events],
            "summary": track.cues.summary,
        },
    )


def _make_and_write(task: tuple[str, str, int, int, float, int, bool]) -> str:
    out, genre, index, seed, duration, sr, stems = task
    track = synthesize_track(genre, index=index, seed=seed, duration=duration, sr=sr)
    _write_track(Path(out), track, sr, stems=stems)
    return track.track_id


def synthesize_dataset(
    out: str | os.PathLike[str],
    *,
    n_per_genre: int = 10,
    duration: float = 30.0,
    sr: int = 22050,
    seed: int = 0,
    stems: bool = True,
    force: bool = False,
    jobs: int = 1,
    progress: bool = False,
) -> Path:
    """Write the synthetic GTZAN-layout data set with stems and cue records to ``out``.

    Parameters
    ----------
    out : path-like
        Destination folder; must be absent or empty unless ``force``.
    n_per_genre : int
        Tracks per genre (default 10, i.e. 100 tracks).
    duration : float
        Seconds per track (default 30).
    sr : int
        Sampling rate in Hz (default 22050, as GTZAN).
    seed : int
        Same seed, same bytes.
    stems : bool
        Write the stems (default). 100 tracks of 30 s take about 1.06 GB as float32 stems
        against 132 MB of mixes; the cue records are written either way.
    force : bool
        Write into a non-empty ``out``: files of the same names are replaced, others are left.
    jobs : int
        Worker processes; the output does not depend on it.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    pathlib.Path
        ``out``. Open it with :func:`genrelens.data.open_dataset`.

    Raises
    ------
    ParameterError
        For invalid parameters, or a non-empty ``out`` without ``force``.
    """
    if (
        isinstance(n_per_genre, bool)
        or not isinstance(n_per_genre, int)
        or not 1 <= n_per_genre <= 100000
    ):
        raise ParameterError(
            f"n_per_genre={n_per_genre!r} is invalid: expected an integer in 1..100000."
        )
    check_int("jobs", jobs, minimum=1)
    _check_params(duration=duration, sr=sr, seed=seed)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ParameterError(f"out={os.fspath(root)!r} is a file: expected a new or empty folder.")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ParameterError(
            f"out={os.fspath(root)!r} is not empty: expected a new or empty folder; pass "
            "force=True (--force) to write into it anyway."
        )
    root.mkdir(parents=True, exist_ok=True)
    tasks = [
        (os.fspath(root), g, i, seed, float(duration), sr, bool(stems))
        for g in GTZAN_GENRES
        for i in range(n_per_genre)
    ]
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="synth", unit="track", disable=not progress)
    if jobs == 1:
        for task in tasks:
            _make_and_write(task)
            bar.update()
    else:
        import concurrent.futures
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # safe beside torch's threads
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            for _ in pool.map(_make_and_write, tasks, chunksize=max(1, len(tasks) // (8 * jobs))):
                bar.update()
    bar.close()
    write_json(
        root / "synth.json",
        {
            "generator": "genrelens.data.synthetic",
            "version": SYNTH_VERSION,
            "seed": seed,
            "n_per_genre": n_per_genre,
            "duration": float(duration),
            "sr": sr,
            "stems": list(STEMS) if stems else [],
            "mix_format": "WAV PCM_16 (GTZAN original layout genres/<genre>/<genre>.000NN.wav)",
            "stem_format": "WAV FLOAT; sum of stems == mix as read (int16 / 32768) to ~1e-7",
            "rms_dbfs_range": list(_RMS_DBFS),
            "peak_max_dbfs": -1.0,
            "genres": {
                g: {"tempo_bpm": list(GENRES[g].tempo), "cues": GENRES[g].cues}
                for g in GTZAN_GENRES
            },
        },
    )
    return root


def load_cues(root: str | os.PathLike[str], track_id: str) -> CueRecord:
    """Read the cue record of ``track_id`` from a synthetic data set folder ``root``.

    Raises
    ------
    DatasetError
        If ``root/cues/<track_id>.json`` is missing or malformed.
    """
    path = Path(root) / "cues" / f"{track_id}.json"
    if not path.is_file():
        raise DatasetError(
            f"{path}: no cue record for track {track_id!r}; cue records exist only for data sets "
            "made by `genrelens data synth`."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        events = tuple(CueEvent.from_dict(e) for e in data["events"])
        return CueRecord(
            track_id=data["track_id"], genre=data["genre"], events=events, summary=data["summary"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: malformed cue record ({exc}).") from exc


def cue_mask(
    events: Iterable[CueEvent | Mapping[str, Any]],
    *,
    config: FeatureConfig,
    start: float,
    n_frames: int,
) -> np.ndarray:
    """The ground-truth cue mask of one segment on the log-mel grid.

    Parameters
    ----------
    events : iterable of CueEvent or mapping
        Cue events of the track (e.g. ``load_cues(root, tid).events``), times in track seconds.
    config : FeatureConfig
        Gives ``sr``, ``hop_length``, ``n_mels``, ``fmin``, ``fmax``.
    start : float
        Start of the segment in track seconds.
    n_frames : int
        Frames of the segment (``config.n_frames`` for a full segment).

    Returns
    -------
    np.ndarray
        bool, shape ``(n_mels, n_frames)``. ``mask[b, i]`` is True when some event spans the
        centre time of frame ``i`` (``start + i * hop_length / sr``, centred STFT) and its band
        ``[fmin, fmax]`` holds the centre frequency of mel bin ``b``
        (:func:`genrelens.features.mel_frequencies`, as librosa's
        ``mel_frequencies(n_mels + 2, fmin, fmax)[1:-1]``). Short or narrow events are never
        lost: one that overlaps the segment (widened by half a hop at each end) but spans no
        frame centre marks the frame nearest its middle, and one that overlaps the filterbank
        range but holds no bin centre marks the bin nearest its middle frequency.
    """
    from genrelens.features import box_mask

    check_int("n_frames", n_frames, minimum=1)
    if not math.isfinite(start):
        raise ParameterError(f"start={start!r} is invalid: expected a finite number of seconds.")
    mask = np.zeros((config.n_mels, n_frames), dtype=bool)
    for ev in events:
        ev = ev if isinstance(ev, CueEvent) else CueEvent.from_dict(ev)
        mask |= box_mask(start=ev.start, end=ev.end, fmin=ev.fmin, fmax=ev.fmax, config=config,
                         n_frames=n_frames, offset=start)
    return mask
