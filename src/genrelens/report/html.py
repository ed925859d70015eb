"""The HTML report of a run directory: one self-contained file, rendered from saved results.

:func:`render_report` reads what a run directory holds and writes ``RUN/report.html``: images
as base64 PNG data URIs, audio as base64 WAV data URIs (downsampled and shortened so that the
file stays a few MB), inline CSS, no script, nothing fetched from the network. A researcher can
mail it. Every section appears when its files exist and says "not computed" otherwise. The
report never runs a model.

Files read (all optional), relative to the run directory:

=============================  ===============================================================
``manifest.json``              parameters, FeatureConfig, seeds, versions, stages (timings,
                               status, skipped files) — :mod:`genrelens.run`
``dataset.json``               ``{"check": DatasetReport.to_dict(), "tracks": [{"track_id",
                               "label", "duration_s"}], "examples": {label: {"track_id",
                               "file", "start_s"}}}``
``examples/*.wav``             one excerpt per class (waveform, log-mel, player)
``split.json``                 :class:`genrelens.data.Split` JSON
``history.csv``                one row per epoch (``epoch``, ``*loss*``, ``*acc*`` columns)
``metrics.json``               classification metrics; any ``*confusion*`` 2-D list is drawn
``explanations/<track>/``      :class:`genrelens.explain.explanation.Explanation` pairs
                               (``*.json`` + ``*.npz``) and listenable ``*.wav`` files
``global/index.json``          the files of the global view (:mod:`genrelens.results`):
                               :class:`genrelens.inspection.ale.ALEResult` files, tables, PNGs
``xai/index.json``             the same for explanation quality with random baselines;
                               ``xai/sanity_cascading.csv`` is drawn and tabulated by step
=============================  ===============================================================

Explanations: each track shows one segment's input, output and method cards; a track explained
by ``genrelens explain`` (``summary.json``, ``segments/<i>/``) also gets a whole-track timeline
of every explained segment. Every explained spectrogram (cards, inputs, timelines, all tracks)
is drawn on one dB range (:func:`genrelens.display.shared_db_range`), recorded in the page as
``data-db-range``; colour scales are shared per component kind (``data-scale``,
``data-scales``).

A *table* file is JSON ``{"title": ..., "caption": ..., "columns": [...], "rows": [[...]]}``;
lists of records and dicts of records or scalars are shown as tables too.

All text taken from files (track ids, class names, messages) is escaped by jinja2's
autoescaping; nothing read from a run directory is marked safe.

Every file is read through :class:`genrelens.report.files.RunFiles`: only regular files inside
the run directory are embedded (a path stored in the run, or a symbolic link, that leads
outside is not followed), and damaged files are left out. Both are listed at the top of the
report with what to do, and a section whose file was left out says so instead of "not
computed".
"""

from __future__ import annotations

import base64
import datetime
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._io import write_text
from genrelens.config import FeatureConfig
from genrelens.errors import GenrelensError
from genrelens.report.files import RunFiles
from genrelens.run import pipeline_order, stage_status

__all__ = ["render_report", "build_context", "audio_data_uri", "tables_from_json", "REPORT_NAME"]

#: File name of the report inside the run directory.
REPORT_NAME = "report.html"

_MAX_TABLE_ROWS = 60


# --------------------------------------------------------------------------- small helpers


def _png_uri(fig: Any) -> str:
    from genrelens import display

    return "data:image/png;base64," + base64.b64encode(
        display.png_bytes(fig, palette=True)).decode("ascii")


