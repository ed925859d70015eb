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

Modules: :mod:`~genrelens.data.synthetic.instruments` (the shared sound generators),
:mod:`~genrelens.data.synthetic.genres` (the ten recipes and their cues),
:mod:`~genrelens.data.synthetic.track` (one track rendered and mixed in memory),
:mod:`~genrelens.data.synthetic.writer` (the data set on disk) and
:mod:`~genrelens.data.synthetic.cues` (ground-truth cue records and masks, read by evaluation).
"""

from genrelens.data.synthetic.cues import STEMS, CueEvent, CueRecord, cue_mask, load_cues
from genrelens.data.synthetic.genres import GENRES, SYNTH_VERSION, GenreSpec
from genrelens.data.synthetic.track import SynthTrack, synthesize_track
from genrelens.data.synthetic.writer import synthesize_dataset

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
