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
============  ==================================================================

No other exception escapes :func:`load_audio` for bad file *contents* (this is tested with
random and mangled bytes); wrong *parameters* raise :class:`~genrelens.errors.ParameterError`.

Segmentation (:func:`segment_audio`) cuts ``floor((n - L) / H) + 1`` segments of ``L`` samples
with hop ``H``. A trailing partial segment is dropped, never zero-padded: padding would feed the
model silence it never hears at training time on full segments. A GTZAN clip of 29.9 s thus
gives 9 segments of 3 s, and one of 30.0 s gives 10.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from genrelens.config import FeatureConfig
from genrelens.errors import AudioLoadError, ParameterError
from genrelens.formats import AUDIO_EXTENSIONS, AudioFormat, check_signature

__all__ = [
    "AUDIO_EXTENSIONS",
    "SILENCE_PEAK",
    "load_audio",
    "load_audio_native",
    "segment_audio",
    "check_waveform",
]

#: A file whose peak magnitude is below this (-120 dBFS, under one 16-bit step) is "silent".
SILENCE_PEAK = 1e-6

# Frames decoded per read: bounds memory whatever a (possibly mangled) header claims.
_BLOCK_FRAMES = 1 << 16  # ~3 s at 22,050 Hz: few reads per track, truncation still located
# Sampling rates outside this range are treated as a corrupt header.
_MIN_SR, _MAX_SR = 1_000, 768_000
_MAX_CHANNELS = 64


def load_audio(path: str | os.PathLike[str], *, sr: int | None) -> np.ndarray:
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

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float32
        Channels averaged, resampled with ``librosa.resample(res_type="soxr_hq")``.

    Raises
    ------
    AudioLoadError
        With ``reason`` in ``{"missing", "not_a_file", "empty", "truncated", "undecodable",
        "silent", "non_finite"}``; the message names the file and what to do.
    ParameterError
        If ``sr`` is not a positive integer.
    """
    y, native_sr = _decode(path, sr=sr)
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


def load_audio_native(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Load a file as float32 mono at its own rate; return ``(y, sr)``.

    Same checks and errors as :func:`load_audio`, without resampling (used to check datasets:
    durations, readability).
    """
    return _decode(path, sr=None)


