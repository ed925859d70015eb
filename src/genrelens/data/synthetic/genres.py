"""Genre recipes of the synthetic data set: how each of the ten genres is rendered (tempo range,
drum pattern, bass line, harmony, lead) and which cues define it (:data:`GENRES`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from genrelens.data import _voices as v
from genrelens.data.synthetic.instruments import (
    BLUES_SCALE,
    DOM7,
    DORIAN,
    KICK_BAND,
    MAJ,
    MAJ7,
    MAJOR_PENTA,
    MAJOR_SCALE,
    MIN,
    MIN7,
    MINOR_PENTA,
    POWER,
    TrackState,
    backbeat,
    chord_notes,
    closed_hat,
    crash_cymbal,
    hz,
    kick_drum,
    melody,
    notes,
    power_chords,
    roots_at,
    snare_drum,
    string_pad,
)

__all__ = ["SYNTH_VERSION", "GenreSpec", "GENRES"]

#: Version of the synthesis recipes; bumped whenever the audio for a given seed changes.
SYNTH_VERSION = 1


def _blues(tr: TrackState) -> None:
    prog = (
        [(0, DOM7)] * 4
        + [(5, DOM7)] * 2
        + [(0, DOM7)] * 2
        + [(7, DOM7), (5, DOM7), (0, DOM7), (7, DOM7)]
    )
    first = int(tr.rng.integers(len(prog)))  # the clip starts anywhere in the 12-bar form
    prog = prog[first:] + prog[:first]
    shuffle = [b + s for b in range(4) for s in (0.0, 2 / 3)]
    drums = backbeat(tr, kick=[0, 2], snare=[1, 3], hats=shuffle)
    tr.mix_in("drums", drums, 0.0)
    # boogie bass: R 3 5 6 b7 6 5 3 on swung eighths
    bass = tr.layer()
    t, slot = tr.grid_ix(shuffle)
    steps = np.array([0, 4, 7, 9, 10, 9, 7, 4])[slot]
    roots = roots_at(tr, t, prog, octave=36)
    midis = roots + steps
    notes(
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
        (0.94 * hz(midis.min()), min(6 * hz(midis.max()), bass_cut)),
    )
    # organ chords, one per bar
    organ = tr.layer()
    for i in range(tr.bar_index(0.0), tr.bar_index(tr.duration) + 1):
        root, q = prog[i % len(prog)]
        n = int(4 * tr.beat * tr.sr)
        for m in chord_notes(60 + tr.key + root - 12 * (root > 6), q):
            x = v.tone(
                hz(m), n, sr=tr.sr, kind="organ", attack=0.02, decay=0.5, sustain=0.7, release=0.05
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

    notes(tr, lead, bends, blue, length, bent)
    tr.cue(
        "blue_note_bend",
        "lead",
        bends,
        length,
        (0.94 * hz(blue.min()), min(8 * hz(blue.max() + 1), lead_cut)),
    )
    fills = tr.grid([1, 1 + 2 / 3, 3, 3 + 2 / 3])
    keep = tr.rng.random(fills.size) < 0.5
    notes(
        tr,
        lead,
        fills[keep],
        melody(tr, int(keep.sum()), BLUES_SCALE, low=62, high=79),
        0.6 * tr.beat,
        lambda f, n: v.saturate(
            v.tone(f, n, sr=tr.sr, kind="saw", attack=0.005, decay=0.3, sustain=0.3), 2.5
        ),
        0.7,
    )
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, high=lead_cut), -3.0)


def _classical(tr: TrackState) -> None:
    major = tr.rng.random() < 0.5
    prog = (
        [(0, MAJ), (5, MAJ), (7, MAJ), (0, MAJ), (9, MIN), (2, MIN), (7, MAJ), (0, MAJ)]
        if major
        else [(0, MIN), (5, MIN), (7, MAJ), (0, MIN), (8, MAJ), (5, MIN), (7, MAJ), (0, MIN)]
    )
    tr.mix_in("harmony", string_pad(tr, prog, octave=55, cue="string_pad"), -2.0)
    # cello: half notes on root and fifth
    cello = tr.layer()
    t, slot = tr.grid_ix([0, 2], jitter=0.01)
    roots = roots_at(tr, t, prog, octave=36) + np.where(slot == 1, 7, 0)

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

    notes(tr, cello, t, roots, 2 * tr.beat, bowed)
    tr.mix_in("bass", v.filtered(cello, sr=tr.sr, high=1200.0 * tr.bright), -5.0)
    # violin melody with vibrato, quarter and half notes
    violin = tr.layer()
    t = tr.grid([0, 1, 2, 3], jitter=0.01)
    keep = np.ones(t.size, bool)
    keep[1::4] = tr.rng.random(keep[1::4].size) < 0.6  # sometimes a half note
    t = t[keep]
    lengths = np.diff(np.append(t, t[-1] + tr.beat)) + 0.05
    midis = melody(
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

    notes(tr, violin, t, midis, lengths, violin_note)
    cut = 5000.0 * tr.bright
    tr.mix_in("lead", v.filtered(violin, sr=tr.sr, high=cut), -4.0)
    tr.cue(
        "violin_vibrato",
        "lead",
        t,
        lengths,
        (0.94 * hz(midis.min()), min(6 * hz(midis.max()), cut)),
    )


def _country(tr: TrackState) -> None:
    prog = [(0, MAJ), (0, MAJ), (5, MAJ), (5, MAJ), (7, MAJ), (7, MAJ), (0, MAJ), (0, MAJ)]
    # train beat: brushed snare on every sixteenth, accents on 2 and 4; kick on 1 and 3
    drums = tr.layer()
    k = tr.grid([0, 2])
    tr.place(drums, kick_drum(tr), k, 0.8 * tr.velocities(k.size))
    brush = v.noise_hit(tr.rng, sr=tr.sr, low=2000.0, high=9000.0, decay=0.05, attack=0.004)
    b, slot = tr.grid_ix(np.arange(16) / 4)
    tr.place(drums, brush, b, np.where(np.isin(slot, (4, 12)), 0.9, 0.4) * tr.velocities(b.size))
    tr.cue("train_beat", "drums", b, 0.1, (2000.0, 9000.0))
    tr.mix_in("drums", drums, -1.0)
    # boom-chick bass: root on 1, fifth below on 3
    bass = tr.layer()
    t, slot = tr.grid_ix([0, 2])
    midis = roots_at(tr, t, prog, octave=40) - np.where(slot == 1, 5, 0)
    notes(
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
            chord_notes(52 + tr.key + root - 12 * (tr.key + root > 9), q + (12, 16))
        ):
            x = v.pluck(
                hz(m), int(0.6 * tr.sr), sr=tr.sr, bright_decay=0.06, body_decay=0.3, brightness=0.8
            )
            v.add_at(gtr, x, int(round((t + 0.008 * j) * tr.sr)), 0.2)
    tr.mix_in("harmony", v.filtered(gtr, sr=tr.sr, low=150.0, high=5000.0 * tr.bright), -6.0)
    # twangy lead: bright plucks, many bent up a whole tone into the note
    lead = tr.layer()
    t = tr.grid(np.arange(8) / 2, jitter=0.006)
    t = t[tr.rng.random(t.size) < 0.6]
    midis = melody(tr, t.size, MAJOR_PENTA, low=64, high=84)
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
            twang(float(hz(m)), int(0.45 * tr.sr), bool(bi)),
            int(round(ti * tr.sr)),
            float(tr.velocities(1, 1.5)[0]),
        )
    cut = 7000.0 * tr.bright
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, low=300.0, high=cut), -2.0)
    tr.cue("twang_lead", "lead", t, 0.3, (0.94 * hz(midis.min()), min(10 * hz(midis.max()), cut)))


def _disco(tr: TrackState) -> None:
    prog = [(0, MIN7), (5, MIN7)] if tr.rng.random() < 0.5 else [(2, MIN7), (7, DOM7)]
    drums = tr.layer()
    k = tr.grid([0, 1, 2, 3])
    tr.place(drums, kick_drum(tr, decay=0.25), k, tr.velocities(k.size, 1.0))
    tr.cue("four_on_floor_kick", "drums", k, 0.2, KICK_BAND)
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
    midis = roots_at(tr, t, prog, octave=36) + np.where(slot % 2 == 1, 12, 0)
    notes(
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
        (0.94 * hz(midis.min()), min(5 * hz(midis.max()), cut)),
    )
    tr.mix_in("harmony", string_pad(tr, prog, octave=60), -7.0)
    # brass stabs now and then
    brass = tr.layer()
    t = tr.grid([1.5, 3.5])
    t = t[tr.rng.random(t.size) < 0.4]
    for ti in t:
        root, q = prog[tr.bar_index(ti) % len(prog)]
        for m in chord_notes(64 + tr.key + root - 12 * (tr.key + root > 6), q[:3]):
            x = v.tone(
                hz(m), int(0.2 * tr.sr), sr=tr.sr, kind="saw", attack=0.01, decay=0.1, sustain=0.5
            )
            v.add_at(brass, x, int(round(ti * tr.sr)), 0.3)
    tr.mix_in("lead", v.filtered(brass, sr=tr.sr, high=3000.0 * tr.bright), -8.0)


def _hiphop(tr: TrackState) -> None:
    prog = [(0, MIN7), (8, MAJ7), (3, MAJ7), (10, DOM7)][: int(tr.rng.choice([2, 4]))]
    swing = tr.rng.uniform(0.58, 0.66)
    sixteenths = [b + s for b in range(4) for s in (0.0, swing / 2 + 0.0, 0.5, 0.5 + swing / 2)]
    kick_pos = [[0, 0.75, 2.5], [0, 1.5, 2.25, 2.75], [0, 0.75, 2, 2.5]][int(tr.rng.integers(3))]
    drums = tr.layer()
    k = tr.grid(kick_pos)
    tr.place(drums, kick_drum(tr, decay=0.3), k, tr.velocities(k.size))
    s = tr.grid([1, 3])
    tr.place(drums, snare_drum(tr, decay=0.2), s, tr.velocities(s.size, 1.0))
    tr.cue("boom_bap_snare", "drums", s, 0.3, (150.0, 7000.0))
    h = tr.grid(sixteenths)
    tr.place(drums, closed_hat(tr), h, 0.2 * tr.velocities(h.size, 3.0))
    tr.mix_in("drums", drums, 0.0)
    # 808: long sine with a pitch drop, lightly saturated, on the kick pattern
    bass = tr.layer()
    midis = 28 + (roots_at(tr, k, prog, octave=0) - 4) % 12  # 41-78 Hz
    length = 0.9 * tr.beat * 1.5

    def eight08(f: float, n: int) -> np.ndarray:
        tt = np.arange(n) / tr.sr
        x = np.sin(2 * np.pi * np.cumsum(f * (1 + 0.5 * np.exp(-tt / 0.02))) / tr.sr)
        return v.saturate(
            x * v.envelope(n, sr=tr.sr, attack=0.002, decay=0.8, sustain=0.0, release=0.05), 1.8
        )

    notes(tr, bass, k, midis, length, eight08)
    tr.mix_in("bass", bass, -1.0)
    tr.cue("sub_bass_808", "bass", k, length, (0.8 * hz(midis.min()), 3.2 * hz(midis.max())))
    # dark electric piano
    ep = tr.layer()
    for t in tr.grid([0, 2.5 if tr.rng.random() < 0.5 else 2.0], jitter=0.01):
        root, q = prog[tr.bar_index(t) % len(prog)]
        for m in chord_notes(57 + tr.key + root - 12 * (tr.key + root > 6), q):
            x = v.tone(
                hz(m),
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
    notes(
        tr,
        bell,
        t,
        melody(tr, t.size, MINOR_PENTA, low=72, high=86),
        0.5,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="sine", attack=0.002, decay=0.2, sustain=0.0),
    )
    tr.mix_in("lead", bell, -12.0)


def _jazz(tr: TrackState) -> None:
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
    tr.place(drums, closed_hat(tr), h, 0.3 * tr.velocities(h.size))
    k = tr.grid([0, 1, 2, 3])
    tr.place(drums, kick_drum(tr, decay=0.15), k, 0.15 * tr.velocities(k.size))
    tr.mix_in("drums", drums, -2.0)
    # walking bass: chord tones with a chromatic approach to the next root
    bass = tr.layer()
    t, beat_in_bar = tr.grid_ix([0, 1, 2, 3], jitter=0.006)
    roots = roots_at(tr, t, prog, octave=36)
    nxt = np.append(roots[1:], roots[-1])
    choice = tr.rng.choice([3, 4, 7, 9, 10], t.size) % 12
    midis = np.where(
        beat_in_bar == 0,
        roots,
        np.where(beat_in_bar == 3, nxt + tr.rng.choice([-1, 1], t.size), roots + choice),
    )
    notes(
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
        (0.94 * hz(midis.min()), min(5 * hz(midis.max()), cut)),
    )
    # piano comping on swung off-beats
    piano = tr.layer()
    comp = tr.grid([sw, 1 + sw, 2 + sw, 3 + sw], jitter=0.008)
    comp = comp[tr.rng.random(comp.size) < 0.45]
    for ti in comp:
        root, q = prog[tr.bar_index(ti) % len(prog)]
        for m in chord_notes(55 + tr.key + root - 12 * (tr.key + root > 8), q[1:]):
            x = v.pluck(
                hz(m), int(0.7 * tr.sr), sr=tr.sr, bright_decay=0.08, body_decay=0.5, brightness=0.4
            )
            v.add_at(piano, x, int(round(ti * tr.sr)), 0.25)
    tr.mix_in("harmony", v.filtered(piano, sr=tr.sr, high=2500.0 * tr.bright), -5.0)
    # clean lead: swung eighths, soft triangle with vibrato
    lead = tr.layer()
    t = tr.grid([b + s for b in range(4) for s in (0.0, sw)], jitter=0.006)
    t = t[tr.rng.random(t.size) < 0.55]
    midis = melody(tr, t.size, DORIAN, low=62, high=82)
    notes(
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


def _metal(tr: TrackState) -> None:
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
    tr.cue("double_kick", "drums", k, 0.12, KICK_BAND)
    s = tr.grid([1, 3])
    tr.place(drums, snare_drum(tr, decay=0.1), s, tr.velocities(s.size, 1.0))
    c = tr.grid([0], period=8)
    tr.place(drums, crash_cymbal(tr), c, 0.5 * tr.velocities(c.size))
    tr.mix_in("drums", drums, 0.0)
    # palm-muted distorted power chords on eighths
    t, slot = tr.grid_ix(np.arange(8) / 2, jitter=0.003)
    roots = base + 12 + np.asarray(riff)[slot]
    cut = min(6000.0 * tr.bright, 0.45 * tr.sr)
    gtr = power_chords(
        tr, t, roots, length=0.5 * tr.beat, decay=0.12, drive=tr.rng.uniform(12, 25), cutoff=cut
    )
    tr.mix_in("harmony", gtr, -3.0)
    # the distortion products: the dense high-mid band that sets metal apart from rock
    tr.cue("distorted_power_chords", "harmony", t, 0.5 * tr.beat, (1000.0, cut))
    # distorted bass doubling the riff
    bass = tr.layer()
    notes(
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
    midis = np.repeat(melody(tr, t.size // 4 + 1, MINOR_PENTA, low=64, high=86, step=3), 4)[
        : t.size
    ]
    notes(
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


def _pop(tr: TrackState) -> None:
    prog = [(0, MAJ), (7, MAJ), (9, MIN), (5, MAJ)]
    drums = tr.layer()
    k = tr.grid([0, 1.5, 2])
    tr.place(drums, kick_drum(tr), k, tr.velocities(k.size))
    c = tr.grid([1, 3])
    tr.place(drums, v.clap(tr.rng, sr=tr.sr), c, 0.7 * tr.velocities(c.size))
    h = tr.grid(np.arange(8) / 2)
    tr.place(drums, closed_hat(tr), h, 0.3 * tr.velocities(h.size, 3.0))
    tr.mix_in("drums", drums, -1.0)
    bass = tr.layer()
    t = tr.grid(np.arange(8) / 2, jitter=0.003)
    notes(
        tr,
        bass,
        t,
        roots_at(tr, t, prog, octave=36),
        0.45 * tr.beat,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="saw", attack=0.004, decay=0.15, sustain=0.3),
    )
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=700.0 * tr.bright), -3.0)
    # bright supersaw pad
    pad = tr.layer()
    for i in range(tr.bar_index(0.0), tr.bar_index(tr.duration) + 1):
        root, q = prog[i % len(prog)]
        n = int(4 * tr.beat * tr.sr)
        for m in chord_notes(60 + tr.key + root - 12 * (tr.key + root > 6), q):
            x = v.tone(
                hz(m),
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
    motif = melody(tr, n_notes, MAJOR_PENTA, low=72, high=88)
    t, slot = tr.grid_ix(pos, jitter=0.002)
    midis = motif[slot]
    lead = tr.layer()
    notes(
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
        (0.94 * hz(midis.min()), min(7 * hz(midis.max()), tr.sr / 2)),
    )


def _reggae(tr: TrackState) -> None:
    prog = (
        [(0, MAJ), (5, MAJ)] if tr.rng.random() < 0.5 else [(0, MIN), (5, MIN), (0, MIN), (10, MAJ)]
    )
    drums = tr.layer()
    d = tr.grid([2])
    tr.place(drums, kick_drum(tr), d, tr.velocities(d.size))
    rim = v.noise_hit(tr.rng, sr=tr.sr, low=1500.0, high=5000.0, decay=0.02, length=0.1)
    rim = rim + 0.5 * np.sin(2 * np.pi * 850 * np.arange(rim.size) / tr.sr) * np.exp(
        -np.arange(rim.size) / (0.02 * tr.sr)
    )
    tr.place(drums, rim, d, 0.8 * tr.velocities(d.size))
    tr.cue("one_drop", "drums", d, 0.2, KICK_BAND)
    tr.cue("one_drop", "drums", d, 0.06, (700.0, 5000.0))
    h = tr.grid(np.arange(8) / 2)
    tr.place(drums, closed_hat(tr), h, 0.3 * tr.velocities(h.size, 3.0))
    tr.mix_in("drums", drums, -1.0)
    # deep round bass with rests (never on beat 1)
    patterns = [[0.5, 1.0, 1.5, 2.5, 3.0], [0.75, 1.5, 2.0, 3.0, 3.5], [0.5, 1.5, 2.5, 2.75, 3.5]]
    t = tr.grid(patterns[int(tr.rng.integers(3))], jitter=0.006)
    midis = roots_at(tr, t, prog, octave=36) + tr.rng.choice([0, 0, 7, 12, 5], t.size)
    bass = tr.layer()
    notes(
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
            chord_notes(60 + tr.key + root - 12 * (tr.key + root > 6), q + (12,))
        ):
            x = v.pluck(
                hz(m),
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
    notes(
        tr,
        lead,
        t,
        melody(tr, t.size, MAJOR_PENTA, low=67, high=84),
        0.8 * tr.beat,
        lambda f, n: v.tone(f, n, sr=tr.sr, kind="reed", attack=0.03, decay=0.5, sustain=0.6),
    )
    tr.mix_in("lead", v.filtered(lead, sr=tr.sr, high=3000.0 * tr.bright), -10.0)


def _rock(tr: TrackState) -> None:
    prog = [(0, POWER), (10, POWER), (5, POWER), (0, POWER)]
    drums = backbeat(tr, kick=[0, 2, 2.5], snare=[1, 3], hats=np.arange(8) / 2)
    c = tr.grid([0])
    tr.place(drums, crash_cymbal(tr), c, 0.55 * tr.velocities(c.size))
    tr.cue("crash_cymbal", "drums", c, 1.0, (3500.0, tr.sr / 2))
    tr.mix_in("drums", drums, 0.0)
    bass = tr.layer()
    t = tr.grid(np.arange(8) / 2, jitter=0.003)
    roots = roots_at(tr, t, prog, octave=40)
    roots = roots - 12 * (roots > 47)
    notes(
        tr,
        bass,
        t,
        roots,
        0.45 * tr.beat,
        lambda f, n: v.pluck(f, n, sr=tr.sr, bright_decay=0.05, body_decay=0.3, brightness=0.5),
    )
    tr.mix_in("bass", v.filtered(bass, sr=tr.sr, high=900.0 * tr.bright), -2.0)
    cut = min(4000.0 * tr.bright, 0.45 * tr.sr)
    gtr = power_chords(
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
        (0.94 * hz(roots.min() + 12), min(2000.0, cut)),
    )
    lead = tr.layer()
    t = tr.grid([0, 1, 1.5, 2, 3], jitter=0.006)
    t = t[tr.rng.random(t.size) < 0.4]
    notes(
        tr,
        lead,
        t,
        melody(tr, t.size, MINOR_PENTA, low=64, high=84),
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
    render: Callable[[TrackState], None] = dataclasses.field(repr=False)


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
