"""``genrelens bench-xai DIR``: do explanations find sounds planted in real recordings?

The benchmark takes any folder of real audio and

1. cuts 3-s excerpts from its files (excerpts quieter than -35 dBFS RMS are skipped) and
   splits the **files** into train / valid / test (no file gives excerpts to two sets);
2. keeps every excerpt once as it is (class ``none``) and once with each kind of planted
   sound (:mod:`genrelens.data.planted`: tonal, percussive and timbral cues, at random times
   and bands, the level — loud, medium, subtle — in turn);
3. trains one model (``cnn`` by default) per cue kind to tell ``none`` from that kind — half
   of its excerpts carry the sound, the other half are the same music without it, so it must
   use the planted sound (its test accuracy per level is reported). A pretrained backbone
   (``MSD_musicnn``, ``MSD_vgg``, ...) becomes a frozen backbone with a linear head
   (:mod:`genrelens.training.transfer`: the head trains on the backbone's embeddings of every
   excerpt, computed once); the excerpts are then cut, planted and featurised in the model's
   own front end (16 kHz, 96 mel bands, ``log10(10000·S + 1)``), so the cues' bands, levels and
   boxes are those of the grid the model sees. One model per kind, not
   one for all: a model trained to spot a steady chord or an EQ bump in a box is, by its
   training, a detector of the box-shaped edits that every perturbation method makes, and the
   other kinds' explanations would measure that instead of the explainer;
4. explains the class of planted test excerpts **that their model classifies correctly**
   (an excerpt whose cue the model missed says nothing about the explainer; how many it
   caught per cue kind and level is in ``summary.json``) with every method, component kind and
   fill, and scores each explanation against the cue's box, beside chance and a random
   explanation (i.i.d. normal component scores; its metrics are the means over
   :data:`RANDOM_DRAWS` draws per excerpt, so that the baseline is not one draw's luck):

   ``point_component``  the top component touches the box (chance: share of touching components)
   ``point_cell``       the top cell lies in the box (chance: the box's area share)
   ``mass``             share of the positive relevance inside the box (chance: area share);
                        ``mass_ratio`` is ``mass`` over the area share (1 = chance)
   ``rank``             rank of the best-ranked touching component (chance ``(M+1)/(H+1)``)
   ``deletion_auc``, ``insertion_auc``  the class probability as components are removed /
                        added in the explanation's order, with the explanation's own fill
   ``edge_share``       positive relevance on the grid's borders (:mod:`.manifold`), and
                        ``off_probability``: the model's probability of the class when every
                        component is off

Files written to ``OUT``::

    excerpts.json     every excerpt: file, start, set, label, cue (kind, level, span, band)
    model/KIND/       the model of each cue kind (checkpoint.pt, history.csv; resumable)
    embeddings-NAME.npz  a pretrained backbone's embeddings of every excerpt (resumable)
    results/          one JSON per explained excerpt (re-running skips finished ones)
    rows.csv          one row per excerpt x method x kind x fill
    table.csv         means by cue kind x level x method x kind x fill (+ chance, random)
    summary.json      parameters, the audio files with sha256 and their sources, the
                      accuracy of each cue kind's model, the headline table and timings
    bench.png         pointing game by method and fill (tf grid), per cue kind

The hybrid's rows are its KernelSHAP view; its LIME view, fitted on the same evaluations, has
rows of its own as ``hybrid_lime``.

Gradient methods: Integrated Gradients uses the fill as its baseline; Grad-CAM does not use a
fill (it is computed once per excerpt and listed under every fill, with that fill's deletion).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._io import write_csv_rows, write_json
from genrelens._validation import check_int
from genrelens.config import FeatureConfig
from genrelens.errors import AudioLoadError, ParameterError
from genrelens.explain import registry
from genrelens.models.musicnn import MUSICNN_MODELS
from genrelens.training.transfer import model_front_end, trained_model

__all__ = ["bench_xai", "BENCH_METHODS", "BENCH_KINDS", "BENCH_FILLS", "RANDOM_DRAWS",
           "summarise_rows"]

BENCH_METHODS = registry.METHODS
BENCH_KINDS = ("tf_grid", "time", "frequency")
BENCH_FILLS = ("min", "clip_min", "mean", "noise", "blur", "band_median", "local_median",
               "ring_median", "texture")
_METRICS = ("point_component", "point_cell", "mass", "mass_ratio", "rank", "deletion_auc",
            "insertion_auc", "edge_share", "off_probability")
_RANDOM = ("point_component", "point_cell", "mass", "mass_ratio", "rank")
#: Draws of the random explanation per excerpt, kind and fill; its row holds their means.
RANDOM_DRAWS = 20
_QUIET_DBFS = -35.0
_SOURCES_FILE = "SOURCES.tsv"


def bench_xai(
    folder: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    methods: Sequence[str] = BENCH_METHODS,
    kinds: Sequence[str] = BENCH_KINDS,
    fills: Sequence[str] = BENCH_FILLS,
    cue_kinds: Sequence[str] | None = None,
    per_level: int = 8,
    per_file: int = 60,
    n_samples: int = 1000,
    epochs: int = 20,
    model: str = "cnn",
    model_args: dict[str, Any] | None = None,
    only_correct: bool = True,
    seed: int = 0,
    config: FeatureConfig | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the planted-cue benchmark on the audio files under ``folder``.

    Parameters
    ----------
    folder : path-like
        Any folder of audio files (searched recursively; at least 3 readable files of at
        least 3 s). A ``SOURCES.tsv`` in it (written by ``scripts/fetch_real_music.sh``) is
        copied into the summary.
    out : path-like
        Output folder (see module docstring); an existing one is resumed.
    methods, kinds, fills : sequence of str
        What to compare (defaults: everything, :data:`BENCH_METHODS`, :data:`BENCH_KINDS`,
        :data:`BENCH_FILLS`).
    cue_kinds : sequence of str, optional
        Cue kinds planted (default all of :data:`genrelens.data.planted.CUE_KINDS`).
    per_level : int
        Planted test excerpts explained per cue kind and level.
    per_file : int
        Excerpts cut from each file at most.
    n_samples : int
        Budget of LIME, KernelSHAP and the hybrid.
    epochs : int
        Training epochs at most (early stopping on the validation set).
    model : str
        Registered model trained, or a pretrained backbone of
        :data:`genrelens.models.musicnn.MUSICNN_MODELS`: frozen, with a head trained on its
        embeddings (module docstring).
    model_args : dict, optional
        Its arguments (for a backbone: the head's, ``hidden`` and ``layers`` of
        :class:`~genrelens.models.transfer.TransferModel`); default ``{"pooling": "max"}`` for
        ``cnn`` (a planted sound is a short local event, which global average pooling dilutes;
        with averaging the ``cnn`` did not learn the cues from a thousand excerpts) and ``{}``
        otherwise.
    only_correct : bool, default True
        Explain only planted test excerpts their cue kind's model classifies correctly.
    seed : int
        Seeds excerpts, planting, training and explanations.
    config : FeatureConfig, optional
        Front end; default the model's own
        (:func:`genrelens.training.transfer.model_front_end`).
    progress : bool
        Progress bars on stderr.

    Returns
    -------
    dict
        The summary (also written to ``OUT/summary.json``).
    """
    from genrelens.data.check import file_sha256
    from genrelens.data.planted import CUE_KINDS
    from genrelens.explain.fill import resolve_fill

    started = time.perf_counter()
    if model_args is None:
        model_args = {"pooling": "max"} if model == "cnn" else {}
    config = model_front_end(model, model_args=model_args, config=config)
    cue_kinds = tuple(CUE_KINDS if cue_kinds is None else cue_kinds)
    methods = registry.check_methods(methods)
    kinds = registry.check_kinds(kinds, allowed=registry.AUDIO_FREE_KINDS)
    _check_choices("cue_kinds", cue_kinds, CUE_KINDS)
    for fill in fills:  # every name must resolve before minutes of work
        resolve_fill(fill, np.zeros((2, 2), np.float32), config=config,
                     rng=np.random.default_rng(0))
    if not fills:
        raise ParameterError("fills is empty: expected at least one fill name.")
    for name, value, low in (("per_level", per_level, 1), ("per_file", per_file, 2),
                             ("n_samples", n_samples, 2), ("epochs", epochs, 1),
                             ("seed", seed, 0)):
        check_int(name, value, minimum=low)
    root = Path(folder)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    files, skipped = _audio_files(root)
    data = _build_dataset(files, config=config, cue_kinds=cue_kinds, per_file=per_file,
                          seed=seed, progress=progress, skipped=skipped)
    write_json(out / "excerpts.json", {"files": [str(f.relative_to(root)) for f in files],
                                       "excerpts": data["records"]})
    timings["data"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    embeddings = None
    if model in MUSICNN_MODELS:
        embeddings = _embeddings(data, backbone=model, out=out, progress=progress)
        timings["embeddings"] = time.perf_counter() - t0
    models: dict[str, Any] = {}
    accuracy: dict[str, Any] = {}
    correct: set[int] = set()
    for kind in cue_kinds:
        models[kind], accuracy[kind] = _train(
            data, kind=kind, out=out / "model" / kind, config=config, model=model,
            model_args=model_args, epochs=epochs, seed=seed, progress=progress,
            embeddings=embeddings)
        correct |= accuracy[kind].pop("correct")
    timings["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    chosen = _choose_test(data, correct if only_correct else None, per_level=per_level,
                          seed=seed)
    rows = _explain_all(models, data, chosen, out=out / "results", methods=methods,
                        kinds=kinds, fills=fills, n_samples=n_samples, seed=seed,
                        progress=progress)
    timings["explain"] = time.perf_counter() - t0

    write_csv_rows(out / "rows.csv", rows)
    table = summarise_rows(rows)
    write_csv_rows(out / "table.csv", table)
    _plot(out / "bench.png", table)
    timings["total"] = time.perf_counter() - started
    summary = {
        "folder": str(root), "n_files": len(files), "skipped_files": skipped,
        "files": [{"path": str(f.relative_to(root)), "sha256": file_sha256(f)} for f in files],
        "sources": _read_sources(root),
        "params": {"methods": list(methods), "kinds": list(kinds), "fills": list(fills),
                   "cue_kinds": list(cue_kinds), "per_level": per_level, "per_file": per_file,
                   "n_samples": n_samples, "epochs": epochs, "model": model,
                   "model_args": model_args, "only_correct": only_correct, "seed": seed,
                   "feature_config": config.to_dict()},
        "n_excerpts": {s: int(np.sum(np.asarray(data["split"]) == s))
                       for s in ("train", "valid", "test")},
        "accuracy": accuracy, "n_explained": len(chosen), "timings": timings,
        "headline": headline(table),
    }
    write_json(out / "summary.json", summary)
    return summary


# ----------------------------------------------------------------------------- data


def _audio_files(root: Path) -> tuple[list[Path], list[dict[str, str]]]:
    from genrelens.audio import AUDIO_EXTENSIONS

    if not root.is_dir():
        raise ParameterError(f"folder={str(root)!r} is not a directory: expected a folder of "
                             "audio files (e.g. from scripts/fetch_real_music.sh).")
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if len(files) < 3:
        raise ParameterError(
            f"{root} holds {len(files)} audio files ({', '.join(AUDIO_EXTENSIONS)}): the "
            "benchmark needs at least 3 (train, valid and test take different files)."
        )
    return files, []


def _build_dataset(files: list[Path], *, config: FeatureConfig, cue_kinds: Sequence[str],
                   per_file: int, seed: int, progress: bool,
                   skipped: list[dict[str, str]]) -> dict[str, Any]:
    """Excerpts, their set, label and cue, planted waveforms' log-mels."""
    from genrelens.audio import load_audio
    from genrelens.data.planted import LEVELS, plant, random_cue
    from genrelens.features import log_mel
    from genrelens.inspection.segments import progress_bar

    rng = np.random.default_rng(seed)
    n_seg = config.segment_samples
    waves: list[np.ndarray] = []
    meta: list[tuple[int, float]] = []
    kept_files: list[int] = []
    for i, path in enumerate(progress_bar(files, enabled=progress, desc="decoding")):
        try:
            y = load_audio(path, sr=config.sr)
        except AudioLoadError as exc:
            skipped.append({"path": str(path), "reason": exc.reason})
            continue
        starts = np.arange(0, y.size - n_seg + 1, n_seg)
        rng.shuffle(starts)
        taken = 0
        for s in starts:
            excerpt = y[s:s + n_seg]
            rms = float(np.sqrt(np.mean(excerpt.astype(np.float64) ** 2)))
            if rms <= 0 or 20 * math.log10(rms) < _QUIET_DBFS:
                continue
            waves.append(excerpt)
            meta.append((i, float(s / config.sr)))
            taken += 1
            if taken == per_file:
                break
        if taken:
            kept_files.append(i)
        else:
            skipped.append({"path": str(path), "reason": "no excerpt louder than -35 dBFS"})
    if len(kept_files) < 3:
        raise ParameterError(
            f"only {len(kept_files)} files gave usable excerpts: the benchmark needs at least 3."
        )
    order = rng.permutation(kept_files)
    n_test = max(1, round(0.25 * len(order)))
    n_valid = max(1, round(0.15 * len(order)))
    file_set = {int(f): "test" for f in order[:n_test]}
    file_set.update({int(f): "valid" for f in order[n_test:n_test + n_valid]})
    file_set.update({int(f): "train" for f in order[n_test + n_valid:]})
    split, cues, records, logmels = [], [], [], []
    for name in ("train", "valid", "test"):
        idx = [j for j, (f, _) in enumerate(meta) if file_set[f] == name]
        for n, j in enumerate(idx):
            # the same music once as it is and once with each kind of cue (levels in turn):
            # the cue is the only difference between the classes
            versions: list[tuple[np.ndarray, Any]] = [(waves[j], None)]
            for kind in cue_kinds:
                level = tuple(LEVELS[kind])[n % len(LEVELS[kind])]
                cue = random_cue(kind, level, config=config, rng=rng)
                try:
                    versions.append((plant(waves[j], cue, config=config, rng=rng), cue))
                except ParameterError:  # the music is silent in the box: no level to set
                    continue
            f, start = meta[j]
            for y, cue in versions:
                split.append(name)
                cues.append(cue)
                logmels.append(log_mel(np.asarray(y, np.float32), config=config))
                records.append({"file": int(f), "start": start, "set": name,
                                "label": "none" if cue is None else cue.kind,
                                "cue": None if cue is None else cue.to_dict()})
    return {"logmel": np.stack(logmels).astype(np.float32), "split": split, "cue": cues,
            "records": records}


def _embeddings(data: dict[str, Any], *, backbone: str, out: Path,
                progress: bool) -> dict[str, np.ndarray]:
    """The frozen ``backbone``'s embeddings of every excerpt (:func:`embed_patches`), read from
    ``OUT/embeddings-<backbone>.npz`` when it holds those of the same excerpts and weights."""
    from genrelens._io import atomic_path
    from genrelens._parallel import single_threaded_torch
    from genrelens.inspection.segments import progress_bar
    from genrelens.models.registry import get_model
    from genrelens.models.transfer import TransferModel, state_digest
    from genrelens.training.transfer import embed_patches

    net = get_model("transfer", backbone=backbone, n_classes=2, weights="wheel").eval()
    assert isinstance(net, TransferModel)
    key = hashlib.sha256(state_digest(net.backbone).encode() + data["logmel"].tobytes())
    path = out / f"embeddings-{backbone}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) == key.hexdigest():
                return {name: stored[name] for name in stored.files if name != "key"}
    parts: dict[str, list[np.ndarray]] = {}
    with single_threaded_torch():
        for start in progress_bar(range(0, len(data["logmel"]), 64), enabled=progress,
                                  desc="embeddings"):
            found = embed_patches(net, data["logmel"][start:start + 64])
            for name, values in found.items():
                parts.setdefault(name, []).append(values)
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, key=np.array(key.hexdigest()), **arrays)  # type: ignore[arg-type]
    return arrays


