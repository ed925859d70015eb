"""The training loop: Adam, ReduceLROnPlateau, early stopping, resume and data parallelism.

:func:`fit` trains on log-mel segments held in RAM or memory-mapped from disk (see
:func:`genrelens.cache.load_features`): it only ever copies one batch of them, so a training set
larger than RAM works, at the cost of reading it from disk each epoch. The validation set alone
selects the saved checkpoint and drives the learning-rate schedule and early stopping; the test
set is never seen here. After every epoch rank 0 writes, each atomically and in this order,

* ``RUN/checkpoint.pt`` when the validation loss improved (a model checkpoint, see
  :mod:`genrelens.models.checkpoint`),
* ``RUN/history.csv`` (one row per finished epoch),
* ``RUN/last.pt``: model, optimiser, scheduler and early-stopping state, the numpy generator's
  and torch's RNG states, the history and the epoch count (readable with ``weights_only=True``).

A run interrupted at any moment (Ctrl-C, ``kill``) restarts from ``last.pt`` at the first
unfinished epoch and, because data order, augmentation and dropout all come from the saved
generator states, ends with the same weights as an uninterrupted run with the same seed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from genrelens._io import atomic_path, write_text
from genrelens._terminal import printable
from genrelens.config import FeatureConfig
from genrelens.device import model_device, resolve_device
from genrelens.errors import CheckpointError, ParameterError
from genrelens.loggers import Logger, log_epoch
from genrelens.models import get_model, load_torchvision_vgg16, save_checkpoint
from genrelens.models.checkpoint import read_checkpoint_dict
from genrelens.models.layers import InputNorm
from genrelens.models.vgg import VGG16
from genrelens.training.augment import mixup, spec_augment
from genrelens.training.config import TrainConfig
from genrelens.training.distributed import (
    DistContext,
    all_reduce_sum,
    default_threads,
    shard,
)
from genrelens.training.early_stopping import EarlyStopping

__all__ = [
    "fit",
    "FitResult",
    "class_weights",
    "CHECKPOINT_FILE",
    "RESUME_FILE",
    "HISTORY_FILE",
    "HISTORY_COLUMNS",
]

CHECKPOINT_FILE = "checkpoint.pt"
RESUME_FILE = "last.pt"
HISTORY_FILE = "history.csv"
HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "valid_loss",
    "valid_accuracy",
    "lr",
    "seconds",
    "train_segments_per_second",
    "best",
)
_RESUME_FORMAT = "genrelens-resume"


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    best_epoch : int
        1-based epoch of the saved checkpoint (lowest validation loss).
    best_valid_loss, best_valid_accuracy : float
        Its validation loss and segment accuracy.
    epochs_run : int
        Epochs finished in total (including those before a resume).
    stopped_early : bool
        Whether early stopping ended the run before ``config.epochs``.
    resumed_from : int
        Epochs already finished when this call started (0 for a fresh run).
    history : tuple of dict
        One row per epoch, keys :data:`HISTORY_COLUMNS`.
    train_segments_per_second : float
        Training throughput over the epochs of this call (all ranks together; nan if none ran).
    seconds : float
        Wall-clock time of this call.
    """

    best_epoch: int
    best_valid_loss: float
    best_valid_accuracy: float
    epochs_run: int
    stopped_early: bool
    resumed_from: int
    history: tuple[dict[str, Any], ...]
    train_segments_per_second: float
    seconds: float


def class_weights(labels: np.ndarray, *, n_classes: int, mode: str) -> torch.Tensor:
    """Per-class loss weights.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (n,)
        Training labels.
    n_classes : int
    mode : {"balanced", "none"}
        ``"balanced"``: ``n / (n_classes_present * count_c)`` for classes with examples and 0
        for classes without (they cannot be learnt); ``"none"``: all ones.

    Returns
    -------
    torch.Tensor, shape (n_classes,), float32
    """
    if mode == "none":
        return torch.ones(n_classes)
    if mode != "balanced":
        raise ParameterError(f"class_weight={mode!r} is invalid: expected 'balanced' or 'none'.")
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def _check_arrays(name: str, x: np.ndarray, y: np.ndarray, n_classes: int) -> None:
    if x.ndim != 3 or len(x) == 0:
        raise ParameterError(
            f"x_{name} has shape {x.shape}: expected a non-empty (n_segments, n_mels, n_frames)."
        )
    if y.shape != (len(x),):
        raise ParameterError(f"y_{name} has shape {y.shape}: expected ({len(x)},).")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ParameterError(
            f"y_{name} holds labels in [{y.min()}, {y.max()}]: expected 0..{n_classes - 1}."
        )


