"""A tabular baseline on GTZAN's hand-crafted features, explained globally with ALE.

:func:`train_tabular` fits scikit-learn's ``HistGradientBoostingClassifier`` on the rows of a
Kaggle feature table (``features_30_sec.csv`` or ``features_3_sec.csv``, read by
:func:`genrelens.data.tabular.load_feature_table`) with a *track-level* split (every 3-s row of
a track stays in that track's set), reports accuracy on the validation and test tracks
(for the 3-s table also per track, averaging the probabilities of the track's rows), and
computes first-order ALE curves (:func:`genrelens.inspection.ale.ale`) of every feature on the test
rows. Features are ranked by the size of their ALE effect (the data-weighted standard
deviation of the centred curve, averaged over classes — an ALE analogue of Greenwell et al.'s
(2018) partial-dependence importance), and the curves of the top features are saved and
plotted.

Saving the model
----------------
``skops`` (a safe format for scikit-learn models) is not available, so the model is stored
with :mod:`joblib`, i.e. **pickle**: loading a pickle runs arbitrary code. genrelens writes
``model.joblib`` beside ``model.json``, which records the SHA-256 of the pickle, the feature
and class names and the scikit-learn version; :func:`load_tabular_model` refuses a pickle whose
hash differs. That detects accidental mix-ups, not an attacker who can write both files:
**only load model files you made yourself.** The fit is deterministic (``random_state``), so
the same command on the same table and split rebuilds the same model instead of trusting a
file from elsewhere.

References
----------
Apley, D. W. & Zhu, J. (2020). Visualizing the effects of predictor variables in black box
supervised learning models. JRSS-B 82(4).
Greenwell, B. M., Boehmke, B. C. & McCarthy, A. J. (2018). A simple and effective model-based
variable importance measure. arXiv:1805.04755.
Ke, G. et al. (2017). LightGBM: A highly efficient gradient boosting decision tree. NeurIPS
(the histogram-based boosting that scikit-learn's estimator follows).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._io import atomic_path, write_csv_rows, write_json
from genrelens._io import safe_file_name as _safe
from genrelens._validation import check_int
from genrelens.errors import GenrelensError
from genrelens.inspection.ale import ALEResult, ale

__all__ = [
    "table_dataset",
    "rank_features",
    "train_tabular",
    "load_tabular_model",
]


def table_dataset(table: Any, *, root: str | os.PathLike[str]) -> Any:
    """The tracks of a feature table as a :class:`~genrelens.data.Dataset` (for splitting only).

    The tracks' paths are placeholders (``root/<track_id>.wav``); nothing is opened. The
    layout is ``"gtzan-kaggle"``, so :func:`genrelens.data.default_split` applies the
    fault-filtered split when its lists are available.
    """
    from genrelens.data import Dataset, Track

    first: dict[str, str] = {}
    for tid, label in zip(table.track_ids, table.labels):
        first.setdefault(str(tid), table.class_names[int(label)])
    tracks = tuple(
        Track(track_id=t, path=Path(root) / f"{t}.wav", label=first[t]) for t in sorted(first)
    )
    return Dataset(root=Path(root), layout="gtzan-kaggle", tracks=tracks,
                   class_names=tuple(table.class_names))


def rank_features(results: list[ALEResult]) -> list[tuple[str, float]]:
    """Features by decreasing ALE importance (mean over outputs of :meth:`ALEResult.importance`)."""
    scored = [(r.feature_names[0], float(np.mean(r.importance()))) for r in results]
    return sorted(scored, key=lambda item: (-item[1], item[0]))


def train_tabular(
    features: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    split: Any = None,
    split_dir: str | os.PathLike[str] | None = None,
    verify: bool = True,
    random_state: int = 0,
    max_iter: int = 200,
    n_top: int = 6,
    n_bins: int = 10,
    n_bootstrap: int = 50,
    plots: bool = True,
) -> dict[str, Any]:
    """Fit the gradient-boosting baseline, evaluate it and write its ALE curves.

    Parameters
    ----------
    features : path-like
        A Kaggle GTZAN feature table (``features_30_sec.csv`` or ``features_3_sec.csv``).
    out : path-like
        Output folder: ``model.joblib`` + ``model.json``, ``metrics.json``,
        ``feature_ranking.csv``, ``ale/<feature>.json`` (+ ``.png``) for the top features.
    split : Split, optional
        Track split; default :func:`genrelens.data.default_split` of the table's tracks.
    split_dir : path-like, optional
        Folder with the fault-filtered lists, passed to ``default_split``.
    verify : bool
        Check the lists' sha256 (``False`` accepts a copy whose bytes differ).
    random_state : int
        Seed of the split (if random), the classifier and the bootstrap.
    max_iter : int
        Boosting iterations.
    n_top : int
        Features whose ALE curves are saved and plotted.
    n_bins, n_bootstrap : int
        ALE quantile bins and bootstrap replicates.
    plots : bool
        Write PNG plots.

    Returns
    -------
    dict
        The content of ``metrics.json``: accuracies, set sizes, split name and warnings,
        the ranking of the top features, paths written.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from genrelens.data import default_split
    from genrelens.data.tabular import load_feature_table, split_feature_table

    for name, value in (("max_iter", max_iter), ("n_top", n_top)):
        check_int(name, value, minimum=1)
    out = Path(out)
    table = load_feature_table(features)
    if split is None:
        split = default_split(table_dataset(table, root=Path(features).parent),
                              split_dir=split_dir, verify=verify, random_state=random_state)
    sets = split_feature_table(table, split)
    for name in ("train", "test"):
        if len(sets[name]) == 0:
            raise GenrelensError(
                f"split {split.name!r} leaves no rows of {features} in the {name} set: does the "
                "split belong to this table's tracks?"
            )
    model = HistGradientBoostingClassifier(max_iter=max_iter, random_state=random_state)
    model.fit(sets["train"].X, sets["train"].labels)
    # predict_proba has one column per class seen in training: map to all classes
    col = {int(c): j for j, c in enumerate(model.classes_)}
    n_classes = len(table.class_names)

    def predict_proba(X: np.ndarray) -> np.ndarray:
        p = model.predict_proba(X)
        full = np.zeros((len(X), n_classes))
        for c, j in col.items():
            full[:, c] = p[:, j]
        return full

    metrics: dict[str, Any] = {
        "features": str(Path(features).name),
        "model": "HistGradientBoostingClassifier",
        "params": {"max_iter": max_iter, "random_state": random_state},
        "split": {"name": split.name, "warnings": list(split.warnings)},
        "n_rows": {k: len(v) for k, v in sets.items()},
        "n_tracks": {k: int(len(set(v.track_ids))) for k, v in sets.items()},
        "class_names": list(table.class_names),
        "feature_names": list(table.feature_names),
    }
    for name in ("valid", "test"):
        part = sets[name]
        if len(part) == 0:
            continue
        proba = predict_proba(part.X)
        metrics[f"{name}_accuracy"] = float(np.mean(proba.argmax(1) == part.labels))
        if (part.segment_index >= 0).any():
            tids, inverse = np.unique(part.track_ids, return_inverse=True)
            mean = np.zeros((len(tids), n_classes))
            np.add.at(mean, inverse, proba)
            truth = np.zeros(len(tids), dtype=int)
            truth[inverse] = part.labels
            metrics[f"{name}_track_accuracy"] = float(np.mean(mean.argmax(1) == truth))
    _save_model(model, out, table=table, metrics=metrics)
    test = sets["test"]
    results = [
        dataclasses.replace(res, params={**res.params, "output": "probabilities"})
        for res in (
            ale(predict_proba, test.X, features=j, feature_names=table.feature_names,
                output_names=table.class_names, n_bins=n_bins, n_bootstrap=n_bootstrap,
                random_state=random_state)
            for j in range(test.X.shape[1])
        )
    ]
    ranking = rank_features(results)
    by_name = {r.feature_names[0]: r for r in results}
    write_csv_rows(out / "feature_ranking.csv", [
        {"rank": i, "feature": f, "ale_importance": v} for i, (f, v) in enumerate(ranking, 1)
    ])
    written = []
    for feature, _ in ranking[:n_top]:
        path = by_name[feature].save(out / "ale" / f"{_safe(feature)}.json")
        written.append(path.name)
        if plots:
            from genrelens import display

            display.save_png(display.plot_ale_result(by_name[feature]), path.with_suffix(".png"))
    metrics["ale"] = {"set": "test", "n_bins": n_bins, "n_bootstrap": n_bootstrap,
                      "top": [{"feature": f, "importance": v} for f, v in ranking[:n_top]],
                      "files": written}
    write_json(out / "metrics.json", metrics)
    return metrics


