"""Running a trained model on log-mel segments and on audio files.

:func:`predict_logits` / :func:`predict_proba` batch a model over unedited segments (the
explanation methods, which run models on *edited* inputs, go through
:mod:`genrelens.explain.engine` instead). :func:`predict_files` turns audio files into genre
distributions: load and cut into segments a batch at a time, log-mel with the checkpoint's
:class:`~genrelens.config.FeatureConfig` (:func:`~genrelens.features.log_mel_file`, bounded
memory, files over the maximum duration refused), average the segments' probabilities. A file that
cannot be used is reported as a :class:`~genrelens.data.loading.Skip` and the others go on.

:func:`check_outputs` is the one check of what a model returned, used wherever genrelens runs a
model (here, the perturbation engine, the gradient methods): a real tensor or array of shape
``(batch, n_classes)`` with ``n_classes >= 1``, every value finite. A NaN or infinite output
stops with a :class:`~genrelens.errors.ParameterError` naming the inputs and classes where it
appeared, never a ``nan`` probability printed as a result.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from genrelens.device import model_device, to_numpy
from genrelens.errors import AudioLoadError, ParameterError
from genrelens.models.checkpoint import LoadedModel
from genrelens.models.layers import check_positive_int

__all__ = ["predict_logits", "predict_proba", "FilePrediction", "predict_files", "check_outputs"]


def check_outputs(y: Any, *, n_inputs: int, first: int = 0) -> torch.Tensor:
    """What a model returned for a batch of ``n_inputs`` inputs, checked, as a tensor.

    Parameters
    ----------
    y : object
        The model's return value.
    n_inputs : int
        The batch size it was given.
    first : int
        Number of the batch's first input among all inputs of the call, so that the error
        names inputs by their overall number.

    Returns
    -------
    torch.Tensor, shape (n_inputs, n_classes)
        ``y`` itself when it is a tensor (its autograd graph kept), else a tensor of it.

    Raises
    ------
    ParameterError
        If ``y`` is not a real tensor or array of shape ``(n_inputs, n_classes)`` with at least
        one class, or holds NaN or infinite values (the message names the first such input and
        class and how many there are).
    """
    out = y
    if isinstance(y, np.ndarray) and (np.issubdtype(y.dtype, np.floating)
                                      or np.issubdtype(y.dtype, np.integer)):
        out = torch.from_numpy(y)
    expected = f"expected a real tensor of shape ({n_inputs}, n_classes) with n_classes >= 1"
    if not isinstance(out, torch.Tensor) or out.is_complex() or out.dtype == torch.bool:
        kind = f"a {type(y).__name__}" + (f" of dtype {y.dtype}" if hasattr(y, "dtype") else "")
        raise ParameterError(f"model returned {kind} for a batch of {n_inputs}: {expected}.")
    if out.ndim != 2 or out.shape[0] != n_inputs or out.shape[1] == 0:
        raise ParameterError(
            f"model returned shape {tuple(out.shape)} for a batch of {n_inputs}: {expected}."
        )
    bad = ~torch.isfinite(out.detach())
    if bad.any():
        rows, cols = torch.nonzero(bad, as_tuple=True)
        raise ParameterError(
            f"model returned {int(bad.sum())} NaN or infinite output(s) for inputs "
            f"{first + int(rows.min())}..{first + int(rows.max())} (first: input "
            f"{first + int(rows[0])}, class {int(cols[0])}); its weights or its computation "
            "overflow: check the checkpoint (retrain or restore it) or the model function."
        )
    return out


def predict_logits(
    model: nn.Module, x: np.ndarray | torch.Tensor, *, batch_size: int = 64
) -> np.ndarray:
    """Logits of ``model`` for a stack of log-mel segments, in evaluation mode.

    Parameters
    ----------
    model : torch.nn.Module
        A genrelens model; switched to ``eval()`` (and left so). It runs where its weights
        are (:func:`genrelens.device.model_device`): each batch is moved there and only the
        logits come back.
    x : array-like, shape (n, n_mels, n_frames) or (n, 1, n_mels, n_frames)
        Log-mel segments; a numpy array (memory-mapped ones included) is read one batch
        at a time.
    batch_size : int
        Segments per forward pass.

    Returns
    -------
    numpy.ndarray, shape (n, n_classes), float32
    """
    check_positive_int("batch_size", batch_size)
    data = x if isinstance(x, torch.Tensor) else np.asarray(x)
    device = model_device(model)
    model.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, data.shape[0], batch_size):
            batch = data[start : start + batch_size]
            if isinstance(batch, np.ndarray):
                batch = torch.from_numpy(np.array(batch, dtype=np.float32))
            batch = batch.to(device=device, dtype=torch.float32, non_blocking=True)
            y = model(batch.unsqueeze(1) if batch.ndim == 3 else batch)
            outputs.append(to_numpy(check_outputs(y, n_inputs=batch.shape[0], first=start),
                                    torch.float32))
    if not outputs:
        raise ParameterError(f"x has shape {tuple(data.shape)}: expected at least one segment.")
    return np.concatenate(outputs)


def predict_proba(
    model: nn.Module, x: np.ndarray | torch.Tensor, *, batch_size: int = 64
) -> np.ndarray:
    """Softmax probabilities of :func:`predict_logits`, float64 of shape ``(n, n_classes)``."""
    logits = torch.from_numpy(predict_logits(model, x, batch_size=batch_size)).double()
    return torch.softmax(logits, dim=1).numpy()


@dataclasses.dataclass(frozen=True)
class FilePrediction:
    """The genre distribution of one audio file.

    Attributes
    ----------
    path : str
    class_names : tuple of str
    segment_probabilities : numpy.ndarray, shape (n_segments, n_classes)
    probabilities : numpy.ndarray, shape (n_classes,)
        Mean of the segment probabilities (softmax, or sigmoid per tag for a tagger).
    """

    path: str
    class_names: tuple[str, ...]
    segment_probabilities: np.ndarray
    probabilities: np.ndarray

    @property
    def label(self) -> str:
        """The most probable class (ties: the first)."""
        return self.class_names[int(np.argmax(self.probabilities))]

    def ranked(self, *, top: int | None = None) -> list[tuple[str, float]]:
        """``(class name, probability)`` pairs, most probable first (ties: class order).

        Parameters
        ----------
        top : int, optional
            Keep only the ``top`` most probable classes (default: all).
        """
        order = np.argsort(-self.probabilities, kind="stable")[:top]
        return [(self.class_names[k], float(self.probabilities[k])) for k in order]

    def to_dict(self, *, top: int | None = None) -> dict[str, object]:
        """A JSON-ready dict (without the per-segment table).

        Parameters
        ----------
        top : int, optional
            ``probabilities`` holds only the ``top`` most probable classes, most probable
            first (default: every class, in the model's class order).
        """
        pairs = (zip(self.class_names, self.probabilities.tolist(), strict=True)
                 if top is None else self.ranked(top=top))
        return {
            "path": self.path,
            "label": self.label,
            "n_segments": int(self.segment_probabilities.shape[0]),
            "probabilities": dict(pairs),
        }


def predict_files(
    loaded: LoadedModel,
    paths: Iterable[str | os.PathLike[str]],
    *,
    batch_size: int = 64,
    progress: bool = False,
    features: Callable[[str], np.ndarray] | None = None,
    multi_label: bool = False,
) -> tuple[list[FilePrediction], list]:
    """Genre distributions of audio files; unusable files are skipped and reported.

    Parameters
    ----------
    loaded : LoadedModel
        From :func:`genrelens.models.load_checkpoint`; its ``feature_config`` defines the
        sampling rate, segments and log-mel.
    paths : iterable of path-like
        Audio files of any supported format and rate (resampled).
    batch_size : int
    progress : bool
        Show a progress bar over files on stderr.
    features : callable or None
        ``features(path) -> (n_segments, n_mels, n_frames)`` model inputs of a file, for a model
        with its own front end (e.g. :func:`genrelens.models.musicnn.musicnn_file_patches`);
        it raises :class:`~genrelens.errors.AudioLoadError` for an unusable file. ``None``:
        :func:`~genrelens.features.log_mel_file` with the checkpoint's configuration.
    multi_label : bool
        ``True`` for a tagger: each class's probability is the sigmoid of its logit
        (independent tags) instead of the softmax over classes.

    Returns
    -------
    predictions : list of FilePrediction
        In input order, for the usable files.
    skipped : list of genrelens.data.loading.Skip
        Files that could not be used, with the reason (``missing``, ``undecodable``,
        ``too_short``, ...) and message.
    """
    from tqdm.auto import tqdm

    from genrelens.data.loading import Skip
    from genrelens.features import log_mel_file

    config = loaded.feature_config
    paths = [str(p) for p in paths]
    predictions: list[FilePrediction] = []
    skipped: list[Skip] = []
    for path in tqdm(paths, desc="predicting", unit="file", disable=not progress, leave=False):
        try:
            logmel = log_mel_file(path, config=config) if features is None else features(path)
        except AudioLoadError as exc:
            skipped.append(Skip(path, path, exc.reason, str(exc)))
            continue
        try:
            if multi_label:
                logits = predict_logits(loaded.model, logmel, batch_size=batch_size)
                probs = torch.sigmoid(torch.from_numpy(logits).double()).numpy()
            else:
                probs = predict_proba(loaded.model, logmel, batch_size=batch_size)
        except ParameterError as exc:  # the inputs it names are this file's segments
            raise ParameterError(f"{path}: segments as inputs: {exc}") from None
        predictions.append(
            FilePrediction(
                path=path,
                class_names=loaded.class_names,
                segment_probabilities=probs,
                probabilities=probs.mean(axis=0),
            )
        )
    return predictions, skipped
