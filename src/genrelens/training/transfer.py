"""Transfer learning from a pretrained backbone: ``genrelens train --model MSD_musicnn
--frozen`` (a head on cached embeddings) or ``--finetune backend|all`` (the backbone trains
too).

:func:`genrelens.training.run.train_transfer_run` computes the embeddings of every 3-s patch
of every track once (:func:`embed_dataset`, cached), trains the head of a
:class:`~genrelens.models.transfer.TransferModel` on the training tracks' embeddings with the
validation tracks for early stopping (:func:`fit_head`, seconds on a CPU), and evaluates the
test tracks, on the same track-level split as every other run. The run directory receives
``train_config.json`` (with a ``transfer`` entry naming the backbone and its weights' sha256),
``split.json``, ``checkpoint.pt`` (the whole model: backbone, standardisation and head; it
loads with :func:`genrelens.models.load_checkpoint`), ``history.csv`` and the files of
:func:`genrelens.training.run.evaluate_run`.

Embedding cache: ``CACHE/embeddings/<backbone>-<key>.npz``, one file per dataset and backbone,
written atomically; ``key`` is the sha256 of the backbone's name, its weights' digest
(:func:`~genrelens.models.transfer.state_digest`), the front end and every track's id, label and
file sha256, so a changed file, label or weight computes it again. It holds both embeddings
(``penultimate``, ``pooled``) of each patch, with its track and patch index, and the tracks
that could not be read.

Fine-tuning (:func:`genrelens.training.run.train_run` with ``model_args`` ``finetune="backend"``
or ``"all"``) goes through the training loop of every model (:func:`genrelens.training.fit`:
same track-level split, early stopping on validation, atomic ``checkpoint.pt`` and a resumable
``last.pt``), on the segments of the backbone's own front end in the feature cache
(:func:`finetune_front_end`). A fresh run starts from the pretrained weights and from the
frozen recipe's head and standardisation (:func:`finetune_initialiser`: :func:`fit_head` on the
embedding cache, which a frozen run of the same backbone and dataset shares, so the head
starts where ``--frozen`` ends); the backbone's part then learns at ``backbone_lr``
(:attr:`~genrelens.training.config.TrainConfig.backbone_learning_rate`, default a tenth of the
head's, as in discriminative fine-tuning [1]_). Checkpoints carry ``backbone``,
``backbone_sha256`` (the pretrained weights started from), ``frozen`` and ``finetune`` in
their ``extra``, the ``model_args`` and the front end; they load without the wheel.

References
----------
.. [1] J. Howard and S. Ruder, "Universal Language Model Fine-tuning for Text
   Classification", ACL 2018 (lower learning rates for the pretrained layers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrelens._io import atomic_path
from genrelens._parallel import single_threaded_torch
from genrelens.config import FeatureConfig
from genrelens.data.check import file_sha256
from genrelens.data.loading import Skip
from genrelens.errors import AudioLoadError, ParameterError
from genrelens.loggers import Logger, log_epoch
from genrelens.models.musicnn import MUSICNN_FEATURES, MUSICNN_MODELS, musicnn_file_patches
from genrelens.models.transfer import EMBEDDING_LAYERS, TransferModel, state_digest
from genrelens.training.config import TrainConfig
from genrelens.training.early_stopping import EarlyStopping
from genrelens.training.loop import (
    _batches,
    _weighted_ce,
    class_weights,
)

__all__ = [
    "Embeddings",
    "HeadFit",
    "TransferRunResult",
    "embed_dataset",
    "embed_patches",
    "embedding_cache_file",
    "fit_head",
    "new_transfer_model",
    "model_front_end",
    "trained_model",
    "save_transfer_checkpoint",
    "test_embeddings",
    "head_probabilities",
    "finetune_front_end",
    "finetune_description",
    "finetune_initialiser",
]

_EMBEDDINGS = "embeddings"


@dataclasses.dataclass(frozen=True)
class Embeddings:
    """The backbone embeddings of the patches of a set of tracks.

    Attributes
    ----------
    layers : dict of str to numpy.ndarray, shape (n_patches, size)
        ``penultimate`` and ``pooled`` (:meth:`~genrelens.models.musicnn.Musicnn.embed`).
    track_ids : numpy.ndarray of str, shape (n_patches,)
    segment_index : numpy.ndarray of int, shape (n_patches,)
        Index of the patch in its track.
    labels : numpy.ndarray of int, shape (n_patches,)
    class_names : tuple of str
    """

    layers: dict[str, np.ndarray]
    track_ids: np.ndarray
    segment_index: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.track_ids)

    def features(self, layers: tuple[str, ...]) -> np.ndarray:
        """The named embeddings concatenated, float32 of shape (n_patches, n_features)."""
        return np.concatenate([self.layers[name] for name in layers], axis=1).astype(np.float32)

    def subset(self, track_ids: tuple[str, ...]) -> Embeddings:
        """The patches of the given tracks (in their stored order)."""
        keep = np.isin(self.track_ids, np.asarray(track_ids, dtype=str))
        return Embeddings(
            layers={name: values[keep] for name, values in self.layers.items()},
            track_ids=self.track_ids[keep],
            segment_index=self.segment_index[keep],
            labels=self.labels[keep],
            class_names=self.class_names,
        )


def embedding_cache_file(
    dataset: Any, *, backbone: str, digest: str, cache_dir: str | os.PathLike[str]
) -> Path:
    """The cache file of ``dataset``'s embeddings by a backbone with weights ``digest``."""
    described = []
    for track in dataset.tracks:
        try:
            content = file_sha256(track.path)
        except OSError:
            content = "unreadable"
        described.append([track.track_id, track.label, content])
    key = hashlib.sha256(json.dumps(
        {"backbone": backbone, "weights_sha256": digest,
         "front_end": MUSICNN_FEATURES.to_dict(),
         "classes": list(dataset.class_names), "tracks": described},
        sort_keys=True,
    ).encode()).hexdigest()
    return Path(cache_dir) / _EMBEDDINGS / f"{backbone}-{key[:20]}.npz"


