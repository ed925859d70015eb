"""HTML of one explanation (Jupyter's ``_repr_html_``): its plot, top components and players.

The plot is drawn by :mod:`genrelens.display` (which imports nothing from
:mod:`genrelens.explain`: drawing stays a floor below the explanations); the audio comes from
:mod:`genrelens.explain.listen`.
"""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

import numpy as np

from genrelens.display import ExplanationDisplay, class_label, png_bytes
from genrelens.explain.listen import listenable, wav_bytes

if TYPE_CHECKING:
    from genrelens.explain.explanation import Explanation

__all__ = ["explanation_html"]


def explanation_html(
    explanation: Explanation,
    *,
    y: np.ndarray | None = None,
    target: int | str | None = None,
    k: int = 3,
) -> str:
    """An HTML fragment (Jupyter ``_repr_html_``): the plot, the top components, audio players.

    Images and sounds are embedded as base64 data URIs; every label is escaped with
    :func:`html.escape`. Audio players ("top k" and "rest", see
    :func:`genrelens.explain.listen.listenable`) appear for stem components, and for other
    components when the segment's waveform ``y`` is given.
    """
    c, label = class_label(explanation, target)
    png = base64.b64encode(
        png_bytes(ExplanationDisplay(explanation, target=c).plot().figure_)
    ).decode()
    rows = "".join(
        f"<tr><td>{html.escape(t.name)}</td><td style='text-align:right'>{t.score:+.4g}</td></tr>"
        for t in explanation.top(k, target=c)
    )
    parts = [
        f"<div class='genrelens-explanation'><p><b>{html.escape(label)}</b></p>",
        f"<img alt='{html.escape(label, quote=True)}' src='data:image/png;base64,{png}'/>",
        f"<table><tr><th>top component</th><th>score</th></tr>{rows}</table>",
    ]
    comps = explanation.components
    if comps is not None and (y is not None or comps.stems is not None):
        sound = listenable(explanation, y, k=k, target=c)
        for name, audio in (("top: " + ", ".join(sound.names), sound.top), ("rest", sound.rest)):
            data = base64.b64encode(wav_bytes(audio, sr=sound.sr)).decode()
            parts.append(
                f"<p>{html.escape(name)}<br>"
                f"<audio controls src='data:audio/wav;base64,{data}'></audio></p>"
            )
    parts.append("</div>")
    return "".join(parts)
