"""The report reads only regular files inside the run directory, and survives damaged ones.

A run directory can come from someone else and its report is meant to be mailed: paths stored
in the run's JSON and symbolic links must not pull other local files into it. Damaged files
(bytes appended, truncated, not an image) are named with what to do, and the rest renders.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from genrelens import cli
from genrelens._io import write_json
from genrelens.report import build_context, render_report
from genrelens.results import write_index

SR = 8000  # not the feature rate: the report draws no log-mel, which keeps these tests fast


def _wav(path: Path, freq: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR // 2) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)
    return path


def _png_bytes(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """Files beside the run directory that the report must never embed."""
    folder = tmp_path / "private"
    _wav(folder / "voice-memo.wav", freq=300.0)
    _write(folder / "photo.png", _png_bytes("red"))
    return folder


def test_report_embeds_no_file_from_outside_the_run(tmp_path, outside, capsys):
    run = tmp_path / "run"
    _wav(run / "examples" / "rock.wav")
    (run / "examples" / "metal.wav").symlink_to(outside / "voice-memo.wav")
    write_json(run / "dataset.json", {"check": {}, "tracks": [], "examples": {
        "blues": {"track_id": "b", "file": os.fspath(outside / "voice-memo.wav")},
        "jazz": {"track_id": "j", "file": "../private/voice-memo.wav"},
        "metal": {"track_id": "m", "file": "examples/metal.wav"},
        "rock": {"track_id": "r", "file": "examples/rock.wav"},
    }})
    _write(run / "global" / "mine.png", _png_bytes("blue"))
    (run / "global" / "leak.png").symlink_to(outside / "photo.png")
    write_index(run / "global", result="global", files={"figures": ["mine.png", "leak.png"]})
    (run / "xai").symlink_to(outside, target_is_directory=True)

    assert cli.main(["report", str(run)]) == 0
    text = (run / "report.html").read_text(encoding="utf-8")

    assert text.count("<audio") == 1  # only examples/rock.wav, which lies in the run
    assert "mine.png (figure saved by the stage)" in text
    assert "leak.png (figure saved by the stage)" not in text
    assert 'id="quality"' in text and "photo.png" not in text  # a linked folder is not read
    left_out = build_context(run)["left_out"]
    for name in (os.fspath(outside / "voice-memo.wav"), "../private/voice-memo.wav",
                 "examples/metal.wav", "global/leak.png", "xai"):
        assert "outside the run directory" in left_out[name]
        assert f"<code>{name}</code>" in text
    err = capsys.readouterr().err
    assert "genrelens report: warning: 'global/leak.png' was left out" in err


def test_report_renders_the_intact_part_of_damaged_files(tmp_path):
    run = tmp_path / "run"
    _write(run / "history.csv", b"epoch,train_loss,valid_loss\n1,0.9,1.0\n2,0.7,0.8\n"
                                b"3,0.5,0.6\n\xff\xfe\x00\x01 appended junk")
    _write(run / "split.json", json.dumps({"name": "random", "train": ["a"], "valid": ["b"],
                                           "test": ["c"]}).encode() + b"\n\x00\x9c trailing")
    _write(run / "metrics.json", b'{"segment": {"accuracy": 0.5, "n": 1')  # cut short
    _write(run / "manifest.json", b'{"manifest_version": 1, "stages": {"tr')
    _write(run / "xai" / "table.csv", b"method,auc\nlime,0.4\nshap,0.3\nocclusion")
    png = _png_bytes("green")
    _write(run / "global" / "cut.png", png[: len(png) // 2])
    _write(run / "global" / "not-a-png.png", b"GIF89a\x01\x00\x01\x00")
    _write(run / "global" / "fine.png", png)
    write_index(run / "xai", result="quality", files={"tables": ["table.csv"]})
    write_index(run / "global", result="global",
                files={"figures": ["cut.png", "not-a-png.png", "fine.png"]})

    context = build_context(run)
    left_out = context["left_out"]
    with pytest.warns(UserWarning, match="was left out of the report"):
        text = render_report(run).read_text(encoding="utf-8")

    assert "not UTF-8" in left_out["history.csv"] and "ignored" in left_out["history.csv"]
    assert context["training"]["tables"][0]["rows"][-1][0] == "3"  # the intact epochs
    assert context["split"]["name"] == "random" and "split.json" in left_out
    assert "not valid JSON" in left_out["metrics.json"]
    assert "metrics.json</code>" in text and "Not computed: no metrics.json" not in text
    assert "manifest.json was left out" in text and "Not computed: no manifest.json" not in text
    assert "line(s) 4" in left_out["xai/table.csv"]
    assert [r[0] for r in context["quality"]["tables"][0]["rows"]] == ["lime", "shap"]
    for name in ("global/cut.png", "global/not-a-png.png"):
        assert "not a complete PNG" in left_out[name]
    assert "fine.png (figure saved by the stage)" in text
    for reason in left_out.values():
        assert "re-run the stage that wrote it" in reason


def test_report_names_damaged_explanation_files(tmp_path):
    from genrelens.explain.explanation import Explanation

    run = tmp_path / "run"
    logmel = np.zeros((8, 10), dtype=np.float32)
    for name in ("appended", "mismatched"):
        Explanation(method="gradcam", scores=np.ones((2, 8, 10)), prediction=np.array([0.3, 0.7]),
                    logmel=logmel, class_names=("a", "b"), params={}).save(
            run / "explanations" / "track" / name)
    with open(run / "explanations" / "track" / "appended.json", "ab") as f:
        f.write(b"\xff\xfe\x00")
    with open(run / "explanations" / "track" / "mismatched.npz", "ab") as f:
        f.write(b"\x00")

    context = build_context(run)

    left_out = context["left_out"]
    assert "not UTF-8" in left_out["explanations/track/appended.json"]
    reason = left_out["explanations/track/mismatched.json"]
    assert "SHA-256 differs" in reason and os.fspath(tmp_path) not in reason  # run-relative
    (track,) = context["explanations"]
    assert track["methods"] == [] and len(track["errors"]) == 2
    with pytest.warns(UserWarning, match="was left out of the report"):
        text = render_report(run).read_text(encoding="utf-8")
    assert text.count("SHA-256 differs") == 2  # in the list at the top and in the track
