"""``genrelens demo``: the whole pipeline in one command, into one run directory.

Stages, each cached in the run directory's manifest (:class:`genrelens.run.RunDir`: same
parameters and inputs + outputs present -> skipped; a failed stage is recorded with its error
and re-running resumes from it)::

    synthesize  the embedded synthetic dataset (only without --data)   synthetic/
    data        dataset check, track durations, split, one example       dataset.json, split.json,
                excerpt per genre                                        examples/*.wav
    prepare     log-mel feature cache                                    prepare.json (+ ../cache)
    train       model training (early stopping on validation; a          checkpoint.pt, history.csv
                pretrained backbone: frozen, its head on embeddings)
    evaluate    test-set metrics, segment and track level                metrics.json, predictions.csv
    explain     a few test tracks of different genres (the first over     explanations/<track>/
                every segment), every method and component kind, with
                listenable audio
    global      per-genre aggregates and ALE curves of descriptors       global/
    quality     explanation quality with random baselines                xai/
    real-music  with --real-music DIR only: the planted-cue benchmark     bench-xai/
                on real recordings (``genrelens bench-xai``), small
    report      the self-contained HTML report                           report.html

``model`` (``genrelens demo --model NAME``) is the ``cnn`` by default; a pretrained backbone
(``MSD_musicnn``, ``MSD_vgg``, ...) trains frozen with a linear head
(:func:`genrelens.training.run.train_transfer_run`), and every stage uses its front end (16
kHz, 96 mel bands, ``log10(10000·S + 1)``); the report's training section names the backbone,
its weights' sha256 and that it was frozen.

Every stage calls the library function of its own command (``genrelens data synth``,
``prepare``, ``train``, ``evaluate``, ``explain``, ``global``, ``report``); nothing is
re-implemented here. ``quick=True`` shrinks the dataset, the training and the explanation
budgets (README gives the measured time of both).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genrelens._io import safe_file_name, write_json
from genrelens._parallel import default_jobs
from genrelens._terminal import printable
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain.fill import DEFAULT_FILL
from genrelens.run import PIPELINE_STAGES, RunDir, command_line

__all__ = ["DemoSettings", "run_demo", "STAGES", "DEFAULT_OUT", "QUICK_OUT"]

#: Stage names in order.
STAGES = PIPELINE_STAGES
#: Default run directories (relative to the working directory).
DEFAULT_OUT = Path("runs") / "demo"
QUICK_OUT = Path("runs") / "demo-quick"

#: Methods and component kinds of the explain stage (:mod:`genrelens.explain.registry` names).
EXPLAIN_METHODS = ("lime", "kernel_shap", "occlusion", "gradcam", "ig")
EXPLAIN_KINDS = ("time", "frequency", "tf_grid", "stems")


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """Sizes and budgets of the demo (the defaults are the full demo; see :meth:`quick`).

    Parameters
    ----------
    n_per_genre : int
        Synthetic tracks per genre.
    duration : float
        Seconds per synthetic track.
    epochs, patience, batch_size : int
        Training (see :class:`genrelens.training.TrainConfig`).
    n_explain : int
        Test tracks explained (of different genres where possible).
    whole_tracks : int
        How many of them are explained over their whole length, every segment (the report's
        whole-track timeline); the others at their middle segment.
    n_samples : int
        Model evaluations per perturbation explanation.
    global_per_class, ale_per_class : int
        Segments per genre for the global aggregates and for the ALE curves.
    n_bootstrap : int
        Bootstrap replicates of the ALE bands.
    quality_per_class, quality_checks : int
        Test segments per genre measured for explanation quality, and segments of them used
        for the (costlier) sanity and stability checks.
    quality_subsets : int
        Random subsets of the faithfulness correlation.
    quality_seeds : int
        Sampling seeds compared for the stability of explanations.
    quality_fills : tuple of str
        Fills compared for the stability of explanations.
    bench_per_level, bench_per_file, bench_epochs : int
        The planted-cue benchmark of ``--real-music`` (see
        :func:`genrelens.evaluate.planted_bench.bench_xai`): explained excerpts per cue kind
        and level, excerpts per file, training epochs. It compares the default fill with
        ``"min"`` on the tf grid; ``genrelens bench-xai`` runs the full comparison.
    seed : int
        The one seed of every random choice (synthesis, split, training, explanations).
    """

    n_per_genre: int = 10
    duration: float = 30.0
    epochs: int = 6
    patience: int = 3
    batch_size: int = 32
    n_explain: int = 3
    whole_tracks: int = 1
    n_samples: int = 256
    global_per_class: int = 2
    ale_per_class: int = 4
    n_bootstrap: int = 30
    quality_per_class: int = 1
    quality_checks: int = 2
    quality_subsets: int = 50
    quality_seeds: int = 2
    quality_fills: tuple[str, ...] = (DEFAULT_FILL, "min", "blur")
    bench_per_level: int = 3
    bench_per_file: int = 30
    bench_epochs: int = 15
    seed: int = 0

    @classmethod
    def quick(cls, *, seed: int = 0) -> DemoSettings:
        """Settings of ``genrelens demo --quick`` (small data and budgets; its measured time is in
        README)."""
        return cls(n_per_genre=6, duration=12.0, epochs=15, patience=5, n_explain=2,
                   n_samples=100, global_per_class=1, ale_per_class=2, n_bootstrap=10,
                   quality_per_class=1, quality_checks=1, quality_subsets=16,
                   quality_fills=(DEFAULT_FILL, "min"), bench_per_level=1,
                   bench_per_file=12, bench_epochs=8, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


def _say(message: str) -> None:
    print(printable(message), file=sys.stderr, flush=True)  # track ids are file names


def run_demo(
    *,
    out: str | os.PathLike[str],
    data: str | os.PathLike[str] | None = None,
    real_music: str | os.PathLike[str] | None = None,
    settings: DemoSettings | None = None,
    model: str = "cnn",
    feature_config: FeatureConfig | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    logger: str = "none",
) -> Path:
    """Run every stage of the demo into run directory ``out`` and return the report's path.

    Parameters
    ----------
    out : path-like
        The run directory (created).
    data : path-like, optional
        A dataset folder (GTZAN or class-per-folder); default: synthesise the embedded
        synthetic dataset into ``out/synthetic``.
    real_music : path-like, optional
        A folder of real recordings (``scripts/fetch_real_music.sh``): adds the stage
        ``real-music``, the planted-cue benchmark, whose table the report shows beside the
        synthetic ground truth.
    settings : DemoSettings, optional
        Default ``DemoSettings()`` (the full demo).
    model : str
        The model trained: a registered name (``"cnn"``, default, ``"shortchunk"``, ...) or a
        pretrained backbone (``"MSD_musicnn"``, ``"MTT_musicnn"``, ``"MSD_vgg"``,
        ``"MTT_vgg"``), trained frozen with a linear head (module docstring).
    feature_config : FeatureConfig, optional
        Default the model's front end (:func:`genrelens.training.transfer.model_front_end`:
        ``FeatureConfig()`` for the ``cnn``).
    cache_dir : path-like, optional
        The log-mel cache; default ``out/../cache`` (shared by the runs of one folder, as for
        ``genrelens train``).
    overwrite : bool
        Allow stages to replace results made with other parameters.
    progress : bool
        Progress bars on stderr (one line per stage is always printed).
    logger : str
        Where the ``train`` stage also sends its training curves
        (:func:`genrelens.loggers.open_logger`: ``"none"``, ``"tensorboard"``, ``"mlflow"``);
        not a parameter of the results: a cached ``train`` stage logs nothing.

    Returns
    -------
    pathlib.Path
        ``out/report.html``.
    """
    from genrelens.training.transfer import model_front_end

    settings = settings or DemoSettings()
    config = model_front_end(model, model_args={}, config=feature_config)
    run = RunDir(out, overwrite=overwrite)
    cache = Path(cache_dir) if cache_dir is not None else run.root.absolute().parent / "cache"
    data_path = Path(data) if data is not None else run.path("synthetic")
    if data is not None and not data_path.is_dir():
        raise ParameterError(f"data={os.fspath(data)!r} is not a folder: name a dataset folder.")
    if real_music is not None and not Path(real_music).is_dir():
        raise ParameterError(f"real_music={os.fspath(real_music)!r} is not a folder: name a "
                             "folder of recordings (bash scripts/fetch_real_music.sh DIR).")
    run.record(
        command=command_line(),
        params={"data": os.fspath(data_path.absolute()), "cache": os.fspath(cache.absolute()),
                "synthetic": data is None,
                "real_music": None if real_music is None else os.fspath(
                    Path(real_music).absolute()), "model": model, **settings.to_dict()},
        feature_config=config,
        seeds={"synthesis": settings.seed, "split": settings.seed, "train": settings.seed,
               "explain": settings.seed, "global": settings.seed},
    )
    stages = _stages(run, settings=settings, config=config, cache=cache, data_path=data_path,
                     model=model, synthetic=data is None, progress=progress,
                     real_music=None if real_music is None else Path(real_music), logger=logger)
    total = len(stages)
    started = time.perf_counter()
    for number, (name, func, params, inputs, outputs, force) in enumerate(stages, start=1):
        _say(f"[{number}/{total}] {name} ...")
        try:
            outcome = run.run_stage(name, func, params=params, inputs=inputs, outputs=outputs,
                                    force=force)
        except BaseException as exc:
            _say(f"[{number}/{total}] {name} FAILED after {time.perf_counter() - started:.0f} s "
                 f"total: {type(exc).__name__}: {exc}\n  earlier stages are kept in {run.root}; "
                 "run the same command again to resume from this stage.")
            raise
        verb = "skipped (cached)" if outcome.status == "skipped" else f"done in {outcome.seconds:.1f} s"
        _say(f"[{number}/{total}] {name} {verb}")
    _say(f"demo finished in {time.perf_counter() - started:.0f} s; run directory {run.root}")
    return run.path("report.html")


Stage = tuple[str, Callable[[], Any], dict[str, Any], list[Path], list[str], bool]


def _stages(run: RunDir, *, settings: DemoSettings, config: FeatureConfig, cache: Path,
            data_path: Path, model: str, synthetic: bool, progress: bool,
            real_music: Path | None = None, logger: str = "none") -> list[Stage]:
    s = settings
    feat = config.to_dict()
    # named only when it is not the cnn, so that runs made before --model existed stay cached
    named = {"model": model} if model != "cnn" else {}
    stages: list[Stage] = []
    if synthetic:
        stages.append(("synthesize",
                       lambda: _synthesize(data_path, settings=s, config=config, progress=progress),
                       {"n_per_genre": s.n_per_genre, "duration": s.duration, "sr": config.sr,
                        "seed": s.seed}, [], ["synthetic/synth.json"], False))
    stages += [
        ("data", lambda: _data(run, data_path, config=config, seed=s.seed, progress=progress),
         {"config": feat, "seed": s.seed}, [data_path], ["dataset.json", "split.json"], False),
        ("prepare", lambda: _prepare(run, data_path, cache=cache, config=config, progress=progress),
         {"config": feat, "cache": os.fspath(cache.absolute())}, [data_path], ["prepare.json"],
         False),
        ("train", lambda: _train(run, data_path, cache=cache, settings=s, config=config,
                                 model=model, progress=progress, logger=logger),
         {"config": feat, **named, "epochs": s.epochs, "patience": s.patience,
          "batch_size": s.batch_size, "seed": s.seed},
         [run.path("split.json"), run.path("prepare.json")], ["checkpoint.pt", "history.csv"],
         False),
        ("evaluate", lambda: _evaluate(run, cache=cache, progress=progress), {},
         [run.path("checkpoint.pt"), run.path("split.json")], ["metrics.json"], False),
        ("explain", lambda: _explain(run, data_path, settings=s, progress=progress),
         {"n_explain": s.n_explain, "whole_tracks": s.whole_tracks, "n_samples": s.n_samples,
          "methods": EXPLAIN_METHODS,
          "kinds": EXPLAIN_KINDS, "seed": s.seed},
         [run.path("checkpoint.pt"), run.path("split.json")], ["explanations/index.json"], False),
        ("global", lambda: _global(run, cache=cache, settings=s, progress=progress),
         {"per_class": s.global_per_class, "ale_per_class": s.ale_per_class,
          "n_samples": s.n_samples, "n_bootstrap": s.n_bootstrap, "seed": s.seed},
         [run.path("checkpoint.pt"), run.path("split.json")],
         ["global/summary.json", "global/index.json"], False),
    ]
    stages.append(
        ("quality", lambda: _quality(run, cache=cache, settings=s, progress=progress),
         {"per_class": s.quality_per_class, "checks": s.quality_checks,
          "subsets": s.quality_subsets, "fills": s.quality_fills, "seeds": s.quality_seeds,
          "n_samples": s.n_samples, "seed": s.seed},
         [run.path("checkpoint.pt"), run.path("split.json")],
         ["xai/summary.json", "xai/sanity_cascading.csv", "xai/index.json"], False))
    if real_music is not None:
        stages.append(
            ("real-music", lambda: _real_music(run, real_music, settings=s, config=config,
                                               model=model, progress=progress),
             {"folder": os.fspath(real_music.absolute()), **named,
              "per_level": s.bench_per_level,
              "per_file": s.bench_per_file, "epochs": s.bench_epochs,
              "n_samples": s.n_samples, "fills": [DEFAULT_FILL, "min"], "seed": s.seed},
             [real_music], ["bench-xai/summary.json"], False))
    stages.append(("report", lambda: _report(run), {}, [], ["report.html"], True))
    return stages


# --------------------------------------------------------------------------- stage bodies


def _synthesize(dest: Path, *, settings: DemoSettings, config: FeatureConfig,
                progress: bool) -> dict[str, Any]:
    from genrelens.data.gtzan import GTZAN_GENRES
    from genrelens.data.synthetic import synthesize_dataset

    synthesize_dataset(dest, n_per_genre=settings.n_per_genre, duration=settings.duration,
                       sr=config.sr, seed=settings.seed, force=True,
                       jobs=min(2, os.cpu_count() or 1), progress=progress)
    return {"n_tracks": len(GTZAN_GENRES) * settings.n_per_genre, "duration_s": settings.duration}


def _data(run: RunDir, data_path: Path, *, config: FeatureConfig, seed: int,
          progress: bool) -> dict[str, Any]:
    """Check the dataset, record per-track durations, write the split and example excerpts."""
    import soundfile as sf

    from genrelens.audio import load_segments
    from genrelens.data import default_split, open_dataset
    from genrelens.data.check import check_dataset
    from genrelens.explain.listen import write_wav

    dataset = open_dataset(data_path)
    check = check_dataset(dataset, config=config, progress=progress, jobs=default_jobs())
    if not check.usable:
        raise ParameterError(f"dataset {data_path} is unusable: {'; '.join(check.problems)}.")
    bad = {s.track_id for s in check.unreadable}
    tracks = []
    for t in dataset.tracks:
        try:
            duration = None if t.track_id in bad else float(sf.info(t.path).duration)
        except (RuntimeError, sf.LibsndfileError):
            duration = None  # formats soundfile cannot open (mp3 on old libsndfile)
        tracks.append({"track_id": t.track_id, "label": t.label, "duration_s": duration})
    split = default_split(dataset, random_state=seed)
    split.save(run.path("split.json"))
    examples = {}
    for k, label in enumerate(dataset.class_names):
        track = next((t for t in dataset.tracks if t.label == label and t.track_id not in bad),
                     None)
        if track is None:
            continue
        segments = load_segments(track.path, config=config)
        middle = segments.shape[0] // 2
        name = f"examples/{k:02d}_{safe_file_name(label)}.wav"
        write_wav(run.path(name), segments[middle], sr=config.sr)
        examples[label] = {"track_id": track.track_id, "file": name,
                           "start_s": middle * config.segment_hop_seconds}
    write_json(run.path("dataset.json"), {"check": check.to_dict(), "tracks": tracks,
                                          "examples": examples})
    run.record(dataset={"root": os.fspath(dataset.root.absolute()), "layout": dataset.layout,
                        "n_tracks": len(dataset), "class_names": dataset.class_names},
               split={"name": split.name, "train": len(split.train), "valid": len(split.valid),
                      "test": len(split.test), "random_state": split.random_state,
                      "warnings": split.warnings})
    for message in split.warnings:
        _say(f"  warning: {message}")
    return {"n_tracks": check.n_tracks, "n_readable": check.n_readable,
            "n_skipped": len(check.unreadable), "skipped": [s.to_dict() for s in check.unreadable],
            "split": split.name}


def _prepare(run: RunDir, data_path: Path, *, cache: Path, config: FeatureConfig,
             progress: bool) -> dict[str, Any]:
    from genrelens.cache import prepare
    from genrelens.data import open_dataset

    report = prepare(open_dataset(data_path), cache_dir=cache, config=config, progress=progress,
                     jobs=default_jobs())
    write_json(run.path("prepare.json"), report.to_dict())
    return {"n_segments": report.n_segments, "n_computed": report.n_computed,
            "n_cached": report.n_cached, "segments_per_second": report.segments_per_second,
            "n_skipped": len(report.skips), "skipped": [s.to_dict() for s in report.skips]}


def _train(run: RunDir, data_path: Path, *, cache: Path, settings: DemoSettings,
           config: FeatureConfig, model: str, progress: bool,
           logger: str = "none") -> dict[str, Any]:
    """Train ``model`` (a pretrained backbone: frozen, a head on its embeddings)."""
    import warnings

    from genrelens.data import Split
    from genrelens.loggers import open_logger
    from genrelens.training.config import TrainConfig
    from genrelens.training.run import train_run, train_transfer_run
    from genrelens.training.transfer import trained_model

    name, args = trained_model(model, {})
    train_config = TrainConfig(model=name, model_args=args, epochs=settings.epochs,
                               patience=settings.patience, batch_size=settings.batch_size,
                               seed=settings.seed)
    split = Split.load(run.path("split.json"))
    with warnings.catch_warnings(), open_logger(logger, run_dir=run.root) as opened:
        warnings.simplefilter("ignore", UserWarning)  # the split's warnings were said by "data"
        if name == "transfer":
            result = train_transfer_run(data_path, out=run.root, config=train_config,
                                        cache_dir=cache, split=split, evaluate=False,
                                        progress=progress, logger=opened)
        else:
            result = train_run(data_path, out=run.root, config=train_config,
                               feature_config=config, cache_dir=cache, split=split,
                               evaluate=False, progress=progress, logger=opened)
    fit = result.fit
    return {"model": model, "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run,
            "seconds": fit.seconds}


def _evaluate(run: RunDir, *, cache: Path, progress: bool) -> dict[str, Any]:
    from genrelens.training.run import evaluate_run

    metrics = evaluate_run(run.root, cache_dir=cache, progress=progress)
    return {f"{level}_accuracy": metrics[level]["accuracy"] for level in ("segment", "track")
            if isinstance(metrics.get(level), dict)}


def _explain(run: RunDir, data_path: Path, *, settings: DemoSettings,
             progress: bool) -> dict[str, Any]:
    """Explain a few test tracks of different genres: the first ``settings.whole_tracks`` over
    every segment, the others at their middle segment (the report shows it first)."""
    from genrelens.audio import load_segments
    from genrelens.data import Split, open_dataset
    from genrelens.explain.batch import write_index
    from genrelens.explain.listen import write_wav
    from genrelens.explain.track import explain_track, write_track
    from genrelens.models import load_checkpoint

    loaded = load_checkpoint(run.path("checkpoint.pt"))
    config = loaded.feature_config
    dataset = open_dataset(data_path)
    test = set(Split.load(run.path("split.json")).test)
    chosen, seen = [], set()
    for track in dataset.tracks:  # one test track per genre, genres in order, as many as asked
        if track.track_id in test and track.label not in seen:
            chosen.append(track)
            seen.add(track.label)
    step = max(1, len(chosen) // max(1, settings.n_explain))
    chosen = chosen[::step][: settings.n_explain]
    index = []
    for number, track in enumerate(chosen, start=1):
        _say(f"  explaining {track.track_id} ({number}/{len(chosen)})")
        segments = load_segments(track.path, config=config)
        whole = number <= settings.whole_tracks
        shown = 0 if whole else segments.shape[0] // 2  # the segment the report shows first
        folder = run.path("explanations", safe_file_name(track.track_id))
        results = explain_track(loaded, segments, config=config, methods=EXPLAIN_METHODS,
                                kinds=EXPLAIN_KINDS, n_samples=settings.n_samples,
                                random_state=settings.seed,
                                segment_index=None if whole else [shown], progress=progress)
        write_track(results, segments, folder,
                    summary={"track_id": track.track_id, "label": track.label,
                             "audio": os.fspath(track.path), "n_samples": settings.n_samples})
        write_wav(folder / "original.wav", segments[shown], sr=config.sr)
        index.append({"track_id": track.track_id, "label": track.label,
                      "folder": folder.name, "segment": int(shown),
                      "n_segments": len(next(iter(results.values())).segment_index)})
    write_index(run.path("explanations"), written_by="demo", tracks=index)
    return {"n_tracks": len(index)}


def _global(run: RunDir, *, cache: Path, settings: DemoSettings, progress: bool) -> dict[str, Any]:
    from genrelens.inspection.pipeline import global_view

    result = global_view(run.root, out=run.path("global"), cache=cache,
                         per_class=settings.global_per_class,
                         ale_per_class=settings.ale_per_class, n_samples=settings.n_samples,
                         n_bootstrap=settings.n_bootstrap, random_state=settings.seed,
                         progress=progress)
    return _scalars(result)


def _quality(run: RunDir, *, cache: Path, settings: DemoSettings, progress: bool) -> dict[str, Any]:
    from genrelens.evaluate.xai import evaluate_xai

    result = evaluate_xai(run.root, out=run.path("xai"), cache=cache,
                          per_class=settings.quality_per_class, n_samples=settings.n_samples,
                          n_check=settings.quality_checks, seeds=settings.quality_seeds,
                          n_subsets=settings.quality_subsets, fills=settings.quality_fills,
                          random_state=settings.seed, progress=progress)
    return _scalars(result)


def _scalars(result: Any) -> dict[str, Any]:
    """The numbers and strings of a result's summary: the stage's record in the manifest."""
    return {k: v for k, v in result.to_dict().items() if isinstance(v, (int, float, str))}


def _real_music(run: RunDir, folder: Path, *, settings: DemoSettings, config: FeatureConfig,
                model: str, progress: bool) -> dict[str, Any]:
    from genrelens.evaluate.planted_bench import bench_xai

    summary = bench_xai(folder, out=run.path("bench-xai"), kinds=("tf_grid",),
                        fills=(DEFAULT_FILL, "min"), per_level=settings.bench_per_level,
                        per_file=settings.bench_per_file, epochs=settings.bench_epochs,
                        n_samples=settings.n_samples, seed=settings.seed, config=config,
                        model=model, progress=progress)
    return {"n_files": summary["n_files"], "n_explained": summary["n_explained"],
            "test_accuracy": {kind: acc["test"] for kind, acc in summary["accuracy"].items()}}


def _report(run: RunDir) -> dict[str, Any]:
    from genrelens.report import render_report

    return {"bytes": render_report(run.root).stat().st_size}
