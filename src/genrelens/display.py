"""Plots: the ONLY module of genrelens that imports matplotlib (lazily).

Every ``plot_*`` function draws saved results onto ``ax`` (a new figure when ``ax`` is None)
and returns the matplotlib ``Figure``. New figures are ``matplotlib.figure.Figure`` objects
made without pyplot: no backend is chosen or switched (the user's stays, e.g. Jupyter's
inline one), and no figure is left open in pyplot's list; Jupyter displays a returned figure,
``fig.savefig`` writes it; :func:`png_bytes` turns a figure into PNG bytes and
closes it. Nothing here computes a result or runs a model — results come from the result
objects and files of the other modules (scikit-learn's ``Display`` separation). Nothing calls
``plt.show()``.

Conventions: time in seconds on the x axis; mel bands bottom (low) to top (high); attribution
maps use a diverging colour map centred on 0 (red supports the class, blue opposes it).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "png_bytes",
    "compress_png",
    "plot_waveform",
    "plot_logmel",
    "plot_overlay",
    "plot_track_timeline",
    "TimelineRow",
    "shared_limit",
    "shared_db_range",
    "plot_bars",
    "plot_matrix",
    "plot_history",
    "plot_confusion",
    "plot_ale",
    "plot_ale_result",
    "ale_labels",
    "readable_name",
    "plot_curves",
    "plot_randomization_curves",
    "plot_ale_panels",
    "plot_genre_ale",
    "plot_aggregate",
    "plot_removal_curves",
    "plot_localisation",
    "plot_cascading",
    "plot_histogram",
    "plot_stacked_counts",
    "explanation_config",
    "plot_explanation_overlay",
    "plot_class_overlays",
    "relevance_map",
    "profile",
    "plot_temporal",
    "plot_frequency",
    "plot_stems",
    "ExplanationDisplay",
    "save_png",
    "class_label",
]

#: Colour map of attributions (diverging, 0 = white).
ATTRIBUTION_CMAP = "RdBu_r"


def _figure(**kwargs: Any) -> Any:
    """A new ``matplotlib.figure.Figure(**kwargs)``, made without pyplot (no backend needed)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _close(fig: Any) -> None:
    """Drop ``fig`` from pyplot's open figures when pyplot holds it (a figure the caller made
    with pyplot and drew on through ``ax``); figures of :func:`_figure` need nothing."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def _axes(
    ax: Any,
    figsize: tuple[float, float],
    margins: tuple[float, float, float, float] | None = None,
) -> tuple[Any, Any]:
    """``ax`` and its figure, or a new figure of ``figsize`` inches with one axes.

    ``margins`` = (left, right, bottom, top) in inches fixes the axes' place; without it the
    figure uses constrained layout (tidier, but it measures every text and is several times
    slower to draw, which matters for a report of dozens of figures).
    """
    if ax is not None:
        return ax.figure, ax
    if margins is None:
        fig = _figure(figsize=figsize, layout="constrained")
    else:
        (w, h), (left, right, bottom, top) = figsize, margins
        fig = _figure(figsize=figsize)
        fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h)
    return fig, fig.add_subplot()


def _short(labels: Sequence[Any], width: int = 24) -> list[str]:
    """Tick labels cut to ``width`` characters, so that long names cannot squash the axes."""
    return [str(x) if len(str(x)) <= width else str(x)[: width - 1] + "…" for x in labels]


def _decorate(ax: Any, *, xlabel: Any = None, ylabel: Any = None, title: Any = None) -> None:
    """Set the axis labels and the title of ``ax`` that are given (None or empty: left out)."""
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)


def _category_xticks(ax: Any, labels: Sequence[Any], *, tilt: bool) -> None:
    """One shortened tick label per category on the x axis, tilted by 45 degrees if ``tilt``."""
    ax.set_xticks(np.arange(len(labels)))
    ax.set_xticklabels(_short(labels), rotation=45 if tilt else 0,
                       ha="right" if tilt else "center", fontsize=8)


def png_bytes(fig: Any, *, dpi: int = 90, palette: bool = False) -> bytes:
    """Render ``fig`` as PNG bytes and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int
        Resolution; 90 keeps a report of dozens of figures at a few MB.
    palette : bool
        Store 256 colours (see :func:`compress_png`): about a third of the bytes for images
        of spectrograms, with no visible change.
    """
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        _close(fig)
    return compress_png(buffer.getvalue()) if palette else buffer.getvalue()


def compress_png(data: bytes) -> bytes:
    """Re-encode PNG bytes with an adaptive palette of 256 colours (Pillow, matplotlib's own
    image library); the bytes are returned unchanged when that is not smaller."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        quantized = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        buffer = io.BytesIO()
        quantized.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue() if buffer.tell() < len(data) else data