def embed_patches(
    model: TransferModel, patches: np.ndarray, *, batch_size: int = 1
) -> dict[str, np.ndarray]:
    """The backbone embeddings of input patches, in evaluation mode and without gradients.

    Parameters
    ----------
    model : TransferModel
    patches : numpy.ndarray, shape (n_patches, n_mels, n_frames)
        The backbone's input (its front end, :data:`~genrelens.models.musicnn.MUSICNN_FEATURES`).
    batch_size : int
        Patches per backbone call (see :func:`embed_dataset`; call it under
        :func:`genrelens._parallel.single_threaded_torch` on a busy machine).

    Returns
    -------
    dict of str to numpy.ndarray, shape (n_patches, size)
        One entry per name of :data:`EMBEDDING_LAYERS`.
    """
    x = torch.from_numpy(np.asarray(patches, dtype=np.float32)).unsqueeze(1)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in EMBEDDING_LAYERS}
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            found = model.backbone.embed(x[start:start + batch_size])
            for name, values in zip(EMBEDDING_LAYERS, found, strict=True):
                parts[name].append(values.numpy())
    return _stack_layers(model, parts)


def _stack_layers(
    model: TransferModel, parts: dict[str, list[np.ndarray]]
) -> dict[str, np.ndarray]:
    """Each layer's pieces concatenated (an empty array of the layer's width when none)."""
    sizes = dict(zip(EMBEDDING_LAYERS, model.backbone.embedding_sizes, strict=True))
    return {name: np.concatenate(parts[name]) if parts[name]
            else np.zeros((0, sizes[name]), np.float32) for name in EMBEDDING_LAYERS}


