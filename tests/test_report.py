"""The HTML report: sections from saved results, "not computed" for absent ones, escaping."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import soundfile as sf
from report_fixtures import (  # noqa: F401  (session fixtures)
    CLASSES,
    N_SEGMENTS,
    full_run,
    hostile_run,
    partial_run,
)

from genrelens.errors import GenrelensError
from genrelens.report import audio_data_uri, build_context, render_report
from genrelens.report.html import tables_from_json
from genrelens.results import write_index


@pytest.fixture(scope="module")
def full_report(full_run):  # noqa: F811
    return full_run, (full_run / "report.html").read_text(encoding="utf-8")


def test_full_report_has_every_section_and_no_external_resource(full_report):
    run, text = full_report
    for section in ("dataset", "split", "training", "metrics", "explanations", "global",
                    "quality", "run"):
        assert f'<section id="{section}">' in text
    assert "Not computed" not in text
    # self-contained: every src is a data URI, no link/script element, no http(s) reference
    srcs = re.findall(r'src="([^"]*)"', text)
    assert srcs and all(s.startswith(("data:image/png;base64,", "data:audio/wav;base64,"))
                        for s in srcs)
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"(src|href)=\"https?:", text)
    assert len(text) < 5_000_000


def test_full_report_shows_each_explanation_and_audio(full_report):
    _, text = full_report
    for title in ("kernel_shap · frequency", "occlusion · tf_grid", "lime · stems"):
        assert text.count(title) == 1  # first track: a folder of explanation files
    for title in ("lime · time", "gradcam · dense"):
        assert text.count(title) == 2  # and the second, written by `genrelens explain`
    # examples + (original, top3) of the first track + (original, 2 segment "top") of the second
    assert text.count("<audio") == len(CLASSES) + 2 + 3
    assert "lime time: top components" in text and "segment 000" in text
    assert "Deletion AUC (lower is better)" in text and "random AUC" in text
    assert "Accumulated local effect of spectral centroid (Hz)" in text
    assert "blues.bad" in text and "truncated" in text  # skipped files and why


def test_quality_section_draws_and_tabulates_the_cascading_sanity_check(full_report):
    _, text = full_report
    table = text.index("<h4>sanity_cascading.csv</h4>")
    header = text[table:text.index("</thead>", table)]
    assert re.findall(r"<th>([^<]*)</th>", header) == ["method", "kind", "trained", "head",
                                                       "block2", f"block_{CLASSES[0]}"]
    body = text[table:text.index("</table>", table)]
    assert ("<td>occlusion</td><td>tf_grid</td><td>1</td><td>0.6</td><td>0.3</td><td>0.1</td>"
            in body)
    # its plot follows the table, with a caption saying how to read it
    figure = text.index("<figure>", table)
    assert figure < text.index("</section>", table)
    assert text[figure:].startswith('<figure><img src="data:image/png;base64,')
    caption = text[figure:text.index("</figcaption>", figure)]
    assert "from the output layer down" in caption and "is not explaining the model" in caption


def test_cascading_png_of_the_stage_is_replaced_by_the_drawing(full_run, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    (run / "xai").mkdir(parents=True)
    csv_text = (full_run / "xai" / "sanity_cascading.csv").read_text()
    (run / "xai" / "sanity_cascading.csv").write_text(csv_text)
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
                           "DwADhgGAWjR9awAAAABJRU5ErkJggg==")  # 1 x 1 pixel
    for name in ("sanity_cascading.png", "deletion_time.png"):
        (run / "xai" / name).write_bytes(png)
    write_index(run / "xai", result="quality", files={
        "tables": ["sanity_cascading.csv"],
        "figures": ["sanity_cascading.png", "deletion_time.png"]})
    quality = build_context(run)["quality"]
    assert [f["caption"] for f in quality["figures"]] == [
        "deletion_time.png (figure saved by the stage)"]
    (table,) = quality["tables"]
    assert table["figure"]["uri"].startswith("data:image/png;base64,")
    # a file in another format is shown as it is, without a plot
    (run / "xai" / "sanity_cascading.csv").write_text("method,kind\nlime,time\n")
    quality = build_context(run)["quality"]
    assert quality["tables"][0]["columns"] == ["method", "kind"]
    assert quality["tables"][0]["figure"] is None and len(quality["figures"]) == 2


def test_sections_say_not_computed_when_files_are_absent(tmp_path):
    (tmp_path / "manifest.json").write_text('{"manifest_version": 1, "stages": {}}')
    text = render_report(tmp_path).read_text(encoding="utf-8")
    assert text.count("Not computed") == 8  # everything but the run record
    assert "(not computed)" in text  # table of contents marks them


def test_missing_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(GenrelensError, match="does not exist"):
        render_report(tmp_path / "nope")


def test_hostile_names_are_escaped(hostile_run):  # noqa: F811
    text = (hostile_run / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;" in text
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in text


def _wav_rate(uri: str) -> int:
    """The sampling rate in the ``fmt `` chunk of a ``data:audio/wav;base64,`` URI's WAV."""
    payload = base64.b64decode(uri.split(",", 1)[1])
    assert payload[:4] == b"RIFF" and payload[8:12] == b"WAVE"
    at = 12
    while payload[at:at + 4] != b"fmt ":
        at += 8 + int.from_bytes(payload[at + 4:at + 8], "little")
    return int.from_bytes(payload[at + 12:at + 16], "little")


