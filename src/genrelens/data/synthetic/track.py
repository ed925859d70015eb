"""One synthetic track in memory: a genre's recipe rendered into four stems, mixed to a random
loudness and quantised to 16 bits (:func:`synthesize_track`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from genrelens._validation import check_int
from genrelens.data.gtzan import GTZAN_GENRES
from genrelens.data.synthetic.cues import STEMS, CueRecord
from genrelens.data.synthetic.genres import GENRES
from genrelens.data.synthetic.instruments import TrackState
from genrelens.errors import ParameterError

__all__ = ["RMS_DBFS", "SynthTrack", "synthesize_track", "check_track_params"]

#: Mix level: RMS drawn uniformly in this dBFS range, then peak kept below ``_PEAK``.
RMS_DBFS = (-26.0, -18.0)
_PEAK = 10 ** (-1.0 / 20)


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



def check_track_params(*, duration: float, sr: int, seed: int) -> None:
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
    check_track_params(duration=duration, sr=sr, seed=seed)
    spec = GENRES[genre]
    rng = np.random.default_rng([seed, GTZAN_GENRES.index(genre), index])
    tr = TrackState(rng, duration=float(duration), sr=sr, tempo=spec.tempo)
    spec.render(tr)

    stems = {s: tr.stems[s] for s in STEMS}
    mix: np.ndarray = np.asarray(sum(stems.values()))
    rms = float(np.sqrt(np.mean(mix**2)))
    target_db = float(rng.uniform(*RMS_DBFS))
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