def _train(data: dict[str, Any], *, kind: str, out: Path, config: FeatureConfig, model: str,
           model_args: dict[str, Any], epochs: int, seed: int, progress: bool,
           embeddings: dict[str, np.ndarray] | None) -> tuple[Any, dict[str, Any]]:
    """Train the model that tells ``none`` (class 0) from cue ``kind`` (class 1) — a frozen
    backbone's head on ``embeddings`` when given; its accuracy on the test files overall, on
    ``none`` and per level, and the set of correctly classified planted test excerpts
    (``"correct"``, indices into ``data``)."""
    from genrelens.explain.engine import softmax
    from genrelens.models import load_checkpoint
    from genrelens.models.inference import predict_logits
    from genrelens.training import TrainConfig, fit

    mine = np.asarray([c is None or c.kind == kind for c in data["cue"]])
    split = np.where(mine, np.asarray(data["split"]), "")
    x = data["logmel"]
    y = np.asarray([int(c is not None) for c in data["cue"]])
    test = np.flatnonzero(split == "test")
    name, args = trained_model(model, model_args)
    train_config = TrainConfig(model=name, model_args=args, epochs=epochs, patience=5, seed=seed)
    if embeddings is None:
        fit(x_train=x[split == "train"], y_train=y[split == "train"],
            x_valid=x[split == "valid"], y_valid=y[split == "valid"],
            class_names=("none", kind), feature_config=config, config=train_config,
            run_dir=out, progress=progress)
        loaded = load_checkpoint(out / "checkpoint.pt")
        pred = softmax(predict_logits(loaded.model, x[test])).argmax(axis=1)
    else:
        loaded, pred = _train_head(embeddings, y=y, split=split, kind=kind, out=out,
                                   config=train_config)
    acc: dict[str, Any] = {"test": float(np.mean(pred == y[test])),
                           "correct": set(test[pred == y[test]].tolist())}
    for j, i in enumerate(test):
        cue = data["cue"][i]
        key = "none" if cue is None else cue.level
        acc.setdefault(key, []).append(bool(pred[j] == y[i]))
    return loaded, {k: (float(np.mean(v)) if isinstance(v, list) else v) for k, v in acc.items()}


