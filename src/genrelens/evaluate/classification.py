"""Classification metrics at segment and track level (pure functions over arrays).

A model classifies fixed-length segments; a track's prediction is the mean of its segments'
class probabilities (probability averaging, the usual "vote" of segment-based genre
classifiers). Every metric is a pure function of labels and predictions:

``confusion_matrix``  counts ``C[i, j]`` of true class ``i`` predicted as ``j``.
``accuracy``          fraction of correct predictions.
``precision_recall_f1``  per class, from the confusion matrix.
``macro_f1``          unweighted mean F1 over the classes present in ``y_true`` or ``y_pred``
                      (scikit-learn's ``f1_score(average="macro")`` convention).
``log_loss``          mean ``-log p(true class)``, probabilities clipped to ``[1e-15, 1]``.
``track_probabilities``  mean segment probabilities per track.
``classification_report`` / ``evaluate_predictions``  all of the above as JSON-ready dicts.

Degenerate input, defined once for all: **a ratio whose denominator is zero is 0.0**
(scikit-learn's ``zero_division=0``). So the accuracy and loss of empty input are 0.0; the
precision of a class never predicted, the recall of a class absent from ``y_true``, and the F1
of a class whose precision and recall are both 0 are 0.0; ``macro_f1`` of empty input is 0.0.
The predicted class is the arg-max of the probabilities; ties go to the lowest class index.

References
----------
C. D. Manning, P. Raghavan and H. Schütze, *Introduction to Information Retrieval*, 2008,
ch. 8 (precision, recall, F1, macro averaging). B. L. Sturm, "The state of the art ten years
after a state of the art: future research in music information retrieval", JNMR 43(2), 2014
(why accuracy on GTZAN needs confusion matrices and artist-filtered splits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrelens.errors import ParameterError

__all__ = [
    "confusion_matrix",
    "accuracy",
    "precision_recall_f1",
    "macro_f1",
    "log_loss",
    "track_probabilities",
    "classification_report",
    "evaluate_predictions",
]

_EPS = 1e-15


def _labels(name: str, y: Any, n_classes: int | None = None) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ParameterError(f"{name} has shape {arr.shape}: expected 1-D class indices.")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"{name} has dtype {arr.dtype}: expected integer class indices.")
    arr = arr.astype(np.int64)
    if n_classes is not None and arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ParameterError(
            f"{name} holds labels in [{arr.min()}, {arr.max()}]: expected 0..{n_classes - 1}."
        )
    return arr


def _pair(y_true: Any, y_pred: Any, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels("y_true", y_true, n_classes), _labels("y_pred", y_pred, n_classes)
    if t.shape != p.shape:
        raise ParameterError(f"y_true has {t.size} labels but y_pred has {p.size}: expected equal.")
    return t, p


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def confusion_matrix(y_true: Any, y_pred: Any, *, n_classes: int) -> np.ndarray:
    """Counts of true class (rows) against predicted class (columns).

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
    n_classes : int

    Returns
    -------
    numpy.ndarray of int64, shape (n_classes, n_classes)
        All zeros for empty input.
    """
    if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes <= 0:
        raise ParameterError(f"n_classes={n_classes!r} is invalid: expected a positive integer.")
    t, p = _pair(y_true, y_pred, n_classes)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of ``y_pred`` equal to ``y_true`` (0.0 for empty input)."""
    t, p = _pair(y_true, y_pred)
    return float(_ratio(np.sum(t == p), t.size))


