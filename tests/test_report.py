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
    full_run,
    hostile_run,
    partial_run,
)

from genrelens.errors import GenrelensError
from genrelens.report import audio_data_uri, build_context, render_report
from genrelens.report.html import tables_from_json


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