def _train_head(embeddings: dict[str, np.ndarray], *, y: np.ndarray, split: np.ndarray,
                kind: str, out: Path, config: Any) -> tuple[Any, np.ndarray]:
    """A frozen backbone's linear head trained on the excerpts' embeddings
    (:func:`~genrelens.training.transfer.fit_head`, seconds), saved as ``out/checkpoint.pt``
    with ``history.csv``; the loaded model and its predictions on the test excerpts."""
    from genrelens._io import write_text
    from genrelens.models import load_checkpoint
    from genrelens.models.transfer import TransferModel
    from genrelens.training.loop import _history_csv
    from genrelens.training.transfer import (
        Embeddings,
        fit_head,
        head_probabilities,
        new_transfer_model,
        save_transfer_checkpoint,
    )

    def part(name: str) -> Embeddings:
        rows = np.flatnonzero(split == name)
        return Embeddings(layers={k: v[rows] for k, v in embeddings.items()},
                          track_ids=rows.astype(str), segment_index=np.zeros(rows.size, int),
                          labels=y[rows], class_names=("none", kind))

    net = new_transfer_model(config, n_classes=2)
    head = fit_head(net, train=part("train"), valid=part("valid"), config=config)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "history.csv", _history_csv(head.history))
    save_transfer_checkpoint(out / "checkpoint.pt", model=net, config=config,
                             class_names=("none", kind), fit=head)
    loaded = load_checkpoint(out / "checkpoint.pt")
    assert isinstance(loaded.model, TransferModel)
    return loaded, head_probabilities(loaded.model, part("test")).argmax(axis=1)