def plot_waveform(y: np.ndarray, *, sr: int, ax: Any = None, title: str | None = None) -> Any:
    """Draw a waveform ``y`` of shape ``(n_samples,)`` at ``sr`` Hz against seconds."""
    fig, ax = _axes(ax, (6.0, 1.6), (0.7, 0.15, 0.45, 0.3))
    y = np.asarray(y, dtype=np.float32)
    step = max(1, y.size // 4000)  # min/max envelope keeps the PNG small and faithful
    n = y.size // step * step
    blocks = y[:n].reshape(-1, step)
    t = np.arange(blocks.shape[0]) * step / sr
    ax.fill_between(t, blocks.min(axis=1), blocks.max(axis=1), color="#3b6ea5", linewidth=0)
    ax.set_xlim(0, y.size / sr)
    _decorate(ax, xlabel="time (s)", ylabel="amplitude", title=title)
    return fig


def _mel_ticks(ax: Any, mel_hz: np.ndarray | None) -> None:
    if mel_hz is None:
        ax.set_ylabel("mel band")
        return
    n = len(mel_hz)
    idx = np.unique(np.linspace(0, n - 1, 6).round().astype(int))
    ax.set_yticks(idx)
    ax.set_yticklabels([f"{mel_hz[i] / 1000:.1f}k" if mel_hz[i] >= 1000 else f"{mel_hz[i]:.0f}"
                        for i in idx])
    ax.set_ylabel("frequency (Hz)")


def plot_logmel(
    logmel: np.ndarray,
    *,
    sr: int,
    hop_length: int,
    mel_hz: np.ndarray | None = None,
    ax: Any = None,
    title: str | None = None,
    colorbar: bool = True,
    unit: str = "dB",
    db_range: tuple[float, float] | None = None,
) -> Any:
    """Draw a log-mel spectrogram ``(n_mels, n_frames)`` (in dB, or ``unit``).

    Parameters
    ----------
    logmel : np.ndarray, shape (n_mels, n_frames)
    sr, hop_length : int
        For the time axis (frame ``t`` at ``t * hop_length / sr`` s).
    mel_hz : np.ndarray, shape (n_mels,), optional
        Centre frequency of each mel band, to label the y axis in Hz.
    unit : str, default "dB"
        The colour bar's label (``FeatureConfig.unit`` of the input).
    db_range : (float, float), optional
        The colour scale's (low, high) in dB; default the spectrogram's own range. Give
        several spectrograms one range (:func:`shared_db_range`) so that equal colours mean
        equal levels across them.
    """
    fig, ax = _axes(ax, (6.0, 2.4), (0.75, 0.3, 0.45, 0.3))
    logmel = np.asarray(logmel)
    image = _draw_logmel(ax, logmel, start=0.0, seconds_per_frame=hop_length / sr,
                         db_range=db_range)
    _mel_ticks(ax, mel_hz)
    _decorate(ax, xlabel="time (s)", title=title)
    if colorbar:
        fig.colorbar(image, ax=ax, label=unit, pad=0.01)
    return fig


def plot_overlay(
    logmel: np.ndarray,
    heat: np.ndarray,
    *,
    sr: int,
    hop_length: int,
    mel_hz: np.ndarray | None = None,
    ax: Any = None,
    title: str | None = None,
    limit: float | None = None,
    label: str = "attribution",
    db_range: tuple[float, float] | None = None,
) -> Any:
    """Draw an attribution map ``heat`` over a greyscale log-mel, both ``(n_mels, n_frames)``.

    The map uses :data:`ATTRIBUTION_CMAP`, symmetric around 0 (red: supports the explained
    class; blue: speaks against it); cells with no attribution stay transparent.

    Parameters
    ----------
    limit : float, optional
        The colour scale runs from ``-limit`` to ``limit``; default the largest ``|heat|``.
        Give the figures that are compared (methods, classes) one limit (:func:`shared_limit`):
        otherwise a weak map is stretched to look as strong as a strong one.
    label : str
        The colour bar's label (the unit of ``heat``).
    db_range : (float, float), optional
        The grey scale of the log-mel, as in :func:`plot_logmel`.
    """
    fig, ax = _axes(ax, (6.0, 2.4), (0.75, 0.3, 0.45, 0.3))
    heat = np.asarray(heat, dtype=float)
    image = _draw_overlay(ax, np.asarray(logmel), heat, start=0.0,
                          seconds_per_frame=hop_length / sr, limit=limit or shared_limit([heat]),
                          db_range=db_range)
    _mel_ticks(ax, mel_hz)
    _decorate(ax, xlabel="time (s)", title=title)
    fig.colorbar(image, ax=ax, label=label, pad=0.01)
    return fig


def _draw_logmel(ax: Any, logmel: np.ndarray, *, start: float, seconds_per_frame: float,
                 db_range: tuple[float, float] | None, cmap: str = "magma") -> Any:
    """``logmel`` drawn from ``start`` seconds on (the image, for a colour bar)."""
    low, high = db_range if db_range is not None else (None, None)
    extent = (start, start + logmel.shape[1] * seconds_per_frame, -0.5, logmel.shape[0] - 0.5)
    return ax.imshow(logmel, origin="lower", aspect="auto", cmap=cmap, vmin=low, vmax=high,
                     extent=extent, interpolation="nearest")


def _draw_overlay(ax: Any, logmel: np.ndarray, heat: np.ndarray, *, start: float,
                  seconds_per_frame: float, limit: float,
                  db_range: tuple[float, float] | None) -> Any:
    """``heat`` on ``[-limit, limit]`` over ``logmel`` in grey, from ``start`` seconds on; cells
    of 0 stay transparent (the heat image, for a colour bar)."""
    _draw_logmel(ax, logmel, start=start, seconds_per_frame=seconds_per_frame,
                 db_range=db_range, cmap="gray")
    extent = (start, start + logmel.shape[1] * seconds_per_frame, -0.5, logmel.shape[0] - 0.5)
    return ax.imshow(np.ma.masked_where(heat == 0, heat), origin="lower", aspect="auto",
                     cmap=ATTRIBUTION_CMAP, alpha=0.7, vmin=-limit, vmax=limit, extent=extent,
                     interpolation="nearest")


class TimelineRow(NamedTuple):
    """One row of :func:`plot_track_timeline`: a method's maps, one per segment."""

    title: str
    heats: Sequence[np.ndarray]
    limit: float
    label: str


def plot_track_timeline(
    logmels: Sequence[np.ndarray],
    starts: Sequence[float],
    *,
    sr: int,
    hop_length: int,
    rows: Sequence[TimelineRow] = (),
    labels: Sequence[str] | None = None,
    mel_hz: np.ndarray | None = None,
    db_range: tuple[float, float] | None = None,
    unit: str = "dB",
    title: str | None = None,
) -> Any:
    """A whole track: its segments' log-mels at their place in time, then one row per method
    with each segment's attribution map over them.

    Parameters
    ----------
    logmels : sequence of np.ndarray, shape (n_mels, n_frames)
        The explained segments, in track order.
    starts : sequence of float
        Where each segment starts in the track, in seconds (overlapping segments are drawn
        in order, a later one over an earlier one).
    rows : sequence of TimelineRow
        ``(title, heats, limit, label)``: one map per segment on the colour scale
        ``[-limit, limit]`` (share it between the rows that are compared), the colour bar's
        ``label``.
    labels : sequence of str, optional
        Written above each segment (e.g. the class the model predicts for it).
    db_range : (float, float), optional
        The log-mel colour scale of every panel; default :func:`shared_db_range` of
        ``logmels``.
    """
    logmels = [np.asarray(m) for m in logmels]
    step = hop_length / sr
    db_range = db_range or shared_db_range(logmels)
    fig = _figure(figsize=(11.0, 0.5 + 1.9 * (1 + len(rows))), layout="constrained")
    axes = fig.subplots(1 + len(rows), 1, sharex=True, squeeze=False)[:, 0]
    image = None
    for logmel, start in zip(logmels, starts, strict=True):
        image = _draw_logmel(axes[0], logmel, start=start, seconds_per_frame=step,
                             db_range=db_range)
    fig.colorbar(image, ax=axes[0], label=unit, pad=0.01)
    _decorate(axes[0], title=title)
    for ax, row in zip(axes[1:], rows):
        for logmel, heat, start in zip(logmels, row.heats, starts, strict=True):
            image = _draw_overlay(ax, logmel, np.asarray(heat, dtype=float), start=start,
                                  seconds_per_frame=step, limit=row.limit, db_range=db_range)
        fig.colorbar(image, ax=ax, label=row.label, pad=0.01)
        ax.set_title(row.title, fontsize=9, loc="left")
    ends = [start + m.shape[1] * step for m, start in zip(logmels, starts)]
    for ax in axes:
        _mel_ticks(ax, mel_hz)
        for start in starts[1:]:
            ax.axvline(start, color="white", linewidth=0.8, alpha=0.8)
    axes[-1].set_xlim(min(starts), max(ends))
    axes[-1].set_xlabel("time in the track (s)")
    if labels is not None:
        for text, start, end in zip(labels, starts, ends, strict=True):
            axes[0].text((start + end) / 2, 0.97, text, transform=axes[0].get_xaxis_transform(),
                         ha="center", va="top", fontsize=7, color="white")
    return fig


def shared_limit(arrays: Sequence[np.ndarray]) -> float:
    """One symmetric colour (or axis) limit for several attribution arrays: the largest
    finite ``|value|`` among them, 1.0 when all are 0 (or there are none)."""
    peaks = [float(np.nanmax(np.abs(a))) for a in map(np.asarray, arrays) if a.size]
    return max([p for p in peaks if np.isfinite(p)], default=0.0) or 1.0


def shared_db_range(logmels: Sequence[np.ndarray], *, top_db: float = 80.0) -> tuple[float, float]:
    """One (low, high) dB range for several log-mel spectrograms: from the loudest cell among
    them down to the quietest one, at most ``top_db`` below the loudest (the floor of silence
    would otherwise take most of the colour map)."""
    arrays = [np.asarray(a, dtype=float) for a in logmels if np.asarray(a).size]
    if not arrays:
        return -top_db, 0.0
    high = max(float(a.max()) for a in arrays)
    return max(min(float(a.min()) for a in arrays), high - top_db), high


def plot_bars(
    values: np.ndarray,
    labels: Sequence[str],
    *,
    ax: Any = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str = "attribution",
    horizontal: bool = False,
    limit: float | None = None,
) -> Any:
    """Draw signed bars (red positive, blue negative), e.g. scores per time segment or band.

    ``limit`` fixes the value axis to ``[-limit, limit]`` (a scale shared with other figures,
    see :func:`shared_limit`); by default matplotlib fits it to ``values``.
    """
    values = np.asarray(values, dtype=float)
    if horizontal:
        fig, ax = _axes(ax, (4.6, 0.25 * len(values) + 0.9), (1.6, 0.15, 0.45, 0.3))
    else:
        fig, ax = _axes(ax, (6.0, 2.2), (0.7, 0.15, 0.8 if len(labels) > 6 else 0.5, 0.3))
    colors = np.where(values >= 0, "#c0392b", "#2e6da4")
    pos = np.arange(len(values))
    if horizontal:
        ax.barh(pos, values, color=colors)
        ax.set_yticks(pos)
        ax.set_yticklabels(_short(labels), fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        _decorate(ax, xlabel=ylabel, ylabel=xlabel, title=title)
    else:
        ax.bar(pos, values, color=colors)
        _category_xticks(ax, labels, tilt=len(labels) > 6)
        ax.axhline(0, color="black", linewidth=0.6)
        _decorate(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    if limit is not None:
        (ax.set_xlim if horizontal else ax.set_ylim)(-1.05 * limit, 1.05 * limit)
    return fig


def plot_matrix(
    matrix: np.ndarray,
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    ax: Any = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    diverging: bool = True,
    annotate: bool = False,
    fmt: str = "{:.2f}",
    cmap: str | None = None,
    limit: float | None = None,
) -> Any:
    """Draw a labelled matrix as a heat map (e.g. stems × time segments of attributions).

    ``diverging=True`` centres the colour map on 0 (attributions), from ``-limit`` to
    ``limit`` (default the largest ``|value|``); otherwise a sequential map. ``annotate``
    writes each value in its cell.
    """
    matrix = np.asarray(matrix, dtype=float)
    n_rows, n_cols = matrix.shape
    fig, ax = _axes(ax, (max(4.0, 0.45 * n_cols + 2.4), max(2.0, 0.4 * n_rows + 1.4)),
                    (1.1, 0.1, 0.85 if n_cols > 5 else 0.6, 0.3))
    if diverging:
        limit = limit or shared_limit([matrix])
        image = ax.imshow(matrix, cmap=cmap or ATTRIBUTION_CMAP, vmin=-limit, vmax=limit,
                          aspect="auto")
    else:
        image = ax.imshow(matrix, cmap=cmap or "Blues", aspect="auto")
    _category_xticks(ax, col_labels, tilt=n_cols > 5)
    ax.set_yticks(np.arange(n_rows))
    ax.set_yticklabels(_short(row_labels), fontsize=8)
    if annotate:
        top = np.nanmax(np.abs(matrix)) if matrix.size else 0
        for i in range(n_rows):
            for j in range(n_cols):
                v = matrix[i, j]
                dark = not diverging and top and v > 0.6 * top
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    _decorate(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    fig.colorbar(image, ax=ax, pad=0.01)
    return fig


def plot_bench_table(table: Sequence[Mapping[str, Any]], *, kind: str = "tf_grid",
                     metric: str = "point_component") -> Any:
    """The planted-cue benchmark as heat maps: method x fill, one panel per cue kind.

    ``table`` holds the rows of :func:`genrelens.evaluate.planted_bench.summarise_rows`; only
    rows of component ``kind`` pooled over levels are drawn, with each cell's value and the
    chance level in the panel's title. Returns None when no row matches.
    """
    rows = [r for r in table if r["kind"] == kind and r["level"] == "all"]
    if not rows:
        return None
    cue_kinds = sorted({r["cue_kind"] for r in rows}, key=lambda c: (c == "all", c))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fills = list(dict.fromkeys(r["fill"] for r in rows))
    fig = _figure(figsize=(2.2 + 0.55 * len(fills) * len(cue_kinds), 1.6 + 0.35 * len(methods)))
    axes = fig.subplots(1, len(cue_kinds), squeeze=False)
    for ax, cue_kind in zip(axes[0], cue_kinds, strict=True):
        matrix = np.full((len(methods), len(fills)), np.nan)
        chance = []
        for r in rows:
            if r["cue_kind"] == cue_kind:
                matrix[methods.index(r["method"]), fills.index(r["fill"])] = r[metric]
                chance.append(r["chance_component"])
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for i in range(len(methods)):
            for j in range(len(fills)):
                v = matrix[i, j]
                ax.text(j, i, "" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
                        fontsize=7, color="white" if v > 0.6 else "black")
        _category_xticks(ax, fills, tilt=True)
        ax.set_yticks(np.arange(len(methods)))
        ax.set_yticklabels(methods if ax is axes[0][0] else [], fontsize=8)
        ax.set_title(f"{cue_kind} (chance {np.mean(chance):.2f})", fontsize=9)
    fig.suptitle(f"Planted-cue pointing game ({metric.replace('_', ' ')}, {kind})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_confusion(
    matrix: np.ndarray, class_names: Sequence[str], *, ax: Any = None, title: str | None = None
) -> Any:
    """Draw a confusion matrix (rows: true class, columns: predicted), row-normalised.

    Each cell shows the count; the colour is the fraction of the true class (recall on the
    diagonal).
    """
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    n = len(class_names)
    fig, ax = _axes(ax, (0.36 * n + 3.0, 0.3 * n + 1.9), (1.4, 0.1, 1.3, 0.3))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                ax.text(j, i, f"{counts[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.6 else "black")
    _category_xticks(ax, class_names, tilt=True)
    ax.set_yticks(np.arange(n))
    ax.set_yticklabels(_short(class_names), fontsize=8)
    _decorate(ax, xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(image, ax=ax, label="fraction of true class", pad=0.01)
    return fig


def plot_history(history: Mapping[str, Sequence[float]], *, title: str | None = None) -> Any:
    """Draw training curves: losses on the left, accuracies on the right, against epoch.

    ``history`` maps column names (``epoch``, ``train_loss``, ``valid_loss``, ``train_acc``,
    ``valid_acc``, ...) to per-epoch values; columns whose names contain ``loss`` go left,
    ``acc`` right, anything else is ignored.
    """
    fig = _figure(figsize=(8.0, 2.6))
    left, right = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.18, top=0.86, wspace=0.28)
    n = max((len(v) for v in history.values()), default=0)
    epochs = np.asarray(history.get("epoch", np.arange(1, n + 1)), dtype=float)
    for name, values in history.items():
        if name == "epoch" or len(values) != len(epochs):
            continue
        target = left if "loss" in name else right if "acc" in name else None
        if target is not None:
            target.plot(epochs, np.asarray(values, dtype=float), marker="o", markersize=3,
                        label=name)
    for ax, label in ((left, "loss"), (right, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_ale(
    grid: np.ndarray,
    average: np.ndarray,
    *,
    output_names: Sequence[str],
    feature_name: str,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    feature_values: np.ndarray | None = None,
    ax: Any = None,
    title: str | None = None,
    ylabel: str = "ALE (centred)",
) -> Any:
    """Draw first-order ALE curves ``average (n_outputs, n_grid)`` over ``grid (n_grid,)``.

    One line per output with its bootstrap band (``low``/``high``, same shape) when given, and
    a rug of the data values of the feature.
    """
    # fixed margins: room for the y label and, at the right, for the legend beside the curves
    fig, ax = _axes(ax, (7.2, 2.9), (0.9, 1.65, 0.55, 0.3))
    grid = np.asarray(grid, dtype=float)
    average = np.atleast_2d(np.asarray(average, dtype=float))
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for k, name in enumerate(output_names):
        color = cmap(k % 10)
        ax.plot(grid, average[k], color=color, label=_short([name], 18)[0], linewidth=1.4)
        if low is not None and high is not None:
            ax.fill_between(grid, np.asarray(low)[k], np.asarray(high)[k], color=color,
                            alpha=0.15, linewidth=0)
    if feature_values is not None and len(feature_values):
        ax.plot(np.asarray(feature_values, dtype=float),
                np.full(len(feature_values), ax.get_ylim()[0]), "|", color="black", alpha=0.3,
                markersize=6)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False)  # beside the axes, never over a curve
    ax.grid(alpha=0.3)
    _decorate(ax, xlabel=feature_name, ylabel=ylabel, title=title)
    return fig


def readable_name(name: str) -> str:
    """A descriptor or file name as a title: ``"band_energy[1203-2518 Hz]"`` →
    ``"band energy 1203–2518 Hz"``, ``"spectral_tilt"`` → ``"spectral tilt"``."""
    import re

    text = re.sub(r"[_\[\]]+", " ", str(name)).strip()
    return re.sub(r"(\d)-(\d)", "\\1–\\2", re.sub(r"\s+", " ", text))


def ale_labels(result: Any) -> tuple[list[str], str]:
    """The axis labels of an :class:`~genrelens.inspection.ale.ALEResult`: each feature's readable
    name with its unit (``params["units"]``, e.g. dB, dB/oct, BPM), and the y label naming the
    output's unit ("change in probability" for probabilities, else "change in <output>")."""
    units = result.params.get("units") or [""] * result.order
    labels = [readable_name(n) + (f" ({u})" if u else "")
              for n, u in zip(result.feature_names, units)]
    output = str(result.params.get("output", "output"))
    return labels, "change in probability" if output == "probabilities" else f"change in {output}"


def plot_ale_result(
    result: Any,
    *,
    outputs: Sequence[str] | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Draw a :class:`~genrelens.inspection.ale.ALEResult`: curves (1-D) or a heat map (2-D).

    First order: :func:`plot_ale` of the chosen outputs (default all) with bands and the rug of
    the data. Second order: the surface of one output (the first of ``outputs``, default the
    output with the largest effect) over the two grids, with the data as dots. The x label
    carries the unit recorded in ``result.params["units"]`` when present, the y label the
    output's (:func:`ale_labels`); the default title names the descriptor (``"ALE of band
    energy 1203–2518 Hz"``).
    """
    names = list(result.output_names)
    chosen = list(outputs) if outputs is not None else names
    index = [names.index(o) for o in chosen]
    labels, ylabel = ale_labels(result)
    if title is None:
        title = "ALE of " + " × ".join(readable_name(n) for n in result.feature_names)
    if result.order == 1:
        pick = (lambda a: None if a is None else np.asarray(a)[index])
        return plot_ale(result.grid_values[0], result.average[index], output_names=chosen,
                        feature_name=labels[0], low=pick(result.low), high=pick(result.high),
                        feature_values=result.feature_values, ax=ax, title=title,
                        ylabel=ylabel)
    if outputs is None:
        spread = np.abs(result.average).reshape(len(names), -1).max(axis=1)
        index = [int(np.argmax(spread))]
    k = index[0]
    fig, ax = _axes(ax, (4.8, 3.6))
    surface = np.asarray(result.average[k], dtype=float)
    limit = float(np.abs(surface).max()) or 1.0
    x, y = result.grid_values
    image = ax.pcolormesh(x, y, surface.T, cmap=ATTRIBUTION_CMAP, vmin=-limit, vmax=limit,
                          shading="gouraud")
    data = np.asarray(result.feature_values, dtype=float)
    ax.plot(data[:, 0], data[:, 1], ".", color="black", alpha=0.25, markersize=2)
    _decorate(ax, xlabel=labels[0], ylabel=labels[1], title=title)
    fig.colorbar(image, ax=ax, label=f"second-order ALE, {names[k]}", pad=0.01)
    return fig


def plot_ale_panels(
    results: Sequence[Any],
    *,
    output: str,
    ncols: int = 3,
    title: str | None = None,
) -> Any:
    """Draw several first-order ALE results side by side for one output (e.g. one genre).

    One panel per result (:func:`plot_ale_result` with ``outputs=[output]``); returns the figure.
    """
    n = max(1, len(results))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = _figure(figsize=(4.2 * ncols, 2.8 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, result in zip(axes.ravel(), results):
        plot_ale_result(result, outputs=[output], ax=ax)
    for ax in axes.ravel()[len(results):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_genre_ale(result: Any, genre: str) -> Any:
    """Draw a genre's top descriptors of a global view: their ALE curves for its class.

    Parameters
    ----------
    result : GlobalResult
        From :func:`genrelens.inspection.pipeline.global_analysis`.
    genre : str

    Returns
    -------
    matplotlib.figure.Figure or None
        None when the genre has no ranked descriptor.
    """
    items = result.findings.get(genre) or []
    if not items:
        return None
    return plot_ale_panels([result.ale[item["descriptor"]] for item in items], output=genre,
                           title=f"{genre}: top descriptors")


def plot_aggregate(result: Any, *, method: str, kind: str, ax: Any = None) -> Any:
    """Draw a genre x component heat map of a global view's mean signed scores.

    Parameters
    ----------
    result : GlobalResult
    method, kind : str
        The aggregated method (a hybrid's view) and component kind.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or None
        None for the time-frequency grid or more than 40 components (too many columns for a
        readable table; the numbers are in the result's ``aggregate``).
    """
    names = list(result.component_names[kind])
    if kind == "tf_grid" or len(names) > 40:
        return None
    classes = list(result.class_names)
    matrix = np.full((len(classes), len(names)), np.nan)
    for row in result.aggregate:
        if row["method"] == method and row["kind"] == kind:
            matrix[classes.index(row["genre"]), row["index"]] = row["mean"]
    return plot_matrix(matrix, row_labels=classes, col_labels=names, ax=ax,
                       title=f"mean {method} score for the genre's class ({kind})")


def plot_removal_curves(result: Any, *, curve: str, kind: str, ax: Any = None) -> Any:
    """Draw the mean deletion or insertion curves of every method of an explanation-quality
    result for one component kind (Samek et al. 2017; the random baseline dashed).

    Parameters
    ----------
    result : QualityResult
        From :func:`genrelens.evaluate.xai.evaluate_explanations`.
    curve : {"deletion", "insertion"}
    kind : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or None
        None when no method was evaluated on ``kind``.
    """
    curves = {row["method"]: np.asarray(result.curves[f"{row['method']}/{kind}"][f"{curve}_curve"])
              for row in result.faithfulness if row["kind"] == kind}
    if not curves:
        return None
    length = len(next(iter(curves.values())))
    done = "removed" if curve == "deletion" else "restored"
    return plot_curves(np.linspace(0, 1, length), curves, ax=ax,
                       xlabel=f"fraction of components {done}",
                       ylabel="probability of the predicted class",
                       title=f"{curve} curves ({kind})")


def plot_localisation(result: Any, *, ax: Any = None) -> Any:
    """Draw how well each method and kind of an explanation-quality result localises the
    ground-truth cues: rank accuracy minus its chance level (Arras et al. 2022).

    Returns
    -------
    matplotlib.figure.Figure or None
        None without ground truth.
    """
    rows = result.groundtruth
    if not rows:
        return None
    labels = [f"{r['method']} / {r['kind']}" for r in rows]
    return plot_bars(np.array([r["rank_accuracy_over_chance"] for r in rows]), labels, ax=ax,
                     horizontal=True, ylabel="rank accuracy minus chance",
                     title="localisation of the synthetic cues")


def plot_cascading(
    layers: Sequence[str],
    curves: Mapping[tuple[str, str], np.ndarray],
    *,
    threshold: float | None = None,
    ax: Any = None,
) -> Any:
    """Draw the cascading randomisation test (Adebayo et al. 2018) of component scores.

    One line per method: its scores of the first component kind (dense maps are left to the
    table), against the layers re-initialised, with the pass threshold dashed
    (:func:`plot_randomization_curves`).

    Parameters
    ----------
    layers : sequence of str
        The layer re-initialised last at each step (``""``: the trained model).
    curves : mapping
        ``{(method, kind): spearman_abs at each step}``
        (:func:`genrelens.evaluate.quality.cascading_curves`).
    threshold : float, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or None
        None without a curve of component scores of at least two steps.
    """
    kinds = sorted({kind for _, kind in curves} - {"dense"})
    if not kinds or len(layers) < 2:
        return None
    lines = {method: v for (method, kind), v in curves.items() if kind == kinds[0]}
    return plot_randomization_curves(layers, lines, threshold=threshold, ax=ax,
                                     title=f"cascading randomisation ({kinds[0]})")


def plot_curves(
    x: np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    ax: Any = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    spread: Mapping[str, np.ndarray] | None = None,
) -> Any:
    """Draw named curves over a shared ``x`` (e.g. deletion curves per method).

    ``spread`` optionally gives a half-width per curve (e.g. a standard error), drawn as a band.
    Curves named ``"random"`` are drawn dashed grey (the baseline).
    """
    fig, ax = _axes(ax, (5.0, 3.0))
    x = np.asarray(x, dtype=float)
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        style = {"color": "grey", "linestyle": "--"} if name == "random" else {}
        (line,) = ax.plot(x, values, label=name, linewidth=1.4, **style)
        if spread is not None and name in spread:
            half = np.asarray(spread[name], dtype=float)
            ax.fill_between(x, values - half, values + half, color=line.get_color(), alpha=0.15,
                            linewidth=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _decorate(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    return fig


def plot_randomization_curves(
    layers: Sequence[str],
    curves: Mapping[str, np.ndarray],
    *,
    threshold: float | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Draw a cascading model-randomisation test: similarity to the trained explanation per step.

    Parameters
    ----------
    layers : sequence of str
        The layer re-initialised last at each step, top (output) layer first; an empty name
        (step 0, nothing re-initialised) is labelled "trained".
    curves : mapping of str to ndarray
        Per method, the mean Spearman correlation of its absolute scores with those of the
        trained model's explanation at each step (``"random"``: the baseline, dashed grey).
    threshold : float, optional
        The pass threshold, drawn as a dashed line.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _axes(ax, (5.5, 3.4))
    plot_curves(np.arange(len(layers)), curves, ax=ax, title=title,
                xlabel="layers re-initialised, from the output down (last one named)",
                ylabel="Spearman of |scores| with trained")
    for line in ax.get_lines():  # one point per step
        line.set_marker("o")
        line.set_markersize(3)
    if threshold is not None:
        ax.axhline(threshold, color="#b03a2e", linestyle="--", linewidth=1.0,
                   label=f"pass threshold {threshold:g}")
    ax.legend(fontsize=7, ncol=2, loc="upper right")  # the curves fall from the top left
    _category_xticks(ax, [name or "trained" for name in layers], tilt=True)
    values = np.concatenate([np.asarray(v, dtype=float).ravel() for v in curves.values()]
                            or [np.zeros(0)])
    low = min(0.0, float(np.nanmin(values))) if np.isfinite(values).any() else 0.0
    ax.set_ylim(low - 0.05, 1.05)
    return fig


def plot_histogram(
    values: np.ndarray,
    *,
    bins: int = 30,
    ax: Any = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str = "count",
) -> Any:
    """Draw a histogram of ``values`` (e.g. track durations in seconds)."""
    fig, ax = _axes(ax, (5.0, 2.2), (0.6, 0.15, 0.5, 0.3))
    ax.hist(np.asarray(values, dtype=float), bins=bins, color="#3b6ea5", edgecolor="white")
    _decorate(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    return fig


def plot_stacked_counts(
    counts: np.ndarray,
    *,
    labels: Sequence[str],
    stack_labels: Sequence[str],
    ax: Any = None,
    title: str | None = None,
    ylabel: str = "tracks",
) -> Any:
    """Draw stacked bars: ``counts (n_stacks, n_labels)``, e.g. tracks per split per genre."""
    counts = np.asarray(counts, dtype=float)
    fig, ax = _axes(ax, (max(4.0, 0.5 * len(labels) + 1.5), 2.6),
                    (0.6, 0.15, 0.85 if len(labels) > 5 else 0.5, 0.3))
    bottom = np.zeros(counts.shape[1])
    for row, name in zip(counts, stack_labels):
        ax.bar(np.arange(len(labels)), row, bottom=bottom, label=_short([name])[0])
        bottom += row
    ax.set_xlim(-0.6, len(labels) + 0.9 + 0.1 * len(labels))  # room for the legend at the right
    _category_xticks(ax, labels, tilt=len(labels) > 5)
    ax.legend(fontsize=7, loc="upper right")
    _decorate(ax, ylabel=ylabel, title=title)
    return fig


# ---------------------------------------------------------------------------- explanations


def explanation_config(explanation: Any) -> Any:
    """The :class:`~genrelens.config.FeatureConfig` of an explanation, for seconds and Hz.

    Taken from its components, else from ``params["config"]`` (gradient methods record it),
    else the default configuration with the explanation's number of mel bands.
    """
    from genrelens.config import FeatureConfig

    if explanation.components is not None:
        return explanation.components.config
    if isinstance(explanation.params.get("config"), Mapping):
        return FeatureConfig.from_dict(dict(explanation.params["config"]))
    return FeatureConfig(n_mels=int(explanation.logmel.shape[0]))


def class_label(explanation: Any, target: int | str | None) -> tuple[int, str]:
    """The index of ``target`` (None: the predicted class) and the title naming it, e.g.
    ``"kernel_shap: metal (p=0.91)"``."""
    c = explanation.class_index(target)
    name = explanation.class_names[c] if explanation.class_names else f"class {c}"
    return c, f"{explanation.method}: {name} (p={explanation.prediction[c]:.2f})"


#: Most bars of a temporal or band profile; finer profiles are summed into this many groups.
MAX_BARS = 16


def relevance_map(explanation: Any, target: int | str | None = None) -> tuple[np.ndarray, str]:
    """The map drawn over the log-mel for ``target`` and its unit, ``(n_mels, n_frames)``.

    Component explanations: every cell carries its component's score
    (``to_map(spread=False)``), so that the map's colours and bar charts of the scores share
    one unit. Stems: every frame carries its time segment's scores summed over the parts (parts
    overlap in frequency, so no cell belongs to one part alone). Dense maps: as they are.
    """
    c = explanation.class_index(target)
    comps = explanation.components
    if comps is None:
        return np.asarray(explanation.to_map(c)), "attribution"
    if comps.stems is not None:
        per_segment = explanation.scores[c].reshape(len(comps.stems.names), comps.stems.n_segments)
        per_frame = per_segment.sum(axis=0)[comps.stems.segment_of_frame]
        return np.broadcast_to(per_frame, explanation.logmel.shape), "segment score (all parts)"
    return explanation.to_map(c, spread=False), "component score"


def plot_explanation_overlay(
    explanation: Any,
    *,
    target: int | str | None = None,
    ax: Any = None,
    title: str | None = None,
    limit: float | None = None,
    db_range: tuple[float, float] | None = None,
) -> Any:
    """Draw the explanation's :func:`relevance_map` for ``target`` over its log-mel.

    ``limit`` fixes the colour scale to ``[-limit, limit]`` (share it between the figures that
    are compared); default the map's own largest ``|value|``. ``db_range`` fixes the grey
    scale of the log-mel (:func:`plot_logmel`).
    """
    from genrelens.features import mel_frequencies

    config = explanation_config(explanation)
    c, label = class_label(explanation, target)
    heat, unit = relevance_map(explanation, c)
    return plot_overlay(
        explanation.logmel,
        heat,
        sr=config.sr,
        hop_length=config.hop_length,
        mel_hz=mel_frequencies(config),
        ax=ax,
        title=title or label,
        limit=limit,
        label=unit,
        db_range=db_range,
    )


def plot_class_overlays(
    explanation: Any, *, targets: Sequence[int | str] | None = None, n_columns: int = 2
) -> Any:
    """One :func:`plot_explanation_overlay` per class in ``targets`` (default: all classes),
    all on one colour scale: a class the model gives p = 0.01 looks as weak as it is."""
    targets = list(range(explanation.n_classes)) if targets is None else list(targets)
    limit = shared_limit([relevance_map(explanation, t)[0] for t in targets])
    n_rows = -(-len(targets) // n_columns)
    fig = _figure(figsize=(5.0 * n_columns, 2.2 * n_rows), layout="constrained")
    for i, target in enumerate(targets):
        plot_explanation_overlay(
            explanation, target=target, ax=fig.add_subplot(n_rows, n_columns, i + 1), limit=limit
        )
    return fig


def profile(
    explanation: Any, *, target: int | str | None = None, along: str = "time"
) -> tuple[np.ndarray, list[str]]:
    """Scores of ``target`` summed along time or frequency: ``(values, labels)``, at most
    :data:`MAX_BARS` values.

    Time, frequency and time-frequency-grid components: the scores of the components that
    share a time span (``along="time"``) or a band (``"frequency"``) are summed, so a
    10 × 8 grid gives 10 temporal or 8 band values in the units of the scores. Stems (time
    only): each segment's scores summed over the parts. Other components and dense maps: the
    map (:meth:`Explanation.to_map`, which sums to the scores) summed over the other axis, in
    at most :data:`MAX_BARS` groups of neighbouring frames or mel bands. Labels are seconds
    (``"0.0-0.3"``) or Hz (``"0-150 Hz"``).
    """
    from genrelens.errors import ParameterError
    from genrelens.features import mel_frequencies

    if along not in ("time", "frequency"):
        raise ParameterError(f"along={along!r} is invalid: expected 'time' or 'frequency'.")
    c = explanation.class_index(target)
    comps = explanation.components
    row = np.asarray(explanation.scores[c])
    if comps is not None and comps.stems is not None:
        if along == "frequency":
            raise ParameterError(
                "A band profile is not defined for stem components (parts span all "
                "frequencies): plot them with plot_stems()."
            )
        n_segments = comps.stems.n_segments
        return (row.reshape(len(comps.stems.names), n_segments).sum(axis=0),
                [_short_time(e) for e in comps.extents[:n_segments]])
    if comps is not None and comps.kind in ("time", "frequency", "tf_grid"):
        spans = [(e.start_s, e.end_s) if along == "time" else (e.low_hz, e.high_hz)
                 for e in comps.extents]
        keys = sorted(set(spans))
        sums = np.zeros(len(keys))
        np.add.at(sums, [keys.index(k) for k in spans], row)
        fmt = "{:.1f}-{:.1f}" if along == "time" else "{:.0f}-{:.0f} Hz"
        return sums, [fmt.format(*k) for k in keys]
    config = explanation_config(explanation)
    cells = explanation.to_map(c).sum(axis=0 if along == "time" else 1)
    groups = np.array_split(np.arange(cells.size), min(MAX_BARS, cells.size))
    if along == "time":
        step = config.hop_length / config.sr
        labels = [f"{g[0] * step:.1f}-{(g[-1] + 1) * step:.1f}" for g in groups]
    else:
        hz = mel_frequencies(config)
        labels = [f"{hz[g[0]]:.0f}-{hz[g[-1]]:.0f} Hz" for g in groups]
    return np.array([cells[g].sum() for g in groups]), labels


def plot_temporal(
    explanation: Any,
    *,
    target: int | str | None = None,
    ax: Any = None,
    title: str | None = None,
    limit: float | None = None,
) -> Any:
    """Bar chart of the scores of ``target`` over time (:func:`profile` along time).

    ``limit`` fixes the value axis to ``[-limit, limit]`` (a scale shared with other figures).
    """
    c, label = class_label(explanation, target)
    values, labels = profile(explanation, target=c, along="time")
    return plot_bars(values, labels, ax=ax, title=title or label, xlabel="time (s)",
                     ylabel=_score_unit(explanation, "time"), limit=limit)


def plot_frequency(
    explanation: Any,
    *,
    target: int | str | None = None,
    ax: Any = None,
    title: str | None = None,
    limit: float | None = None,
) -> Any:
    """Horizontal bar chart of the scores of ``target`` per frequency band, low band on top
    (:func:`profile` along frequency: at most :data:`MAX_BARS` bars). Not defined for stems
    (parts span all frequencies).

    ``limit`` fixes the value axis to ``[-limit, limit]`` (a scale shared with other figures).
    """
    c, label = class_label(explanation, target)
    values, labels = profile(explanation, target=c, along="frequency")
    return plot_bars(values, labels, ax=ax, title=title or label, xlabel="band",
                     ylabel=_score_unit(explanation, "frequency"), horizontal=True, limit=limit)


def _score_unit(explanation: Any, along: str) -> str:
    """The value axis of a :func:`profile`: one component's score, a sum of components'
    scores (or of stem parts'), or summed dense attributions."""
    comps = explanation.components
    if comps is None:
        return "summed attribution"
    if comps.stems is not None:
        return "segment score (all parts)"
    return "component score" if comps.kind == along else "summed component score"


def plot_stems(
    explanation: Any,
    *,
    target: int | str | None = None,
    ax: Any = None,
    title: str | None = None,
    limit: float | None = None,
) -> Any:
    """Heat map of stem scores for ``target``: parts (rows) × time segments (columns), on the
    colour scale ``[-limit, limit]`` (default the largest ``|score|`` shown)."""
    from genrelens.errors import ParameterError

    comps = explanation.components
    if comps is None or comps.stems is None:
        raise ParameterError("plot_stems() needs stem components (components.stems).")
    c, label = class_label(explanation, target)
    n_parts, n_segments = len(comps.stems.names), comps.stems.n_segments
    matrix = explanation.scores[c].reshape(n_parts, n_segments)
    return plot_matrix(
        matrix,
        row_labels=list(comps.stems.names),
        col_labels=[_short_time(e) for e in comps.extents[:n_segments]],
        ax=ax,
        title=title or label,
        xlabel="time (s)",
        ylabel="part",
        limit=limit,
    )


def _short_time(extent: Any) -> str:
    return f"{extent.start_s:.1f}-{extent.end_s:.1f}"


class ExplanationDisplay:
    """scikit-learn style display of an :class:`~genrelens.explain.explanation.Explanation`.

    ``ExplanationDisplay.from_explanation(exp, kind="overlay").figure_`` or
    ``ExplanationDisplay(exp).plot(ax=ax, kind="temporal")``.

    Parameters
    ----------
    explanation : Explanation
    target : int, str or None
        Class index or name; ``None`` = the predicted class.

    Attributes
    ----------
    figure_, ax_ : matplotlib Figure and Axes
        Set by :meth:`plot`.
    """

    #: kind -> plotting function; "auto" picks "stems" for stem components, else "overlay".
    KINDS = {
        "overlay": plot_explanation_overlay,
        "temporal": plot_temporal,
        "frequency": plot_frequency,
        "stems": plot_stems,
    }

    def __init__(self, explanation: Any, *, target: int | str | None = None) -> None:
        self.explanation = explanation
        self.target = target

    @classmethod
    def from_explanation(
        cls,
        explanation: Any,
        *,
        target: int | str | None = None,
        kind: str = "auto",
        ax: Any = None,
    ) -> ExplanationDisplay:
        """Build the display and :meth:`plot` it."""
        return cls(explanation, target=target).plot(kind=kind, ax=ax)

    def plot(self, *, kind: str = "auto", ax: Any = None) -> ExplanationDisplay:
        """Draw ``kind``: "auto", "overlay", "temporal", "frequency" or "stems"."""
        from genrelens.errors import ParameterError

        comps = self.explanation.components
        if kind == "auto":
            kind = "stems" if comps is not None and comps.stems is not None else "overlay"
        if kind not in self.KINDS:
            raise ParameterError(
                f"kind={kind!r} is invalid: expected 'auto' or one of {sorted(self.KINDS)}."
            )
        self.figure_ = self.KINDS[kind](self.explanation, target=self.target, ax=ax)
        self.ax_ = ax if ax is not None else self.figure_.axes[0]
        return self


def save_png(fig: Any, path: Any, *, dpi: int = 90) -> Any:
    """Write ``fig`` as a PNG file atomically (see :func:`png_bytes`; closes the figure)."""
    from pathlib import Path

    from genrelens._io import atomic_path

    payload = png_bytes(fig, dpi=dpi)
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)
