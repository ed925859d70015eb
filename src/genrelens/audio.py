"""Loading audio files as float32 mono waveforms, and cutting them into fixed-length segments.

Every file goes through :func:`load_audio`: decode (libsndfile through ``soundfile``; the
``audioread`` backends for what libsndfile cannot open), mix to mono by averaging channels,
check the samples, resample to the configured rate (``librosa.resample`` with soxr, see
Nyquist's theorem and the soxr "HQ" filter), and return ``float32``.

Anything that makes a file unusable raises :class:`~genrelens.errors.AudioLoadError` with a
short machine-readable ``reason`` and a message that names the file and says what to do:

============  ==================================================================
reason        meaning
============  ==================================================================
missing       the path does not exist or is not a regular file
not_a_file    the path is a folder (e.g. a folder named ``x.wav``)
empty         zero bytes, or a valid header with no samples
truncated     the header promises more audio than the file holds
undecodable   the first bytes are not those of the format the file name promises
              (:func:`genrelens.formats.check_signature`), no backend recognises the
              bytes, or decoding fails
silent        every sample is below :data:`SILENCE_PEAK` in magnitude
non_finite    the decoded samples contain NaN or infinity
too_short     fewer samples than one segment (raised by :func:`segment_audio`)
too_long      more than the maximum duration (below)
============  ==================================================================

No other exception escapes :func:`load_audio` for bad file *contents* (this is tested with
random and mangled bytes); wrong *parameters* raise :class:`~genrelens.errors.ParameterError`.

**Maximum duration.** A file longer than :data:`MAX_SECONDS` (30 minutes) raises
``AudioLoadError(reason="too_long")`` before decoding when its header gives its length, else as
soon as decoding passes the limit, so a small file that decodes to hours of audio (a FLAC of
near-silence) cannot exhaust memory.
``max_seconds=`` raises the limit per call; the environment variable ``GENRELENS_MAX_DURATION``
(set by ``genrelens --max-duration SECONDS``, inherited by worker processes) for a whole run.

**Bounded memory.** Decoding reads blocks of about 3 s; :func:`iter_segments` decodes,
resamples (a streaming soxr resampler, the same samples as :func:`load_audio`) and cuts a file
into batches of segments without ever holding the whole waveform, so computing features of a
file costs memory for the features and a few segments, not for its decoded audio.
:func:`load_segments` returns all segments as one array (explanations need the waveform).

Segmentation (:func:`segment_audio`) cuts ``floor((n - L) / H) + 1`` segments of ``L`` samples
with hop ``H``. A trailing partial segment is dropped, never zero-padded: padding would feed the
model silence it never hears at training time on full segments. A GTZAN clip of 29.9 s thus
gives 9 segments of 3 s, and one of 30.0 s gives 10.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from genrelens._validation import check_int
from genrelens.config import FeatureConfig
from genrelens.errors import AudioLoadError, ParameterError
from genrelens.formats import AUDIO_EXTENSIONS, AudioFormat, check_signature

__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_SECONDS",
    "MAX_SECONDS_ENV",
    "SILENCE_PEAK",
    "load_audio",
    "load_audio_native",
    "iter_segments",
    "load_segments",
    "segment_audio",
    "check_waveform",
    "resolve_max_seconds",
]

#: A file whose peak magnitude is below this (-120 dBFS, under one 16-bit step) is "silent".
SILENCE_PEAK = 1e-6

#: Longest audio file accepted by default, in seconds (30 minutes).
MAX_SECONDS = 1800.0

#: Environment variable that sets the maximum duration in seconds for a whole run.
MAX_SECONDS_ENV = "GENRELENS_MAX_DURATION"

# Frames decoded per read: bounds memory whatever a (possibly mangled) header claims.
_BLOCK_FRAMES = 1 << 16  # ~3 s at 22,050 Hz: few reads per track, truncation still located
# Sampling rates outside this range are treated as a corrupt header.
_MIN_SR, _MAX_SR = 1_000, 768_000
_MAX_CHANNELS = 64

# Decoded blocks of mono float32 samples; closing the generator closes the file.
_Blocks = Generator[np.ndarray, None, None]
_NO_SAMPLES = np.zeros(0, np.float32)


def resolve_max_seconds(max_seconds: float | None = None, *, name: str = "max_seconds") -> float:
    """The maximum duration in seconds: ``max_seconds``, else ``$GENRELENS_MAX_DURATION``, else
    :data:`MAX_SECONDS`.

    Parameters
    ----------
    max_seconds : float, optional
        A limit given by the caller.
    name : str
        How the caller calls it, for the error message (e.g. ``"--max-duration"``).

    Raises
    ------
    ParameterError
        If the value (given or from the environment) is not a positive number of seconds.
    """
    value: float | str | None = max_seconds
    if value is None:
        name, value = MAX_SECONDS_ENV, os.environ.get(MAX_SECONDS_ENV)
        if value is None:
            return MAX_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(value, bool) or not 0 < seconds < float("inf"):
        raise ParameterError(
            f"{name}={value!r} is invalid: expected a positive number of seconds (default "
            f"{MAX_SECONDS:g})."
        )
    return seconds


def load_audio(
    path: str | os.PathLike[str], *, sr: int | None, max_seconds: float | None = None
) -> np.ndarray:
    """Load an audio file as a float32 mono waveform at sampling rate ``sr``.

    Parameters
    ----------
    path : path-like
        An audio file of one of :data:`~genrelens.formats.FORMATS` (WAV, AU, AIFF, MP3,
        FLAC, Ogg Vorbis/Opus; M4A, AAC, WMA with an ``audioread`` backend), or of an unknown
        ending that libsndfile or an ``audioread`` backend decodes.
    sr : int or None
        Target sampling rate in Hz; ``None`` keeps the file's own rate (see
        :func:`load_audio_native`, which also returns that rate).
    max_seconds : float, optional
        Longest file accepted (default :func:`resolve_max_seconds`: 30 minutes).

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float32
        Channels averaged, resampled with ``librosa.resample(res_type="soxr_hq")``.

    Raises
    ------
    AudioLoadError
        With ``reason`` in ``{"missing", "not_a_file", "empty", "truncated", "undecodable",
        "silent", "non_finite", "too_long"}``; the message names the file and what to do.
    ParameterError
        If ``sr`` is not a positive integer or ``max_seconds`` not a positive number.
    """
    y, native_sr = _decode(path, sr=sr, max_seconds=max_seconds)
    if sr is None or native_sr == sr:
        return y
    import librosa  # lazy: importing librosa costs about a second

    try:
        out = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    except Exception as exc:  # noqa: BLE001 - any resampler failure is this file's problem
        raise AudioLoadError(
            f"{path}: cannot resample from {native_sr} Hz to {sr} Hz ({exc}); convert the file "
            "to a common rate (e.g. 22050 Hz WAV) or remove it.",
            path=str(path),
            reason="undecodable",
        ) from exc
    return np.ascontiguousarray(out, dtype=np.float32)


def load_audio_native(
    path: str | os.PathLike[str], *, max_seconds: float | None = None
) -> tuple[np.ndarray, int]:
    """Load a file as float32 mono at its own rate; return ``(y, sr)``.

    Same checks and errors as :func:`load_audio`, without resampling (used to check datasets:
    durations, readability).
    """
    return _decode(path, sr=None, max_seconds=max_seconds)


def iter_segments(
    path: str | os.PathLike[str],
    *,
    config: FeatureConfig,
    max_seconds: float | None = None,
    batch_segments: int = 16,
) -> Iterator[np.ndarray]:
    """Decode, resample and cut a file into segments, a batch at a time, in bounded memory.

    The segments are those of ``segment_audio(load_audio(path, sr=config.sr), config=config)``
    (same samples), but the whole waveform is never held: memory stays at a few batches
    whatever the file's length.

    Parameters
    ----------
    path : path-like
        An audio file (see :func:`load_audio`).
    config : FeatureConfig
        Sampling rate, segment length and hop.
    max_seconds : float, optional
        Longest file accepted (default :func:`resolve_max_seconds`: 30 minutes).
    batch_segments : int
        Segments per yielded batch (the last batch may hold fewer).

    Yields
    ------
    numpy.ndarray, shape (n, config.segment_samples), float32
        Consecutive segments, in order.

    Raises
    ------
    AudioLoadError
        As :func:`load_audio`, and ``"too_short"`` for a file shorter than one segment. Errors
        that concern the whole file (``"silent"``, ``"too_short"``, ``"truncated"``) are only
        known at its end, so they come after the batches: consume all of them before acting.
    ParameterError
        For invalid ``max_seconds`` or ``batch_segments``.
    """
    check_int("batch_segments", batch_segments, minimum=1)
    blocks, native_sr = _open(path, sr=config.sr, max_seconds=max_seconds)
    length, hop = config.segment_samples, config.segment_hop_samples
    resampler = None
    if native_sr != config.sr:
        import soxr  # librosa's soxr_hq resampler, as a stream

        resampler = soxr.ResampleStream(native_sr, config.sr, 1, dtype="float32", quality="HQ")
    pending = np.zeros(0, np.float32)  # samples from the start of the next segment on
    skip = n_samples = n_segments = 0  # skip: samples still to drop when hop > length
    finished = False
    while not finished:
        block = next(blocks, None)
        finished = block is None
        if resampler is not None:
            block = resampler.resample_chunk(_NO_SAMPLES if finished else block, last=finished)
        block = _NO_SAMPLES if block is None else block
        n_samples += block.shape[0]
        dropped = min(skip, block.shape[0])
        skip -= dropped
        pending = np.concatenate([pending, block[dropped:]])
        n = 0 if pending.shape[0] < length else 1 + (pending.shape[0] - length) // hop
        if n and (n >= batch_segments or finished):
            for first in range(0, n, batch_segments):
                k = min(batch_segments, n - first)
                yield segment_audio(pending[first * hop : (first + k - 1) * hop + length],
                                    config=config)
            n_segments += n
            skip = max(0, n * hop - pending.shape[0])
            pending = pending[n * hop :]
    if n_segments == 0:
        raise _refused(path, "too_short", n=n_samples, seconds=n_samples / config.sr,
                       segment=config.segment_seconds)


def load_segments(
    path: str | os.PathLike[str], *, config: FeatureConfig, max_seconds: float | None = None
) -> np.ndarray:
    """All segments of a file, ``(n_segments, config.segment_samples)`` float32.

    :func:`iter_segments` gathered into one array (memory: the segments, not the decoded file
    and an index of it); same errors.
    """
    return np.concatenate(list(iter_segments(path, config=config, max_seconds=max_seconds)))


def check_waveform(y: np.ndarray, *, path: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`AudioLoadError` if ``y`` is empty, non-finite or silent.

    Parameters
    ----------
    y : numpy.ndarray, shape (..., n_samples)
        A waveform.
    path : path-like, optional
        Named in the message.
    """
    if y.size == 0:
        raise _refused(path, "empty")
    if not np.isfinite(y.sum(dtype=np.float64)):  # one pass, no temporary; inf/NaN propagate
        raise _refused(path, "non_finite", n_bad=int(np.count_nonzero(~np.isfinite(y))),
                       at=f"of {y.size}")
    if max(float(y.max()), -float(y.min())) < SILENCE_PEAK:
        raise _refused(path, "silent")