def _choose_test(data: dict[str, Any], correct: set[int] | None, *, per_level: int,
                 seed: int) -> list[int]:
    """Planted test excerpts that their model classifies correctly (so it uses the cue; all of
    them when ``correct`` is None), ``per_level`` per cue kind and level (fewer where there
    are fewer), taking one of each cue kind and level in turn (a run stopped early has
    explained as many of each)."""
    rng = np.random.default_rng(seed + 1)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (s, cue) in enumerate(zip(data["split"], data["cue"], strict=True)):
        if s == "test" and cue is not None and (correct is None or i in correct):
            groups.setdefault((cue.kind, cue.level), []).append(i)
    picks = [sorted(rng.choice(groups[key], size=min(per_level, len(groups[key])),
                               replace=False).tolist()) for key in sorted(groups)]
    return [p[j] for j in range(per_level) for p in picks if j < len(p)]


# ----------------------------------------------------------------------------- explaining


def _explain_all(models: dict[str, Any], data: dict[str, Any], chosen: list[int], *, out: Path,
                 methods: Sequence[str], kinds: Sequence[str], fills: Sequence[str],
                 n_samples: int, seed: int, progress: bool) -> list[dict[str, Any]]:
    from genrelens.explain.engine import inference_model
    from genrelens.inspection.segments import progress_bar

    out.mkdir(parents=True, exist_ok=True)
    fast = {kind: inference_model(loaded.model) for kind, loaded in models.items()}
    state = {"batch_size": "auto"}
    rows: list[dict[str, Any]] = []
    settings = {"methods": list(methods), "kinds": list(kinds), "fills": list(fills),
                "n_samples": n_samples, "seed": seed}
    for i in progress_bar(chosen, enabled=progress, desc="explaining"):
        path = out / f"{i:05d}.json"
        if path.exists():
            saved = json.loads(path.read_text())
            if saved.get("settings") == settings:
                rows += saved["rows"]
                continue
        kind = data["cue"][i].kind
        excerpt_rows = _explain_excerpt(models[kind], fast[kind], data, i, methods=methods,
                                        kinds=kinds, fills=fills, n_samples=n_samples,
                                        seed=seed, state=state)
        write_json(path, {"settings": settings, "rows": excerpt_rows})
        rows += excerpt_rows
    return rows


