"""The result of the global view (:func:`~genrelens.inspection.pipeline.global_analysis`) and
its writer.

Files written by :func:`write_global` to ``OUT`` (``RUN/global/`` for ``genrelens global``)::

    aggregate.csv / aggregate.json       per method, kind, genre, component: mean, mean_abs, std, n
    aggregate_<method>_<kind>.png        genre x component heat map of the mean signed score
    descriptor_ranking.csv               per genre: rank, descriptor, importance (projection)
    ale/<descriptor>.json / .png         ALE of each ranked descriptor, all classes
    genres/<genre>.png                   the genre's top-k ALE curves for its class
    summary.json                         parameters, ranking, cost, per-genre findings in words
    index.json                           the files above by role (genrelens.results)

:meth:`GlobalResult.from_dir` reads them back (equal to the result written).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from genrelens._io import safe_file_name, write_csv_rows, write_json
from genrelens.inspection.ale import ALEResult
from genrelens.results import FolderResult

__all__ = ["GlobalResult", "write_global"]


@dataclasses.dataclass(frozen=True, eq=False)
class GlobalResult(FolderResult):
    """The global view of a model on a set of segments.

    Attributes
    ----------
    params : dict
        The settings (``method``, ``kinds``, ``fill``, ``n_samples``, ``n_bands``, ``top_k``,
        ``n_bins``, ``n_bootstrap``, ``ale_output``, ``random_state``).
    class_names : tuple of str
    component_names : dict
        Component kind -> names of its components (columns of the aggregate heat maps).
    aggregate : tuple of dict
        Rows of :func:`~genrelens.inspection.aggregate.aggregate_scores` with their ``method``
        (a hybrid gives its LIME and KernelSHAP views).
    ranking : tuple of dict
        Per genre: ``genre``, ``rank``, ``descriptor``, ``importance``.
    ale : dict
        Descriptor name -> :class:`~genrelens.inspection.ale.ALEResult`.
    findings : dict
        Genre -> its top descriptors: ``descriptor``, ``importance``, ``unit``, ``from``,
        ``to``, ``change`` and a sentence ``text``.
    n_local_segments, n_ale_segments : int
        Segments explained locally; segments the ALE curves average over.
    cost : dict
        ``local_evaluations``, ``ale_evaluations``, ``seconds``.
    source : dict
        Where the segments came from (``run``, ``set`` for a run directory; else empty).
    """

    RESULT = "global"

    params: dict[str, Any]
    class_names: tuple[str, ...]
    component_names: dict[str, tuple[str, ...]]
    aggregate: tuple[dict[str, Any], ...]
    ranking: tuple[dict[str, Any], ...]
    ale: dict[str, ALEResult]
    findings: dict[str, list[dict[str, Any]]]
    n_local_segments: int
    n_ale_segments: int
    cost: dict[str, Any]
    source: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON content of ``summary.json`` (the ALE curves are in their own files)."""
        return {
            **self.params, **self.source,
            "class_names": list(self.class_names),
            "component_names": {k: list(v) for k, v in self.component_names.items()},
            "n_local_segments": self.n_local_segments, "n_ale_segments": self.n_ale_segments,
            "ranking": [dict(r) for r in self.ranking], "findings": self.findings,
            "cost": self.cost,
            "descriptor_mapping": "see genrelens.inspection.aggregate (band scores -> band "
                                  "energies, all bands -> loudness, log-frequency slope -> "
                                  "spectral tilt, harmonic minus percussive stems -> "
                                  "hp_balance; tempo unranked)",
            "ale": {name: res.to_dict() for name, res in self.ale.items()},
        }

    @classmethod
    def _from_folder(cls, folder: Path, index: dict[str, Any],
                     summary: dict[str, Any]) -> GlobalResult:
        ale = [ALEResult.from_dict(cls._read_json(folder / p)) for p in index["files"]["ale"]]
        params, source = cls._split_summary(summary, extra=["descriptor_mapping"])
        return cls(
            params=params, class_names=tuple(summary["class_names"]),
            component_names={k: tuple(v) for k, v in summary["component_names"].items()},
            aggregate=tuple(cls._read_json(folder / "aggregate.json")),
            ranking=tuple(summary["ranking"]), ale={r.feature_names[0]: r for r in ale},
            findings=summary["findings"], n_local_segments=summary["n_local_segments"],
            n_ale_segments=summary["n_ale_segments"], cost=summary["cost"], source=source,
        )


def write_global(result: GlobalResult, out: str | os.PathLike[str], *,
                 plots: bool = True) -> Path:
    """Write the aggregates, the ranking, the ALE results and (``plots``) the figures of a
    global view to the folder ``out`` (created), then ``OUT/index.json``.

    The files are those of the module docstring; the figures are drawn by
    :func:`genrelens.display.plot_ale_result`, :func:`~genrelens.display.plot_genre_ale` and
    :func:`~genrelens.display.plot_aggregate`. Returns the path of the index.
    """
    from genrelens import display

    out = Path(out)
    rows = [dict(r) for r in result.aggregate]
    files = {
        "tables": [write_csv_rows(out / "aggregate.csv", rows),
                   write_csv_rows(out / "descriptor_ranking.csv", list(result.ranking))],
        "data": [write_json(out / "aggregate.json", rows)],
        "ale": [res.save(out / "ale" / f"{safe_file_name(name)}.json")
                for name, res in result.ale.items()],
    }
    figures: dict[str, Any] = {}
    if plots:
        for name, res in result.ale.items():
            figures[f"ale/{safe_file_name(name)}.png"] = display.plot_ale_result(res)
        for genre in result.class_names:
            figures[f"genres/{safe_file_name(genre)}.png"] = display.plot_genre_ale(result,
                                                                                    genre)
        for method, kind in sorted({(r["method"], r["kind"]) for r in rows}):
            figures[f"aggregate_{method}_{kind}.png"] = display.plot_aggregate(
                result, method=method, kind=kind)
    return result._write_folder(out, files=files, figures=figures, separate=["ale"])
