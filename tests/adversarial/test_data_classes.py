"""Issue 13, items 5, 14 and 18: one class is not a classifier; classes without usable audio
and skipped files are named, in `train` as in `data check`; a bad checkpoint is one error."""

import json

import pytest

from genrelens import cli
from genrelens.data import Split, open_dataset
from genrelens.data.check import check_dataset


def _train(data, run, capsys):
    code = cli.main(["train", "--data", str(data), "--out", str(run), "--epochs", "1",
                     "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def _no_training_written(run):
    return not any((run / name).exists() for name in ("split.json", "train_config.json",
                                                      "checkpoint.pt", "last.pt"))


def test_one_class_folder_is_refused_naming_the_class(tmp_path, make_wav, capsys):
    for i in range(4):
        make_wav(tmp_path / "data" / "rock" / f"t{i}.wav", seconds=3.2, freq=200 + 50 * i)
    (tmp_path / "data" / "rock" / "readme.txt").write_text("not audio")
    code, out, err = _train(tmp_path / "data", tmp_path / "runs" / "r", capsys)
    assert code == 3 and out == ""
    assert "genrelens train: error: cannot train on" in err
    assert "fewer than 2 classes with readable tracks (['rock'])" in err
    assert "rock 4/4" in err and "validation set" not in err
    assert "1 files of unknown type are not read" in err and "rock/readme.txt" in err
    assert _no_training_written(tmp_path / "runs" / "r")


def test_class_whose_files_are_all_skipped_is_named_with_each_file(tmp_path, make_wav, capsys):
    data = tmp_path / "data"
    for i in range(3):
        make_wav(data / "rock" / f"t{i}.wav", seconds=3.2, freq=200 + 50 * i)
    make_wav(data / "jazz" / "short.wav", seconds=1.0)
    (data / "jazz" / "noise.au").write_bytes(bytes(range(256)) * 40)
    code, out, err = _train(data, tmp_path / "runs" / "r", capsys)
    assert code == 3
    # each skipped file on its own line with its reason, as `genrelens prepare` prints them
    assert "warning: skipped jazz/noise: undecodable:" in err
    assert "warning: skipped jazz/short: too_short:" in err
    assert "class 'jazz' has no readable track (all its 2 files are skipped)" in err
    assert "jazz 0/2, rock 3/3" in err and "jazz/noise (undecodable)" in err
    assert _no_training_written(tmp_path / "runs" / "r")


def test_empty_class_folder_is_said_by_check_and_train(tmp_path, make_wav, capsys):
    data = tmp_path / "data"
    make_wav(data / "rock" / "t0.wav", seconds=3.2)
    (data / "jazz").mkdir(parents=True)
    (data / "jazz" / "cover.png").write_bytes(b"\x89PNG")
    dataset = open_dataset(data)
    assert dataset.class_names == ("rock",)
    report = check_dataset(dataset, progress=False)
    assert not report.usable
    assert "folder 'jazz' holds no audio file" in report.format()
    code, _, err = _train(data, tmp_path / "runs" / "r", capsys)
    assert code == 3 and "folder 'jazz' holds no audio file" in err


def test_data_check_calls_a_class_without_readable_track_unusable(tmp_path, make_wav, capsys):
    data = tmp_path / "data"
    for label in ("rock", "pop"):
        make_wav(data / label / "t0.wav", seconds=3.2)
    (data / "jazz").mkdir()
    (data / "jazz" / "t0.wav").write_bytes(b"")
    assert cli.main(["data", "check", str(data), "--no-progress", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "UNUSABLE: class 'jazz' has no readable track (all its 1 files are skipped)" in out


def test_explain_dataset_with_a_bad_checkpoint_fails_once_on_stderr(tmp_path, make_wav, capsys):
    data = tmp_path / "data"
    ids = []
    for label in ("rock", "jazz"):
        for i in range(3):
            make_wav(data / label / f"t{i}.wav", seconds=3.2, freq=200 + 50 * i)
            ids.append(f"{label}/t{i}")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (run / "train_config.json").write_text(json.dumps({"data": str(data)}))
    Split(name="fixed", train=ids[:2], valid=ids[2:3], test=ids[3:]).save(run / "split.json")
    code = cli.main(["explain-dataset", str(run), "--executor", "serial", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err.count("checkpoint.pt") == 1 and err.startswith("genrelens explain-dataset: error:")
    assert not (run / "explanations" / "index.json").exists()


@pytest.mark.parametrize("n_classes", [1, 2])
def test_check_and_train_agree_on_usability(tmp_path, make_wav, n_classes):
    from genrelens.data.check import class_problems

    data = tmp_path / "data"
    for label in ("rock", "jazz")[:n_classes]:
        make_wav(data / label / "t0.wav", seconds=3.2)
    dataset = open_dataset(data)
    report = check_dataset(dataset, progress=False)
    assert report.problems == class_problems(dataset, skips=report.unreadable)
    assert report.usable is (n_classes == 2)