def test_report_audio_is_embedded_at_the_models_sampling_rate(full_report):
    from genrelens.config import FeatureConfig

    _, text = full_report
    uris = re.findall(r'src="(data:audio/wav;base64,[^"]*)"', text)
    assert len(uris) == len(CLASSES) + 2 + 3  # examples and explanations alike
    assert {_wav_rate(uri) for uri in uris} == {FeatureConfig().sr} == {22050}


def test_audio_data_uri_keeps_the_rate_unless_asked_and_keeps_high_bands():
    sr = 22050
    y = 0.5 * np.sin(2 * np.pi * 9000 * np.arange(sr) / sr)  # above 5.5 kHz (11,025 Hz's limit)
    uri = audio_data_uri(y, sr=sr)
    back, back_sr = sf.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert back_sr == _wav_rate(uri) == sr and back.shape == (sr,)
    assert np.argmax(np.abs(np.fft.rfft(back))) == 9000  # 1-s clip: bin k is k Hz
    assert np.max(np.abs(back)) == pytest.approx(0.5, abs=2e-3)
    assert _wav_rate(audio_data_uri(y, sr=sr, target_sr=44100)) == sr  # never upsampled
    higher = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)
    assert _wav_rate(audio_data_uri(higher, sr=44100, target_sr=sr)) == sr


def test_audio_data_uri_is_downsampled_short_wav():
    sr = 22050
    y = np.sin(2 * np.pi * 440 * np.arange(20 * sr) / sr).astype(np.float32)
    uri = audio_data_uri(y, sr=sr, max_seconds=4.0, target_sr=11025)
    assert uri.startswith("data:audio/wav;base64,")
    back, back_sr = sf.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert back_sr == 11025 and back.shape == (4 * 11025,)
    # the tone survives resampling: same frequency, same amplitude (16-bit PCM)
    spectrum = np.abs(np.fft.rfft(back))
    assert np.argmax(spectrum) * back_sr / back.size == pytest.approx(440, abs=0.5)
    assert np.max(np.abs(back[100:-100])) == pytest.approx(1.0, abs=2e-3)


def test_tables_from_json_shapes():
    table = tables_from_json({"columns": ["a", "b"], "rows": [[1, 0.123456]], "title": "T"},
                             title="x")[0]
    assert table["title"] == "T" and table["rows"] == [["1", "0.1235"]]
    records = tables_from_json([{"m": "lime", "auc": 0.5}, {"m": "shap", "x": 1}], title="r")[0]
    assert records["columns"] == ["m", "auc", "x"]
    assert records["rows"][1] == ["shap", "None", "1"]
    nested = tables_from_json({"acc": 0.5, "per_class": {"a": {"f1": 1.0}}}, title="m")
    assert [t["rows"] for t in nested] == [[["acc", "0.5"]], [["a", "1"]]]
    assert tables_from_json(3.0, title="x") == []


def test_context_marks_present_sections(full_run, tmp_path):  # noqa: F811
    run = partial_run(full_run, tmp_path / "run",
                      ["manifest.json", "split.json", "history.csv", "metrics.json"])
    toc = {k: present for k, _, present in build_context(run)["toc"]}
    assert toc == {"dataset": False, "split": True, "training": True, "metrics": True,
                   "explanations": False, "global": False, "quality": False,
                   "real-music": False, "run": True}


def _tracks(text: str) -> list[str]:
    start = text.index('<section id="explanations">')
    body = text[start:text.index("</section>", start)]
    return body.split('<div class="track">')[1:]


