"""Training and evaluation of a run directory: ``genrelens train`` and ``genrelens evaluate``.

:func:`train_run` opens the dataset, makes (or reuses) the track-level split, prepares the
log-mel cache (listing each skipped file), refuses a dataset without two classes to tell apart
(:func:`genrelens.data.check.class_problems`) before writing anything to ``RUN/``, keeps
duplicate recordings in one set of the split (:mod:`genrelens.data.duplicates`), trains with
:func:`genrelens.training.fit` and finally evaluates the test set once with
:func:`evaluate_run`. The run directory ``RUN/`` receives

==================== =====================================================================
``train_config.json`` data folder, cache folder, FeatureConfig and TrainConfig
``split.json``        the track-level split (:class:`genrelens.data.Split`)
``checkpoint.pt``     the model with the lowest validation loss (``weights_only`` loadable)
``last.pt``           the resume state of the last finished epoch
``history.csv``       one row per epoch; ``curves.png`` plots it
``metrics.json``      test metrics at segment and track level
``predictions.csv``   one row per test segment: track, segment, true, predicted, probabilities
``confusion_segment.csv``/``.png``, ``confusion_track.csv``/``.png``  confusion matrices
==================== =====================================================================

Each set of the split is loaded from the cache on its own, in RAM or, with ``stream=True``,
memory-mapped (:func:`genrelens.cache.load_features` with ``memmap=True``) for datasets larger
than RAM. Under ``torchrun`` every rank runs :func:`train_run`; rank 0 alone prepares the cache
(and, streaming, writes the memory-mapped files that the other ranks then map), writes files
and evaluates.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrelens._io import atomic_path, write_json, write_text
from genrelens.config import FeatureConfig
from genrelens.data.duplicates import Duplicates
from genrelens.data.loading import Skip
from genrelens.errors import DatasetError, ParameterError
from genrelens.loggers import Logger
from genrelens.run import RunDirError
from genrelens.training.config import TrainConfig
from genrelens.training.distributed import all_reduce_sum, setup, teardown
from genrelens.training.loop import (
    CHECKPOINT_FILE,
    HISTORY_FILE,
    RESUME_FILE,
    FitResult,
    fit,
)

__all__ = [
    "train_run",
    "train_transfer_run",
    "evaluate_run",
    "TrainRunResult",
    "read_history",
    "TRAIN_CONFIG_FILE",
    "SPLIT_FILE",
    "METRICS_FILE",
    "PREDICTIONS_FILE",
]

TRAIN_CONFIG_FILE = "train_config.json"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"


@dataclasses.dataclass(frozen=True)
class TrainRunResult:
    """Outcome of :func:`train_run`.

    Attributes
    ----------
    run_dir : pathlib.Path
    fit : FitResult
    metrics : dict or None
        :func:`evaluate_run`'s test metrics (None if not evaluated or not rank 0).
    split_warnings : tuple of str
    """

    run_dir: Path
    fit: FitResult
    metrics: dict[str, Any] | None
    split_warnings: tuple[str, ...]


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(
            f"{path} does not exist: is {path.parent} a training run ({what})?"
        ) from None
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{path} cannot be read ({exc}).") from None


def _features_for(
    dataset: Any, *, cache_dir: Path, config: FeatureConfig, progress: bool, memmap: bool
) -> Any:
    from genrelens.cache import load_features, prepare

    prepare(dataset, cache_dir=cache_dir, config=config, progress=progress)
    return load_features(dataset, cache_dir=cache_dir, config=config, memmap=memmap)


def _load_set(
    dataset: Any,
    track_ids: tuple[str, ...],
    set_name: str,
    *,
    cache_dir: Path,
    config: FeatureConfig,
    memmap: bool,
) -> Any:
    """The features of one set of the split (unusable tracks drop out); error if none is left."""
    from genrelens.cache import load_features

    part = load_features(
        dataset.subset(track_ids), cache_dir=cache_dir, config=config, memmap=memmap
    )
    if len(part) == 0:
        raise ParameterError(
            f"the {set_name} set has no usable tracks ({len(track_ids)} in the split, none with "
            "features): check the dataset with `genrelens data check`."
        )
    return part


def train_run(
    data: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    feature_config: FeatureConfig | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    split: Any | None = None,
    restart: bool = False,
    evaluate: bool = True,
    progress: bool = True,
    stream: bool = False,
    device: str | torch.device | None = "auto",
    logger: Logger | None = None,
    weights: str | os.PathLike[str] = "wheel",
) -> TrainRunResult:
    """Train a model on a dataset folder into run directory ``out`` (resuming if possible).

    A ``"transfer"`` model with ``model_args`` ``finetune="backend"`` or ``"all"`` fine-tunes
    its pretrained backbone with the head (``genrelens train --model MSD_musicnn --finetune
    backend``): its own front end's segments (:data:`~genrelens.models.musicnn.MUSICNN_FEATURES`)
    are cached and trained on; a fresh run starts from the backbone's ``weights`` and from the
    frozen recipe's head (:func:`genrelens.training.transfer.finetune_initialiser`).

    Parameters
    ----------
    data : path-like
        A dataset folder (:func:`genrelens.data.open_dataset`).
    out : path-like
        The run directory.
    config : TrainConfig, optional
    feature_config : FeatureConfig, optional
        Default ``FeatureConfig()`` (22,050 Hz, 128 mel bands, 3-s segments).
    cache_dir : path-like, optional
        Log-mel cache; default ``<out>/../cache`` (shared by the runs of one folder).
    split : genrelens.data.Split, optional
        The track-level split. Default: ``RUN/split.json`` when resuming, else
        :func:`genrelens.data.default_split` (fault-filtered for GTZAN when its lists were
        fetched, FMA's own split for FMA, else stratified random with a warning) seeded with
        ``config.seed``.
    restart : bool
        Discard a previous ``last.pt``, checkpoint, history and split instead of resuming.
    evaluate : bool
        Evaluate the test set at the end (rank 0).
    progress : bool
        Progress bars on stderr.
    stream : bool
        Memory-map the training, validation and test segments from consolidated files in the
        cache (``load_features(..., memmap=True)``) instead of reading them into RAM: for
        datasets larger than RAM. The first run writes the files (as much disk as the
        entries); the weights are the same either way, in-RAM training is faster when it fits.
    device : str or torch.device, default "auto"
        Where training and the test evaluation run (:func:`genrelens.device.resolve_device`);
        not part of the run's settings, so a run can be resumed on another device.
    logger : genrelens.loggers.Logger, optional
        Receives each epoch's numbers (:func:`genrelens.training.fit`); not closed here.
    weights : "wheel" or path-like
        A fine-tuned backbone's pretrained weights: the installed musicnn wheel or its package
        folder (other models: not used).

    Returns
    -------
    TrainRunResult

    Raises
    ------
    DatasetError
        If fewer than two classes have usable tracks, or a class has none; the message names
        the classes found, the skipped files and the folders without audio.

    Warns
    -----
    UserWarning
        Each skipped file with its reason, files of unknown type, the layout's notes, and the
        split's warnings (e.g. a random split of GTZAN inflates accuracy; duplicate recordings,
        kept in one set when the split is made here, only reported in a given or saved one).
    """
    from genrelens.cache import prepare
    from genrelens.data import Split, default_split, open_dataset
    from genrelens.data.splits import keep_together

    config = config or TrainConfig()
    finetuning = config.model == "transfer"
    if finetuning:
        from genrelens.training.transfer import finetune_description, finetune_front_end

        feature_config = finetune_front_end(config, feature_config)
        described = finetune_description(config, weights=weights)
    feature_config = feature_config or FeatureConfig()
    run_dir = Path(out)
    cache = Path(cache_dir) if cache_dir is not None else run_dir.absolute().parent / "cache"
    context = setup()
    try:
        settings = {
            "data": os.fspath(Path(data).absolute()),
            "cache": os.fspath(cache.absolute()),
            "feature_config": feature_config.to_dict(),
            "train": config.to_dict(),
            "world_size": context.world_size,
            **({"transfer": described} if finetuning else {}),
        }
        if context.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            if restart:
                for name in (RESUME_FILE, CHECKPOINT_FILE, HISTORY_FILE, SPLIT_FILE):
                    (run_dir / name).unlink(missing_ok=True)
            _check_same_settings(run_dir, settings)
        context.barrier()
        dataset = open_dataset(data)
        split_path = run_dir / SPLIT_FILE
        saved = Split.load(split_path) if split_path.is_file() else None
        made_here = split is None and saved is None
        if split is None:
            split = saved or default_split(dataset, random_state=config.seed)
        elif (
            saved is not None
            and saved.sets() != split.sets()
            and (run_dir / RESUME_FILE).is_file()
        ):
            raise ParameterError(
                f"run directory {run_dir} was trained on split {saved.name!r} of {SPLIT_FILE}, "
                f"not the split {split.name!r} given: resume without a split option, use "
                "--restart, or choose another --out."
            )
        split.validate(dataset)
        refusal = None
        if context.is_main:
            prepared = prepare(dataset, cache_dir=cache, config=feature_config, progress=progress)
            for message in _data_warnings(dataset, prepared.skips):
                warnings.warn(message, UserWarning, stacklevel=2)
            refusal = _refusal(dataset, prepared.skips)
            if refusal is None:
                split = keep_together(
                    split, _duplicates(dataset, cache_dir=cache, config=feature_config),
                    dataset=dataset, move=made_here and split.random_state is not None,
                )
                for message in split.warnings:
                    warnings.warn(message, UserWarning, stacklevel=2)
                split.save(split_path)
                write_json(run_dir / TRAIN_CONFIG_FILE, settings)
        (n_refused,) = all_reduce_sum([float(refusal is not None)], context=context)
        if refusal is not None:
            raise refusal
        if n_refused:
            raise DatasetError(f"rank 0 refused dataset {dataset.root}: see its message.")
        if not context.is_main:
            split = Split.load(split_path)  # rank 0 kept duplicates together before the sync

        def load(track_ids: tuple[str, ...], set_name: str) -> Any:
            return _load_set(dataset, track_ids, set_name, cache_dir=cache,
                             config=feature_config, memmap=stream)

        if stream and not context.is_main:
            context.barrier()  # rank 0 writes the memory-mapped files first; the others map them
        train, valid = load(split.train, "train"), load(split.valid, "validation")
        if stream and context.is_main:
            context.barrier()
        initialise = None
        if finetuning:
            from genrelens.training.transfer import finetune_initialiser

            initialise = finetune_initialiser(dataset, split=split, cache_dir=cache,
                                              config=config, weights=weights,
                                              progress=progress)
        result = fit(
            x_train=train.logmel,
            y_train=train.labels,
            x_valid=valid.logmel,
            y_valid=valid.labels,
            class_names=dataset.class_names,
            feature_config=feature_config,
            config=config,
            run_dir=run_dir,
            progress=progress,
            context=context,
            device=device,
            logger=logger,
            initialise=initialise,
            checkpoint_extra=described if finetuning else None,
        )
        metrics = None
        if evaluate and context.is_main:
            test = load(split.test, "test")
            metrics = evaluate_run(run_dir, features=test, progress=progress, device=device)
        context.barrier()
    finally:
        teardown(context)
    return TrainRunResult(
        run_dir=run_dir, fit=result, metrics=metrics, split_warnings=tuple(split.warnings)
    )


def _duplicates(dataset: Any, *, cache_dir: Path, config: FeatureConfig) -> Duplicates:
    """The duplicate recordings of ``dataset``, from its cache (after prepare): byte-identical
    files by the sha256 prepare recorded, re-encoded copies by fingerprints of the cached
    log-mels for datasets of up to :data:`~genrelens.data.duplicates.MAX_COMPARED` tracks."""
    from genrelens.cache import iter_track_features
    from genrelens.data import duplicates as dup

    search = len(dataset) <= dup.MAX_COMPARED
    block = max(1, round(dup.FINGERPRINT_SECONDS * config.sr / config.hop_length))
    found = dup.find_duplicates(
        (track.track_id, sha,
         None if logmel is None else dup.fingerprint(logmel, block_frames=block))
        for track, sha, logmel in iter_track_features(dataset, cache_dir=cache_dir,
                                                      config=config, logmel=search)
    )
    if search:
        return found
    return dup.identical_only(found, why=f"{len(dataset)} tracks, more than {dup.MAX_COMPARED}")


def _data_warnings(dataset: Any, skips: tuple[Skip, ...]) -> list[str]:
    """What the user should know before training: each skipped file with its reason (as
    ``genrelens prepare`` lists them), files of unknown type, the layout's notes."""
    out = [f"skipped {s.track_id}: {s.reason}: {s.message}" for s in skips]
    if dataset.unknown:
        out.append(
            f"{len(dataset.unknown)} files of unknown type are not read (e.g. "
            f"{list(dataset.unknown[:3])})"
        )
    return out + list(dataset.notes)