def _compute(
    dataset: Any, *, model: TransferModel, batch_size: int, progress: bool
) -> tuple[dict[str, np.ndarray], list[Skip]]:
    """Embed every track's patches; unreadable tracks become skips."""
    from tqdm.auto import tqdm

    parts: dict[str, list[np.ndarray]] = {name: [] for name in EMBEDDING_LAYERS}
    tracks, segments, skips = [], [], []
    for i, track in enumerate(tqdm(dataset.tracks, desc="embeddings", disable=not progress)):
        try:
            patches = musicnn_file_patches(track.path)
        except AudioLoadError as exc:
            skips.append(Skip(track.track_id, str(track.path), exc.reason, str(exc)))
            continue
        for name, values in embed_patches(model, patches, batch_size=batch_size).items():
            parts[name].append(values)
        tracks.append(np.full(len(patches), i))
        segments.append(np.arange(len(patches)))
    arrays = _stack_layers(model, parts)
    arrays["track_index"] = np.concatenate(tracks) if tracks else np.zeros(0, np.int64)
    arrays["segment_index"] = np.concatenate(segments) if segments else np.zeros(0, np.int64)
    return arrays, skips


def embed_dataset(
    dataset: Any,
    *,
    model: TransferModel,
    backbone: str,
    cache_dir: str | os.PathLike[str],
    batch_size: int = 1,
    progress: bool = False,
) -> tuple[Embeddings, tuple[Skip, ...], float]:
    """The embeddings of every patch of ``dataset``, read from the cache or computed into it.

    Parameters
    ----------
    dataset : genrelens.data.Dataset
    model : TransferModel
        Its backbone computes the embeddings (in evaluation mode, without gradients).
    backbone : str
        The backbone's name (part of the cache key).
    cache_dir : path-like
        The cache folder; the file goes to its ``embeddings/`` folder.
    batch_size : int
        Patches per backbone call. The backbone runs on one torch thread: on the shared 2-core
        machine (load 8-9) ``MSD_musicnn`` embedded 11 patches/s with 1 thread at batch 1,
        against 3-5 with 2 threads or with batches of 4-16.
    progress : bool

    Returns
    -------
    embeddings : Embeddings
    skips : tuple of Skip
        Tracks that could not be read.
    seconds : float
        Time spent computing them (0 when read from the cache,
        :func:`embedding_cache_file`).
    """
    path = embedding_cache_file(dataset, backbone=backbone, digest=state_digest(model.backbone),
                                cache_dir=cache_dir)
    seconds = 0.0
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        skips = [Skip(*row) for row in json.loads(str(arrays.pop("skips")))]
    else:
        started = time.perf_counter()
        with single_threaded_torch():
            arrays, skips = _compute(dataset, model=model, batch_size=batch_size,
                                     progress=progress)
        seconds = time.perf_counter() - started
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays, skips=np.array(json.dumps(  # type: ignore[arg-type]
                [dataclasses.astuple(s) for s in skips])))
    track_index = arrays.pop("track_index")
    segment_index = arrays.pop("segment_index")
    ids = np.asarray(dataset.track_ids, dtype=str)
    return Embeddings(
        layers=arrays,
        track_ids=ids[track_index] if len(track_index) else np.zeros(0, dtype=str),
        segment_index=segment_index,
        labels=dataset.labels[track_index],
        class_names=tuple(dataset.class_names),
    ), tuple(skips), seconds


@dataclasses.dataclass(frozen=True)
class HeadFit:
    """Outcome of :func:`fit_head`.

    Attributes
    ----------
    best_epoch : int
        1-based epoch of the kept head (lowest validation loss).
    best_valid_loss, best_valid_accuracy : float
    epochs_run : int
    stopped_early : bool
    history : tuple of dict
        One row per epoch, keys :data:`genrelens.training.loop.HISTORY_COLUMNS`.
    seconds : float
        Wall-clock time of the training.
    """

    best_epoch: int
    best_valid_loss: float
    best_valid_accuracy: float
    epochs_run: int
    stopped_early: bool
    history: tuple[dict[str, Any], ...]
    seconds: float


def _loss_accuracy(
    model: TransferModel, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor
) -> tuple[float, float]:
    with torch.no_grad():
        logits = model.classify(x)
        return float(_weighted_ce(logits, y, weight)), float((logits.argmax(1) == y).double().mean())