def precision_recall_f1(matrix: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix.

    Parameters
    ----------
    matrix : array-like, shape (n_classes, n_classes)
        Rows true, columns predicted (:func:`confusion_matrix`).

    Returns
    -------
    precision, recall, f1 : numpy.ndarray, shape (n_classes,)
        0.0 where the denominator is zero.
    """
    cm = np.asarray(matrix, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ParameterError(f"matrix has shape {cm.shape}: expected a square confusion matrix.")
    tp = np.diag(cm)
    precision = _ratio(tp, cm.sum(axis=0))
    recall = _ratio(tp, cm.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1


def macro_f1(matrix: Any) -> float:
    """Mean F1 over the classes that occur in ``y_true`` or ``y_pred`` (0.0 if none do)."""
    cm = np.asarray(matrix, dtype=np.float64)
    _, _, f1 = precision_recall_f1(cm)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(f1[present].mean()) if present.any() else 0.0


def _probabilities(probs: Any) -> np.ndarray:
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 2:
        raise ParameterError(f"probabilities have shape {arr.shape}: expected (n, n_classes).")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError("probabilities hold negative or non-finite values.")
    return arr


def log_loss(y_true: Any, probs: Any) -> float:
    """Mean cross-entropy ``-log p[i, y_true[i]]`` (natural log; 0.0 for empty input).

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
    probs : array-like, shape (n, n_classes)
        Class probabilities (rows need not be renormalised); clipped to ``[1e-15, 1]``.
    """
    p = _probabilities(probs)
    t = _labels("y_true", y_true, p.shape[1])
    if t.size != p.shape[0]:
        raise ParameterError(f"y_true has {t.size} labels but probs has {p.shape[0]} rows.")
    picked = np.clip(p[np.arange(t.size), t], _EPS, 1.0)
    return float(_ratio(-np.log(picked).sum(), t.size))


def track_probabilities(
    probs: Any, track_ids: Sequence[str] | np.ndarray, labels: Any | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Average segment probabilities per track.

    Parameters
    ----------
    probs : array-like, shape (n_segments, n_classes)
    track_ids : array-like of str, shape (n_segments,)
    labels : array-like of int, shape (n_segments,), optional
        Segment labels; all segments of a track must share one.

    Returns
    -------
    tracks : numpy.ndarray of str, shape (n_tracks,)
        In order of first appearance.
    track_probs : numpy.ndarray, shape (n_tracks, n_classes)
        Mean probabilities of each track's segments.
    track_labels : numpy.ndarray of int, shape (n_tracks,) or None
        Present when ``labels`` is given.

    Raises
    ------
    ParameterError
        For mismatched lengths or a track whose segments carry different labels.
    """
    p = _probabilities(probs)
    ids = np.asarray(track_ids).astype(str)
    if ids.shape != (p.shape[0],):
        raise ParameterError(f"track_ids has shape {ids.shape}: expected ({p.shape[0]},).")
    tracks, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = rank[inverse]
    counts = np.bincount(group, minlength=order.size).astype(np.float64)
    sums = np.zeros((order.size, p.shape[1]))
    np.add.at(sums, group, p)
    track_probs = sums / np.maximum(counts, 1)[:, None]
    track_labels = None
    if labels is not None:
        y = _labels("labels", labels, p.shape[1])
        if y.shape != ids.shape:
            raise ParameterError(f"labels has shape {y.shape}: expected ({p.shape[0]},).")
        track_labels = np.zeros(order.size, dtype=np.int64)
        track_labels[group] = y
        bad = np.flatnonzero(track_labels[group] != y)
        if bad.size:
            raise ParameterError(
                f"track {str(ids[bad[0]])!r} has segments with different labels: expected one "
                "label per track."
            )
    return tracks[order], track_probs, track_labels


def classification_report(
    y_true: Any, probs: Any, *, class_names: Sequence[str]
) -> dict[str, Any]:
    """All metrics of one level (segments or tracks) as a JSON-ready dict.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
    probs : array-like, shape (n, n_classes)
    class_names : sequence of str, length n_classes

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``macro_f1``, ``loss`` (:func:`log_loss`), ``per_class``
        (``{name: {precision, recall, f1, support}}``) and ``confusion_matrix`` (nested lists).
    """
    p = _probabilities(probs)
    names = [str(c) for c in class_names]
    if p.shape[1] != len(names):
        raise ParameterError(
            f"probabilities have {p.shape[1]} columns but class_names has {len(names)} entries."
        )
    t = _labels("y_true", y_true, len(names))
    pred = p.argmax(axis=1)
    cm = confusion_matrix(t, pred, n_classes=len(names))
    precision, recall, f1 = precision_recall_f1(cm)
    return {
        "n": int(t.size),
        "accuracy": accuracy(t, pred),
        "macro_f1": macro_f1(cm),
        "loss": log_loss(t, p),
        "per_class": {
            name: {
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(cm[k].sum()),
            }
            for k, name in enumerate(names)
        },
        "confusion_matrix": cm.tolist(),
    }


def evaluate_predictions(
    probs: Any,
    labels: Any,
    track_ids: Sequence[str] | np.ndarray,
    *,
    class_names: Sequence[str],
) -> dict[str, Any]:
    """Segment-level and track-level reports of segment probabilities.

    Parameters
    ----------
    probs : array-like, shape (n_segments, n_classes)
    labels : array-like of int, shape (n_segments,)
    track_ids : array-like of str, shape (n_segments,)
    class_names : sequence of str

    Returns
    -------
    dict
        ``{"segment": classification_report(...), "track": classification_report(...)}``,
        the track level on mean segment probabilities (:func:`track_probabilities`).
    """
    _, track_probs, track_labels = track_probabilities(probs, track_ids, labels)
    return {
        "segment": classification_report(labels, probs, class_names=class_names),
        "track": classification_report(track_labels, track_probs, class_names=class_names),
    }
