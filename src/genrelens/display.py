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
from typing import Any

import numpy as np

__all__ = [
    "png_bytes",
    "compress_png",
    "plot_waveform",
    "plot_logmel",
    "plot_overlay",
    "plot_bars",
    "plot_matrix",
    "plot_history",
    "plot_confusion",
    "plot_ale",
    "plot_ale_result",
    "plot_curves",
    "plot_randomization_curves",
    "plot_ale_panels",
    "plot_histogram",
    "plot_stacked_counts",
    "explanation_config",
    "plot_explanation_overlay",
    "plot_class_overlays",
    "plot_temporal",
    "plot_frequency",
    "plot_stems",
    "ExplanationDisplay",
    "save_png",
    "explanation_html",
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
    """
    fig, ax = _axes(ax, (6.0, 2.4), (0.75, 0.3, 0.45, 0.3))
    logmel = np.asarray(logmel)
    seconds = logmel.shape[1] * hop_length / sr
    image = ax.imshow(logmel, origin="lower", aspect="auto", cmap="magma",
                      extent=(0, seconds, -0.5, logmel.shape[0] - 0.5), interpolation="nearest")
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
) -> Any:
    """Draw an attribution map ``heat`` over a greyscale log-mel, both ``(n_mels, n_frames)``.

    The map uses :data:`ATTRIBUTION_CMAP`, symmetric around 0 (red: supports the explained
    class; blue: speaks against it); cells with no attribution stay transparent.
    """
    fig, ax = _axes(ax, (6.0, 2.4), (0.75, 0.3, 0.45, 0.3))
    logmel, heat = np.asarray(logmel), np.asarray(heat, dtype=float)
    seconds = logmel.shape[1] * hop_length / sr
    extent = (0, seconds, -0.5, logmel.shape[0] - 0.5)
    ax.imshow(logmel, origin="lower", aspect="auto", cmap="gray", extent=extent,
              interpolation="nearest")
    limit = float(np.max(np.abs(heat))) or 1.0
    masked = np.ma.masked_where(heat == 0, heat)
    image = ax.imshow(masked, origin="lower", aspect="auto", cmap=ATTRIBUTION_CMAP, alpha=0.7,
                      vmin=-limit, vmax=limit, extent=extent, interpolation="nearest")
    _mel_ticks(ax, mel_hz)
    _decorate(ax, xlabel="time (s)", title=title)
    fig.colorbar(image, ax=ax, label="attribution", pad=0.01)
    return fig


def plot_bars(
    values: np.ndarray,
    labels: Sequence[str],
    *,
    ax: Any = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str = "attribution",
    horizontal: bool = False,
) -> Any:
    """Draw signed bars (red positive, blue negative), e.g. scores per time segment or band."""
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
) -> Any:
    """Draw a labelled matrix as a heat map (e.g. stems × time segments of attributions).

    ``diverging=True`` centres the colour map on 0 (attributions); otherwise a sequential map.
    ``annotate`` writes each value in its cell.
    """
    matrix = np.asarray(matrix, dtype=float)
    n_rows, n_cols = matrix.shape
    fig, ax = _axes(ax, (max(4.0, 0.45 * n_cols + 2.4), max(2.0, 0.4 * n_rows + 1.4)),
                    (1.1, 0.1, 0.85 if n_cols > 5 else 0.6, 0.3))
    if diverging:
        limit = float(np.nanmax(np.abs(matrix))) if matrix.size else 1.0
        image = ax.imshow(matrix, cmap=cmap or ATTRIBUTION_CMAP, vmin=-(limit or 1.0),
                          vmax=limit or 1.0, aspect="auto")
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
    fig, ax = _axes(ax, (6.0, 2.8), (0.75, 0.15, 0.5, 0.3))
    grid = np.asarray(grid, dtype=float)
    average = np.atleast_2d(np.asarray(average, dtype=float))
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for k, name in enumerate(output_names):
        color = cmap(k % 10)
        ax.plot(grid, average[k], color=color, label=_short([name])[0], linewidth=1.4)
        if low is not None and high is not None:
            ax.fill_between(grid, np.asarray(low)[k], np.asarray(high)[k], color=color,
                            alpha=0.15, linewidth=0)
    if feature_values is not None and len(feature_values):
        ax.plot(np.asarray(feature_values, dtype=float),
                np.full(len(feature_values), ax.get_ylim()[0]), "|", color="black", alpha=0.3,
                markersize=6)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(fontsize=7, ncol=2 if len(output_names) > 5 else 1, loc="best")
    ax.grid(alpha=0.3)
    _decorate(ax, xlabel=feature_name, ylabel=ylabel, title=title)
    return fig


def plot_ale_result(
    result: Any,
    *,
    outputs: Sequence[str] | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Draw a :class:`~genrelens.glob.ale.ALEResult`: curves (1-D) or a heat map (2-D).

    First order: :func:`plot_ale` of the chosen outputs (default all) with bands and the rug of
    the data. Second order: the surface of one output (the first of ``outputs``, default the
    output with the largest effect) over the two grids, with the data as dots. The x label
    carries the unit recorded in ``result.params["units"]`` when present.
    """
    names = list(result.output_names)
    chosen = list(outputs) if outputs is not None else names
    index = [names.index(o) for o in chosen]
    units = result.params.get("units") or [""] * result.order
    labels = [f"{n} ({u})" if u else n for n, u in zip(result.feature_names, units)]
    ylabel = "ALE of " + str(result.params.get("output", "output"))
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
    values = np.concatenate([np.asarray(v, dtype=float).ravel() for v in curves.values()] or [[]])
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


def _class_label(explanation: Any, target: int | str | None) -> tuple[int, str]:
    c = explanation.class_index(target)
    name = explanation.class_names[c] if explanation.class_names else f"class {c}"
    return c, f"{explanation.method}: {name} (p={explanation.prediction[c]:.2f})"


def plot_explanation_overlay(
    explanation: Any, *, target: int | str | None = None, ax: Any = None, title: str | None = None
) -> Any:
    """Draw the explanation's scores for ``target`` over its log-mel (time × mel bands).

    Component scores are spread over their cells (:meth:`Explanation.to_map`); for stems the
    map is each time segment's summed part scores spread over its frames (parts overlap in
    frequency, so no cell belongs to one part alone).
    """
    from genrelens.features import mel_frequencies

    config = explanation_config(explanation)
    c, label = _class_label(explanation, target)
    comps = explanation.components
    if comps is not None and comps.stems is not None:
        per_segment = explanation.scores[c].reshape(len(comps.stems.names), comps.stems.n_segments)
        counts = np.bincount(comps.stems.segment_of_frame, minlength=comps.stems.n_segments)
        per_frame = (per_segment.sum(axis=0) / np.maximum(counts, 1))[comps.stems.segment_of_frame]
        heat = np.broadcast_to(per_frame / explanation.logmel.shape[0], explanation.logmel.shape)
    else:
        heat = explanation.to_map(c)
    return plot_overlay(
        explanation.logmel,
        heat,
        sr=config.sr,
        hop_length=config.hop_length,
        mel_hz=mel_frequencies(config),
        ax=ax,
        title=title or label,
    )


def plot_class_overlays(
    explanation: Any, *, targets: Sequence[int | str] | None = None, n_columns: int = 2
) -> Any:
    """One :func:`plot_explanation_overlay` per class in ``targets`` (default: all classes)."""
    targets = list(range(explanation.n_classes)) if targets is None else list(targets)
    n_rows = -(-len(targets) // n_columns)
    fig = _figure(figsize=(5.0 * n_columns, 2.2 * n_rows), layout="constrained")
    for i, target in enumerate(targets):
        plot_explanation_overlay(
            explanation, target=target, ax=fig.add_subplot(n_rows, n_columns, i + 1)
        )
    return fig


def plot_temporal(
    explanation: Any, *, target: int | str | None = None, ax: Any = None, title: str | None = None
) -> Any:
    """Bar chart of attribution over time for ``target``.

    Time components: one bar per component. Stems: the parts' scores summed per time
    segment. Other cell components and dense maps: the map summed over mel bands, one bar per
    frame (a profile of where in time the evidence lies).
    """
    c, label = _class_label(explanation, target)
    comps = explanation.components
    if comps is not None and comps.kind == "time":
        values, labels = explanation.scores[c], [_short_time(e) for e in comps.extents]
    elif comps is not None and comps.stems is not None:
        values = (
            explanation.scores[c]
            .reshape(len(comps.stems.names), comps.stems.n_segments)
            .sum(axis=0)
        )
        labels = [_short_time(e) for e in comps.extents[: comps.stems.n_segments]]
    else:
        values = explanation.to_map(c).sum(axis=0)
        config = explanation_config(explanation)
        labels = [
            f"{t * config.hop_length / config.sr:.2f}" if t % 10 == 0 else ""
            for t in range(values.size)
        ]
    return plot_bars(values, labels, ax=ax, title=title or label, xlabel="time (s)")


def plot_frequency(
    explanation: Any, *, target: int | str | None = None, ax: Any = None, title: str | None = None
) -> Any:
    """Horizontal bar chart of attribution per frequency band for ``target`` (low band on top).

    Frequency components: one bar per band. Other cell components and dense maps: the map
    summed over time, one bar per mel band. Not defined for stems (parts span all frequencies).
    """
    from genrelens.errors import ParameterError
    from genrelens.features import mel_frequencies

    c, label = _class_label(explanation, target)
    comps = explanation.components
    if comps is not None and comps.stems is not None:
        raise ParameterError(
            "plot_frequency() is not defined for stem components: use plot_stems()."
        )
    if comps is not None and comps.kind == "frequency":
        values = explanation.scores[c]
        labels = [f"{e.low_hz:.0f}-{e.high_hz:.0f}" for e in comps.extents]
    else:
        values = explanation.to_map(c).sum(axis=1)
        hz = mel_frequencies(explanation_config(explanation))
        labels = [
            f"{h:.0f}" if i % max(1, values.size // 16) == 0 else "" for i, h in enumerate(hz)
        ]
    return plot_bars(
        values, labels, ax=ax, title=title or label, xlabel="frequency (Hz)", horizontal=True
    )


def plot_stems(
    explanation: Any, *, target: int | str | None = None, ax: Any = None, title: str | None = None
) -> Any:
    """Heat map of stem scores for ``target``: parts (rows) × time segments (columns)."""
    from genrelens.errors import ParameterError

    comps = explanation.components
    if comps is None or comps.stems is None:
        raise ParameterError("plot_stems() needs stem components (components.stems).")
    c, label = _class_label(explanation, target)
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


def explanation_html(
    explanation: Any,
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
    import base64
    import html

    from genrelens.explain.listen import listenable, wav_bytes

    c, label = _class_label(explanation, target)
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