def fit_head(
    model: TransferModel, *, train: Embeddings, valid: Embeddings, config: TrainConfig,
    logger: Logger | None = None,
) -> HeadFit:
    """Train ``model``'s head on embeddings; the backbone is not touched.

    The head's input is standardised with the training set's mean and deviation
    (:meth:`TransferModel.set_standardization`); Adam (``config.lr``, ``config.weight_decay``)
    minimises the class-weighted cross-entropy (``config.class_weight``) over mini-batches of
    ``config.batch_size`` in an order drawn from ``numpy.random.default_rng(config.seed)``;
    after each epoch the validation loss selects the kept head and stops the training after
    ``config.patience`` epochs without improvement. Seed torch before building the model for
    a reproducible head initialisation (:func:`train_transfer_run` does). The head trains on
    one torch thread (``config.threads`` is not used): its few thousand weights gain nothing
    from more, and on a busy machine 2 threads made each step 20x slower (measured).
    ``logger`` (:class:`genrelens.loggers.Logger`) receives each epoch's numbers, as in
    :func:`genrelens.training.fit`.

    Raises
    ------
    ParameterError
        If the training or validation set is empty.
    """
    for name, part in (("training", train), ("validation", valid)):
        if len(part) == 0:
            raise ParameterError(f"the {name} set has no patches: check the dataset with "
                                 "`genrelens data check`.")
    with single_threaded_torch():
        return _fit_head(model, train=train, valid=valid, config=config, logger=logger)


def _fit_head(
    model: TransferModel, *, train: Embeddings, valid: Embeddings, config: TrainConfig,
    logger: Logger | None,
) -> HeadFit:
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    x_train = torch.from_numpy(train.features(model.layers))
    x_valid = torch.from_numpy(valid.features(model.layers))
    y_train, y_valid = torch.from_numpy(train.labels), torch.from_numpy(valid.labels)
    model.set_standardization(x_train.numpy())
    weight = class_weights(train.labels, n_classes=len(train.class_names),
                           mode=config.class_weight)
    optimiser = torch.optim.Adam(model.head.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)
    stopper = EarlyStopping(patience=config.patience)
    best = {k: v.clone() for k, v in model.head.state_dict().items()}
    best_accuracy = math.nan
    history = []
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        for idx in _batches(rng.permutation(len(x_train)), config.batch_size):
            rows = torch.from_numpy(idx)
            loss = _weighted_ce(model.classify(x_train[rows]), y_train[rows], weight)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        model.eval()
        train_loss, train_accuracy = _loss_accuracy(model, x_train, y_train, weight)
        valid_loss, valid_accuracy = _loss_accuracy(model, x_valid, y_valid, weight)
        improved = stopper.step(valid_loss, epoch=epoch)
        if improved:
            best = {k: v.clone() for k, v in model.head.state_dict().items()}
            best_accuracy = valid_accuracy
        seconds = time.perf_counter() - epoch_start
        history.append({
            "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
            "valid_loss": valid_loss, "valid_accuracy": valid_accuracy, "lr": config.lr,
            "seconds": seconds, "train_segments_per_second": len(x_train) / seconds,
            "best": int(improved),
        })
        log_epoch(logger, history[-1])
        if stopper.should_stop:
            break
    model.head.load_state_dict(best)
    model.eval()
    return HeadFit(
        best_epoch=stopper.best_epoch, best_valid_loss=stopper.best,
        best_valid_accuracy=best_accuracy, epochs_run=len(history),
        stopped_early=len(history) < config.epochs, history=tuple(history),
        seconds=time.perf_counter() - started,
    )


@dataclasses.dataclass(frozen=True)
class TransferRunResult:
    """Outcome of :func:`genrelens.training.run.train_transfer_run`.

    Attributes
    ----------
    run_dir : pathlib.Path
    model : TransferModel
        The trained model (as saved in ``RUN/checkpoint.pt``), in evaluation mode.
    fit : HeadFit
    metrics : dict or None
        Test metrics (:func:`genrelens.training.run.evaluate_run`), None if not evaluated.
    embedding_seconds : float
        Time to compute the embeddings (0 when read from the cache).
    """

    run_dir: Path
    model: TransferModel
    fit: HeadFit
    metrics: dict[str, Any] | None
    embedding_seconds: float