def _explain_excerpt(loaded: Any, fast: Any, data: dict[str, Any], i: int, *,
                     methods: Sequence[str], kinds: Sequence[str], fills: Sequence[str],
                     n_samples: int, seed: int, state: dict[str, Any]) -> list[dict[str, Any]]:
    from genrelens.explain.api import explain

    x = data["logmel"][i]
    cue = data["cue"][i]
    target = 1  # the cue's class in its model
    config = loaded.feature_config
    mask = cue.mask(config=config, n_frames=x.shape[1])
    rng = np.random.default_rng([seed, i])
    common = {"config": config, "class_names": loaded.class_names, "random_state": seed}
    gradcam = None
    if "gradcam" in methods:
        gradcam = explain(loaded.model, x, method="gradcam", targets=[target], **common)
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        comps = registry.build_components(kind, config=config, n_frames=x.shape[1])
        for fill in fills:
            views: dict[str, Any] = {}
            for method in methods:
                if method == "gradcam":
                    views[method] = gradcam
                    continue
                if method == "ig":
                    views[method] = explain(loaded.model, x, method="ig", fill=fill,
                                            targets=[target], **common)
                    continue
                exp = explain(fast, x, method=method, components=comps, fill=fill,
                              batch_size=state["batch_size"], fast=False, **common,
                              **registry.settings_for(method, n_samples=n_samples))
                state["batch_size"] = exp.cost["batch_size"]
                views[method] = exp
                for view in registry.method(method).views[1:]:  # the hybrid's LIME
                    views[f"{method}_{view}"] = exp.as_method(view)
            rows += _score_views(views, fast, x, comps, mask, target=target, fill=fill,
                                 rng=rng, batch_size=state["batch_size"],
                                 base={"excerpt": i, "cue_kind": cue.kind, "level": cue.level,
                                       "level_db": cue.level_db, "kind": kind, "fill": fill})
    return rows


