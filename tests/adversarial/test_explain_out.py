"""``genrelens explain --out``: never replaces another explanation silently, never crashes on a
file; ``--overwrite`` replaces it without leaving stale segment folders."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from genrelens import cli
from genrelens.config import FeatureConfig
from genrelens.models import get_model, save_checkpoint

CONFIG = FeatureConfig(sr=8000, n_fft=512, hop_length=128, n_mels=32, segment_seconds=1.0,
                       segment_hop_seconds=1.0)


@pytest.fixture(scope="module")
def model_and_clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain-out")
    torch.manual_seed(0)
    args = {"n_classes": 2, "channels": [2, 2, 2, 2]}
    save_checkpoint(root / "run" / "checkpoint.pt", model=get_model("cnn", **args).eval(),
                    model_name="cnn", model_args=args, feature_config=CONFIG,
                    class_names=("a", "b"))
    t = np.arange(int(3.2 * CONFIG.sr)) / CONFIG.sr
    sf.write(root / "clip.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), CONFIG.sr)
    return root


def _explain(root, out, *extra):
    return cli.main(["explain", str(root / "run"), str(root / "clip.wav"), "--methods",
                     "occlusion", "--components", "time", "--out", str(out), "--no-progress",
                     *extra])


def _previous_explanation(out):
    """The files a previous ``genrelens explain`` left in ``out`` (three segments)."""
    for i in range(3):
        (out / "segments" / f"{i:03d}").mkdir(parents=True)
        (out / "segments" / f"{i:03d}" / "occlusion_time.json").write_text("{}")
    (out / "track").mkdir()
    (out / "summary.json").write_text('{"segment_index": [0, 1, 2]}')
    (out / "notes.txt").write_text("mine")


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_explain_refuses_an_out_holding_another_explanation(model_and_clip, tmp_path, capsys):
    out = tmp_path / "out"
    _previous_explanation(out)
    before = _snapshot(out)

    assert _explain(model_and_clip, out, "--segments", "1") == 3

    err = capsys.readouterr().err
    assert "holds an explanation already" in err and "summary.json" in err
    assert "--overwrite" in err and "--out" in err
    assert _snapshot(out) == before  # nothing written, nothing removed


def test_explain_overwrite_leaves_no_stale_segment(model_and_clip, tmp_path):
    out = tmp_path / "out"
    _previous_explanation(out)

    assert _explain(model_and_clip, out, "--segments", "1", "--overwrite") == 0

    assert sorted(p.name for p in (out / "segments").iterdir()) == ["001"]
    assert (out / "notes.txt").read_text() == "mine"  # only the explanation's own files go


@pytest.mark.parametrize("where", ["a-file", "a-file/sub"])
def test_explain_out_on_a_file_is_a_clear_error(model_and_clip, tmp_path, capsys, where):
    (tmp_path / "a-file").write_text("keep me")

    assert _explain(model_and_clip, tmp_path / where) == 3

    err = capsys.readouterr().err
    # the output check of every writing command catches it before explain's own
    assert "a-file" in err and "Traceback" not in err
    assert ("is a file, not a folder" in err) or ("a file is in the way" in err)
    assert (tmp_path / "a-file").read_text() == "keep me"
