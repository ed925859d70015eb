"""Issue 13, item 12: every option is checked while parsing, before any work or any write."""

from __future__ import annotations

import pytest

from genrelens.cli import build_parser, main

#: (command line with RUN / OUT / AUDIO placeholders, the option at fault)
BAD = [
    (["evaluate-xai", "RUN", "--subsets", "-3"], "--subsets"),
    (["evaluate-xai", "RUN", "--seed", "-1"], "--seed"),
    (["evaluate-xai", "RUN", "--seeds", "0"], "--seeds"),
    (["evaluate-xai", "RUN", "--check", "0"], "--check"),
    (["evaluate-xai", "RUN", "--fills", "bad"], "--fills"),
    (["evaluate-xai", "RUN", "--fills", "min,nan"], "--fills"),
    (["global", "RUN", "--bins", "0"], "--bins"),
    (["global", "RUN", "--bootstrap", "-1"], "--bootstrap"),
    (["global", "RUN", "--fill", "loud"], "--fill"),
    (["report", "RUN", "--max-audio-seconds", "nan"], "--max-audio-seconds"),
    (["report", "RUN", "--max-audio-seconds", "inf"], "--max-audio-seconds"),
    (["report", "RUN", "--max-audio-seconds", "-1"], "--max-audio-seconds"),
    (["report", "RUN", "--max-audio-seconds", "0"], "--max-audio-seconds"),
    (["predict", "RUN", "AUDIO", "--top", "0"], "--top"),
    (["predict", "RUN", "AUDIO", "--top", "-1"], "--top"),
    (["demo", "--out", "OUT", "--data", "AUDIO", "--seed", "-3"], "--seed"),
    (["explain", "RUN", "AUDIO", "--out", "OUT", "--samples", "0"], "--samples"),
    (["explain-dataset", "RUN", "--workers", "0"], "--workers"),
    (["tabular", "train", "--features", "AUDIO", "--out", "OUT", "--bootstrap", "-2"],
     "--bootstrap"),
    (["data", "synth", "--out", "OUT", "--duration=-inf"], "--duration"),
]


@pytest.mark.parametrize("argv,option", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_option_exits_2_naming_it_before_anything_is_written(tmp_path, capsys, argv, option):
    names = {"RUN": tmp_path / "run", "OUT": tmp_path / "out", "AUDIO": tmp_path / "a.wav"}
    with pytest.raises(SystemExit) as info:
        main([str(names.get(arg, arg)) for arg in argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and "is invalid: expected" in err
    assert list(tmp_path.iterdir()) == []  # no run directory, no manifest


def test_valid_edge_values_still_parse():
    parser = build_parser()
    args = parser.parse_args(["global", "r", "--bootstrap", "0", "--fill", "-80"])
    assert args.bootstrap == 0 and args.fill == -80.0
    args = parser.parse_args(["evaluate-xai", "r", "--fills", "min, -60,blur", "--seed", "0"])
    assert args.fills == ["min", -60.0, "blur"] and args.seed == 0
    assert parser.parse_args(["evaluate-xai", "r"]).fills == ["texture", "min", "blur"]
    assert parser.parse_args(["report", "r", "--max-audio-seconds", "0.5"]).max_audio_seconds == 0.5