def _backbone_name(config: TrainConfig) -> str:
    if config.model != "transfer":
        raise ParameterError(f"model={config.model!r} is invalid here: expected 'transfer' "
                             "(with model_args backbone=...).")
    if "weights" in config.model_args:
        raise ParameterError("model_args holds 'weights': give the backbone's weights as "
                             "weights= (the --wheel option), not as a model argument.")
    return str(config.model_args["backbone"])


def new_transfer_model(
    config: TrainConfig, *, n_classes: int, weights: str | os.PathLike[str] = "wheel"
) -> TransferModel:
    """A :class:`TransferModel` of ``config`` (``model="transfer"``, ``model_args`` naming the
    backbone) with pretrained backbone ``weights``, its head initialised after seeding torch
    with ``config.seed``; in evaluation mode."""
    from genrelens.models.registry import get_model

    _backbone_name(config)
    torch.manual_seed(config.seed)
    model = get_model("transfer", n_classes=n_classes, weights=weights, **config.model_args)
    assert isinstance(model, TransferModel)
    return model.eval()


def save_transfer_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: TransferModel,
    config: TrainConfig,
    class_names: tuple[str, ...],
    fit: HeadFit,
) -> Path:
    """Write a trained transfer model to ``path`` (:func:`genrelens.models.save_checkpoint`):
    the whole model with the musicnn front end, and the backbone's name, its weights' sha256,
    ``frozen`` and the head in the checkpoint's extra entries."""
    from genrelens.models import save_checkpoint

    return save_checkpoint(
        path, model=model, model_name="transfer",
        model_args={**config.model_args, "layers": list(model.layers),
                    "n_classes": len(class_names)},
        feature_config=MUSICNN_FEATURES, class_names=class_names,
        extra={"epoch": fit.best_epoch, "backbone": _backbone_name(config),
               "backbone_sha256": state_digest(model.backbone), "frozen": True,
               "head": repr(model.head)},
    )


def model_front_end(model: str, *, model_args: dict[str, Any],
                    config: FeatureConfig | None = None) -> FeatureConfig:
    """The front end to train and explain ``model`` with (:func:`trained_model`): ``config``,
    or by default the preset the model declares (``front_end``, :func:`genrelens.config.preset`;
    a pretrained backbone's is ``"musicnn"``), else ``FeatureConfig()``.

    Raises
    ------
    ParameterError
        For an unknown model or arguments it does not take, or a ``config`` other than the
        front end the model declares (its weights were trained on that input).
    """
    from genrelens.config import preset
    from genrelens.models.registry import check_model_args

    name, args = trained_model(model, model_args)
    own = getattr(check_model_args(name, {"n_classes": 2, **args}), "front_end", None)
    if own is None:
        return config or FeatureConfig()
    if config is not None and config != preset(own):
        raise ParameterError(
            f"config={config!r} is invalid for model={model!r}: its input is the {own!r} front "
            f"end; leave config out (or pass genrelens.config.preset({own!r}))."
        )
    return preset(own)