def load_tabular_model(path: str | os.PathLike[str]) -> Any:
    """Load a model written by :func:`train_tabular` (``model.joblib`` beside ``model.json``).

    **Security:** the model is a pickle; loading one runs code. Only load files you made.
    The SHA-256 recorded in ``model.json`` is checked first.

    Raises
    ------
    GenrelensError
        If either file is missing or the pickle's hash differs from the record.
    """
    import joblib

    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent
    meta_path, model_path = folder / "model.json", folder / "model.joblib"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        payload = model_path.read_bytes()
    except (OSError, json.JSONDecodeError) as exc:
        raise GenrelensError(f"cannot read tabular model {model_path} / {meta_path}: {exc}") from exc
    if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
        raise GenrelensError(
            f"{model_path} does not match {meta_path} (SHA-256 differs): refusing to unpickle it; "
            "retrain with `genrelens tabular train`."
        )
    return joblib.load(io.BytesIO(payload))


def _save_model(model: Any, out: Path, *, table: Any, metrics: dict[str, Any]) -> None:
    import joblib
    import sklearn

    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    payload = buffer.getvalue()
    with atomic_path(out / "model.joblib") as tmp:
        tmp.write_bytes(payload)
    write_json(out / "model.json", {
        "format": "joblib (pickle): only load files you made yourself",
        "sha256": hashlib.sha256(payload).hexdigest(),
        "sklearn_version": sklearn.__version__,
        "feature_names": list(table.feature_names),
        "class_names": list(table.class_names),
        "params": metrics["params"],
    })