def _score_views(views: dict[str, Any], fast: Any, x: np.ndarray, comps: Any, mask: np.ndarray,
                 *, target: int, fill: str, rng: np.random.Generator, batch_size: Any,
                 base: dict[str, Any], n_random: int = RANDOM_DRAWS) -> list[dict[str, Any]]:
    """One row per method (and one for the random explanation: the means of its metrics over
    ``n_random`` draws of i.i.d. normal component scores) of one excerpt/kind/fill."""
    from genrelens.evaluate.faithfulness import curve_auc, removal_masks
    from genrelens.evaluate.groundtruth import (
        best_hit_rank,
        component_hits,
        component_pointing_game,
        mask_fraction,
        pointing_game,
        relevance_mass_accuracy,
    )
    from genrelens.evaluate.manifold import edge_share
    from genrelens.explain.engine import evaluate_masks
    from genrelens.explain.fill import resolve_fill

    hits = component_hits(comps.map, mask)
    area = mask_fraction(mask)
    m = comps.n_components

    def localisation(scores: np.ndarray, cells: np.ndarray) -> dict[str, float]:
        mass = relevance_mass_accuracy(cells, mask)
        return {"point_component": component_pointing_game(scores, hits),
                "point_cell": pointing_game(cells, mask), "mass": mass,
                "mass_ratio": mass / area, "rank": best_hit_rank(scores, hits)}

    component_scores: dict[str, np.ndarray] = {}
    rows = []
    for method, exp in views.items():
        if exp.is_dense:
            cells = np.asarray(exp.scores)[exp.class_index(target)]
            scores = comps.sum_cells(cells)
        else:
            scores = np.asarray(exp.scores)[target]
            cells = exp.to_map(target)
        component_scores[method] = scores
        off = exp.fit.get("off_prediction") if exp.fit else None
        rows.append({**base, "method": method, **localisation(scores, cells),
                     "edge_share": edge_share(scores, comps.map)[0],
                     "off_probability": float(off[target]) if off is not None else float("nan"),
                     "n_evaluations": exp.cost.get("n_evaluations", 0),
                     "seconds": exp.cost.get("seconds", 0.0)})
    # deletion / insertion of every method with this fill, in one engine call
    fill_obj = resolve_fill(fill, x, config=comps.config, rng=np.random.default_rng(0))
    blocks, fractions = [], None
    for scores in component_scores.values():
        z_del, fractions = removal_masks(scores, mode="deletion")
        z_ins, _ = removal_masks(scores, mode="insertion")
        blocks += [z_del, z_ins]
    y = evaluate_masks(fast, x, comps, np.concatenate(blocks), fill=fill_obj,
                       batch_size=batch_size, fast=False).outputs[:, target]
    for k, row in enumerate(rows):
        a = 2 * k * (m + 1)
        row["deletion_auc"] = curve_auc(y[a:a + m + 1], fractions)
        row["insertion_auc"] = curve_auc(y[a + m + 1:a + 2 * (m + 1)], fractions)
    draws = [{**localisation(noise, comps.paint(noise, spread=True)),
              "edge_share": edge_share(noise, comps.map)[0]}
             for noise in rng.standard_normal((n_random, m))]
    rows.append({**base, "method": "random",
                 **{key: float(np.mean([d[key] for d in draws])) for key in draws[0]}})
    chance = {"chance_component": float(hits.mean()), "chance_cell": area,
              "chance_rank": (m + 1) / (hits.sum() + 1)}
    for row in rows:
        row.update(chance)
    return rows