def _batches(indices: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive batches; a trailing batch of one joins the previous (batch norm needs >= 2)."""
    parts = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2:] = [np.concatenate(parts[-2:])]
    return parts


def _weighted_ce(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean cross-entropy ``sum(w_i ce_i) / sum(w_i)`` (0 when all weights are 0)."""
    ce = F.cross_entropy(logits, y, weight=weight, reduction="sum")
    return ce / weight[y].sum().clamp_min(torch.finfo(logits.dtype).tiny)


def _history_csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _rows(x: np.ndarray, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """Segments ``x[idx]`` as a new ``(len(idx), 1, n_mels, n_frames)`` tensor on ``device``
    (only they are read, also from a memory map)."""
    return torch.from_numpy(x[idx]).unsqueeze(1).to(device, non_blocking=True)


def _evaluate(
    model: nn.Module,
    x: np.ndarray,
    y: torch.Tensor,
    weight: torch.Tensor,
    *,
    batch_size: int,
    context: DistContext,
) -> tuple[float, float]:
    """Weighted loss and accuracy on this rank's share, all-reduced over ranks (``y`` and
    ``weight`` on the model's device)."""
    indices = np.arange(len(x))[context.rank :: context.world_size]
    loss_sum = weight_sum = correct = 0.0
    device = model_device(model)
    model.eval()
    with torch.inference_mode():
        for idx in _batches(indices, batch_size):
            logits = model(_rows(x, idx, device))
            yb = y[torch.from_numpy(idx).to(device)]
            loss_sum += float(F.cross_entropy(logits, yb, weight=weight, reduction="sum"))
            weight_sum += float(weight[yb].sum())
            correct += float((logits.argmax(1) == yb).sum())
    loss_sum, weight_sum, correct = all_reduce_sum([loss_sum, weight_sum, correct], context=context)
    loss = loss_sum / weight_sum if weight_sum > 0 else math.nan
    return loss, correct / len(x)


def _load_resume(
    path: Path, *, config: TrainConfig, class_names: Sequence[str], n_train: int, n_valid: int
) -> dict[str, Any] | None:
    """The resume state in ``path``, or None if absent; error if it belongs to other settings."""
    if not path.is_file():
        return None
    state = read_checkpoint_dict(path)
    if state.get("format") != _RESUME_FORMAT:
        raise CheckpointError(f"resume file {path} is not a genrelens resume file.")
    expected = {
        "train_config": config.to_dict(),
        "class_names": list(class_names),
        "n_train": n_train,
        "n_valid": n_valid,
    }
    saved = dict(state)
    try:  # a run written before fields were added to TrainConfig has their defaults
        saved["train_config"] = TrainConfig.from_dict(state["train_config"]).to_dict()
    except (KeyError, TypeError, ParameterError):
        pass  # unreadable: compared as it is, so it differs
    differing = [key for key, value in expected.items() if saved.get(key) != value]
    if differing:
        raise ParameterError(
            f"{path} belongs to a run with different {differing}: delete it (or train again with "
            "--restart) to start afresh, or use another run directory."
        )
    return state


def _parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Adam's parameter groups: the trainable parameters at ``config.lr``, those of a
    fine-tuned backbone (``model.finetuned_parameters()``) at
    ``config.backbone_learning_rate``; parameters with ``requires_grad=False`` stay out."""
    finetuned = getattr(model, "finetuned_parameters", None)
    backbone = list(finetuned()) if callable(finetuned) else []
    ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups = [{"params": rest, "lr": config.lr}]
    if backbone:
        groups.append({"params": backbone, "lr": config.backbone_learning_rate})
    return groups


def fit(
    *,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    class_names: Sequence[str],
    feature_config: FeatureConfig,
    config: TrainConfig,
    run_dir: str | Path,
    progress: bool = True,
    context: DistContext | None = None,
    device: str | torch.device | None = "auto",
    logger: Logger | None = None,
    initialise: Callable[[nn.Module], None] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
) -> FitResult:
    """Train a registered model, keep the best on validation, resume if ``run_dir`` holds a run.

    Parameters
    ----------
    x_train, x_valid : numpy.ndarray, shape (n, n_mels, n_frames)
        Log-mel dB segments, float32 in RAM or memory-mapped (e.g. ``Features.logmel`` of
        ``load_features(..., memmap=True)``); other dtypes are converted (a copy in RAM).
    y_train, y_valid : numpy.ndarray of int, shape (n,)
        Labels (indices into ``class_names``).
    class_names : sequence of str
    feature_config : FeatureConfig
        Stored in the checkpoint: how the segments were computed.
    config : TrainConfig
    run_dir : path-like
        Receives ``checkpoint.pt``, ``history.csv`` and ``last.pt``; an existing ``last.pt``
        from the same settings is resumed.
    progress : bool
        Show tqdm progress bars on stderr (rank 0 only).
    context : DistContext or None
        The data-parallel context (:func:`genrelens.training.distributed.setup`); ``None``
        means one process.
    device : str or torch.device, default "auto"
        Where the model trains (:func:`genrelens.device.resolve_device`: CUDA when available,
        else the CPU); batches are moved there. Not part of the run's settings: a run can be
        resumed on another device (checkpoints and ``last.pt`` are read onto the CPU).
    logger : genrelens.loggers.Logger, optional
        Receives every finished epoch's numbers (the ``history.csv`` row without ``epoch``
        and ``best``; step = epoch) on rank 0, e.g. a
        :class:`~genrelens.loggers.TensorBoardLogger`. It is not closed here.
    initialise : callable, optional
        Called with the new model (on the CPU) at the start of a fresh run, not when resuming
        (``last.pt`` holds its weights then): e.g. loading a pretrained backbone and fitting a
        head on its embeddings (:func:`genrelens.training.transfer.finetune_initialiser`).
    checkpoint_extra : dict, optional
        More entries for the ``extra`` of every saved checkpoint (e.g. the backbone's name and
        weights' sha256).

    Returns
    -------
    FitResult

    Raises
    ------
    ParameterError
        For inconsistent arrays or a ``last.pt`` from other settings.
    CheckpointError
        For an unreadable ``last.pt`` or pretrained file.
    """
    started = time.perf_counter()
    context = context or DistContext()
    run_dir = Path(run_dir)
    x_train, x_valid = np.asarray(x_train, np.float32), np.asarray(x_valid, np.float32)
    y_train, y_valid = np.asarray(y_train, np.int64), np.asarray(y_valid, np.int64)
    n_classes = len(class_names)
    _check_arrays("train", x_train, y_train, n_classes)
    _check_arrays("valid", x_valid, y_valid, n_classes)
    torch.set_num_threads(config.threads or default_threads(context=context))
    device = resolve_device(device)

    resume = _load_resume(
        run_dir / RESUME_FILE,
        config=config,
        class_names=class_names,
        n_train=len(x_train),
        n_valid=len(x_valid),
    )
    torch.manual_seed(config.seed)
    model_args = {"n_classes": n_classes, **config.model_args}
    model = get_model(config.model, **model_args)
    if resume is None and initialise is not None:
        initialise(model)
    model = model.to(device)
    optimizer = torch.optim.Adam(_parameter_groups(model, config),
                                 weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
    )
    stopper = EarlyStopping(patience=config.patience)
    rng = np.random.default_rng(config.seed)
    history: list[dict[str, Any]] = []
    finished = False
    norm = getattr(model, "input_norm", None)
    if resume is None:
        if isinstance(norm, InputNorm):
            norm.fit(x_train)
        if config.pretrained is not None:
            assert isinstance(model, VGG16)  # TrainConfig allows pretrained for vgg16 only
            load_torchvision_vgg16(model, config.pretrained)
    else:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        stopper.load_state_dict(resume["early_stopping"])
        rng.bit_generator.state = resume["numpy_rng"]
        torch.set_rng_state(resume["torch_rng"])
        history = [dict(row) for row in resume["history"]]
        finished = bool(resume["finished"])
        if context.is_main:  # last.pt holds the history: repair a damaged or deleted copy
            write_text(run_dir / HISTORY_FILE, _history_csv(history))
    resumed_from = len(history)

    net: nn.Module = model
    if context.active:
        net = nn.parallel.DistributedDataParallel(model)
    weight = class_weights(y_train, n_classes=n_classes, mode=config.class_weight).to(device)
    fill = float(norm.mean) if isinstance(norm, InputNorm) else float(x_train.mean())
    yt, yv = torch.from_numpy(y_train).to(device), torch.from_numpy(y_valid).to(device)
    local_batch = max(1, config.batch_size // context.world_size)
    show = progress and context.is_main
    train_seconds, train_segments = 0.0, 0

    def save_resume() -> None:
        state = {
            "format": _RESUME_FORMAT,
            "train_config": config.to_dict(),
            "class_names": list(class_names),
            "n_train": len(x_train),
            "n_valid": len(x_valid),
            "epoch": len(history),
            "finished": finished,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "early_stopping": stopper.state_dict(),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": history,
        }
        with atomic_path(run_dir / RESUME_FILE) as tmp:
            torch.save(state, tmp)

    if resumed_from and show and not finished:
        tqdm.write(printable(f"resuming after epoch {resumed_from} from {run_dir / RESUME_FILE}"),
                   file=sys.stderr)
    for epoch in range(len(history), config.epochs):
        if finished:
            break
        start = time.perf_counter()
        net.train()
        mine = shard(rng.permutation(len(x_train)), context=context)
        batches = _batches(mine, local_batch)
        loss_sum = correct = seen = 0.0
        bar = tqdm(
            batches, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False,
            disable=not show,
        )
        for idx in bar:
            xb, yb = _rows(x_train, idx, device), yt[torch.from_numpy(idx).to(device)]
            if config.spec_augment:
                xb = spec_augment(xb, rng=rng, fill=fill)
            if config.mixup_alpha > 0:
                xb, ya, yb2, lam = mixup(xb, yb, alpha=config.mixup_alpha, rng=rng)
                logits = net(xb)
                loss = lam * _weighted_ce(logits, ya, weight) + (1 - lam) * _weighted_ce(
                    logits, yb2, weight
                )
            else:
                logits = net(xb)
                loss = _weighted_ce(logits, yb, weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += float((logits.detach().argmax(1) == yb).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        elapsed = time.perf_counter() - start
        loss_sum, correct, seen = all_reduce_sum([loss_sum, correct, seen], context=context)
        train_seconds += elapsed
        train_segments += int(seen)
        valid_loss, valid_acc = _evaluate(
            model, x_valid, yv, weight, batch_size=local_batch * 2, context=context
        )
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(valid_loss)
        improved = stopper.step(valid_loss, epoch=epoch + 1)
        row = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "valid_loss": valid_loss,
            "valid_accuracy": valid_acc,
            "lr": lr,
            "seconds": time.perf_counter() - start,
            "train_segments_per_second": seen / elapsed,
            "best": int(improved),
        }
        history.append(row)
        if context.is_main:
            log_epoch(logger, row)
        finished = stopper.should_stop or epoch + 1 == config.epochs
        if show:
            tqdm.write(
                f"epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss']:.4f} "
                f"acc {row['train_accuracy']:.3f} | valid loss {valid_loss:.4f} "
                f"acc {valid_acc:.3f} | lr {lr:.2g} | {row['seconds']:.1f} s"
                + (" | best" if improved else ""),
                file=sys.stderr,
            )
        if context.is_main:
            if improved:
                save_checkpoint(
                    run_dir / CHECKPOINT_FILE,
                    model=model,
                    model_name=config.model,
                    model_args=model_args,
                    feature_config=feature_config,
                    class_names=class_names,
                    extra={
                        **(checkpoint_extra or {}),
                        "epoch": epoch + 1, "valid_loss": valid_loss, "valid_accuracy": valid_acc
                    },
                )
            write_text(run_dir / HISTORY_FILE, _history_csv(history))
            save_resume()
        context.barrier()
    best = next((row for row in history if row["epoch"] == stopper.best_epoch), None)
    return FitResult(
        best_epoch=stopper.best_epoch,
        best_valid_loss=stopper.best,
        best_valid_accuracy=math.nan if best is None else float(best["valid_accuracy"]),
        epochs_run=len(history),
        stopped_early=len(history) < config.epochs,
        resumed_from=resumed_from,
        history=tuple(history),
        train_segments_per_second=train_segments / train_seconds if train_seconds else math.nan,
        seconds=time.perf_counter() - started,
    )