def test_colour_scales_are_shared_across_methods_of_a_kind_and_with_the_bars(full_report):
    from genrelens.explain.explanation import Explanation

    run, text = full_report
    first = _tracks(text)[1]  # blues.00003: a folder of explanations, one card per file
    groups: dict[str, set[str]] = {}
    for card in first.split('<div class="card" ')[1:]:
        group = re.match(r'data-scale-group="([^"]*)"', card).group(1)
        scales = re.findall(r'data-scale="([^"]*)"', card)
        assert scales  # every figure of a card records its scale ...
        groups.setdefault(group, set()).update(scales)
    assert all(len(s) == 1 for s in groups.values()), groups  # ... one per kind (or dense map)
    assert first.count('data-scale-group="time"') == 2  # lime and kernel_shap share it
    # the scale is the largest |score| of the explained class among the kind's methods
    folder = next((run / "explanations").glob("*blues.00003*"))
    peaks: dict[str, float] = {}
    for path in sorted(folder.glob("*.json")):
        exp = Explanation.load(path)
        key = exp.components.kind if exp.components is not None else f"dense {exp.method}"
        peak = float(np.abs(exp.to_map(exp.predicted_class) if exp.components is None
                            else exp.scores[exp.predicted_class]).max())
        peaks[key] = max(peaks.get(key, 0.0), peak)
    assert set(peaks) == set(groups) == {"time", "frequency", "tf_grid", "stems", "dense gradcam"}
    for key, (scale,) in groups.items():
        assert float(scale) == pytest.approx(peaks[key], rel=1e-5)


def _section(text: str, name: str) -> str:
    start = text.index(f'<section id="{name}">')
    return text[start:text.index("</section>", start)]


def test_genre_examples_share_one_db_range(full_report):
    _, text = full_report
    ranges = re.findall(r'data-db-range="([^"]*)"', _section(text, "dataset"))
    assert len(ranges) == len(CLASSES) and len(set(ranges)) == 1
    assert f"on the colour scale of every example ({ranges[0]})" in text


def test_explained_spectrograms_share_one_db_range_over_every_track_and_segment(full_report):
    from genrelens.display import shared_db_range
    from genrelens.explain.explanation import Explanation

    run, text = full_report
    body = _section(text, "explanations")
    ranges = re.findall(r'data-db-range="([^"]*)"', body)
    # the `explain` track: its input, 2 overlays, the timeline; the folder of files: its
    # input and 5 overlays (the stems' matrix has no spectrogram)
    assert len(ranges) == (1 + 2 + 1) + (1 + 5) and len(set(ranges)) == 1
    exps = {p: Explanation.load(p) for p in (run / "explanations").rglob("*.json")
            if p.name != "summary.json"}
    low, high = shared_db_range([e.logmel for e in exps.values()])
    assert ranges[0] == f"{low:.1f} to {high:.1f} dB"
    # the shown (first, quietest) segment is drawn on the range its louder segments set
    shown = max(e.logmel.max() for p, e in exps.items() if p.parent.name == "000")
    assert high == pytest.approx(shown + 20 * np.log10(4), abs=0.5)
    assert f"on the colour scale of every explained spectrogram ({ranges[0]})" in body


def test_whole_track_timeline_shows_every_segment_on_shared_scales(full_run):  # noqa: F811
    from genrelens.display import relevance_map, shared_limit
    from genrelens.explain.explanation import Explanation

    tracks = build_context(full_run)["explanations"]
    assert [t["timeline"] is None for t in tracks] == [False, True]  # `explain` layout / files
    timeline = tracks[0]["timeline"]
    folder = next(p.parent for p in (full_run / "explanations").rglob("summary.json"))
    segments = [{p.stem: Explanation.load(p) for p in sorted(seg.glob("*.json"))}
                for seg in sorted((folder / "segments").iterdir())]
    assert timeline["n_segments"] == len(segments) == N_SEGMENTS
    assert timeline["segment_classes"] == [
        CLASSES[int(np.argmax(seg["lime_time"].prediction))] for seg in segments]
    target = CLASSES.index(timeline["target"])
    assert target == int(np.argmax(np.mean([s["lime_time"].prediction for s in segments], 0)))
    # one colour scale per component kind (dense: per method) over all segments and methods
    timed = sorted(m for m in segments[0] if m.endswith("_time"))
    expected = {
        "time": shared_limit([relevance_map(s[m], target)[0] for s in segments for m in timed]),
        "dense gradcam": shared_limit([s["gradcam_dense"].to_map(target) for s in segments]),
    }
    scales = dict(part.split(" ±") for part in timeline["scales"].split("; "))
    assert set(scales) == set(expected)
    for key, limit in expected.items():
        assert float(scales[key]) == pytest.approx(limit, rel=1e-5)
    assert expected["time"] == pytest.approx(  # the last segment's scores are 3x the first's
        3.0 * max(np.abs(segments[0][m].scores[target]).max() for m in timed), rel=1e-9)
    html = (full_run / "report.html").read_text(encoding="utf-8")
    assert f'alt="timeline of {tracks[0]["track_id"]}"' in html
    assert f'data-scales="{timeline["scales"]}"' in html