def _refusal(dataset: Any, skips: tuple[Skip, ...]) -> DatasetError | None:
    """The error that stops training when :func:`~genrelens.data.check.class_problems` finds
    no two classes to tell apart (or a class without a usable track), else ``None``."""
    from genrelens.data.check import class_counts, class_problems

    problems = class_problems(dataset, skips=skips)
    if not problems:
        return None
    counts = ", ".join(
        f"{c} {n}/{n_listed}" for c, (n, n_listed) in class_counts(dataset, skips=skips).items()
    )
    files = ", ".join(f"{s.track_id} ({s.reason})" for s in skips[:10])
    more = f" and {len(skips) - 10} more" if len(skips) > 10 else ""
    ignored = f"; files skipped ({len(skips)}): {files}{more}" if skips else ""
    notes = "".join(f"; {note}" for note in dataset.notes)
    return DatasetError(
        f"cannot train on {dataset.root}: {'; '.join(problems)}. Classes found (usable/listed "
        f"tracks): {counts}{ignored}{notes}. Add audio for at least two classes or fix the "
        f"skipped files; `genrelens data check {dataset.root}` lists everything."
    )


def _check_same_settings(run_dir: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume a run directory whose training was made with other settings."""
    path = run_dir / TRAIN_CONFIG_FILE
    if not (run_dir / RESUME_FILE).is_file() or not path.is_file():
        return
    previous = _read_json(path, "train_config.json")
    for key, cls in (("feature_config", FeatureConfig), ("train", TrainConfig)):
        try:  # a run written before fields were added to a config has their old values
            previous[key] = cls.from_dict(previous[key]).to_dict()
        except (KeyError, TypeError, ParameterError):
            pass  # unreadable: compared as it is, so it differs
    differing = sorted(
        key for key in ("data", "feature_config", "train") if previous.get(key) != settings[key]
    )
    if differing:
        raise ParameterError(
            f"run directory {run_dir} holds a training with different {differing}: resume it with "
            "the same options, start afresh with --restart, or choose another --out."
        )


def read_history(run_dir: str | os.PathLike[str]) -> dict[str, list[float]]:
    """``RUN/history.csv`` as ``{column: values}`` (empty dict if the file is absent).

    Raises
    ------
    RunDirError
        When the file is damaged (not UTF-8 text, rows cut short or with extra cells, cells
        that are not numbers); the message names it and how to repair it.
    """
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        for line, row in enumerate(rows, start=2):
            if None in row or None in row.values():
                raise ValueError(f"line {line} does not have the header's "
                                 f"{len(reader.fieldnames or ())} cells")
        return {key: [float(row[key]) for row in rows] for key in rows[0]} if rows else {}
    except (OSError, ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise RunDirError(
            f"{path} is damaged ({exc}): run the same `genrelens train` command again, which "
            "rewrites it from last.pt, or delete it (curves.png is then not drawn)."
        ) from None


def _matrix_csv(matrix: list[list[int]], class_names: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true \\ predicted", *class_names])
    for name, row in zip(class_names, matrix, strict=True):
        writer.writerow([name, *row])
    return buffer.getvalue()


def _predictions_csv(
    features: Any, probs: np.ndarray, class_names: tuple[str, ...]
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["track", "segment", "true", "predicted", *(f"p_{c}" for c in class_names)])
    predicted = probs.argmax(axis=1)
    for i in range(len(probs)):
        writer.writerow([
            features.track_ids[i],
            int(features.segment_index[i]),
            class_names[int(features.labels[i])],
            class_names[int(predicted[i])],
            *(f"{p:.6g}" for p in probs[i]),
        ])
    return buffer.getvalue()


def _write_png(path: Path, fig: Any) -> None:
    from genrelens.display import png_bytes

    data = png_bytes(fig)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def evaluate_run(
    run_dir: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    features: Any = None,
    batch_size: int = 64,
    progress: bool = True,
    stream: bool = False,
    device: str | torch.device | None = "auto",
) -> dict[str, Any]:
    """Evaluate ``RUN/checkpoint.pt`` on the test set of ``RUN/split.json`` and write the results.

    Parameters
    ----------
    run_dir : path-like
        A run directory made by :func:`train_run`.
    data, cache_dir : path-like, optional
        Override the dataset and cache folders recorded in ``train_config.json`` (e.g. after
        moving them).
    features : Features, optional
        The test features, when the caller holds them already (for a ``"transfer"`` model:
        the test tracks' :class:`~genrelens.training.transfer.Embeddings`, on which its head
        is evaluated; without them they are read from the embedding cache).
    batch_size : int
    progress : bool
    stream : bool
        Memory-map the test segments instead of reading them into RAM (as in
        :func:`train_run`); ignored when ``features`` is given.
    device : str or torch.device, default "auto"
        Where the model runs (:func:`genrelens.device.resolve_device`).

    Returns
    -------
    dict
        The content of ``metrics.json``: ``segment`` and ``track`` reports
        (:func:`genrelens.evaluate.classification.evaluate_predictions`), the model, the
        checkpoint's epoch and the split's name and warnings.
    """
    from genrelens.data import Split, open_dataset
    from genrelens.display import plot_confusion, plot_history
    from genrelens.evaluate.classification import evaluate_predictions
    from genrelens.models import load_checkpoint
    from genrelens.models.inference import predict_proba

    run = Path(run_dir)
    history = read_history(run)  # a damaged file stops the command before any work
    loaded = load_checkpoint(run / CHECKPOINT_FILE, device=device)
    split = Split.load(run / SPLIT_FILE)
    # a frozen backbone: its head on the cached embeddings
    transfer = loaded.model_name == "transfer" and getattr(loaded.model, "frozen", False)
    if features is None:
        settings = _read_json(run / TRAIN_CONFIG_FILE, "train_config.json")
        dataset = open_dataset(data if data is not None else settings["data"])
        cache = Path(cache_dir if cache_dir is not None else settings["cache"])
        if transfer:
            from genrelens.training.transfer import test_embeddings

            features = test_embeddings(loaded, dataset=dataset, test=split.test,
                                       cache_dir=cache, progress=progress)
        else:
            features = _features_for(
                dataset.subset(split.test),
                cache_dir=cache,
                config=loaded.feature_config,
                progress=progress,
                memmap=stream,
            )
    if tuple(features.class_names) != loaded.class_names:
        raise DatasetError(
            f"the dataset's classes {list(features.class_names)} differ from the checkpoint's "
            f"{list(loaded.class_names)}: evaluate on the dataset the model was trained on."
        )
    if transfer:
        from genrelens.models.transfer import TransferModel
        from genrelens.training.transfer import head_probabilities

        assert isinstance(loaded.model, TransferModel)  # model_name "transfer"
        probs = head_probabilities(loaded.model, features)
    else:
        probs = predict_proba(loaded.model, features.logmel, batch_size=batch_size)
    report = evaluate_predictions(
        probs, features.labels, features.track_ids, class_names=loaded.class_names
    )
    metrics = {
        "model": loaded.model_name,
        "model_args": loaded.model_args,
        "checkpoint_epoch": loaded.extra.get("epoch"),
        "split": split.name,
        "split_warnings": list(split.warnings),
        **report,
    }
    write_json(run / METRICS_FILE, metrics)
    write_text(run / PREDICTIONS_FILE, _predictions_csv(features, probs, loaded.class_names))
    for level in ("segment", "track"):
        matrix = report[level]["confusion_matrix"]
        write_text(run / f"confusion_{level}.csv", _matrix_csv(matrix, loaded.class_names))
        title = f"{level} level: accuracy {report[level]['accuracy']:.3f} (n={report[level]['n']})"
        _write_png(run / f"confusion_{level}.png",
                   plot_confusion(np.asarray(matrix), loaded.class_names, title=title))
    if history:
        _write_png(run / "curves.png", plot_history(history, title=f"{loaded.model_name} training"))
    return metrics


def train_transfer_run(
    data: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    config: TrainConfig,
    weights: str | os.PathLike[str] = "wheel",
    cache_dir: str | os.PathLike[str] | None = None,
    split: Any | None = None,
    evaluate: bool = True,
    progress: bool = True,
    logger: Logger | None = None,
) -> Any:
    """Train a head on a frozen musicnn backbone into run directory ``out``.

    Parameters
    ----------
    data : path-like
        A dataset folder (:func:`genrelens.data.open_dataset`).
    out : path-like
        The run directory (its files are replaced: training takes seconds, there is no
        resume).
    config : TrainConfig
        ``model="transfer"``, ``model_args={"backbone": "MSD_musicnn", "hidden": 0, "layers":
        [...]}`` (see :class:`~genrelens.models.transfer.TransferModel`), and the optimiser,
        early stopping, class weight and seed settings.
    weights : "wheel" or path-like
        The backbone's pretrained weights: the installed musicnn wheel or its package folder.
    cache_dir : path-like, optional
        Default ``<out>/../cache``, as for :func:`genrelens.training.run.train_run`.
    split : genrelens.data.Split, optional
        Default :func:`genrelens.data.default_split` seeded with ``config.seed``.
    evaluate : bool
        Evaluate the test tracks at the end.
    progress : bool
    logger : genrelens.loggers.Logger, optional
        Receives each epoch's numbers (:func:`genrelens.training.transfer.fit_head`).

    Raises
    ------
    ParameterError
        For a config that is not a transfer model.
    CheckpointError
        If the musicnn wheel is missing (the message says how to install it).
    DatasetError
        If fewer than two classes have readable tracks.
    """
    from genrelens.data import default_split, open_dataset
    from genrelens.models.musicnn import MUSICNN_FEATURES
    from genrelens.models.transfer import state_digest
    from genrelens.training.loop import _history_csv
    from genrelens.training.transfer import (
        TransferRunResult, _backbone_name, embed_dataset, fit_head, new_transfer_model,
        save_transfer_checkpoint,
    )

    backbone = _backbone_name(config)
    if config.model_args.get("finetune", "none") != "none":
        raise ParameterError(
            f"model_args finetune={config.model_args['finetune']!r}: a fine-tuned backbone "
            "trains with genrelens.training.train_run (genrelens train --finetune), not here."
        )
    run_dir = Path(out)
    cache = Path(cache_dir) if cache_dir is not None else run_dir.absolute().parent / "cache"
    dataset = open_dataset(data)
    split = split or default_split(dataset, random_state=config.seed)
    split.validate(dataset)
    model = new_transfer_model(config, n_classes=len(dataset.class_names), weights=weights)
    embeddings, skips, embedding_seconds = embed_dataset(
        dataset, model=model, backbone=backbone, cache_dir=cache, progress=progress
    )
    for message in _data_warnings(dataset, skips):
        warnings.warn(message, UserWarning, stacklevel=2)
    refusal = _refusal(dataset, skips)
    if refusal is not None:
        raise refusal
    run_dir.mkdir(parents=True, exist_ok=True)
    split.save(run_dir / SPLIT_FILE)
    digest = state_digest(model.backbone)
    write_json(run_dir / TRAIN_CONFIG_FILE, {
        "data": os.fspath(Path(data).absolute()),
        "cache": os.fspath(cache.absolute()),
        "feature_config": MUSICNN_FEATURES.to_dict(),
        "train": config.to_dict(),
        "transfer": {"backbone": backbone, "backbone_sha256": digest, "frozen": True},
    })
    fit = fit_head(model, train=embeddings.subset(split.train),
                   valid=embeddings.subset(split.valid), config=config, logger=logger)
    write_text(run_dir / HISTORY_FILE, _history_csv(fit.history))
    save_transfer_checkpoint(run_dir / CHECKPOINT_FILE, model=model, config=config,
                             class_names=tuple(dataset.class_names), fit=fit)
    metrics = None
    if evaluate:
        metrics = evaluate_run(run_dir, features=embeddings.subset(split.test),
                               progress=progress)
    return TransferRunResult(run_dir=run_dir, model=model, fit=fit, metrics=metrics,
                             embedding_seconds=embedding_seconds)
