"""Result -> writer -> display for the global view and explanation quality, and the index.

The results are built by hand (no model runs): their writers, ``from_dir`` readers, the index
the CLI and the report read, and the errors of a folder without a valid index.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from genrelens.errors import GenrelensError
from genrelens.evaluate.quality import TABLES, QualityResult, write_quality
from genrelens.inspection.ale import ALEResult
from genrelens.inspection.result import GlobalResult, write_global
from genrelens.results import INDEX_SCHEMA, INDEX_VERSION, read_index, write_index

CLASSES = ("blues", "metal")


def _ale(name: str, slope: float) -> ALEResult:
    grid = np.linspace(-40.0, -10.0, 4)
    return ALEResult(feature_names=(name,), output_names=CLASSES, grid_values=(grid,),
                     average=np.outer([slope, -slope], grid + 25.0) / 30.0, low=None, high=None,
                     bin_counts=np.array([3, 2, 3]), feature_values=np.linspace(-40, -10, 8),
                     params={"units": ["dB"], "output": "probabilities"}, n_evaluations=24,
                     seconds=0.25)


def _global_result() -> GlobalResult:
    names = ("band_energy[0-150 Hz]", "loudness")
    aggregate = tuple(
        {"method": "kernel_shap", "genre": g, "kind": "frequency", "component": f"band {m}",
         "index": m, "mean": 0.1 * (m + 1) * (1 if c else -1), "mean_abs": 0.1 * (m + 1),
         "std": float("nan"), "n": 1}
        for c, g in enumerate(CLASSES) for m in range(2))
    findings = {
        "blues": [{"descriptor": names[0], "importance": 0.3, "unit": "dB", "from": -40.0,
                   "to": -10.0, "change": 0.5, "text": "band energy rises P(blues)"}],
        "metal": [],
    }
    return GlobalResult(
        params={"method": "kernel_shap", "kinds": ["frequency"], "fill": "min", "n_samples": 8,
                "n_bands": 2, "top_k": 1, "n_bins": 3, "n_bootstrap": 0,
                "ale_output": "probabilities", "random_state": 0},
        class_names=CLASSES, component_names={"frequency": ("band 0", "band 1")},
        aggregate=aggregate,
        ranking=({"genre": "blues", "rank": 1, "descriptor": names[0], "importance": 0.3},),
        ale={names[0]: _ale(names[0], 1.0), names[1]: _ale(names[1], 0.5)}, findings=findings,
        n_local_segments=2, n_ale_segments=8,
        cost={"local_evaluations": 16, "ale_evaluations": 48, "seconds": 1.5},
        source={"run": "runs/demo", "set": "test"},
    )


def _quality_result(*, flagged: float = 0.5) -> QualityResult:
    faith = tuple(
        {"method": m, "kind": "time", "fill": "min", "n": 2, "deletion_auc": auc,
         "insertion_auc": 1 - auc, "faithfulness_corr": 0.4, "edge_share": share,
         "edge_area": 0.5, "flagged": f, "off_probability": 0.4, "full_probability": 0.9}
        for m, auc, share, f in (("occlusion", 0.2, 0.9, flagged),
                                 ("random", 0.5, float("nan"), 0.0)))
    cascade = tuple(
        {"method": m, "kind": "time", "layer": layer, "n_layers_randomized": k,
         "spearman": v, "spearman_abs": v, "n": 2}
        for m, curve in (("occlusion", (1.0, 0.3)), ("random", (0.05, 0.0)))
        for k, (layer, v) in enumerate(zip(("", "head"), curve)))
    return QualityResult(
        params={"n_segments": 2, "methods": ["occlusion", "random"], "kinds": ["time"],
                "fill": "min", "sanity_threshold": 0.5, "class_names": list(CLASSES)},
        faithfulness=faith,
        sanity=tuple({"method": m, "kind": "time", "spearman": v, "spearman_abs": v, "n": 2,
                      "threshold": 0.5, "passes": v < 0.5}
                     for m, v in (("occlusion", 0.3), ("random", 0.0))),
        sanity_cascading=cascade,
        stability=({"method": "occlusion", "kind": "time", "over": "seed",
                    "compared": "2 seeds", "mean_spearman": 1.0, "n": 2},),
        groundtruth=(), cost=({"method": "occlusion", "kind": "time", "n": 2,
                               "evaluations_per_explanation": 5.0,
                               "seconds_per_explanation": 0.01},),
        curves={f"{m}/time": {"deletion_curve": [0.9, 0.5, 0.1],
                              "insertion_curve": [0.1, 0.5, 0.9]}
                for m in ("occlusion", "random")},
        findings={"passes_sanity": ["occlusion"], "fails_sanity": []}, seconds=3.0,
    )


def _files_below(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _listed(folder):
    index = read_index(folder)
    return sorted([index["summary"], "index.json",
                   *(p for paths in index["files"].values() for p in paths)])


def test_global_result_round_trips_and_its_index_lists_every_file(tmp_path):
    result = _global_result()
    path = write_global(result, tmp_path / "global")
    assert path == tmp_path / "global" / "index.json"
    read = GlobalResult.from_dir(tmp_path / "global")
    assert read == result and read is not result
    assert math.isnan(read.aggregate[0]["std"])  # NaN survives, and compares equal
    np.testing.assert_array_equal(read.ale["loudness"].average, result.ale["loudness"].average)
    assert read.source == {"run": "runs/demo", "set": "test"}
    assert read != dataclasses.replace(result, n_ale_segments=9)
    folder = tmp_path / "global"
    assert _files_below(folder) == _listed(folder)
    index = read_index(folder, result="global")
    assert index["schema"] == INDEX_SCHEMA and index["schema_version"] == INDEX_VERSION
    assert index["files"]["ale"] == ["ale/band_energy_0-150_Hz_.json", "ale/loudness.json"]
    assert index["files"]["tables"] == ["aggregate.csv", "descriptor_ranking.csv"]
    # figures drawn from the result: an ALE per descriptor, one genre with findings, the heat map
    assert index["files"]["figures"] == [
        "aggregate_kernel_shap_frequency.png", "ale/band_energy_0-150_Hz_.png",
        "ale/loudness.png", "genres/blues.png"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["out"] == str(folder) and summary["run"] == "runs/demo"
    assert summary["findings"]["blues"][0]["change"] == 0.5 and "ale" not in summary


def test_quality_result_round_trips_without_plots(tmp_path):
    result = _quality_result()
    write_quality(result, tmp_path, plots=False)
    assert QualityResult.from_dir(tmp_path) == result
    assert _files_below(tmp_path) == _listed(tmp_path)
    assert read_index(tmp_path)["files"]["figures"] == []
    assert (tmp_path / "faithfulness.csv").read_text().splitlines()[0].startswith(
        "method,kind,fill,n,deletion_auc")
    assert (tmp_path / "groundtruth.csv").read_text() == ""  # no cues: an empty table
    assert [r["method"] for r in result.off_manifold] == ["occlusion"]
    assert _quality_result(flagged=0.0).off_manifold == []
    layers, curves = result.cascading_curves()
    assert layers == ["", "head"] and curves[("occlusion", "time")].tolist() == [1.0, 0.3]


def test_quality_figures_are_drawn_from_the_result(tmp_path):
    from genrelens import display

    result = _quality_result()
    write_quality(result, tmp_path)
    assert read_index(tmp_path)["files"]["figures"] == [
        "deletion_time.png", "insertion_time.png", "sanity_cascading.png"]  # no ground truth
    assert display.plot_localisation(result) is None
    fig = display.plot_removal_curves(result, curve="deletion", kind="time")
    lines = {line.get_label(): line.get_ydata().tolist() for line in fig.axes[0].get_lines()}
    assert lines == {"occlusion": [0.9, 0.5, 0.1], "random": [0.9, 0.5, 0.1]}
    assert display.plot_removal_curves(result, curve="deletion", kind="tf_grid") is None
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)  # onto given axes, as every plot_* function
    assert display.plot_removal_curves(result, curve="insertion", kind="time", ax=left) is fig
    assert display.plot_cascading(*result.cascading_curves(), threshold=0.5, ax=right) is fig
    assert [line.get_label() for line in right.get_lines()][:2] == ["occlusion", "random"]
    assert left.get_lines()[0].get_ydata().tolist() == [0.1, 0.5, 0.9]


def test_aggregate_heat_map_places_each_genre_and_component(tmp_path):
    from genrelens import display

    fig = display.plot_aggregate(_global_result(), method="kernel_shap", kind="frequency")
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(image, [[-0.1, -0.2], [0.1, 0.2]])
    assert display.plot_genre_ale(_global_result(), "metal") is None  # nothing ranked


def test_index_errors_name_the_file_and_what_to_do(tmp_path):
    with pytest.raises(GenrelensError, match=r"index.json cannot be read .*Run the command"):
        GlobalResult.from_dir(tmp_path)
    write_global(_global_result(), tmp_path, plots=False)
    with pytest.raises(GenrelensError, match="indexes a 'global' result, not a 'quality' one"):
        QualityResult.from_dir(tmp_path)
    index = json.loads((tmp_path / "index.json").read_text())
    (tmp_path / "index.json").write_text(json.dumps({**index, "schema_version": 99}))
    with pytest.raises(GenrelensError, match=r"not an index of schema .* version 1 \(found "
                                              r"\('genrelens.output-index', 99\)\)"):
        GlobalResult.from_dir(tmp_path)
    (tmp_path / "index.json").write_text("[]")
    with pytest.raises(GenrelensError, match=r"index.json is not an index .*\(found list\)"):
        GlobalResult.from_dir(tmp_path)
    with pytest.raises(GenrelensError, match="lies outside it"):
        write_index(tmp_path, result="global", files={"tables": ["../elsewhere.csv"]})
    with pytest.raises(GenrelensError, match=r"unknown file roles \['plots'\]"):
        write_index(tmp_path, result="global", files={"plots": []})
    write_index(tmp_path, result="global", files={"ale": ["ale/missing.json"]})
    with pytest.raises(GenrelensError, match="missing.json cannot be read"):
        GlobalResult.from_dir(tmp_path)


def test_report_shows_only_the_files_the_index_lists(tmp_path):
    from genrelens.report import build_context

    run = tmp_path / "run"
    write_quality(_quality_result(), run / "xai", plots=False)
    (run / "xai" / "stray.csv").write_text("method,auc\nlime,0.4\n")  # not the writer's
    quality = build_context(run)["quality"]
    titles = [t.get("title") for t in quality["tables"]]
    assert "stray.csv" not in titles
    assert titles[:3] == ["faithfulness.csv", "sanity.csv", "sanity_cascading.csv"]
    assert build_context(run)["global_"] is None  # no global/index.json: not computed


def test_cli_prints_from_the_result_it_computed(tmp_path, monkeypatch, capsys):
    from genrelens import cli
    from genrelens.evaluate import xai
    from genrelens.inspection import pipeline

    monkeypatch.setattr(xai, "evaluate_xai", lambda run, **kw: _quality_result())
    monkeypatch.setattr(pipeline, "global_view", lambda run, **kw: _global_result())
    run = tmp_path / "run"
    run.mkdir()
    assert cli.main(["evaluate-xai", str(run), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "occlusion    time          0.200    0.800    0.400" in text
    assert "off-manifold? occlusion" in text and "off-manifold? random" not in text
    assert "cascading occlusion    time     |rho| 1.00 0.30" in text
    assert text.rstrip().endswith(f"3.0 s -> {run / 'xai'}")
    assert cli.main(["global", str(run), "--no-progress", "--out", str(tmp_path / "g")]) == 0
    text = capsys.readouterr().out
    assert "  band energy rises P(blues) (rank score 0.3000)" in text
    assert text.rstrip().endswith(f"16 + 48 model evaluations in 1.5 s -> {tmp_path / 'g'}")
    assert not (run / "xai").exists()  # nothing was read back from disk


def test_report_names_a_folder_written_without_an_index(tmp_path):
    from genrelens.report import build_context

    write_quality(_quality_result(), tmp_path / "xai", plots=False)
    (tmp_path / "xai" / "index.json").unlink()  # as written before the index existed
    context = build_context(tmp_path)
    assert context["quality"] is None
    reason = context["left_out"]["xai/index.json"]
    assert "xai/ has no index.json" in reason and "`genrelens evaluate-xai RUN` again" in reason

