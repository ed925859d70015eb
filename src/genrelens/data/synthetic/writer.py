"""The synthetic data set on disk (:func:`synthesize_dataset`): mixes in the GTZAN original
layout, float stems, cue records and ``synth.json``, byte-identical for a seed whatever the
number of worker processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genrelens._io import atomic_path, write_json
from genrelens._validation import check_int
from genrelens.data.gtzan import GTZAN_GENRES
from genrelens.data.synthetic.cues import STEMS
from genrelens.data.synthetic.genres import GENRES, SYNTH_VERSION
from genrelens.data.synthetic.track import (
    RMS_DBFS,
    SynthTrack,
    check_track_params,
    synthesize_track,
)
from genrelens.errors import ParameterError

__all__ = ["synthesize_dataset"]


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
    check_track_params(duration=duration, sr=sr, seed=seed)
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
            "rms_dbfs_range": list(RMS_DBFS),
            "peak_max_dbfs": -1.0,
            "genres": {
                g: {"tempo_bpm": list(GENRES[g].tempo), "cues": GENRES[g].cues}
                for g in GTZAN_GENRES
            },
        },
    )
    return root