def trained_model(model: str, model_args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registered name and arguments trained for ``model``: a pretrained backbone of
    :data:`~genrelens.models.musicnn.MUSICNN_MODELS` is the frozen backbone of a
    ``"transfer"`` model (``model_args`` are then its head's), any other name itself."""
    if model in MUSICNN_MODELS:
        return "transfer", {"backbone": model, **model_args}
    return model, model_args


def test_embeddings(
    loaded: Any,
    *,
    dataset: Any,
    test: tuple[str, ...],
    cache_dir: str | os.PathLike[str],
    progress: bool = False,
) -> Embeddings:
    """The test tracks' embeddings by a loaded transfer model's backbone (from the cache).

    Parameters
    ----------
    loaded : LoadedModel
        A ``"transfer"`` checkpoint; its backbone's digest selects the cache file.
    dataset : genrelens.data.Dataset
        The dataset it was trained on (the cache holds the embeddings of all its tracks).
    test : tuple of str
        The test track ids.
    cache_dir : path-like
        The embedding cache (computed there if absent).
    progress : bool
    """
    return embed_dataset(dataset, model=loaded.model, backbone=loaded.model_args["backbone"],
                         cache_dir=cache_dir, progress=progress)[0].subset(test)


def head_probabilities(model: TransferModel, features: Embeddings) -> np.ndarray:
    """Softmax of the head's logits on embeddings, float64 of shape (n_patches, n_classes):
    the model's output on those patches without running the backbone again."""
    with torch.no_grad():
        logits = model.classify(torch.from_numpy(features.features(model.layers))).double()
    return F.softmax(logits, dim=1).numpy()


def _finetuned_backbone(config: TrainConfig) -> str:
    """The backbone of a fine-tuning config; error for a frozen one."""
    backbone = _backbone_name(config)
    if config.model_args.get("finetune", "none") == "none":
        raise ParameterError(
            "model_args has no finetune='backend' or 'all': a frozen backbone trains with "
            "genrelens.training.run.train_transfer_run (genrelens train --frozen)."
        )
    return backbone


def finetune_front_end(config: TrainConfig, feature_config: FeatureConfig | None) -> FeatureConfig:
    """The features a backbone is fine-tuned on: its own front end
    (:data:`~genrelens.models.musicnn.MUSICNN_FEATURES`), whose segments are one patch each.

    Raises
    ------
    ParameterError
        For a config that does not fine-tune a backbone, or another ``feature_config``.
    """
    _finetuned_backbone(config)
    if feature_config is not None and feature_config != MUSICNN_FEATURES:
        raise ParameterError(
            f"feature_config={feature_config!r} differs from the backbone's front end: a "
            "pretrained backbone is fine-tuned on its own input (leave feature_config out)."
        )
    return MUSICNN_FEATURES


def finetune_description(
    config: TrainConfig, *, weights: str | os.PathLike[str]
) -> dict[str, Any]:
    """What a fine-tuned checkpoint records about its backbone: ``backbone``,
    ``backbone_sha256`` (:func:`~genrelens.models.transfer.state_digest` of the pretrained
    weights it starts from), ``frozen`` (False), ``finetune`` and ``backbone_lr``.

    Raises
    ------
    CheckpointError
        If the musicnn wheel (or the folder ``weights``) is missing.
    """
    from genrelens.models.registry import get_model

    backbone = _finetuned_backbone(config)
    return {"backbone": backbone,
            "backbone_sha256": state_digest(get_model(backbone, weights=weights)),
            "frozen": False, "finetune": config.model_args["finetune"],
            "backbone_lr": config.backbone_learning_rate}


def finetune_initialiser(
    dataset: Any,
    *,
    split: Any,
    cache_dir: str | os.PathLike[str],
    config: TrainConfig,
    weights: str | os.PathLike[str],
    progress: bool = False,
) -> Callable[[nn.Module], None]:
    """The start of a fine-tuning run, for :func:`genrelens.training.fit`'s ``initialise``.

    The returned function loads the pretrained ``weights`` into the model's backbone and fits
    its head and standardisation as a frozen run would (:func:`fit_head` on the training and
    validation tracks' embeddings, read from or computed into the embedding cache of
    ``cache_dir``; ``config.seed`` orders the batches), in seconds when a frozen run of the
    same backbone and dataset cached them.
    """
    from genrelens.models.registry import get_model

    backbone = _finetuned_backbone(config)

    def initialise(model: nn.Module) -> None:
        assert isinstance(model, TransferModel)  # config.model == "transfer"
        pretrained = get_model(backbone, weights=weights)
        model.backbone.load_state_dict(pretrained.state_dict())
        embeddings = embed_dataset(dataset, model=model, backbone=backbone,
                                   cache_dir=cache_dir, progress=progress)[0]
        fit_head(model, train=embeddings.subset(split.train),
                 valid=embeddings.subset(split.valid), config=config)

    return initialise