# ----------------------------------------------------------------------------- summaries


def summarise_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Means of every metric by cue kind x level x method x kind x fill, with chance levels,
    the random explanation's values (same excerpts, kind and fill) and ``n``; level ``"all"``
    pools the levels of a cue kind and cue kind ``"all"`` pools everything."""
    groups: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        for cue_kind in (r["cue_kind"], "all"):
            for level in ((r["level"], "all") if cue_kind != "all" else ("all",)):
                key = (cue_kind, level, r["method"], r["kind"], r["fill"])
                groups.setdefault(key, []).append(r)
    table = []
    for (cue_kind, level, method, kind, fill), group in sorted(groups.items()):
        if method == "random":
            continue
        rand = groups.get((cue_kind, level, "random", kind, fill), [])
        row: dict[str, Any] = {"cue_kind": cue_kind, "level": level, "method": method,
                               "kind": kind, "fill": fill, "n": len(group)}
        for metric in _METRICS:
            row[metric] = _mean([g.get(metric) for g in group])
        for metric in ("chance_component", "chance_cell", "chance_rank"):
            row[metric] = _mean([g[metric] for g in group])
        for metric in _RANDOM:
            row[f"random_{metric}"] = _mean([g[metric] for g in rand])
        row["seconds"] = _mean([g.get("seconds") for g in group])
        table.append(row)
    return table


def headline(table: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tf-grid rows pooled over cue kinds and levels: method x fill, component pointing
    game, mass ratio and deletion AUC, best first within each method."""
    rows = [r for r in table if r["kind"] == "tf_grid" and r["cue_kind"] == "all"]
    keep = ("method", "fill", "n", "point_component", "point_cell", "mass_ratio", "rank",
            "deletion_auc", "insertion_auc", "edge_share", "chance_component",
            "random_point_component")
    return [{k: r[k] for k in keep} for r in sorted(
        rows, key=lambda r: (r["method"], -np.nan_to_num(r["point_component"])))]


def _mean(values: Sequence[Any]) -> float:
    vals = np.asarray([v for v in values if v is not None and v == v], dtype=np.float64)
    return float(vals.mean()) if vals.size else float("nan")


def _plot(path: Path, table: Sequence[dict[str, Any]]) -> None:
    from genrelens import display

    fig = display.plot_bench_table(table)
    if fig is not None:
        display.save_png(fig, path)


def _check_choices(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ParameterError(f"{name}={list(values)!r} is invalid: expected a non-empty list of "
                             f"{list(allowed)}.")


def _read_sources(root: Path) -> list[dict[str, str]]:
    """Rows of ``root/SOURCES.tsv`` (package, version, licence, file, sha256), if present."""
    path = root / _SOURCES_FILE
    if not path.is_file():
        return []
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return [dict(r) for r in csv.DictReader(f, delimiter="\t")]