def test_explanations_are_listed_from_their_index_with_the_segment_it_names(full_run,  # noqa: F811
                                                                             tmp_path):
    import shutil

    from genrelens.explain.batch import write_index

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    scanned = build_context(run)["explanations"]
    assert len(scanned) == 2  # no index: both folders are found
    folder = next(p.parent for p in (run / "explanations").rglob("summary.json"))
    write_index(run / "explanations", written_by="demo", tracks=[
        {"track_id": "t", "label": CLASSES[0], "folder": folder.name, "segment": 2},
        {"track_id": "gone", "label": CLASSES[0], "folder": "not-there", "segment": 0},
        {"track_id": "escape", "label": CLASSES[0], "folder": "../..", "segment": 0}])
    (track,) = build_context(run)["explanations"]  # only the indexed track that is there
    assert track["segment"] == "002" and track["timeline"] is not None
    write_index(run / "explanations", written_by="demo", tracks=[
        {"track_id": "t", "label": CLASSES[0], "folder": folder.name, "segment": 7}])
    assert build_context(run)["explanations"][0]["segment"] == "000"  # unknown: the first


def test_track_timeline_places_segments_in_time_on_one_db_range_and_colour_scale():
    from genrelens.display import TimelineRow, plot_track_timeline

    logmels = [np.full((4, 10), -60.0 + 10 * i) for i in range(3)]
    heats = [np.full((4, 10), 0.1 * (i + 1)) for i in range(3)]
    fig = plot_track_timeline(logmels, [0.0, 3.0, 9.0], sr=100, hop_length=30,
                              rows=[TimelineRow("lime", heats, 0.5, "score")],
                              labels=["a", "b", "c"], db_range=(-80.0, 0.0))
    top, row = (ax for ax in fig.axes if ax.get_label() != "<colorbar>")
    assert [im.get_extent()[:2] for im in top.images] == [[0.0, 3.0], [3.0, 6.0], [9.0, 12.0]]
    assert all(im.get_clim() == (-80.0, 0.0) for im in (*top.images, *row.images[0::2]))
    assert [im.get_clim() for im in row.images[1::2]] == [(-0.5, 0.5)] * 3  # heat over grey
    assert [t.get_text() for t in top.texts] == ["a", "b", "c"]
    assert row.get_xlim() == (0.0, 12.0)


def test_shared_db_range_spans_the_loudest_cell_down_to_top_db():
    from genrelens.display import shared_db_range

    assert shared_db_range([np.array([[-10.0, 0.0]]), np.array([[-30.0, 5.0]])]) == (-30.0, 5.0)
    assert shared_db_range([np.array([[-100.0, 0.0]])], top_db=80.0) == (-80.0, 0.0)


def test_ale_figures_are_titled_after_the_descriptor_with_units(full_run):  # noqa: F811
    figures = build_context(full_run)["global_"]["figures"]
    titles = [f["title"] for f in figures if f.get("title")]
    assert titles == ["ALE of spectral centroid"]
    assert not any("/" in t or "_" in t or "ale" in t.lower().split()[-1] for t in titles)
    assert "(y axis: change in probability)" in figures[0]["caption"]