def segment_audio(
    y: np.ndarray, *, config: FeatureConfig, path: str | os.PathLike[str] | None = None
) -> np.ndarray:
    """Cut a waveform into segments of ``config.segment_samples`` with hop ``segment_hop_samples``.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_samples,)
        A mono waveform at ``config.sr``.
    config : FeatureConfig
        Gives the segment length and hop.
    path : path-like, optional
        The file ``y`` came from, named in the error.

    Returns
    -------
    numpy.ndarray, shape (n_segments, config.segment_samples)
        A copy; ``n_segments = 1 + (n_samples - L) // H``. The trailing partial segment is
        dropped (a 29.9-s GTZAN clip gives 9 segments of 3 s). Memory: the copy only.

    Raises
    ------
    AudioLoadError
        ``reason="too_short"`` when ``y`` is shorter than one segment.
    ParameterError
        If ``y`` is not one-dimensional.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"y has shape {y.shape}: expected a mono waveform (n_samples,).")
    length, hop = config.segment_samples, config.segment_hop_samples
    if y.shape[0] < length:
        raise _refused(path, "too_short", n=y.shape[0], seconds=y.shape[0] / config.sr,
                       segment=config.segment_seconds)
    return np.lib.stride_tricks.sliding_window_view(y, length)[::hop].copy()


# What is wrong and what to do, per AudioLoadError reason (the file's name comes first).
_REFUSALS = {
    "empty": "holds no audio samples; re-export or remove the file.",
    "non_finite": "{n_bad} samples {at} are NaN or infinite; the file is damaged: re-export or "
    "remove it.",
    "silent": f"is silent (peak below {SILENCE_PEAK:g}); it carries nothing to classify: "
    "remove it from the dataset.",
    "too_short": "{n} samples ({seconds:.2f} s) is shorter than one segment of {segment:g} s; "
    "use longer files or a shorter segment_seconds.",
    "too_long": "is longer than the maximum duration of {max_seconds:g} s ({found}); genrelens "
    "refuses it rather than use memory without bound: cut it, or raise the limit "
    f"(max_seconds=, the {MAX_SECONDS_ENV} environment variable or "
    "`genrelens --max-duration SECONDS`).",
}


def _refused(
    path: str | os.PathLike[str] | None, reason: str, **details: object
) -> AudioLoadError:
    """The :class:`AudioLoadError` of ``reason`` for ``path`` (``None``: an in-memory waveform)."""
    return AudioLoadError(
        f"{'waveform' if path is None else path}: {_REFUSALS[reason].format(**details)}",
        path=None if path is None else str(path),
        reason=reason,
    )


def _decode(
    path: str | os.PathLike[str], *, sr: int | None, max_seconds: float | None
) -> tuple[np.ndarray, int]:
    blocks, native_sr = _open(path, sr=sr, max_seconds=max_seconds)
    return np.concatenate(list(blocks)), native_sr


# --------------------------------------------------------------------------- decoding


def _open(
    path: str | os.PathLike[str], *, sr: int | None, max_seconds: float | None
) -> tuple[_Blocks, int]:
    """Check ``path`` and open it: ``(checked mono float32 blocks at the native rate, rate)``."""
    if sr is not None and (not isinstance(sr, int) or isinstance(sr, bool) or sr <= 0):
        raise ParameterError(f"sr={sr!r} is invalid: expected a positive integer (e.g. 22050).")
    limit = resolve_max_seconds(max_seconds)
    p = Path(path)
    if p.is_dir():
        raise AudioLoadError(
            f"{p}: is a folder, not an audio file; name a file (or move the folder away from "
            "the dataset).",
            path=str(p),
            reason="not_a_file",
        )
    if not p.is_file():
        raise AudioLoadError(
            f"{p}: no such file; check the path (or re-run the dataset check).",
            path=str(p),
            reason="missing",
        )
    try:
        size = p.stat().st_size
        fmt = check_signature(p) if size else None
        if size:
            _check_declared_size(p, size)
    except OSError as exc:  # e.g. permission denied
        raise AudioLoadError(
            f"{p}: cannot read the file ({exc}); check its permissions.",
            path=str(p),
            reason="undecodable",
        ) from exc
    if size == 0:
        raise AudioLoadError(
            f"{p}: the file is empty (0 bytes); re-download or remove it.",
            path=str(p),
            reason="empty",
        )
    try:
        blocks, native_sr, declared = _decode_soundfile(p)
    except AudioLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several unrelated types
        blocks, native_sr, declared = _decode_audioread(p, first_error=exc, fmt=fmt)
    if not _MIN_SR <= native_sr <= _MAX_SR:
        blocks.close()
        raise AudioLoadError(
            f"{p}: header gives an implausible sampling rate of {native_sr} Hz; the file is "
            "probably damaged: re-export or remove it.",
            path=str(p),
            reason="undecodable",
        )
    if declared is not None and declared > limit * native_sr:
        blocks.close()
        found = f"its header gives {declared / native_sr:.0f} s"
        raise _refused(p, "too_long", max_seconds=limit, found=found)
    return _checked(blocks, p=p, sr=native_sr, max_seconds=limit), native_sr


def _checked(
    blocks: _Blocks, *, p: Path, sr: int, max_seconds: float
) -> _Blocks:
    """Pass ``blocks`` on, stopping at ``max_seconds`` of audio or the first non-finite sample;
    at the end, raise for a file without samples or a silent one."""
    limit = int(max_seconds * sr)
    n_read, peak = 0, 0.0
    for block in blocks:
        n_read += block.shape[0]
        if n_read > limit:
            blocks.close()
            raise _refused(p, "too_long", max_seconds=max_seconds, found="found while decoding")
        if not np.isfinite(block.sum(dtype=np.float64)):  # one pass; inf/NaN propagate
            blocks.close()
            start = (n_read - block.shape[0]) / sr
            raise _refused(p, "non_finite", n_bad=int(np.count_nonzero(~np.isfinite(block))),
                           at=f"of the {block.shape[0]} from {start:.1f} s on")
        peak = max(peak, float(block.max()), -float(block.min()))
        yield block
    if n_read == 0:
        raise _refused(p, "empty")
    if peak < SILENCE_PEAK:
        raise _refused(p, "silent")


def _decode_soundfile(p: Path) -> tuple[_Blocks, int, int | None]:
    """Open with libsndfile: ``(mono blocks, rate, frames the header declares or None)``.

    _Blocks are decoded on demand, never trusting the header's frame count."""
    f = sf.SoundFile(p)
    if not 1 <= f.channels <= _MAX_CHANNELS:
        f.close()
        raise AudioLoadError(
            f"{p}: header gives {f.channels} channels; the file is probably damaged.",
            path=str(p),
            reason="undecodable",
        )

    declared = f.frames if f.seekable() else None

    def blocks() -> _Blocks:
        with f:
            n_read = 0
            while True:
                try:
                    block = f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                except Exception as exc:  # noqa: BLE001 - decoder errors mid-stream
                    raise AudioLoadError(
                        f"{p}: decoding failed after {n_read} of {declared} frames ({exc}); the "
                        "file is truncated or damaged: re-download or remove it.",
                        path=str(p),
                        reason="truncated" if n_read or declared else "undecodable",
                    ) from exc
                if block.shape[0] == 0:
                    break
                n_read += block.shape[0]
                yield block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)
        if declared is not None and 0 < declared and 0 < n_read < declared * 0.99:
            raise AudioLoadError(
                f"{p}: the header declares {declared} frames but only {n_read} could be "
                "decoded; the file is truncated: re-download or remove it.",
                path=str(p),
                reason="truncated",
            )

    return blocks(), int(f.samplerate), declared


