"""Fixture run directories for the report tests: fake results in the documented file formats.

:func:`make_run` writes a run directory as the pipeline's stages would (manifest, dataset
overview with example excerpts, split, history, metrics, explanations of several methods and
component kinds with listenable WAVs, an ALE result and quality tables, among them the
cascading sanity check) without training or explaining anything. Class names and track ids can
be chosen, e.g. hostile HTML.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrelens.config import FeatureConfig
from genrelens.data.splits import Split
from genrelens.explain import components as comp
from genrelens.explain.explanation import Explanation
from genrelens.inspection.ale import ALEResult
from genrelens.run import RunDir

CLASSES = ("blues", "classical", "metal")
#: Segments of the track explained as `genrelens explain` does (a whole-track timeline).
N_SEGMENTS = 3


def _tone(rng: np.random.Generator, seconds: float, sr: int, freq: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )


def make_run(
    root: Path,
    *,
    class_names: Sequence[str] = CLASSES,
    track_ids: Sequence[str] | None = None,
    with_explanations: bool = True,
    stems: bool = True,
) -> Path:
    """Write a complete fake run directory at ``root`` and return it."""
    rng = np.random.default_rng(0)
    config = FeatureConfig()
    run = RunDir(root)
    run.record(feature_config=config, seeds={"split": 0, "train": 0, "explain": 0},
               params={"quick": True, "data": "synthetic"})
    for stage in ("data", "train", "quality"):  # stored alphabetically, shown in this order
        run.run_stage(stage, lambda: {"seconds_fake": 1.0}, params={})
    classes = list(class_names)
    n = len(classes)
    ids = list(track_ids) if track_ids else [f"{c}.{i:05d}" for c in classes for i in range(4)]
    labels = {tid: classes[i % n] for i, tid in enumerate(ids)} if track_ids else {
        tid: tid.rsplit(".", 1)[0] for tid in ids}
    (root / "examples").mkdir(parents=True, exist_ok=True)
    examples = {}
    for k, c in enumerate(classes):
        y = _tone(rng, config.segment_seconds, config.sr, 220.0 * (k + 1))
        sf.write(root / "examples" / f"class{k}.wav", y, config.sr, subtype="PCM_16")
        tid = next(t for t in ids if labels[t] == c)
        examples[c] = {"track_id": tid, "file": f"examples/class{k}.wav", "start_s": 0.0}
    tracks = [{"track_id": t, "label": labels[t], "duration_s": 29.9 + 0.1 * (i % 7)}
              for i, t in enumerate(ids)]
    check = {
        "root": "data/genres", "layout": "gtzan-original", "n_tracks": len(ids) + 1,
        "n_readable": len(ids), "n_segments": 10 * len(ids),
        "class_counts": {c: [sum(labels[t] == c for t in ids)] * 2 for c in classes},
        "unreadable": [{"track_id": f"{classes[0]}.bad", "path": "x.wav", "reason": "truncated",
                        "message": f"{classes[0]}.bad: file is truncated"}],
        "duplicates": [], "ignored": [], "problems": [], "segment_seconds": 3.0,
    }
    from genrelens._io import write_json

    write_json(root / "dataset.json", {"check": check, "tracks": tracks, "examples": examples})
    train = [t for i, t in enumerate(ids) if i % 4 < 2]
    valid = [t for i, t in enumerate(ids) if i % 4 == 2]
    test = [t for i, t in enumerate(ids) if i % 4 == 3]
    Split(name="random", train=tuple(train), valid=tuple(valid), test=tuple(test),
          random_state=0, warnings=("random split: accuracy may be inflated",)).save(
        root / "split.json")
    with (root / "history.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "valid_loss", "train_acc", "valid_acc", "lr"])
        for e in range(1, 6):
            w.writerow([e, 2.0 / e, 2.2 / e ** 0.8, 1 - 0.7 / e, 1 - 0.8 / e ** 0.8, 1e-3])
    cm = (np.eye(n) * 5 + 1).astype(int)
    write_json(root / "metrics.json", {
        "class_names": classes,
        "segment": {"accuracy": 0.71, "macro_f1": 0.69, "confusion_matrix": cm.tolist()},
        "track": {"accuracy": 0.8, "confusion_matrix": cm.tolist()},
        "per_class": {c: {"precision": 0.7, "recall": 0.6, "f1": 0.65, "support": 5}
                      for c in classes},
    })
    if with_explanations:
        for j, tid in enumerate(test[:2]):
            folder = root / "explanations" / tid.replace("/", "_")
            y = _tone(rng, config.segment_seconds, config.sr, 330.0)
            from genrelens.features import log_mel

            logmel = log_mel(y, config=config)
            pred = rng.dirichlet(np.ones(n))
            kinds = [("lime", comp.time_segments(config=config)),
                     ("kernel_shap", comp.frequency_bands(config=config)),
                     ("occlusion", comp.tf_grid(config=config))]
            if stems:
                kinds.append(("lime", comp.stems(y, config=config, n_segments=5)))
            if j == 0:  # two methods of one kind: one colour scale for both
                kinds.append(("kernel_shap", comp.time_segments(config=config)))
            found = {}
            for method, c in kinds:
                exp = Explanation(method=method, scores=rng.standard_normal((n, c.n_components)),
                                  prediction=pred, logmel=logmel, components=c,
                                  class_names=tuple(classes),
                                  params={"track_id": tid, "n_samples": 200, "random_state": 0},
                                  cost={"n_evaluations": 200, "seconds": 1.5},
                                  fit={"r2": rng.random(n)})
                found[(method, c.kind)] = exp
            found[("gradcam", "dense")] = Explanation(
                method="gradcam", scores=rng.standard_normal((n, *logmel.shape)),
                prediction=pred, logmel=logmel, class_names=tuple(classes),
                params={"track_id": tid})
            if j == 0:  # a folder of explanation files, as a user may save them
                for (method, kind), exp in found.items():
                    exp.save(folder / f"{method}-{kind}")
                sf.write(folder / "original.wav", y, config.sr, subtype="PCM_16")
                sf.write(folder / "lime-time_top3.wav", y * 0.5, config.sr, subtype="PCM_16")
            else:  # the layout of `genrelens explain` (genrelens.explain.track.write_track)
                import dataclasses

                from genrelens.explain.track import TrackExplanation, write_track

                # three segments, each louder than the last, each with its own prediction
                audio = np.stack([y * 0.5 ** (2 - s) for s in range(N_SEGMENTS)])
                inputs = [log_mel(a, config=config) for a in audio]
                preds = [pred, *rng.dirichlet(np.ones(n), size=N_SEGMENTS - 1)]
                results = {key: TrackExplanation(key[0], key[1], tuple(
                    dataclasses.replace(exp, logmel=inputs[s], prediction=preds[s],
                                        scores=exp.scores * (1.0 + s))
                    for s in range(N_SEGMENTS)), np.arange(N_SEGMENTS), config)
                    for key, exp in found.items() if key[1] in ("time", "dense")}
                write_track(results, audio, folder,
                            summary={"track_id": tid, "label": labels[tid]})
                sf.write(folder / "original.wav", audio[-1], config.sr, subtype="PCM_16")
        (root / "global").mkdir(exist_ok=True)
        grid = np.linspace(0, 1, 6)
        ALEResult(feature_names=("spectral centroid",), output_names=tuple(classes),
                  grid_values=(grid,), average=np.outer(np.arange(n) - 1.0, grid - 0.5),
                  low=None, high=None, bin_counts=np.full(5, 4), feature_values=rng.random(20),
                  params={"units": ["Hz"], "output": "probabilities", "n_bins": 5},
                  n_evaluations=40, seconds=0.1).save(root / "global" / "ale_centroid.json")
        write_json(root / "global" / "per_genre.json", {
            "title": "Top components per genre", "columns": ["genre", "top component", "mean score"],
            "rows": [[c, f"t {k}.0 s", 0.1 * k] for k, c in enumerate(classes)]})
        write_json(root / "xai" / "deletion.json", {
            "title": "Deletion AUC (lower is better)", "caption": "random baseline beside each method",
            "columns": ["method", "AUC", "random AUC"],
            "rows": [["lime", 0.21, 0.45], ["kernel_shap", 0.25, 0.45]]})
        # the cascading sanity check, with a layer named after the first class (escaping)
        from genrelens._io import write_csv_rows

        # thin evidence: a sanity check on one segment, per-genre aggregates of one track
        write_csv_rows(root / "xai" / "sanity.csv", [
            {"method": m, "kind": "tf_grid", "spearman": 0.1, "spearman_abs": 0.2, "n": 1,
             "threshold": 0.5, "passes": True} for m in ("lime", "occlusion")])
        write_csv_rows(root / "global" / "aggregate.csv", [
            {"method": "lime", "genre": c, "kind": "time", "component": "t 0", "mean": 0.1,
             "std": 0.0 if k else 0.05, "n": 1 if k else 3} for k, c in enumerate(classes)])

        layers = ["", "head", "block2", f"block_{classes[0]}"]
        write_csv_rows(root / "xai" / "sanity_cascading.csv", [
            {"method": method, "kind": kind, "layer": layer, "n_layers_randomized": k,
             "spearman": value, "spearman_abs": value, "n": 2}
            for method, kind, curve in (("occlusion", "tf_grid", [1.0, 0.6, 0.3, 0.1]),
                                        ("gradcam", "tf_grid", [1.0, 0.9, 0.8, 0.7]),
                                        ("gradcam", "dense", [1.0, 0.8, 0.7, 0.6]),
                                        ("random", "tf_grid", [0.02, -0.01, 0.03, 0.0]))
            for k, (layer, value) in enumerate(zip(layers, curve))])
        # the indexes through which the report finds them (genrelens.results)
        from genrelens.results import write_index

        write_index(root / "global", result="global",
                    files={"tables": ["aggregate.csv"], "data": ["per_genre.json"],
                           "ale": ["ale_centroid.json"]})
        write_index(root / "xai", result="quality",
                    files={"tables": ["sanity.csv", "sanity_cascading.csv"],
                           "data": ["deletion.json"]})
        # the planted-cue benchmark on real music (genrelens bench-xai --out RUN/bench-xai)
        rows = [{"cue_kind": cue, "level": "all", "method": method, "kind": "tf_grid",
                 "fill": fill, "n": 3, "point_component": p, "chance_component": 0.05}
                for cue in ("tonal", "all") for method, fill, p in
                (("lime", "min", 0.1), ("lime", "band_median", 0.9), ("occlusion", "min", 0.6))]
        write_csv_rows(root / "bench-xai" / "table.csv", rows)
        write_json(root / "bench-xai" / "summary.json", {
            "n_files": 3, "n_explained": 3, "accuracy": {"tonal": {"test": 0.9, f"{classes[0]}/loud": 1.0}},
            "params": {"n_samples": 100, "model": "cnn", "model_args": {"pooling": "max"}},
            "sources": [{"package": f"pkg-{classes[0]}", "version": "1", "licence": "CC0"}],
            "headline": [{k: r[k] for k in ("method", "fill", "n", "point_component")}
                         for r in rows if r["cue_kind"] == "all"]})
    return root


#: Hostile names: each would run script if it reached the page unescaped.
XSS_TRACK = '"><img src=x onerror="window.__pwned=1">'
XSS_CLASS = "<script>document.title='pwned';window.__pwned=2</script>"


#: Rendered runs shared by every test module of the session (a fixture imported into several
#: modules is set up once per module; this module is imported once).
_RENDERED: dict[str, Path] = {}


def _rendered(name: str, factory, **kwargs) -> Path:
    from genrelens.report import render_report

    if name not in _RENDERED:
        run = make_run(factory.mktemp(name) / "run", **kwargs)
        render_report(run)
        _RENDERED[name] = run
    return _RENDERED[name]


@pytest.fixture(scope="session")
def full_run(tmp_path_factory) -> Path:
    """A complete fake run directory with its rendered ``report.html`` (made once per session)."""
    return _rendered("full", tmp_path_factory)


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory) -> Path:
    """A rendered run whose class names and track ids are HTML/JavaScript payloads."""
    return _rendered("hostile", tmp_path_factory, class_names=(XSS_CLASS, "jazz"),
                     track_ids=[f"{XSS_TRACK}{i}" for i in range(8)], stems=False)


def partial_run(full: Path, dest: Path, names: Sequence[str]) -> Path:
    """A run directory holding only the files ``names`` copied from ``full``."""
    import shutil

    dest.mkdir(parents=True)
    for name in names:
        shutil.copy(full / name, dest / name)
    return dest
