"""Audio file formats: which file name endings genrelens treats as audio, and whether a file's
first bytes are those of the format its ending names.

Decoders guess. libsndfile reads any file with an unrecognised header and an ``.au`` or ``.snd``
ending as headerless 8-bit µ-law, so random bytes named ``x.au`` become "audio" and get a
prediction; mpg123 (libsndfile's MP3 decoder) resynchronises through random bytes named
``x.mp3`` and prints notes on stderr. :func:`check_signature` therefore reads a file's first
bytes before any decoder sees it and raises :class:`~genrelens.errors.AudioLoadError` (reason
``undecodable``) when they are not those of the format of its ending, naming the format they
match when there is one (``a FLAC file named .wav: rename it``).

==========================  =================================  ==========================
format                      endings                            first bytes
==========================  =================================  ==========================
WAV                         .wav, .wave                        RIFF/RIFX/RF64/BW64 + WAVE
AU                          .au, .snd                          ``.snd`` (or ``dns.``)
AIFF                        .aiff, .aif, .aifc                 FORM + AIFF/AIFC
MP3                         .mp3                               an ID3 tag, or two MPEG audio
                                                               frame headers in a row
FLAC                        .flac                              ``fLaC``, or an ID3 tag
Ogg (Vorbis, Opus)          .ogg, .oga, .opus                  ``OggS``
M4A (AAC/ALAC in MP4)       .m4a                              ``ftyp`` at byte 4
AAC (ADTS)                  .aac                               ADTS sync, ``ADIF`` or ID3
WMA                         .wma                               the ASF header GUID
==========================  =================================  ==========================

The first six are decoded by libsndfile (1.1 or later reads MP3 and Ogg Opus); M4A,
AAC and WMA only by an ``audioread`` backend such as FFmpeg or GStreamer: without one such
files are reported as undecodable with what to install.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from genrelens.errors import AudioLoadError

__all__ = ["AudioFormat", "FORMATS", "AUDIO_EXTENSIONS", "format_of", "check_signature"]

# Bytes read from the start of a file to recognise its format: two MPEG audio frames (at most
# 1,729 bytes each). An ID3 tag is recognised, not skipped: it can hold megabytes of cover art.
_HEAD_BYTES = 4096

# MPEG audio bitrates in kbit/s by (MPEG-1?, layer) and index; sampling rates by version.
_KBPS = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_bytes(head: bytes, at: int) -> int | None:
    """Length in bytes of the MPEG audio frame whose header starts at ``head[at]``, or None if
    no valid header (sync, version, layer, bitrate, rate) is there."""
    if len(head) < at + 4 or head[at] != 0xFF or head[at + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[at + 1] >> 3) & 3, 4 - ((head[at + 1] >> 1) & 3)
    index, rate, padding = head[at + 2] >> 4, (head[at + 2] >> 2) & 3, (head[at + 2] >> 1) & 1
    if version == 1 or layer == 4 or index in (0, 15) or rate == 3:
        return None  # reserved values; free-format streams (index 0) are not recognised
    bits = _KBPS[(version == 3, layer)][index] * 1000
    sr = _MPEG_RATES[version][rate]
    if layer == 1:
        return (12 * bits // sr + padding) * 4
    return (144 if layer == 2 or version == 3 else 72) * bits // sr + padding


def _mpeg_frames(head: bytes) -> bool:
    """Two consecutive MPEG audio frame headers at the start (one is matched by chance by
    about one in 2,000 random files)."""
    length = _mpeg_frame_bytes(head, 0)
    return length is not None and _mpeg_frame_bytes(head, length) is not None


def _id3(head: bytes) -> bool:
    return head[:3] == b"ID3"


def _adts(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


@dataclasses.dataclass(frozen=True)
class AudioFormat:
    """A file format genrelens reads.

    Parameters
    ----------
    name : str
        E.g. ``"WAV"``.
    extensions : tuple of str
        Lower-case endings with the dot, the first one preferred.
    header : str
        What its first bytes hold, for messages.
    libsndfile : bool
        Decoded by libsndfile; otherwise only by an ``audioread`` backend (FFmpeg, GStreamer).
    matches : callable
        ``matches(head) -> bool`` on the file's first bytes.
    """

    name: str
    extensions: tuple[str, ...]
    header: str
    libsndfile: bool
    matches: Callable[[bytes], bool]


#: Every format genrelens reads, in the order of the module docstring's table (an ID3 tag
#: alone is taken for MP3 when naming the format of a misnamed file).
FORMATS: tuple[AudioFormat, ...] = (
    AudioFormat("WAV", (".wav", ".wave"), "RIFF/RF64 ... WAVE", True,
                lambda h: h[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and h[8:12] == b"WAVE"),
    AudioFormat("AU", (".au", ".snd"), "'.snd'", True, lambda h: h[:4] in (b".snd", b"dns.")),
    AudioFormat("AIFF", (".aiff", ".aif", ".aifc"), "FORM ... AIFF", True,
                lambda h: h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC")),
    AudioFormat("MP3", (".mp3",), "an ID3 tag or MPEG audio frames", True,
                lambda h: _id3(h) or _mpeg_frames(h)),
    AudioFormat("FLAC", (".flac",), "'fLaC'", True, lambda h: h[:4] == b"fLaC" or _id3(h)),
    AudioFormat("Ogg", (".ogg", ".oga", ".opus"), "'OggS'", True, lambda h: h[:4] == b"OggS"),
    AudioFormat("M4A", (".m4a",), "'ftyp' at byte 4", False, lambda h: h[4:8] == b"ftyp"),
    AudioFormat("AAC", (".aac",), "an ADTS frame, 'ADIF' or an ID3 tag", False,
                lambda h: _adts(h) or h[:4] == b"ADIF" or _id3(h)),
    AudioFormat("WMA", (".wma",), "the ASF header", False, lambda h: h[:16] == _ASF_GUID),
)

#: File name endings (lower case) that genrelens treats as audio.
AUDIO_EXTENSIONS: tuple[str, ...] = tuple(ext for f in FORMATS for ext in f.extensions)

_BY_EXTENSION = {ext: f for f in FORMATS for ext in f.extensions}


def format_of(path: str | os.PathLike[str]) -> AudioFormat | None:
    """The format named by ``path``'s ending (case-insensitive), or ``None`` if it is no audio
    ending genrelens knows."""
    return _BY_EXTENSION.get(Path(path).suffix.lower())


def check_signature(path: str | os.PathLike[str]) -> AudioFormat | None:
    """Raise :class:`AudioLoadError` if the first bytes of ``path`` are not those of the format
    its ending names.

    Parameters
    ----------
    path : path-like
        An existing, non-empty regular file.

    Returns
    -------
    AudioFormat or None
        The format of its ending; ``None`` for an unknown ending (nothing is checked; the
        decoders decide).

    Raises
    ------
    AudioLoadError
        ``reason="undecodable"``; the message names the file, the header expected, the format
        the bytes match if any, and what to do.
    """
    p = Path(path)
    fmt = format_of(p)
    if fmt is None:
        return None
    with p.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if fmt.matches(head):
        return fmt
    actual = next((f for f in FORMATS if f.matches(head)), None)
    if actual is not None:
        hint = (f"it starts like a {actual.name} file: rename it to "
                f"{p.with_suffix(actual.extensions[0]).name}")
    else:
        hint = f"it is no {fmt.name} file, or a damaged one: re-export or remove it"
    raise AudioLoadError(
        f"{p}: does not start with the {fmt.name} header its name promises ({fmt.header}); "
        f"{hint}.",
        path=str(p),
        reason="undecodable",
    )