def check_waveform(y: np.ndarray, *, path: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`AudioLoadError` if ``y`` is empty, non-finite or silent.

    Parameters
    ----------
    y : numpy.ndarray, shape (..., n_samples)
        A waveform.
    path : path-like, optional
        Named in the message.
    """
    name = "waveform" if path is None else str(path)
    if y.size == 0:
        raise AudioLoadError(
            f"{name}: holds no audio samples; re-export or remove the file.",
            path=None if path is None else str(path),
            reason="empty",
        )
    if not np.isfinite(y.sum(dtype=np.float64)):  # one pass, no temporary; inf/NaN propagate
        n_bad = int(np.count_nonzero(~np.isfinite(y)))
        raise AudioLoadError(
            f"{name}: {n_bad} of {y.size} samples are NaN or infinite; the file is damaged: "
            "re-export or remove it.",
            path=None if path is None else str(path),
            reason="non_finite",
        )
    if max(float(y.max()), -float(y.min())) < SILENCE_PEAK:
        raise AudioLoadError(
            f"{name}: is silent (peak below {SILENCE_PEAK:g}); it carries nothing to classify: "
            "remove it from the dataset.",
            path=None if path is None else str(path),
            reason="silent",
        )


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
        dropped (a 29.9-s GTZAN clip gives 9 segments of 3 s).

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
        name = "waveform" if path is None else path
        raise AudioLoadError(
            f"{name}: {y.shape[0]} samples ({y.shape[0] / config.sr:.2f} s) is shorter than one "
            f"segment of {config.segment_seconds:g} s; use longer files or a shorter "
            "segment_seconds.",
            path=None if path is None else str(path),
            reason="too_short",
        )
    n_segments = 1 + (y.shape[0] - length) // hop
    starts = np.arange(n_segments) * hop
    return y[starts[:, None] + np.arange(length)[None, :]]


# --------------------------------------------------------------------------- decoding


def _decode(path: str | os.PathLike[str], *, sr: int | None) -> tuple[np.ndarray, int]:
    if sr is not None and (not isinstance(sr, int) or isinstance(sr, bool) or sr <= 0):
        raise ParameterError(f"sr={sr!r} is invalid: expected a positive integer (e.g. 22050).")
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
        y, native_sr = _decode_soundfile(p)
    except AudioLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several unrelated types
        y, native_sr = _decode_audioread(p, first_error=exc, fmt=fmt)
    if not _MIN_SR <= native_sr <= _MAX_SR:
        raise AudioLoadError(
            f"{p}: header gives an implausible sampling rate of {native_sr} Hz; the file is "
            "probably damaged: re-export or remove it.",
            path=str(p),
            reason="undecodable",
        )
    check_waveform(y, path=p)
    return y, native_sr


def _decode_soundfile(p: Path) -> tuple[np.ndarray, int]:
    """Decode block by block with libsndfile (never trusting the header's frame count)."""
    with sf.SoundFile(p) as f:
        if not 1 <= f.channels <= _MAX_CHANNELS:
            raise AudioLoadError(
                f"{p}: header gives {f.channels} channels; the file is probably damaged.",
                path=str(p),
                reason="undecodable",
            )
        declared = f.frames if f.seekable() else None
        native_sr = int(f.samplerate)
        blocks = []
        n_read = 0
        try:
            while True:
                block = f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                blocks.append(block[:, 0] if block.shape[1] == 1 else block.mean(axis=1))
                n_read += block.shape[0]
        except Exception as exc:  # noqa: BLE001 - decoder errors mid-stream
            raise AudioLoadError(
                f"{p}: decoding failed after {n_read} of {declared} frames ({exc}); the file is "
                "truncated or damaged: re-download or remove it.",
                path=str(p),
                reason="truncated" if n_read or declared else "undecodable",
            ) from exc
    if n_read == 0:
        raise AudioLoadError(
            f"{p}: the header is valid but holds no audio samples; re-export or remove it.",
            path=str(p),
            reason="empty",
        )
    if declared is not None and 0 < declared and n_read < declared * 0.99:
        raise AudioLoadError(
            f"{p}: the header declares {declared} frames but only {n_read} could be decoded; "
            "the file is truncated: re-download or remove it.",
            path=str(p),
            reason="truncated",
        )
    return np.concatenate(blocks), native_sr


def _decode_audioread(
    p: Path, *, first_error: Exception, fmt: AudioFormat | None
) -> tuple[np.ndarray, int]:
    """Fallback for what libsndfile cannot open (M4A, AAC, WMA; MP3 with libsndfile < 1.1)."""
    backends: list[type] = []
    try:
        # audioread's raw backend imports aifc/audioop/sunau, deprecated since Python 3.11
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioread

            backends = audioread.available_backends()
            with audioread.audio_open(str(p), backends=backends) as f:
                channels, native_sr = int(f.channels), int(f.samplerate)
                if not 1 <= channels <= _MAX_CHANNELS:
                    raise ValueError(f"{channels} channels")
                pcm = b"".join(f)  # 16-bit little-endian interleaved
    except Exception as exc:  # noqa: BLE001 - any backend failure means "cannot decode"
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
        raise AudioLoadError(message, path=str(p), reason="undecodable") from exc
    n = len(pcm) // (2 * channels)
    if n == 0:
        raise AudioLoadError(
            f"{p}: holds no audio samples; re-export or remove it.", path=str(p), reason="empty"
        )
    y = np.frombuffer(pcm[: n * 2 * channels], dtype="<i2").reshape(n, channels)
    return (y.mean(axis=1) / 32768.0).astype(np.float32), native_sr


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
