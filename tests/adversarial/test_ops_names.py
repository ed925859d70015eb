"""Issue 13, item 16: file names cannot fake output lines or send terminal escapes.

A file name may hold a newline, a carriage return, escape sequences or bytes that are not
UTF-8; every line genrelens prints shows them escaped (``\\n``, ``\\x1b``, ``\\xff``).
"""

from __future__ import annotations

import os

import pytest

from genrelens._terminal import printable
from genrelens.cli import main

EVIL = "x\nrock.00001.wav: metal 0.999\x1b]0;owned\x07\r\u202e"


def test_printable_escapes_controls_and_keeps_other_text():
    assert printable(EVIL) == "x\\nrock.00001.wav: metal 0.999\\x1b]0;owned\\x07\\r\\u202e"
    assert printable(os.fsdecode(b"caf\xff.wav")) == "caf\\xff.wav"
    assert printable("Beyoncé – 日本.wav") == "Beyoncé – 日本.wav"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from genrelens.config import FeatureConfig
    from genrelens.models import get_model, save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "checkpoint.pt"
    config = FeatureConfig(n_mels=32, segment_seconds=1.0, segment_hop_seconds=1.0)
    return save_checkpoint(path, model=get_model("cnn", n_classes=2), model_name="cnn",
                           model_args={"n_classes": 2}, feature_config=config,
                           class_names=["rock", "pop"])


def test_predict_prints_one_escaped_line_per_file(tmp_path, capsys, make_wav, checkpoint):
    evil = make_wav(tmp_path / f"{EVIL}.wav", seconds=1.5)
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xff.wav")
    os.rename(make_wav(tmp_path / "plain.wav", seconds=1.5), raw)
    missing = tmp_path / "gone\n\x1b[2J.wav"
    status = main(["predict", str(checkpoint), str(evil), os.fsdecode(raw), str(missing)])
    out, err = capsys.readouterr()
    assert status == 1  # the missing file was skipped
    lines = out.splitlines()
    assert len(lines) == 2 and all("\x1b" not in line and "\r" not in line for line in lines)
    assert lines[0].startswith(printable(evil) + ": ") and lines[1].startswith(
        f"{tmp_path}/caf\\xff.wav: ")
    assert len(err.splitlines()) == 1 and "gone\\n\\x1b[2J.wav" in err and "\x1b" not in err


def test_error_messages_escape_the_names_they_hold(tmp_path, capsys):
    status = main(["evaluate", str(tmp_path / "run\n\x1b[31mfake")])
    err = capsys.readouterr().err
    assert status == 3
    assert len(err.splitlines()) == 1 and "\x1b" not in err and "run\\n\\x1b[31mfake" in err
    assert list(tmp_path.iterdir()) == []


def test_data_check_lists_unreadable_files_one_per_line(tmp_path, capsys, make_wav):
    for label in ("a", "b"):
        make_wav(tmp_path / label / f"{label}.wav", seconds=3.5)
    (tmp_path / "a" / "bad\nb.wav: ok\x1b[2J.wav").write_bytes(b"not audio")
    main(["data", "check", str(tmp_path), "--jobs", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert "\x1b" not in out
    mentions = [line for line in out.splitlines() if "b.wav: ok" in line]
    assert len(mentions) == 1 and "bad\\nb.wav: ok\\x1b[2J.wav" in mentions[0]