def _decode_audioread(
    p: Path, *, first_error: Exception, fmt: AudioFormat | None
) -> tuple[_Blocks, int, None]:
    """Fallback for what libsndfile cannot open (M4A, AAC, WMA; MP3 with libsndfile < 1.1); its
    length is only known by decoding."""
    backends: list[type] = []

    def undecodable(exc: Exception) -> AudioLoadError:
        only_stdlib = all(b.__module__.endswith(".rawread") for b in backends)  # WAV/AIFF/AU
        if fmt is not None and not fmt.libsndfile and only_stdlib:
            message = (
                f"{p}: no decoder for {fmt.name} files is installed (genrelens reads them "
                "through audioread with FFmpeg or GStreamer); install ffmpeg, or convert the "
                "file to FLAC or WAV."
            )
        else:
            message = (
                f"{p}: cannot decode as audio ({first_error}); convert it to WAV or FLAC, or "
                "remove it from the dataset."
            )
        error = AudioLoadError(message, path=str(p), reason="undecodable")
        error.__cause__ = exc
        return error

    try:
        # audioread's raw backend imports aifc/audioop/sunau, deprecated since Python 3.11
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioread

            backends = audioread.available_backends()
            f = audioread.audio_open(str(p), backends=backends)
        channels, native_sr = int(f.channels), int(f.samplerate)
        if not 1 <= channels <= _MAX_CHANNELS:
            f.close()
            raise ValueError(f"{channels} channels")
    except Exception as exc:  # noqa: BLE001 - any backend failure means "cannot decode"
        raise undecodable(exc) from exc

    def blocks() -> _Blocks:
        frame = 2 * channels  # 16-bit little-endian interleaved
        pending = b""
        with f:
            buffers = iter(f)
            while True:
                try:
                    buffer = next(buffers, None)
                except Exception as exc:  # noqa: BLE001 - decoder errors mid-stream
                    raise undecodable(exc) from exc
                if buffer is None:
                    break
                pending += buffer
                usable = len(pending) // frame * frame
                if usable:
                    pcm = np.frombuffer(pending[:usable], dtype="<i2").reshape(-1, channels)
                    pending = pending[usable:]
                    yield (pcm.mean(axis=1) / 32768.0).astype(np.float32)

    return blocks(), native_sr, None


def _check_declared_size(p: Path, size: int) -> None:
    """Compare the data size a WAV/AU header declares with the bytes present.

    libsndfile silently shortens such files to the bytes present; a dataset check should say
    the file is truncated. Sizes of 0 and ``0xFFFFFFFF`` mean "unknown" (streamed writers).
    """
    with p.open("rb") as fh:
        head = fh.read(12)
        declared = available = None
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            offset = 12
            while offset + 8 <= size:
                fh.seek(offset)
                chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
                if chunk_id == b"data":
                    declared, available = chunk_size, size - offset - 8
                    break
                offset += 8 + chunk_size + (chunk_size & 1)
        elif head[:4] == b".snd" and len(head) == 12:
            header_size, data_size = struct.unpack(">II", head[4:12])
            declared, available = data_size, size - header_size
    if declared in (None, 0, 0xFFFFFFFF) or available is None or available < 0:
        return
    if declared > available:
        raise AudioLoadError(
            f"{p}: the header declares {declared} bytes of audio but the file holds only "
            f"{available}; the file is truncated: re-download or remove it.",
            path=str(p),
            reason="truncated",
        )
