"""``genrelens tag``: zero-shot tagging of audio files with a pretrained musicnn model."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
import torch

from genrelens.cli import main

needs_wheel = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                 reason="musicnn wheel absent")


@pytest.fixture(scope="module")
def clip(tmp_path_factory, make_wav):
    # 7 s at 16 kHz (the models' rate: no resampling to pay): 438 frames, two 187-frame patches
    return make_wav(tmp_path_factory.mktemp("tag") / "clip.wav", seconds=7.0, sr=16000,
                    freq=330.0, noise=0.05)


@needs_wheel
def test_tag_prints_top_tags_deterministically(clip, capsys):
    from genrelens.models.musicnn import musicnn_tags

    assert main(["tag", str(clip), "--model", "MSD_vgg", "--top", "3"]) == 0
    first = capsys.readouterr().out
    assert main(["tag", str(clip), "--model", "MSD_vgg", "--top", "3"]) == 0
    assert capsys.readouterr().out == first
    match = re.fullmatch(rf"{re.escape(str(clip))}: (.+) (0\.\d{{3}}), (.+) (0\.\d{{3}}), "
                         r"(.+) (0\.\d{3})\n", first)
    assert match, first
    tags, probs = match.groups()[0::2], [float(p) for p in match.groups()[1::2]]
    assert set(tags) <= set(musicnn_tags("MSD_vgg")) and probs == sorted(probs, reverse=True)


@needs_wheel
def test_tag_json_is_the_mean_sigmoid_over_patches(clip, capsys, tmp_path):
    from genrelens.models import get_model
    from genrelens.models.musicnn import musicnn_file_patches, musicnn_tags

    missing = tmp_path / "missing.wav"
    assert main(["tag", str(clip), str(missing), "--model", "MSD_vgg", "--json",
                 "--top", "50"]) == 1
    out = capsys.readouterr()
    assert f"genrelens tag: skipped {missing} (missing)" in out.err
    (result,) = json.loads(out.out)
    tags = list(musicnn_tags("MSD_vgg"))
    assert sorted(result["probabilities"]) == sorted(tags) and len(tags) == 50
    values = list(result["probabilities"].values())
    assert values == sorted(values, reverse=True)  # most probable first, as predict --json
    assert result["n_segments"] == 2
    patches = musicnn_file_patches(clip)
    with torch.no_grad():
        logits = get_model("MSD_vgg").eval()(torch.from_numpy(patches)[:, None])
    expected = torch.sigmoid(logits.double()).mean(dim=0).numpy()
    np.testing.assert_allclose([result["probabilities"][t] for t in tags], expected, atol=1e-6)
    assert result["label"] == musicnn_tags("MSD_vgg")[int(np.argmax(expected))]


def test_tag_without_the_wheel_says_how_to_install(clip, capsys, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert main(["tag", str(clip)]) == 3  # not a usage error: the environment lacks the wheel
    err = capsys.readouterr().err
    assert "genrelens tag: error:" in err and 'pip install --no-deps "musicnn==0.1.0"' in err


def test_tag_refuses_unknown_model(clip, capsys):
    with pytest.raises(SystemExit) as info:
        main(["tag", str(clip), "--model", "vgg16"])
    assert info.value.code == 2 and "invalid choice: 'vgg16'" in capsys.readouterr().err
