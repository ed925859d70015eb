"""Explanations of a whole track: every segment explained, then aggregated (``genrelens explain``).

A model sees one segment (3 s at the defaults) at a time, so a track is explained segment by
segment (:func:`explain_track`; from a run and an audio file in one call:
:func:`explain_file`), each segment with its own components (built with the same
parameters, so component ``j`` is "the same place" in every segment), and then aggregated:

* ``prediction``: the mean of the segments' class probabilities (the track-level decision of
  :mod:`genrelens.evaluate`);
* ``mean_scores``: the mean over segments of each component's (dense: each cell's) scores —
  "which time slice of a segment / which band / which part matters on average";
* a timeline (:meth:`TrackExplanation.timeline`): the segments' score maps laid side by side
  over the track's log-mel, when segments do not overlap.

When both LIME and KernelSHAP are asked for, they are computed from ONE set of model
evaluations per segment and component kind (``method="hybrid"``, then
:meth:`~genrelens.explain.explanation.Explanation.as_method`): LIME is then fitted on
KernelSHAP's samples, as in the hybrid method of :mod:`genrelens.explain.api`.

Files (:func:`write_track`)::

    OUT/summary.json                                  what was explained, predictions, top lists
    OUT/track/<method>_<kind>.npz                     mean_scores, per-segment scores, prediction
    OUT/track/<method>_<kind>.png                     timeline overlay (or stems heat map)
    OUT/track/<method>_<kind>_top.wav, _rest.wav      segments' listenable audio, concatenated
    OUT/segments/<i>/<method>_<kind>.{json,npz,png}   each segment's Explanation and plot
    OUT/segments/<i>/stft-<hash>.npz                  stems: the segment's parts' STFT, shared
                                                      by every method's explanation
    OUT/segments/<i>/<method>_<kind>_{top,rest}.wav   its listenable explanation

:func:`claim_out` checks ``OUT`` before anything is computed: it must be a folder (or not exist
yet), and one that holds another explanation is refused unless ``overwrite=True``, which
removes that explanation's files first so that no stale segment folder survives.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._io import atomic_path, write_json
from genrelens._validation import check_choice, check_random_state
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain import registry
from genrelens.explain.api import explain, unwrap_loaded
from genrelens.explain.components import Components
from genrelens.explain.engine import inference_model
from genrelens.explain.explanation import Explanation
from genrelens.models.waveform import WaveformModel

__all__ = [
    "TrackExplanation", "explain_file", "explain_track", "write_track", "claim_out",
    "COMPONENT_KINDS", "TRACK_METHODS",
]

#: What :func:`write_track` writes into its output folder (and :func:`claim_out` replaces).
_TRACK_FILES = ("summary.json", "track", "segments")

#: Component kinds of :func:`explain_track` (built by :func:`registry.build_components`).
COMPONENT_KINDS = registry.BUILDABLE_KINDS
#: Methods: perturbation (need components) and gradient (dense, one map per segment).
TRACK_METHODS = registry.METHODS


@dataclasses.dataclass(frozen=True, eq=False)
class TrackExplanation:
    """One method and component kind over all explained segments of a track.

    Attributes
    ----------
    method : str
        Canonical (:mod:`genrelens.explain.registry`): ``"lime"``, ``"kernel_shap"``,
        ``"hybrid"``, ``"occlusion"``, ``"gradcam"``, ``"ig"``.
    kind : str
        ``"time"``, ``"frequency"``, ``"tf_grid"``, ``"stems"`` or ``"dense"`` (gradient
        methods).
    segments : tuple of Explanation
        One per explained segment, in track order.
    segment_index : np.ndarray, int64, shape (n_explained,)
        Index of each explained segment in the track.
    config : FeatureConfig
    """

    method: str
    kind: str
    segments: tuple[Explanation, ...]
    segment_index: np.ndarray
    config: FeatureConfig

    @property
    def prediction(self) -> np.ndarray:
        """Mean class probabilities over the explained segments, ``(n_classes,)``."""
        mean: np.ndarray = np.mean([e.prediction for e in self.segments], axis=0)
        return mean

    @property
    def mean_scores(self) -> np.ndarray:
        """Mean scores over segments, ``(n_classes, M)`` or ``(n_classes, n_mels, n_frames)``."""
        mean: np.ndarray = np.mean([e.scores for e in self.segments], axis=0)
        return mean

    def cost(self) -> dict[str, Any]:
        """``{"n_evaluations", "seconds"}`` summed over the segments' cost ledgers."""
        return {
            "n_evaluations": int(sum(e.cost.get("n_evaluations", 0) for e in self.segments)),
            "seconds": float(sum(e.cost.get("seconds", 0.0) for e in self.segments)),
        }

    def top_components(self, target: int, k: int) -> list[dict[str, Any]]:
        """The ``k`` components with the largest mean score for class ``target`` (not dense).

        Each as ``{"index", "name", "mean_score"}``, best first (ties in component order).
        """
        comps = self.segments[0].components
        if comps is None:
            raise ParameterError(f"{self.method} explanations are dense maps: no components.")
        row = self.mean_scores[target]
        return [
            {"index": int(j), "name": comps.names[j], "mean_score": float(row[j])}
            for j in np.argsort(-row, kind="stable")[:k]
        ]

    def summary(self, *, target: int | str | None = None, k: int = 5) -> dict[str, Any]:
        """The track in brief, JSON-ready: its prediction and what explains ``target`` most.

        Parameters
        ----------
        target : int, str or None
            Class index or name; ``None`` = the track's predicted class (:attr:`prediction`).
        k : int
            How many components ``top_components`` lists (not for dense maps).

        Returns
        -------
        dict
            ``method``, ``kind``, ``segment_index``, ``prediction`` (class name, or index
            when the model has no names, -> mean probability), ``predicted`` and ``target``
            (names or indices), ``top_components`` (see :meth:`top_components`; dense maps:
            absent) and ``cost``.
        """
        first = self.segments[0]
        names: tuple[str, ...] | tuple[int, ...] = first.class_names or tuple(range(first.n_classes))
        c = int(np.argmax(self.prediction)) if target is None else first.class_index(target)
        record: dict[str, Any] = {
            "method": self.method,
            "kind": self.kind,
            "segment_index": self.segment_index.tolist(),
            "prediction": dict(zip(names, self.prediction.tolist(), strict=True)),
            "predicted": names[int(np.argmax(self.prediction))],
            "target": names[c],
            "cost": self.cost(),
        }
        if first.components is not None:
            record["top_components"] = self.top_components(c, k)
        return record

    def timeline(self, target: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(logmel, heat)`` of the explained segments side by side, ``(n_mels, sum of frames)``.

        ``None`` for stems (no cell map) and when segments overlap (``segment_hop_seconds <
        segment_seconds``) or are not consecutive.
        """
        consecutive = np.all(np.diff(self.segment_index) == 1)
        if (
            self.kind == "stems"
            or self.config.segment_hop_samples < self.config.segment_samples
            or not consecutive
        ):
            return None
        logmel = np.concatenate([e.logmel for e in self.segments], axis=1)
        heat = np.concatenate([e.to_map(target) for e in self.segments], axis=1)
        return logmel, heat


def explain_track(
    model: Any,
    segments: np.ndarray,
    *,
    config: FeatureConfig,
    methods: Sequence[str] = ("kernel_shap",),
    kinds: Sequence[str] = ("tf_grid",),
    n_samples: int = 1000,
    fill: str | float | np.ndarray | None = None,
    random_state: int | np.random.Generator | None = 0,
    class_names: Sequence[str] | None = None,
    segment_index: Sequence[int] | None = None,
    progress: bool = False,
    batch_size: int | str = "auto",
) -> dict[tuple[str, str], TrackExplanation]:
    """Explain every segment of a track with every method and component kind.

    Parameters
    ----------
    model : nn.Module, callable, LoadedModel or WaveformModel
        As for :func:`genrelens.explain.explain`. Perturbation methods run on one
        :func:`~genrelens.explain.engine.inference_model` copy (batch norm folded) made once;
        gradient methods on the model itself (Grad-CAM's layer keeps its meaning). A
        :class:`~genrelens.models.waveform.WaveformModel` is given the segments' waveforms;
        its ``"ig"`` explains each kind's components (gates), and ``"gradcam"`` is refused.
    segments : np.ndarray, shape (n_segments, n_samples)
        The track's waveform segments (:func:`genrelens.audio.segment_audio`).
    config : FeatureConfig
        The model's feature configuration.
    methods : sequence of str
        Distinct names from :data:`TRACK_METHODS`. ``"lime"`` and ``"kernel_shap"`` together
        are computed from one hybrid run per segment and kind (shared evaluations); with
        ``"hybrid"`` also asked, that run is its result too.
    kinds : sequence of str
        From :data:`COMPONENT_KINDS`; ignored by the gradient methods (dense maps).
    n_samples, fill
        As for :func:`~genrelens.explain.explain`.
    random_state : int, Generator or None
        One generator; each (segment, kind, method) job gets an integer seed drawn from it in
        a fixed order (recorded in its ``params["random_state"]``).
    segment_index : sequence of int, optional
        Which segments to explain; default all.
    progress : bool
        A tqdm progress bar on stderr over the jobs.
    batch_size : int or "auto"
        Engine batch size of every job. ``"auto"`` measures throughput, so the batch size
        (and the outputs' last float bits) can differ between runs; a fixed integer makes
        results bit-identical across processes and machines (``genrelens explain-dataset``).

    Returns
    -------
    dict
        ``(method, kind) -> TrackExplanation`` for every asked method and kind, in the order
        asked; gradient methods have ``kind == "dense"``.
    """
    from tqdm.auto import tqdm

    from genrelens.features import log_mel

    methods = registry.check_methods(methods, allowed=TRACK_METHODS)
    if kinds or set(methods) - set(registry.DENSE):
        kinds = registry.check_kinds(kinds, allowed=COMPONENT_KINDS)
    segments = np.asarray(segments, dtype=np.float32)
    if segments.ndim != 2 or segments.shape[0] == 0:
        raise ParameterError(
            f"segments has shape {segments.shape}: expected (n_segments, n_samples)."
        )
    index = (
        np.arange(segments.shape[0])
        if segment_index is None
        else np.asarray(segment_index, dtype=np.int64)
    )
    if index.ndim != 1 or index.size == 0 or index.min() < 0 or index.max() >= segments.shape[0]:
        raise ParameterError(
            f"segment_index={list(np.atleast_1d(index))!r} is invalid: the track has "
            f"{segments.shape[0]} segments (0..{segments.shape[0] - 1})."
        )
    model, class_names, _ = unwrap_loaded(model, class_names=class_names, config=config)
    reads_waveforms = isinstance(model, WaveformModel)
    rng = check_random_state(random_state)
    # LIME and KernelSHAP together: one hybrid run per (segment, kind) gives both views
    shared = {"lime", "kernel_shap"} <= set(methods)
    runs = [m for m in methods if not (shared and m in ("lime", "kernel_shap"))]
    if shared and "hybrid" not in runs:
        runs.append("hybrid")
    # dense maps; a waveform model's IG attributes to components (its gates), like perturbations
    dense = tuple(m for m in registry.DENSE if not (reads_waveforms and m == "ig"))
    jobs = [(i, kind, m) for i in index for kind in kinds for m in runs if m not in dense]
    # folded once for all perturbation jobs (gradient methods use the model itself)
    fast_model = inference_model(model) if jobs else model
    jobs += [(i, "dense", m) for i in index for m in runs if m in dense]
    seeds = rng.integers(0, 2**31, size=len(jobs))
    logmels = log_mel(segments[index], config=config)
    where = {int(i): j for j, i in enumerate(index)}
    found: dict[tuple[str, str], list[Explanation]] = {}
    component_cache: dict[tuple[int, str], Components] = {}
    for (i, kind, method), seed in tqdm(
        list(zip(jobs, seeds)), desc="explaining", unit="explanation", disable=not progress
    ):
        x = logmels[where[int(i)]]
        comps = None
        if kind != "dense":
            key = (int(i), kind)
            if key not in component_cache:
                component_cache[key] = registry.build_components(
                    kind, config=config, n_frames=x.shape[1], audio=segments[i]
                )
            comps = component_cache[key]
        exp = explain(
            model if comps is None else fast_model,
            segments[i] if reads_waveforms else x,
            method=method,
            components=comps,
            fill=fill,
            random_state=int(seed),
            class_names=class_names,
            config=config,
            fast=False,
            batch_size=batch_size,
            **registry.settings_for(method, n_samples=n_samples),
        )
        views = [v for v in registry.method(method).views if shared and v != method
                 and v in methods] + ([method] if method in methods else [])
        for view in views:
            found.setdefault((view, kind), []).append(exp.as_method(view))
    order = {m: n for n, m in enumerate(methods)}
    keys = sorted(found, key=lambda k: (order.get(k[0], len(order)), k[1]))
    return {k: TrackExplanation(k[0], k[1], tuple(found[k]), index.copy(), config) for k in keys}


def explain_file(
    run_or_checkpoint: Any,
    path: str | os.PathLike[str],
    *,
    method: str = "kernel_shap",
    kind: str = "tf_grid",
    n_samples: int = 1000,
    fill: str | float | np.ndarray | None = None,
    random_state: int | np.random.Generator | None = 0,
    segment_index: Sequence[int] | None = None,
    max_seconds: float | None = None,
    progress: bool = False,
    batch_size: int | str = "auto",
) -> TrackExplanation:
    """Explain a model's decision on an audio file, in one call.

    Loads the model, decodes ``path`` at the model's sampling rate, cuts it into the model's
    segments, computes their features, builds the components and explains every segment
    (:func:`explain_track`), the notebook path of ``genrelens explain``::

        track = genrelens.explain_file("runs/cnn", "song.wav", method="kernel_shap",
                                       kind="frequency")
        track.summary()               # prediction and top components of the predicted class
        track.segments[0]             # the first segment's Explanation (plots in Jupyter)

    Parameters
    ----------
    run_or_checkpoint : path-like, LoadedModel or WaveformModel
        A training run directory (its ``checkpoint.pt``), a checkpoint file, a model
        loaded with :func:`genrelens.models.load_checkpoint`, or a user's waveform classifier
        (:class:`~genrelens.models.waveform.WaveformModel`); its feature configuration
        defines the sampling rate, the segments and the log-mel (for a WaveformModel: the
        STFT of the components and the log-mel of the pictures).
    path : path-like
        An audio file of any supported format and rate (a clip or a whole track).
    method : str
        One of :data:`TRACK_METHODS` (canonical names, :mod:`genrelens.explain.registry`).
    kind : str
        Components, one of :data:`COMPONENT_KINDS`; ignored by the gradient methods.
    n_samples, fill, random_state, segment_index, progress, batch_size
        As for :func:`explain_track`.
    max_seconds : float, optional
        Longest file accepted (see :func:`genrelens.audio.load_segments`).

    Returns
    -------
    TrackExplanation
        Per-segment explanations (``segments``) and the track-level view (``prediction``,
        ``mean_scores``, :meth:`~TrackExplanation.summary`, :meth:`~TrackExplanation.timeline`).

    Raises
    ------
    CheckpointError, AudioLoadError, ParameterError
        An unusable checkpoint, an unusable audio file, or an unknown method or kind.
    """
    from genrelens.audio import load_segments
    from genrelens.models.checkpoint import LoadedModel, checkpoint_file, load_checkpoint

    check_choice("method", method, TRACK_METHODS)
    check_choice("kind", kind, COMPONENT_KINDS)
    loaded = (run_or_checkpoint if isinstance(run_or_checkpoint, (LoadedModel, WaveformModel))
              else load_checkpoint(checkpoint_file(run_or_checkpoint)))
    config = loaded.config if isinstance(loaded, WaveformModel) else loaded.feature_config
    segments = load_segments(path, config=config, max_seconds=max_seconds)
    results = explain_track(
        loaded, segments, config=config, methods=[method], kinds=[kind], n_samples=n_samples,
        fill=fill, random_state=random_state, segment_index=segment_index, progress=progress,
        batch_size=batch_size,
    )
    (result,) = results.values()
    return result


def claim_out(out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check the output folder of :func:`write_track` before any work, and return it.

    Parameters
    ----------
    out : path-like
        The output folder; created later by :func:`write_track` when absent.
    overwrite : bool
        Replace an explanation that ``out`` holds: its files (``summary.json``, ``track/``,
        ``segments/``) are removed now; other files in ``out`` are kept.

    Returns
    -------
    pathlib.Path
        ``out``, ready for :func:`write_track`.

    Raises
    ------
    ParameterError
        When ``out`` or one of its parents is a file, or ``out`` holds an explanation and
        ``overwrite`` is false (nothing is changed then).
    """
    out = Path(out)
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ParameterError(
            f"out={os.fspath(out)!r} is invalid: {os.fspath(existing)!r} is a file, not a "
            "folder. Choose a folder for the explanation (--out); it is created if absent."
        )
    previous = [out / name for name in _TRACK_FILES if os.path.lexists(out / name)]
    if previous and not overwrite:
        raise ParameterError(
            f"out={os.fspath(out)!r} holds an explanation already "
            f"({', '.join(p.name for p in previous)}); it would be replaced. Use another folder "
            "(--out) or allow replacing it (--overwrite)."
        )
    for path in previous:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return out


def write_track(
    results: dict[tuple[str, str], TrackExplanation],
    segments: np.ndarray,
    out: str | os.PathLike[str],
    *,
    target: int | str | None = None,
    k: int = 3,
    summary: dict[str, Any] | None = None,
) -> Path:
    """Write the files listed in the module docstring and return ``OUT/summary.json``.

    Parameters
    ----------
    results : dict
        From :func:`explain_track`.
    segments : np.ndarray, shape (n_segments, n_samples)
        The same segments (for the listenable WAVs).
    out : path-like
        Output folder (created).
    target : int, str or None
        Class explained in plots, WAVs and top lists; default the track's predicted class
        (mean probability over segments, from the first result).
    k : int
        Components in the "top" WAV.
    summary : dict, optional
        Extra JSON-ready entries for ``summary.json`` (e.g. the audio path and run).
    """
    from genrelens import display
    from genrelens.explain.listen import listenable, write_wav

    out = Path(out)
    first = next(iter(results.values()))
    c = (
        first.segments[0].class_index(target)
        if target is not None
        else int(np.argmax(first.prediction))
    )
    class_names = first.segments[0].class_names
    record: dict[str, Any] = {
        **(summary or {}),
        "target": {"index": c, "name": class_names[c] if class_names else None},
        "class_names": None if class_names is None else list(class_names),
        "feature_config": first.config.to_dict(),
        "segment_index": first.segment_index.tolist(),
        "segment_predictions": [e.prediction.tolist() for e in first.segments],
        "track_prediction": first.prediction.tolist(),
        "results": [],
    }
    for (method, kind), res in results.items():
        name = f"{method}_{kind}"
        track_dir = out / "track"
        files = []
        tops, rests = [], []
        for i, exp in zip(res.segment_index, res.segments):
            seg_dir = out / "segments" / f"{int(i):03d}"
            files.append(exp.save(seg_dir / name, share_stems=True))
            files.append(
                display.save_png(
                    display.ExplanationDisplay(exp, target=c).plot().figure_,
                    seg_dir / f"{name}.png",
                )
            )
            sound = listenable(exp, segments[i], k=k, target=c, config=res.config)
            tops.append(sound.top)
            rests.append(sound.rest)
            for part, audio in (("top", sound.top), ("rest", sound.rest)):
                files.append(write_wav(seg_dir / f"{name}_{part}.wav", audio, sr=sound.sr))
        arrays = {
            "mean_scores": res.mean_scores,
            "segment_scores": np.stack([e.scores for e in res.segments]),
            "segment_index": res.segment_index,
            "prediction": res.prediction,
        }
        npz = track_dir / f"{name}.npz"
        with atomic_path(npz) as tmp:
            with open(tmp, "wb") as fh:
                # numpy's stub types **kwds as allow_pickle's bool
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        files.append(npz)
        timeline = res.timeline(c)
        files.append(display.save_png(_track_figure(res, c, timeline), track_dir / f"{name}.png"))
        if timeline is not None:  # consecutive, non-overlapping: the audio concatenates too
            for part, pieces in (("top", tops), ("rest", rests)):
                files.append(
                    write_wav(
                        track_dir / f"{name}_{part}.wav", np.concatenate(pieces), sr=res.config.sr
                    )
                )
        entry: dict[str, Any] = {
            "method": method,
            "kind": kind,
            "n_segments": len(res.segments),
            **res.cost(),
            "files": sorted(os.path.relpath(f, out) for f in files),
        }
        if res.segments[0].components is not None:
            entry["top_components"] = res.top_components(c, k)
        record["results"].append(entry)
    return write_json(out / "summary.json", record)


def _track_figure(
    res: TrackExplanation, target: int, timeline: tuple[np.ndarray, np.ndarray] | None
) -> Any:
    from genrelens import display
    from genrelens.features import mel_frequencies

    first = res.segments[0]
    title = f"{res.method} / {res.kind}: " + (
        first.class_names[target] if first.class_names else f"class {target}"
    )
    if timeline is not None:
        logmel, heat = timeline
        return display.plot_overlay(
            logmel,
            heat,
            sr=res.config.sr,
            hop_length=res.config.hop_length,
            mel_hz=mel_frequencies(res.config),
            title=f"{title} (segments side by side)",
        )
    mean = dataclasses.replace(first, scores=res.mean_scores, prediction=res.prediction)
    if first.components is not None and first.components.stems is not None:
        return display.plot_stems(mean, target=target, title=f"{title} (mean over segments)")
    return display.plot_explanation_overlay(
        mean, target=target, title=f"{title} (mean over segments)"
    )