def test_ale_plot_labels_units_and_keeps_text_and_legend_clear_of_the_curves():
    from genrelens import display
    from genrelens.inspection.ale import ALEResult

    grid = np.linspace(-12.0, 3.0, 6)
    names = tuple(f"genre number {k}" for k in range(10))
    result = ALEResult(feature_names=("band_energy[1203-2518 Hz]",), output_names=names,
                       grid_values=(grid,), average=np.outer(np.linspace(-1, 1, 10), grid / 30),
                       low=None, high=None, bin_counts=np.full(5, 4),
                       feature_values=np.linspace(-12, 3, 20),
                       params={"units": ["dB"], "output": "probabilities"}, n_evaluations=1,
                       seconds=0.1)
    fig = display.plot_ale_result(result)
    ax = fig.axes[0]
    assert ax.get_title() == "ALE of band energy 1203–2518 Hz"
    assert ax.get_xlabel() == "band energy 1203–2518 Hz (dB)"
    assert ax.get_ylabel() == "change in probability"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    page = fig.bbox
    low, high = ax.get_ylim()
    shown = [t for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]
    for text in (ax.title, ax.xaxis.label, ax.yaxis.label, *shown):
        box = text.get_window_extent(renderer)
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 <= box.y1 <= page.y1
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # beside the axes, not over curves
    assert legend.x1 <= page.x1
    spectral = ALEResult.from_dict({**result.to_dict(), "feature_names": ["spectral_tilt"],
                                    "params": {"units": ["dB/oct"], "output": "logits"}})
    labels, ylabel = display.ale_labels(spectral)
    assert labels == ["spectral tilt (dB/oct)"] and ylabel == "change in logits"


def test_thin_evidence_is_flagged_and_no_std_is_shown_for_one_example(full_report):
    _, text = full_report
    sanity = text.index("<h4>sanity.csv</h4>")
    caveat = text[sanity:text.index("</table>", sanity)]
    assert 'class="warn caveat">Thin evidence: 2 of 2 rows rest on n &lt; 5' in caveat
    aggregate = text.index("<h4>aggregate.csv</h4>")
    table = text[aggregate:text.index("</table>", aggregate)]
    assert "a standard deviation needs n ≥ 2 and is left blank where n = 1" in table
    header = re.findall(r"<th>([^<]*)</th>", table)
    rows = re.findall(r"<tr>(.*?)</tr>", table[table.index("<tbody>"):])
    cells = [re.findall(r"<td>([^<]*)</td>", r) for r in rows]
    std, n = header.index("std"), header.index("n")
    assert [(c[std], c[n]) for c in cells] == [("0.05", "3"), ("–", "1"), ("–", "1")]


def test_tables_are_html_tables_not_dumps(full_report):
    _, text = full_report
    assert "<pre" not in text
    record = text[text.index('<section id="run">'):]
    assert "<td>seeds.train</td><td>0</td>" in record
    assert "<td>params.quick</td><td>True</td>" in record
    assert not re.search(r"<td>[^<]*[{][^<]*</td>", text)  # no JSON objects inside cells


def test_run_record_lists_stages_in_pipeline_order_with_their_true_status(tmp_path):
    from genrelens.run import RunDir

    run = RunDir(tmp_path / "run")
    for stage in ("train", "data", "explain"):  # run out of order, stored alphabetically
        run.run_stage(stage, lambda: None, params={})
    run.run_stage("report", lambda: {"bytes": render_report(run.root).stat().st_size},
                  params={})
    text = (run.root / "report.html").read_text(encoding="utf-8")
    record = text[text.index("<h3>Stages</h3>"):text.index("<h3>Feature configuration</h3>")]
    stages = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", record)
    assert stages == [("data", "done"), ("train", "done"), ("explain", "done"),
                      ("report", "writing this report")]


def test_ale_figures_follow_the_descriptors_numeric_order(tmp_path):
    from genrelens.inspection.ale import ALEResult

    grid = np.linspace(-40.0, -10.0, 4)
    for low, high in ((1203, 2518), (275, 575), (63, 131)):
        name = f"band_energy[{low}-{high} Hz]"
        ALEResult(feature_names=(name,), output_names=("a", "b"), grid_values=(grid,),
                  average=np.zeros((2, 4)), low=None, high=None, bin_counts=np.full(3, 2),
                  feature_values=grid, params={"units": ["dB"], "output": "probabilities"},
                  n_evaluations=1, seconds=0.0).save(
            tmp_path / "global" / "ale" / f"band_energy_{low}-{high}_Hz_.json")
    write_index(tmp_path / "global", result="global",
                files={"ale": sorted(p.relative_to(tmp_path / "global")
                                     for p in (tmp_path / "global" / "ale").iterdir())})
    figures = build_context(tmp_path)["global_"]["figures"]
    assert [f["title"] for f in figures] == [
        "ALE of band energy 63–131 Hz", "ALE of band energy 275–575 Hz",
        "ALE of band energy 1203–2518 Hz"]
