"""Text shown on a terminal: file names and messages with their control characters escaped.

A file name may hold a newline (it could fake a line of output, e.g. a prediction), a
carriage return, or an escape sequence (it could move the cursor or retitle the terminal).
:func:`printable` shows every such character as a Python-style escape, so each line the
command line prints is one line of plain text.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]

#: Unicode categories escaped: controls (C0, DEL, C1: newline, ESC, ...), format characters
#: (bidirectional overrides that reorder what is shown), lone surrogates (undecodable bytes
#: of a file name) and the line and paragraph separators.
_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def printable(text: object) -> str:
    """``str(text)`` with control and formatting characters escaped.

    Parameters
    ----------
    text : object
        A file name, path or message (anything with ``str``).

    Returns
    -------
    str
        The text with ``"\\n"`` shown as ``\\n``, ESC as ``\\x1b``, U+202E as ``\\u202e``, an
        undecodable byte 0xff of a file name as ``\\xff``, ...; other characters unchanged.

    Examples
    --------
    >>> printable("blues.00001.wav\\nmetal 0.99")
    'blues.00001.wav\\\\nmetal 0.99'
    """
    return "".join(_escape(c) if unicodedata.category(c) in _ESCAPED else c for c in str(text))


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
        return f"\\x{code - 0xDC00:02x}"
    return repr(char)[1:-1]