def audio_data_uri(
    y: np.ndarray, *, sr: int, max_seconds: float = 10.0, target_sr: int | None = None
) -> str:
    """A ``data:audio/wav;base64,...`` URI of a mono waveform, shortened (and downsampled).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,) or (n_samples, n_channels)
        The audio (channels are averaged).
    sr : int
        Its sampling rate in Hz.
    max_seconds : float
        Keep at most this many seconds from the start.
    target_sr : int, optional
        Resample to this rate (polyphase, anti-aliased) when ``sr`` is higher; default: keep
        ``sr``. The report passes the model's rate (its feature configuration's ``sr``), so
        that what is played is what the model heard, every band an explanation can rank
        included (22,050 Hz: 10 s take about 590 kB of base64, 16-bit PCM).

    Returns
    -------
    str
    """
    from scipy.signal import resample_poly

    from genrelens.explain.listen import wav_bytes

    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2:
        y = y.mean(axis=1)
    y = y[: int(round(max_seconds * sr))]
    if target_sr is not None and sr > target_sr:
        g = math.gcd(int(sr), int(target_sr))
        y = resample_poly(y, target_sr // g, int(sr) // g)
        sr = target_sr
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:
        y = y / peak
    payload = wav_bytes(y.astype(np.float32), sr=int(sr))
    return "data:audio/wav;base64," + base64.b64encode(payload).decode("ascii")


def _wav_uri(files: RunFiles, path: Path, *, max_seconds: float, sr: int) -> str | None:
    """The data URI of the audio file ``path`` at most at rate ``sr`` (the model's)."""
    audio = files.audio(path)
    return None if audio is None else audio_data_uri(audio[0], sr=audio[1],
                                                     max_seconds=max_seconds, target_sr=sr)


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (a damaged or foreign file)."""
    return value if isinstance(value, Mapping) else {}


def _track_labels(files: RunFiles) -> dict[str, str]:
    """Track id → label, from ``dataset.json`` (empty when absent or left out)."""
    tracks = _mapping(files.json("dataset.json")).get("tracks") or []
    return {str(t.get("track_id")): str(t.get("label")) for t in tracks if isinstance(t, Mapping)}


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "–"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float, str, bool)) or v is None for v in value) and len(value) <= 12:
            return ", ".join(_fmt(v) for v in value)
        return f"[{len(value)} values]"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in _flatten(value).items())[:200]
    return str(value)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys (``{"seeds": {"train": 0}}`` →
    ``{"seeds.train": 0}``), for a table of two columns."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _number(text: Any) -> Any:
    """A CSV cell as int or float when it reads as one, else unchanged."""
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            continue
    return text


def _table(title: str | None, columns: Sequence[Any], rows: Sequence[Sequence[Any]],
           caption: str | None = None, *, figure: dict[str, str] | None = None) -> dict[str, Any]:
    columns = [str(c) for c in columns]
    cells = [list(row) for row in rows]
    caveat = _thin_evidence(columns, cells)
    return {
        "title": title,
        "caption": caption,
        "caveat": caveat,
        "figure": figure,
        "columns": columns,
        "rows": [[_fmt(v) for v in row] for row in cells[:_MAX_TABLE_ROWS]],
        "truncated": max(0, len(cells) - _MAX_TABLE_ROWS),
    }


#: Rows whose count ``n`` (segments, tracks) is below this rest on too little data to be read
#: as findings; the report says so beside the table.
THIN_EVIDENCE_N = 5


def _thin_evidence(columns: list[str], rows: list[list[Any]]) -> str | None:
    """A caveat for a table with a count column ``n`` where some rows have n below
    :data:`THIN_EVIDENCE_N` (None otherwise). A ``std`` of a row with n = 1 is undefined: it
    is blanked in ``rows`` (shown "–"), never shown as 0."""
    if "n" not in columns:
        return None
    at, std = columns.index("n"), columns.index("std") if "std" in columns else None
    counts = [_number(row[at]) if at < len(row) else None for row in rows]
    thin = [n for n in counts if isinstance(n, (int, float)) and n < THIN_EVIDENCE_N]
    if not thin:
        return None
    for row, n in zip(rows, counts):
        if std is not None and std < len(row) and isinstance(n, (int, float)) and n < 2:
            row[std] = float("nan")
    return (f"Thin evidence: {len(thin)} of {len(rows)} rows rest on n < {THIN_EVIDENCE_N} "
            f"(smallest n = {min(thin):g}); read their values, passes included, as indications "
            "from very few examples, not as findings"
            + ("; a standard deviation needs n ≥ 2 and is left blank where n = 1."
               if std is not None and min(thin) < 2 else "."))


def _short_list(values: list[Any]) -> bool:
    """A list shown in a table cell: a few plain values (numeric series longer than 4 are
    curves, drawn by their stage, not tabulated)."""
    if len(values) > 12 or any(isinstance(x, (Mapping, list)) for x in values):
        return False
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values)
    return not (numeric and len(values) > 4)


def tables_from_json(data: Any, *, title: str) -> list[dict[str, Any]]:
    """Turn a JSON value into tables for the report (see the module docstring)."""
    if isinstance(data, Mapping) and "columns" in data and "rows" in data:
        return [_table(data.get("title", title), data["columns"], data["rows"],
                       data.get("caption"))]
    if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
        columns = list(dict.fromkeys(k for r in data for k in r))
        return [_table(title, columns, [[r.get(c) for c in columns] for r in data])]
    if isinstance(data, Mapping):
        scalars = {k: v for k, v in data.items() if not isinstance(v, (Mapping, list))
                   or (isinstance(v, list) and _short_list(v))}
        records = {k: v for k, v in data.items() if isinstance(v, Mapping) and v}
        tables = []
        if scalars:
            tables.append(_table(title, ["", "value"], [[k, v] for k, v in scalars.items()]))
        flat = {k: v for k, v in records.items()
                if all(not isinstance(x, (Mapping, list)) or (isinstance(x, list) and _short_list(x))
                       for x in v.values())}
        if flat:
            columns = list(dict.fromkeys(c for r in flat.values() for c in r))
            tables.append(_table(title, ["", *columns],
                                 [[k, *(r.get(c) for c in columns)] for k, r in flat.items()]))
        for key, value in records.items():
            if key not in flat:
                tables.extend(tables_from_json(value, title=f"{title} — {key}"))
        return tables
    return []


def _find_confusions(data: Any, path: str = "") -> list[tuple[str, np.ndarray, list[str]]]:
    """Every square ``*confusion*`` matrix in ``data``: (where, matrix, class names found beside
    it in a ``per_class`` or ``class_names`` entry, else [])."""
    found: list[tuple[str, np.ndarray, list[str]]] = []
    if isinstance(data, Mapping):
        names = data.get("class_names") or list(data.get("per_class") or {})
        for key, value in data.items():
            where = f"{path} {key}".strip()
            if "confusion" in str(key).lower() and _is_matrix(value):
                found.append((where, np.asarray(value, dtype=float), [str(n) for n in names]))
            else:
                found.extend(_find_confusions(value, where))
    return found


def _is_matrix(value: Any) -> bool:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return arr.ndim == 2 and arr.shape[0] == arr.shape[1] and arr.shape[0] > 0


def _drop_confusions(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: _drop_confusions(v) for k, v in data.items()
                if not ("confusion" in str(k).lower() and _is_matrix(v))}
    return data


# --------------------------------------------------------------------------- sections


def _manifest_section(files: RunFiles) -> dict[str, Any] | None:
    manifest = files.json("manifest.json")
    if not isinstance(manifest, Mapping):
        return None
    stages = []
    records = _mapping(manifest.get("stages"))
    for name in pipeline_order(records):
        rec = _mapping(records[name])
        summary = _mapping(rec.get("summary"))
        status = stage_status(rec)
        if status == "running" and rec.get("pid") == os.getpid():
            status = "writing this report"  # the stage running now is the one rendering it
        stages.append({
            "name": name,
            "status": status,
            "seconds": _fmt(rec.get("seconds")) if rec.get("seconds") is not None else "–",
            "summary": "; ".join(f"{k}: {_fmt(v)}" for k, v in summary.items()
                                 if not isinstance(v, (Mapping,)) and k != "skipped"),
            "error": rec.get("error") if status != "interrupted" else (
                f"the process that ran this stage (PID {rec.get('pid')}) ended without "
                "recording an outcome (killed?): run the same command again to resume"),
        })
    params = {k: v for k, v in manifest.items()
              if k not in ("stages", "versions", "manifest_version")}
    return {
        "stages": stages,
        "params": _table(None, ["parameter", "value"], sorted(_flatten(params).items())),
        "versions": _table(None, ["package", "version"],
                           sorted((manifest.get("versions") or {}).items())),
    }


def _feature_config(files: RunFiles) -> FeatureConfig:
    manifest = files.json("manifest.json")
    if isinstance(manifest, Mapping) and isinstance(manifest.get("feature_config"), Mapping):
        try:
            return FeatureConfig.from_dict(dict(manifest["feature_config"]))
        except GenrelensError:
            pass
    return FeatureConfig()


def _mel_hz(config: FeatureConfig) -> np.ndarray | None:
    try:
        from genrelens.features import mel_frequencies
    except ImportError:
        return None
    return np.asarray(mel_frequencies(config))


def _log_mel(y: np.ndarray, config: FeatureConfig) -> np.ndarray | None:
    try:
        from genrelens.features import log_mel
    except ImportError:
        return None
    return np.asarray(log_mel(np.asarray(y, dtype=np.float32), config=config))


def _split_sets(files: RunFiles) -> dict[str, list[str]] | None:
    data = files.json("split.json")
    if not isinstance(data, Mapping):
        return None
    return {s: list(data.get(s) or []) for s in ("train", "valid", "test")}


def _dataset_section(files: RunFiles, config: FeatureConfig,
                     max_seconds: float) -> dict[str, Any] | None:
    from genrelens import display

    data = files.json("dataset.json")
    if not isinstance(data, Mapping):
        return None
    check = _mapping(data.get("check"))
    tracks = [t for t in data.get("tracks") or [] if isinstance(t, Mapping)]
    out: dict[str, Any] = {
        "root": check.get("root"),
        "layout": check.get("layout"),
        "n_tracks": check.get("n_tracks", len(tracks)),
        "n_readable": check.get("n_readable"),
        "n_segments": check.get("n_segments"),
        "figures": [],
        "examples": [],
        "class_table": None,
    }
    labels = sorted({str(t.get("label")) for t in tracks}) or sorted(check.get("class_counts", {}))
    sets = _split_sets(files)
    if tracks:
        if sets:
            where = {tid: s for s, ids in sets.items() for tid in ids}
            stack_names = ["train", "valid", "test", "unused"]
            counts = np.zeros((4, len(labels)))
            for t in tracks:
                s = where.get(str(t.get("track_id")), "unused")
                counts[stack_names.index(s), labels.index(str(t.get("label")))] += 1
            keep = counts.sum(axis=1) > 0
            fig = display.plot_stacked_counts(counts[keep], labels=labels,
                                              stack_labels=[n for n, k in zip(stack_names, keep) if k],
                                              title="Tracks per genre and split")
        else:
            counts = np.array([[sum(str(t.get("label")) == c for t in tracks) for c in labels]])
            fig = display.plot_stacked_counts(counts, labels=labels, stack_labels=["all"],
                                              title="Tracks per genre")
        out["figures"].append({
            "uri": _png_uri(fig),
            "caption": "Number of tracks of each genre, coloured by the set of the split they "
                       "belong to (a track's segments never cross sets).",
        })
        durations = [float(t["duration_s"]) for t in tracks
                     if isinstance(t.get("duration_s"), (int, float))]
        if durations:
            fig = display.plot_histogram(np.asarray(durations), bins=30, xlabel="duration (s)",
                                         title="Track durations")
            out["figures"].append({
                "uri": _png_uri(fig),
                "caption": f"Durations of the {len(durations)} readable tracks (min "
                           f"{min(durations):.2f} s, max {max(durations):.2f} s); each track "
                           f"gives segments of {config.segment_seconds:g} s.",
            })
    if check.get("class_counts"):
        out["class_table"] = _table(None, ["genre", "readable", "listed"],
                                    [[c, *v] for c, v in sorted(check["class_counts"].items())])
    skipped = [[s.get("track_id"), s.get("reason"), s.get("message")]
               for s in check.get("unreadable") or [] if isinstance(s, Mapping)]
    manifest = _mapping(files.json("manifest.json"))
    for stage, rec in _mapping(manifest.get("stages")).items():
        for s in _mapping(_mapping(rec).get("summary")).get("skipped") or []:
            if isinstance(s, Mapping):
                skipped.append([s.get("track_id"), s.get("reason"), f"{stage}: {s.get('message', '')}"])
            elif isinstance(s, (list, tuple)) and len(s) >= 2:
                skipped.append([s[0], s[1], f"skipped by stage {stage}"])
    out["skipped"] = _table(None, ["track", "reason", "message"], skipped) if skipped else None
    out["duplicates"] = [" = ".join(map(str, g)) for g in check.get("duplicates") or []]
    mel_hz = _mel_hz(config)
    logmels = []
    for label, info in sorted(_mapping(data.get("examples")).items()):
        info = _mapping(info)
        audio = files.audio(str(info["file"])) if info.get("file") else None
        if audio is None:
            continue
        y, sr = audio
        example = {"label": label, "track_id": info.get("track_id"),
                   "start_s": info.get("start_s", 0.0), "mel": None}
        example["wave"] = _png_uri(display.plot_waveform(y, sr=sr))
        logmels.append(_log_mel(y, config) if sr == config.sr else None)
        example["audio"] = audio_data_uri(y, sr=sr, max_seconds=max_seconds, target_sr=config.sr)
        out["examples"].append(example)
    # one dB range for all examples, so that equal colours are equal levels across genres
    db_range = display.shared_db_range([m for m in logmels if m is not None])
    out["db_range"] = f"{db_range[0]:.1f} to {db_range[1]:.1f} {config.unit}"
    for example, logmel in zip(out["examples"], logmels):
        if logmel is not None:
            example["mel"] = _png_uri(display.plot_logmel(
                logmel, sr=config.sr, hop_length=config.hop_length, mel_hz=mel_hz,
                unit=config.unit, db_range=db_range))
            example["db_range"] = out["db_range"]
    return out


def _split_section(files: RunFiles) -> dict[str, Any] | None:
    data = files.json("split.json")
    sets = _split_sets(files)
    if not isinstance(data, Mapping) or sets is None:
        return None
    labels = _track_labels(files)
    classes = sorted(set(labels.values()))
    rows = []
    for s, ids in sets.items():
        per_class = [sum(labels.get(i) == c for i in ids) for c in classes]
        rows.append([s, len(ids), *per_class])
    return {
        "name": data.get("name"),
        "random_state": data.get("random_state"),
        "warnings": [str(w) for w in data.get("warnings") or []],
        "table": _table(None, ["set", "tracks", *classes], rows),
        "test_ids": ", ".join(sets["test"][:40]) + (" …" if len(sets["test"]) > 40 else ""),
    }


def _training_section(files: RunFiles) -> dict[str, Any] | None:
    from genrelens import display

    rows = files.csv("history.csv")
    out: dict[str, Any] = {"figures": [], "tables": []}
    if rows:
        history: dict[str, list[float]] = {}
        for col in rows[0]:
            try:
                history[col] = [float(r[col]) for r in rows]
            except (TypeError, ValueError):
                continue
        out["figures"].append({
            "uri": _png_uri(display.plot_history(history)),
            "caption": "Training curves: loss (left) and accuracy (right) per epoch on the "
                       "training and validation sets. The checkpoint kept is the one with the "
                       "best validation score; a widening gap between the curves means "
                       "over-fitting.",
        })
        out["tables"].append(_table("Last epochs", list(rows[0]),
                                    [[_number(v) for v in r.values()] for r in rows[-5:]]))
    config = files.json("train_config.json")
    if isinstance(config, Mapping):
        model = _model_table(config)
        if model is not None:
            out["tables"].insert(0, model)
        out["tables"].extend(tables_from_json(config, title="Training configuration"))
    return out if out["figures"] or out["tables"] else None


def _model_table(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The model trained (``train_config.json``): its name and arguments, and for a transfer
    model the pretrained backbone, its weights' sha256 and whether it was frozen."""
    train = _mapping(config.get("train"))
    if not train.get("model"):
        return None
    rows = [["model", str(train["model"])]]
    args = {k: v for k, v in _mapping(train.get("model_args")).items() if k != "backbone"}
    if args:
        rows.append(["arguments", ", ".join(f"{k}={v}" for k, v in sorted(args.items()))])
    transfer = _mapping(config.get("transfer"))
    if transfer:
        rows += [["backbone", f"{transfer.get('backbone')} (pretrained)"],
                 ["backbone weights sha256", str(transfer.get("backbone_sha256"))],
                 ["frozen", "yes: only the head was trained" if transfer.get("frozen")
                  else "no: fine-tuned"]]
    return _table("Model", ["", "value"], rows)


def _metrics_section(files: RunFiles) -> dict[str, Any] | None:
    from genrelens import display

    metrics = files.json("metrics.json")
    if metrics is None:
        return None
    manifest = _mapping(files.json("manifest.json"))
    fallback = list(_mapping(manifest.get("dataset")).get("class_names") or [])
    figures = []
    for where, matrix, names in _find_confusions(metrics):
        for candidate in (names, fallback, [str(i) for i in range(len(matrix))]):
            if len(candidate) == len(matrix):
                names = candidate
                break
        figures.append({
            "uri": _png_uri(display.plot_confusion(matrix, names, title=f"Confusion matrix ({where})")),
            "caption": f"Confusion matrix ({where}) on the test set: rows are the true genres, "
                       "columns the predicted ones; numbers are counts, colour the fraction of "
                       "the true genre (the diagonal is each genre's recall).",
        })
    body = _drop_confusions(metrics)
    if isinstance(body, Mapping):
        body = {k: v for k, v in body.items() if k != "class_names"}
    return {"figures": figures, "tables": tables_from_json(body, title="Test metrics")}


def _target_name(exp: Any) -> tuple[int, str]:
    k = exp.predicted_class
    return k, (exp.class_names[k] if exp.class_names else str(k))


def _explanation_view(exp: Any, stem: str, limit: float, *,
                      db_range: tuple[tuple[float, float], str]) -> dict[str, Any]:
    """One method's card: its figures on the colour (and bar) scale ``limit`` shared by the
    track's explanations of the same kind, the log-mel on the ``(range, its text)`` of every
    explained spectrogram, and its facts."""
    from genrelens import display
    from genrelens.evaluate.manifold import manifold_check

    k, name = _target_name(exp)
    comp = exp.components
    kind = _kind(exp)
    title = f"{exp.method} · {kind}"
    figures = []
    scale = {"scale": f"{limit:.6g}"}
    if kind == "stems" and comp is not None and comp.stems is not None:
        figures.append({"uri": _png_uri(display.plot_stems(
            exp, target=k, title=f"stem × time, attribution to {name}", limit=limit)), **scale,
            "caption": f"Attribution of each sound source (row) in each time segment (column) "
                       f"to the class {name}: red cells support it, blue cells speak against it."})
    else:
        unit = "component score" if comp is not None else "attribution"
        figures.append({"uri": _png_uri(display.plot_explanation_overlay(
            exp, target=k, title=f"attribution to {name}", limit=limit,
            db_range=db_range[0])), **scale, "db_range": db_range[1],
            "caption": f"The input log-mel in grey with the {exp.method} attribution to the "
                       f"predicted class {name} painted over it ({kind} components; red "
                       "supports the class, blue speaks against it; uncoloured cells score 0)."
                       + ("" if comp is None else " Each cell shows the score of its component, "
                          "in the units of the bar charts.")
                       + f" Colour scale ±{limit:.3g} ({unit}), "
                       + (f"shared by this track's {kind} explanations so that their colours "
                          "compare." if comp is not None else "in this method's own units.")})
        if kind in ("time", "frequency"):
            plot = display.plot_temporal if kind == "time" else display.plot_frequency
            figures.append({"uri": _png_uri(plot(
                exp, target=k, title=f"{'temporal' if kind == 'time' else 'band'} attribution "
                                     f"to {name}", limit=limit)), **scale,
                "caption": (f"Score of each time segment: which moments made the model say "
                            f"{name}." if kind == "time" else
                            f"Score of each frequency band for the class {name}.")
                           + " Same scale as the map."})
    facts = [["explained class", name], ["output", exp.output]]
    for key in ("n_evaluations", "seconds"):
        if key in exp.cost:
            facts.append([f"cost: {key}", exp.cost[key]])
    for key, value in exp.fit.items():
        v = np.asarray(value)
        facts.append([f"fit: {key}", v[k] if v.ndim == 1 and v.size == exp.n_classes else value])
    for key in ("n_samples", "random_state"):
        if key in exp.params:
            facts.append([key, exp.params[key]])
    if exp.fill is not None:
        facts.append(["fill", getattr(exp.fill, "kind", type(exp.fill).__name__)])
    if comp is not None:
        top = exp.top(min(3, comp.n_components), target=k)
        facts.append(["top components", "; ".join(f"{t.name} ({t.score:.3g})" for t in top)])
    check = manifold_check(exp, k)
    facts.append(["relevance on the grid's borders",
                  f"{check['edge_share']:.0%} (of {check['edge_area']:.0%} of the area)"
                  if np.isfinite(check["edge_share"]) else "n/a"])
    if check["off_prediction"] is not None:
        facts.append(["probability with every component off", check["off_target_probability"]])
    return {"title": title, "file": stem, "figures": figures, "warning": check["reason"],
            "scale_group": _scale_key(exp),
            "facts": _table(None, ["", "value"], facts)}


def _kind(exp: Any) -> str:
    """The explanation's component kind, ``"dense"`` for maps without components."""
    return exp.components.kind if exp.components is not None else "dense"


def _scale_key(exp: Any) -> str:
    """What shares a colour scale: the component kind (scores are outputs' changes for every
    perturbation method), or the method for dense maps (Grad-CAM and IG have other units)."""
    return exp.components.kind if exp.components is not None else f"dense {exp.method}"


def _shared_limits(exps: Sequence[Any]) -> dict[str, float]:
    """One colour limit per :func:`_scale_key` over the explanations of one track: the largest
    ``|score|`` of the explained class among all methods of a component kind (dense maps: of
    the method's map), so that a weak method's map looks weak beside a strong one's."""
    from genrelens import display

    by_kind: dict[str, list[np.ndarray]] = {}
    for exp in exps:
        k = exp.predicted_class
        row = exp.to_map(k) if exp.components is None else exp.scores[k]
        by_kind.setdefault(_scale_key(exp), []).append(np.asarray(row))
    return {kind: display.shared_limit(rows) for kind, rows in by_kind.items()}


def _load_explanations(files: RunFiles,
                       folder: Path) -> tuple[list[tuple[str, Any]], list[str]]:
    """Explanation pairs (``*.json`` + ``*.npz``) directly in ``folder``, and load errors."""
    from genrelens.explain.explanation import Explanation

    found, errors = [], []
    for path in files.files(folder, "*.json"):
        data = files.json(path)
        if not (isinstance(data, Mapping) and "method" in data and "arrays" in data):
            continue
        shared = [path.parent / str(ref.get("file")) for ref in
                  _mapping(data.get("shared_arrays")).values() if isinstance(ref, Mapping)]
        missing = [p.name for p in (path.with_suffix(".npz"), *shared) if files.file(p) is None]
        if missing:
            errors.append(f"{path.name}: its arrays ({', '.join(missing)}) are missing or left "
                          "out.")
            continue
        try:
            found.append((path.stem, Explanation.load(path)))
        except GenrelensError as exc:
            message = files.strip_root(str(exc))
            errors.append(f"{path.name}: {message}")
            files.leave_out(path, f"it cannot be loaded as an explanation ({message})")
    return found, errors


def _track_folders(files: RunFiles,
                   root: Path) -> list[tuple[Path, Mapping[str, Any] | None, Path]]:
    """``(track folder, summary or None, folder of the shown explanations)`` under ``root``.

    The tracks of ``root/index.json`` (:func:`genrelens.explain.batch.write_index`, written by
    ``demo`` and ``explain-dataset``), in its order, each showing the segment its entry names.
    Without an index (a run of an older version, or folders of ``genrelens explain`` put there
    by hand) the folders under ``root`` are found: one with ``summary.json`` is a track
    explained by ``genrelens explain`` (its first explained segment is shown); any other folder
    holding explanation files directly is a track of its own.
    """
    from genrelens.explain.batch import INDEX_FILE, INDEX_FORMAT

    index = files.json(root / INDEX_FILE)
    if isinstance(index, Mapping) and index.get("format") == INDEX_FORMAT:
        indexed = []
        for entry in index.get("tracks") or []:
            folder = (files.folder(root / str(entry["folder"]))
                      if isinstance(entry, Mapping) and entry.get("folder") else None)
            if folder is not None:
                indexed.append(_track_folder(files, folder, segment=entry.get("segment")))
        return indexed
    tracks = [_track_folder(files, path.parent)
              for path in files.files(root, "summary.json", recursive=True)]
    claimed = [folder for folder, _, _ in tracks]
    for folder in sorted(p for p in [root, *root.rglob("*")] if files.folder(p)):
        if any(folder == c or c in folder.parents for c in claimed):
            continue
        if files.files(folder, "*.npz") or files.files(folder, "*.wav"):
            tracks.append((folder, None, folder))
    return tracks


def _track_folder(files: RunFiles, folder: Path, *,
                  segment: Any = None) -> tuple[Path, Mapping[str, Any] | None, Path]:
    """A track folder of ``genrelens explain``'s layout: its summary and the folder of the
    explanations shown, ``segments/<segment>/`` (else its first segment, else the folder)."""
    summary = files.json(folder / "summary.json")
    segments = sorted(p for p in (folder / "segments").glob("*") if files.folder(p))
    named = [p for p in segments if isinstance(segment, int) and p.name == f"{segment:03d}"]
    return folder, summary if isinstance(summary, Mapping) else None, (named or segments
                                                                        or [folder])[0]


def _card_order(item: tuple[str, Any]) -> tuple[int, int, str]:
    """Cards grouped by component kind (dense maps last), methods in a fixed order, so that
    the methods of one kind sit side by side."""
    from genrelens.explain.registry import KINDS, METHODS

    stem, exp = item
    kind = _kind(exp)
    k = KINDS.index(kind) if kind in KINDS else len(KINDS)
    m = METHODS.index(exp.method) if exp.method in METHODS else len(METHODS)
    return k, m, stem


def _one_per_kind(paths: list[Path]) -> list[Path]:
    """Of ``<method>_<kind>_top.wav`` files, the first method's file of each kind (the report
    stays a few MB; every file remains in the run directory)."""
    chosen: dict[str, Path] = {}
    for path in paths:
        kind = path.stem.rsplit("_", 2)[-2] if path.stem.count("_") >= 2 else path.stem
        chosen.setdefault(kind, path)
    return list(chosen.values())


def _segment_explanations(files: RunFiles,
                          folder: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Every explained segment of a track folder of ``genrelens explain``: ``(segment index,
    {file stem: Explanation})`` in track order, and load errors."""
    segments, errors = [], []
    for seg in sorted(p for p in (folder / "segments").glob("*") if files.folder(p)):
        exps, errs = _load_explanations(files, seg)
        errors += [f"segment {seg.name}: {e}" for e in errs]
        if exps and seg.name.isdigit():
            segments.append((int(seg.name), dict(exps)))
    return segments, errors


def _timeline(track_id: str, segments: list[tuple[int, dict[str, Any]]],
              summary: Mapping[str, Any], *, mel_hz: np.ndarray | None,
              db_range: tuple[float, float], db_text: str) -> dict[str, Any]:
    """The whole-track figure: every explained segment at its place in the track, the class
    the model predicts for each, and one row per method and component kind with the maps of
    the track's explained class, one colour scale per :func:`_scale_key` over all segments."""
    from genrelens import display

    first = next(iter(segments[0][1].values()))
    cfg = display.explanation_config(first)
    names = list(first.class_names or map(str, range(first.n_classes)))
    target = _mapping(summary.get("target")).get("index")
    if not (isinstance(target, int) and 0 <= target < first.n_classes):
        target = int(np.argmax(np.mean([next(iter(e.values())).prediction
                                        for _, e in segments], axis=0)))
    shared = [stem for stem, _ in sorted(segments[0][1].items(), key=_card_order)
              if all(stem in exps for _, exps in segments)]
    rows: list[tuple[Any, Any, list[np.ndarray], str]] = []
    groups: dict[str, list[np.ndarray]] = {}
    for stem in shared:
        exps = [seg[stem] for _, seg in segments]
        maps = [display.relevance_map(e, target) for e in exps]
        rows.append((stem, exps[0], [m for m, _ in maps], maps[0][1]))
        groups.setdefault(_scale_key(exps[0]), []).extend(m for m, _ in maps)
    limits = {key: display.shared_limit(heats) for key, heats in groups.items()}
    starts = [i * cfg.segment_hop_seconds for i, _ in segments]
    predicted = [next(iter(e.values())).prediction for _, e in segments]
    labels = [f"{names[int(np.argmax(p))]} {float(np.max(p)):.2f}" for p in predicted]
    fig = display.plot_track_timeline(
        [next(iter(e.values())).logmel for _, e in segments], starts, sr=cfg.sr,
        hop_length=cfg.hop_length, mel_hz=mel_hz, db_range=db_range, unit=cfg.unit,
        labels=labels, title=f"the explained segments of {track_id} (white: the class the "
                             "model predicts for each, and its probability)",
        rows=[display.TimelineRow(f"{e.method} · {_kind(e)}: attribution to "
                                  f"{names[target]}", heats, limits[_scale_key(e)], unit)
              for _, e, heats, unit in rows])
    scales = "; ".join(f"{key} ±{limit:.6g}" for key, limit in limits.items())
    return {
        "uri": _png_uri(fig), "alt": f"timeline of {track_id}", "db_range": db_text,
        "scales": scales, "n_segments": len(segments), "target": names[target],
        "segment_classes": [names[int(np.argmax(p))] for p in predicted],
        "caption": f"The whole track, {len(segments)} explained segments side by side "
                   f"({starts[0]:g}–{starts[-1] + cfg.segment_seconds:g} s): top, the log-mel "
                   "with the class the model predicts for each segment; below, each method's "
                   f"attribution to {names[target]} (the class explained in this track), on "
                   f"one colour scale per component kind across all segments and methods "
                   f"({scales}) and the dB range of every explained spectrogram ({db_text}).",
    }


def _explanations_section(files: RunFiles, config: FeatureConfig,
                          max_seconds: float) -> list[dict[str, Any]] | None:
    from genrelens import display

    root = files.folder("explanations")
    if root is None:
        return None
    labels = _track_labels(files)
    mel_hz = _mel_hz(config)
    found = []
    for folder, summary, shown in _track_folders(files, root):
        exps, errors = _load_explanations(files, shown)
        wavs = files.files(folder, "*.wav")
        segments: list[tuple[int, dict[str, Any]]] = []
        if shown != folder:
            wavs += _one_per_kind(files.files(shown, "*_top.wav"))
            segments, segment_errors = _segment_explanations(files, folder)
            errors += [e for e in segment_errors if not e.startswith(f"segment {shown.name}:")]
        if exps or wavs or errors:
            found.append((folder, summary or {}, shown, exps, errors, wavs, segments))
    # one dB range for every explained spectrogram (all tracks, all segments), so that equal
    # colours are equal levels across tracks, as for the genre examples
    db_range = display.shared_db_range(
        [e.logmel for *_, exps, _, _, _ in found for _, e in exps]
        + [next(iter(seg.values())).logmel for *_, segments in found for _, seg in segments])
    db_text = f"{db_range[0]:.1f} to {db_range[1]:.1f} {config.unit}"
    tracks = []
    for folder, summary, shown, exps, errors, wavs, segments in found:
        track_id = str(summary.get("track_id") or next(
            (e.params["track_id"] for _, e in exps if "track_id" in e.params),
            folder.relative_to(root).as_posix()))
        view: dict[str, Any] = {"track_id": track_id,
                                "true_label": summary.get("label") or labels.get(track_id),
                                "segment": shown.name if shown != folder else None,
                                "methods": [], "audio": [], "errors": errors,
                                "predicted": None, "spectrogram": None, "db_range": db_text,
                                "timeline": None}
        if exps:
            first = exps[0][1]
            k, name = _target_name(first)
            view["predicted"] = name
            view["probability"] = float(first.prediction[k])
            cfg = first.components.config if first.components is not None else config
            names = list(first.class_names or map(str, range(first.n_classes)))
            order = np.argsort(-first.prediction)[:5]
            view["spectrogram"] = _png_uri(display.plot_logmel(
                first.logmel, sr=cfg.sr, hop_length=cfg.hop_length, mel_hz=mel_hz,
                title=f"input log-mel ({cfg.unit})", unit=cfg.unit, db_range=db_range))
            view["probs"] = _png_uri(display.plot_bars(
                first.prediction[order], [names[i] for i in order], horizontal=True,
                ylabel=first.output, title="model output, top 5"))
            limits = _shared_limits([e for _, e in exps])
            for stem, exp in sorted(exps, key=_card_order):
                view["methods"].append(_explanation_view(exp, stem, limits[_scale_key(exp)],
                                                         db_range=(db_range, db_text)))
        if len(segments) > 1:
            view["timeline"] = _timeline(track_id, segments, summary, mel_hz=mel_hz,
                                         db_range=db_range, db_text=db_text)
        for wav in wavs:
            uri = _wav_uri(files, wav, max_seconds=max_seconds, sr=config.sr)
            if uri is not None:
                label = wav.stem.replace("_", " ")
                view["audio"].append({"label": label.replace(" top", ": top components"),
                                      "uri": uri})
        view["audio"].sort(key=lambda a: (not a["label"].startswith("original"), a["label"]))
        tracks.append(view)
    return tracks


#: Tables shown first (the quality measures before their cost), others alphabetically.
_FIRST_TABLES = ("faithfulness", "groundtruth", "sanity", "sanity_cascading", "stability",
                 "descriptor_ranking")


def _table_order(path: Path) -> tuple[int, str]:
    name = path.stem
    return (_FIRST_TABLES.index(name) if name in _FIRST_TABLES else len(_FIRST_TABLES), name)


def _json_files_section(files: RunFiles, folder: str, *, command: str) -> dict[str, Any] | None:
    from genrelens import display

    listed = _indexed_files(files, folder, command=command)
    if listed is None:
        return None
    root = files.root / folder
    out: dict[str, Any] = {"figures": [], "tables": []}
    drawn: set[Path] = set()  # files drawn from their data (paths without suffix)
    for path in sorted(listed["tables"], key=_table_order):
        rows = files.csv(path)
        if not rows:
            continue
        title = path.relative_to(root).as_posix()
        table = _cascading_table(title, rows) if path.name == "sanity_cascading.csv" else None
        if table is not None:
            drawn.add(path.with_suffix(""))
        out["tables"].append(table or _table(title, list(rows[0]),
                                             [[_number(v) for v in r.values()] for r in rows]))
    for path in sorted(listed["data"], key=_natural):
        data = files.json(path)
        title = path.relative_to(root).with_suffix("").as_posix()
        if isinstance(data, Mapping) and {"feature_names", "average", "grid_values"} <= set(data):
            out["figures"].extend(_ale_figures(data, display))
            drawn.add(path.with_suffix(""))
        elif data is not None and not path.with_suffix(".csv").is_file():  # CSV shown above
            out["tables"].extend(tables_from_json(data, title=title))
    for path in listed["figures"]:
        if path.with_suffix("") in drawn:
            continue  # drawn above from its data
        png = files.png(path)
        if png is None:
            continue
        out["figures"].append({
            "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "caption": f"{path.relative_to(root).as_posix()} (figure saved by the stage)",
        })
    return out if out["figures"] or out["tables"] else None


def _indexed_files(files: RunFiles, folder: str, *,
                   command: str) -> dict[str, list[Path]] | None:
    """The readable files ``FOLDER/index.json`` lists (:func:`genrelens.results.write_index`):
    ``tables`` (CSV), ``data`` (the summary and every JSON file) and ``figures`` (PNG), sorted;
    None without a readable index (the section is "not computed", or the index is left out
    naming ``command``, which writes it)."""
    from genrelens.results import FILE_ROLES, INDEX_FILE, check_index

    if files.folder(folder) is None:  # absent, or a link out of the run (recorded)
        return None
    path = Path(folder) / INDEX_FILE
    if files.file(path) is None and not os.path.lexists(files.root / path):
        files.leave_out(path, f"{folder}/ has no {INDEX_FILE} listing its files (genrelens "
                              f"writes one since the global view and explanation quality became "
                              f"result objects): run `{command}` again to show them")
        return None
    data = files.json(path)
    if data is None:
        return None
    try:
        index = check_index(data, path=path)
    except GenrelensError as exc:
        files.leave_out(path, str(exc))
        return None
    names = {role: index["files"][role] for role in FILE_ROLES}
    names["data"] = [index["summary"], *names["data"], *names.pop("ale")]
    return {role: sorted(p for p in (files.root / folder / name for name in paths)
                         if files.file(p) is not None)
            for role, paths in names.items()}


def _natural(path: Path) -> list[Any]:
    """Sort key reading numbers as numbers: ``band_energy_275-575`` before ``_1203-2518``."""
    import re

    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", path.as_posix())]


def _cascading_table(title: str, rows: list[dict[str, str]]) -> dict[str, Any] | None:
    """The cascading randomisation test (``xai/sanity_cascading.csv``): one row per method and
    kind, one column per step, with its plot; None when the rows are not in that format."""
    from genrelens.evaluate.quality import cascading_curves, cascading_figure

    try:
        layers, curves = cascading_curves(rows)
        fig = cascading_figure(rows)
    except (KeyError, TypeError, ValueError):
        return None
    figure = None if fig is None else {"uri": _png_uri(fig), "caption": (
        "Cascading model-parameter randomisation (Adebayo et al. 2018). From left to right the "
        "model's layers are re-initialised one after another, from the output layer down; each "
        "line is the mean Spearman correlation between the absolute scores of a method's "
        "explanation of the increasingly destroyed model and of its explanation of the trained "
        "model (\"trained\": the trained model explained again, 1 for a deterministic method). "
        "An explanation that depends on "
        "what the model learned falls as its layers are destroyed; one that stays similar — "
        "above the dashed pass threshold — while the model is destroyed is not explaining the "
        "model but the input. The random baseline (grey) stays near 0.")}
    return _table(title, ["method", "kind", *(name or "trained" for name in layers)],
                  [[method, kind, *values] for (method, kind), values in curves.items()],
                  "Mean Spearman correlation of the absolute scores with those of the trained "
                  "model's explanation, by the layer re-initialised last (each column "
                  "re-initialises one more layer; the last one is the full randomisation of "
                  "sanity.csv); signed scores are in the file.", figure=figure)


def _ale_figures(data: Mapping[str, Any], display: Any) -> list[dict[str, Any]]:
    """The figure of a saved ALE result, titled after its descriptor (not its file), with the
    descriptor's unit on the x axis and the output's on the y axis."""
    from genrelens.inspection.ale import ALEResult

    try:
        result = ALEResult.from_dict(dict(data))
    except (KeyError, TypeError, ValueError):
        return []
    labels, change = display.ale_labels(result)
    title = "ALE of " + " × ".join(map(display.readable_name, result.feature_names))
    fig = display.plot_ale_result(result, title=title)
    if result.order == 1:
        caption = (f"Accumulated local effect of {labels[0]} on each genre's "
                   f"{result.params.get('output', 'output')} (y axis: {change}): how the "
                   "output moves, on average over the data, when this descriptor changes "
                   "within its observed range (0 = the average effect; bands: bootstrap "
                   f"{result.params.get('confidence', '')} interval; ticks: data values).")
    else:
        k = int(np.argmax(np.abs(result.average).reshape(len(result.output_names), -1).max(1)))
        caption = (f"Second-order effect of {labels[0]} × {labels[1]} on "
                   f"{result.output_names[k]} (the output where it is largest; {change}).")
    return [{"uri": _png_uri(fig), "caption": caption, "title": title}]


# --------------------------------------------------------------------------- entry points


def _real_music_section(files: RunFiles) -> dict[str, Any] | None:
    """The planted-cue benchmark on real recordings (``RUN/bench-xai/``, written by
    ``genrelens bench-xai DIR --out RUN/bench-xai`` or ``genrelens demo --real-music DIR``)."""
    from genrelens import display

    summary = files.json("bench-xai/summary.json")
    table = files.csv("bench-xai/table.csv")
    if not isinstance(summary, Mapping):
        return None
    rows = [{k: _number(v) for k, v in r.items()} for r in table or []]
    out: dict[str, Any] = {"figures": [], "tables": []}
    fig = display.plot_bench_table(rows)
    if fig is not None:
        out["figures"].append({"uri": _png_uri(fig), "caption": (
            "Share of planted test excerpts whose top-ranked time-frequency patch touches the "
            "planted sound (pointing game on 10 x 8 components), by method (rows) and fill "
            "(columns), per cue kind; the title gives chance (the share of patches touching "
            "the sound).")})
    head = summary.get("headline") or []
    if head:
        columns = list(head[0])
        out["tables"].append(_table("planted cues, tf grid, all cue kinds and levels", columns,
                                    [[r.get(c) for c in columns] for r in head]))
    accuracy = summary.get("accuracy") or {}
    out["tables"].append(_table(
        "each cue kind's model: accuracy on the test excerpts", ["model", "excerpts", "accuracy"],
        [[kind, group, value] for kind, levels in sorted(accuracy.items())
         if isinstance(levels, Mapping) for group, value in levels.items()]))
    sources = summary.get("sources") or []
    if sources:
        packages: dict[tuple[str, str, str], int] = {}
        for src in sources:
            key = (str(src.get("package")), str(src.get("version")), str(src.get("licence")))
            packages[key] = packages.get(key, 0) + 1
        out["tables"].append(_table("recordings", ["package", "version", "licence", "files"],
                                    [[*k, n] for k, n in sorted(packages.items())]))
    params = summary.get("params") or {}
    if not rows:
        out["tables"].append(_table("explanations", ["note"], [[
            "no planted test excerpt was classified correctly, so none was explained: train "
            "longer (--epochs) or use more recordings"]]))
    out["facts"] = (f"{summary.get('n_files')} files, {summary.get('n_explained')} planted test "
                    f"excerpts explained, {params.get('n_samples')} samples per explanation, "
                    f"model {params.get('model')} {params.get('model_args') or ''}")
    return out


def build_context(run_dir: str | os.PathLike[str], *, max_audio_seconds: float = 10.0) -> dict[str, Any]:
    """Collect everything the report shows from ``run_dir`` (plots rendered to data URIs).

    Returns
    -------
    dict
        The template context; a section is None when its files are absent.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise GenrelensError(f"run directory {run} does not exist: run `genrelens demo` first.")
    files = RunFiles(run)
    config = _feature_config(files)
    context: dict[str, Any] = {
        "title": f"genrelens report — {run.resolve().name}",
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "run_name": run.resolve().name,
        "manifest": _manifest_section(files),
        "dataset": _dataset_section(files, config, max_audio_seconds),
        "split": _split_section(files),
        "training": _training_section(files),
        "metrics": _metrics_section(files),
        "explanations": _explanations_section(files, config, max_audio_seconds),
        "global_": _json_files_section(files, "global", command="genrelens global RUN"),
        "quality": _json_files_section(files, "xai", command="genrelens evaluate-xai RUN"),
        "real_music": _real_music_section(files),
        "feature_config": _table(None, ["", "value"], sorted(config.to_dict().items())),
        "left_out": dict(files.left_out),
    }
    from genrelens._version import __version__

    context["version"] = __version__
    context["toc"] = [
        ("dataset", "Dataset overview", context["dataset"] is not None),
        ("split", "Split", context["split"] is not None),
        ("training", "Training", context["training"] is not None),
        ("metrics", "Classification metrics", context["metrics"] is not None),
        ("explanations", "Local explanations", bool(context["explanations"])),
        ("global", "Global explanations", context["global_"] is not None),
        ("quality", "Explanation quality", context["quality"] is not None),
        ("real-music", "Planted cues in real music", context["real_music"] is not None),
        ("run", "Run record", context["manifest"] is not None),
    ]
    return context


def render_report(
    run_dir: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    max_audio_seconds: float = 10.0,
) -> Path:
    """Write the self-contained HTML report of ``run_dir`` and return its path.

    Parameters
    ----------
    run_dir : path-like
        The run directory.
    out : path-like, optional
        Where to write; default ``run_dir / "report.html"``.
    max_audio_seconds : float
        Longest audio excerpt embedded (seconds); audio is embedded at the model's sampling
        rate (the run's feature configuration ``sr``; files at a higher rate are resampled).

    Returns
    -------
    pathlib.Path

    Warns
    -----
    UserWarning
        For each file of the run directory left out of the report (outside the run, or
        damaged), naming it, the reason and what to do; the report lists them too.
    """
    import jinja2

    context = build_context(run_dir, max_audio_seconds=max_audio_seconds)
    for name, reason in context["left_out"].items():
        warnings.warn(f"{name!r} was left out of the report: {reason}.", UserWarning,
                      stacklevel=2)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genrelens.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    text = env.get_template("report.html.j2").render(**context)
    return write_text(Path(run_dir) / REPORT_NAME if out is None else Path(out), text)
