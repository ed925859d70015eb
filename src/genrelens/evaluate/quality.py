"""The result of the explanation-quality study
(:func:`~genrelens.evaluate.xai.evaluate_explanations`) and its writer.

Files written by :func:`write_quality` to ``OUT`` (``RUN/xai/`` for ``genrelens evaluate-xai``)::

    faithfulness.csv  method, kind: deletion / insertion AUC (mean, std), faithfulness
                      correlation, label-flip rate after removing the top-k, n, fill, and the
                      off-manifold signs (:mod:`~genrelens.evaluate.manifold`): ``edge_share``
                      of the positive relevance on the grid's borders beside their
                      ``edge_area``, ``flagged`` (share of explanations with
                      ``edge_share >= EDGE_RATIO * edge_area``), ``off_probability`` (the
                      class's probability with every component off) beside
                      ``full_probability`` (the input as it is)
    curves.json       mean deletion / insertion curves per method and kind
    deletion_<kind>.png, insertion_<kind>.png
                      the curves of each kind
    sanity.csv        Spearman (signed, absolute) between explanations of the trained and a
                      fully re-initialised model, passes (threshold in the file)
    sanity_cascading.csv / .png
                      the same as the layers are re-initialised one after another from the
                      output layer down (step 0: the trained model explained again; the last
                      step is the full randomisation of sanity.csv)
    stability.csv     mean pairwise Spearman across seeds and across fills
    groundtruth.csv / .png
                      relevance mass / rank accuracy / pointing game vs the chance level
                      (only for datasets with cue masks, e.g. ``genrelens data synth``)
    cost.csv          model evaluations and seconds per explanation
    summary.json      all parameters, the tables above and headline findings
    index.json        the files above by role (:mod:`genrelens.results`)

:meth:`QualityResult.from_dir` reads them back (equal to the result written).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._io import write_csv_rows, write_json
from genrelens.results import FolderResult

__all__ = ["QualityResult", "write_quality", "cascading_curves", "cascading_figure", "TABLES"]

#: The tables of a quality result: field and CSV file stem.
TABLES = ("faithfulness", "groundtruth", "sanity", "sanity_cascading", "stability", "cost")


@dataclasses.dataclass(frozen=True, eq=False)
class QualityResult(FolderResult):
    """Faithfulness, sanity, stability, localisation and cost of explanation methods.

    Attributes
    ----------
    params : dict
        Settings and facts of the study: ``n_segments``, ``methods`` (with ``"random"``),
        ``kinds``, ``fill``, ``n_samples``, ``n_subsets``, ``flip_k``, ``n_check``,
        ``check_kind``, ``seeds``, ``fills``, ``cascading``, ``random_state``,
        ``sanity_threshold``, ``class_names``, ``model_accuracy_on_segments``.
    faithfulness : tuple of dict
        Per method and kind: deletion/insertion AUC, faithfulness correlation, label flips
        and the off-manifold signs (see :attr:`off_manifold`).
    sanity, sanity_cascading, stability, groundtruth, cost : tuple of dict
        The rows of the tables of the same names (module docstring).
    curves : dict
        ``"method/kind"`` -> mean ``deletion_curve`` and ``insertion_curve``.
    findings : dict
        ``passes_sanity``, ``fails_sanity`` and (with ground truth) ``best_localisation``.
    seconds : float
    source : dict
        Where the segments came from (``run``, ``set`` for a run directory; else empty).
    """

    RESULT = "quality"

    params: dict[str, Any]
    faithfulness: tuple[dict[str, Any], ...]
    sanity: tuple[dict[str, Any], ...]
    sanity_cascading: tuple[dict[str, Any], ...]
    stability: tuple[dict[str, Any], ...]
    groundtruth: tuple[dict[str, Any], ...]
    cost: tuple[dict[str, Any], ...]
    curves: dict[str, dict[str, list[float]]]
    findings: dict[str, Any]
    seconds: float
    source: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def off_manifold(self) -> list[dict[str, Any]]:
        """The faithfulness rows flagged as possibly off the data manifold (``flagged > 0``;
        :mod:`genrelens.evaluate.manifold`)."""
        return [row for row in self.faithfulness if row["flagged"] > 0]

    def cascading_curves(self) -> tuple[list[str], dict[tuple[str, str], np.ndarray]]:
        """The layers and curves of the cascading randomisation test
        (:func:`cascading_curves` of :attr:`sanity_cascading`)."""
        return cascading_curves(self.sanity_cascading)

    def to_dict(self) -> dict[str, Any]:
        """The JSON content of ``summary.json`` plus the ``curves``."""
        return {
            **self.params, **self.source,
            **{name: [dict(r) for r in getattr(self, name)] for name in TABLES},
            "findings": self.findings, "seconds": self.seconds, "curves": self.curves,
        }

    @classmethod
    def _from_folder(cls, folder: Path, index: dict[str, Any],
                     summary: dict[str, Any]) -> QualityResult:
        params, source = cls._split_summary(summary)
        return cls(
            params=params, **{name: tuple(summary[name]) for name in TABLES},
            curves=cls._read_json(folder / "curves.json"), findings=summary["findings"],
            seconds=summary["seconds"], source=source,
        )


def write_quality(result: QualityResult, out: str | os.PathLike[str], *,
                  plots: bool = True) -> Path:
    """Write the six tables, the mean curves and (``plots``) the figures of an
    explanation-quality ``result`` to the folder ``out`` (created), then ``OUT/index.json``.

    The files are those of the module docstring; the figures are drawn by
    :func:`genrelens.display.plot_removal_curves`, :func:`~genrelens.display.plot_localisation`
    and :func:`cascading_figure`. Returns the path of the index.
    """
    from genrelens import display

    out = Path(out)
    files = {
        "tables": [write_csv_rows(out / f"{name}.csv", [dict(r) for r in getattr(result, name)])
                   for name in TABLES],
        "data": [write_json(out / "curves.json", result.curves)],
    }
    figures: dict[str, Any] = {}
    if plots:
        for kind in result.params["kinds"]:
            for curve in ("deletion", "insertion"):
                figures[f"{curve}_{kind}.png"] = display.plot_removal_curves(
                    result, curve=curve, kind=kind)
        figures["groundtruth.png"] = display.plot_localisation(result)
        figures["sanity_cascading.png"] = cascading_figure(result.sanity_cascading)
    return result._write_folder(out, files=files, figures=figures, separate=["curves"])


def cascading_curves(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[str], dict[tuple[str, str], np.ndarray]]:
    """The cascading randomisation curves of the rows of ``sanity_cascading.csv``.

    Parameters
    ----------
    rows : sequence of mappings
        With ``method``, ``kind``, ``layer``, ``n_layers_randomized`` and ``spearman_abs``;
        values may be strings, as read back from the CSV.

    Returns
    -------
    layers : list of str
        The layer re-initialised last at each step, in order (``""`` at step 0, the trained
        model).
    curves : dict
        ``{(method, kind): spearman_abs at each step}`` (NaN where a step is missing).
    """
    layer: dict[int, str] = {}
    values: dict[tuple[str, str], dict[int, float]] = {}
    for row in rows:
        k = int(row["n_layers_randomized"])
        layer[k] = str(row["layer"])
        key = (str(row["method"]), str(row["kind"]))
        values.setdefault(key, {})[k] = float(row["spearman_abs"])
    steps = sorted(layer)
    return ([layer[k] for k in steps],
            {key: np.array([v.get(k, np.nan) for k in steps]) for key, v in values.items()})


def cascading_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """The plot of the cascading randomisation test from the rows of ``sanity_cascading.csv``.

    One line per method: its component scores of the check kind (dense maps are in the table
    only), against the layers re-initialised, with the pass threshold dashed.

    Parameters
    ----------
    rows : sequence of mappings
        As for :func:`cascading_curves`.

    Returns
    -------
    matplotlib.figure.Figure or None
        None when the rows hold no curve of component scores with at least two steps.
    """
    from genrelens import display
    from genrelens.evaluate.sanity import SANITY_THRESHOLD

    return display.plot_cascading(*cascading_curves(rows), threshold=SANITY_THRESHOLD)
