"""train -> evaluate -> predict through cli.main on a tiny folder dataset of tones."""

import contextlib
import csv
import io
import json
import sys

import numpy as np
import pytest

from genrelens import cli


@pytest.fixture(scope="module")
def dataset(tone_noise_data, make_wav):
    root = tone_noise_data
    make_wav(root / "short.wav", seconds=1.0)
    return root


TRAIN_ARGS = ["--epochs", "3", "--batch-size", "4", "--model-args", '{"channels": [4, 4, 8, 8]}',
              "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def trained(dataset):
    """The tiny run, trained once for the module: ``(run, argv, stdout, stderr)``; every test
    that needs it asks for it, so each runs alone too."""
    data, run = dataset / "data", dataset / "runs" / "tiny"
    argv = ["train", "--data", str(data), "--out", str(run), *TRAIN_ARGS]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert cli.main(argv) == 0
    return run, argv, out.getvalue(), err.getvalue()


def test_train_evaluate_predict(dataset, trained, capsys):
    run, argv, out, err = trained
    data = dataset / "data"
    assert "best epoch" in out and "test tracks: accuracy" in out
    assert "genrelens train: warning: " in err  # a random split of a folder dataset is announced
    for name in ("checkpoint.pt", "last.pt", "history.csv", "split.json", "train_config.json",
                 "metrics.json", "predictions.csv", "confusion_segment.csv", "confusion_track.csv",
                 "confusion_segment.png", "confusion_track.png", "curves.png"):
        assert (run / name).is_file(), name
    assert (dataset / "runs" / "cache").is_dir()  # default cache: RUN/../cache
    split = json.loads((run / "split.json").read_text())
    assert len(split["test"]) == 2 and len(split["valid"]) == 2 and len(split["train"]) == 6
    metrics = json.loads((run / "metrics.json").read_text())
    with open(run / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["track", "segment", "true", "predicted", "p_noise", "p_tone"]
    assert len(rows) == metrics["segment"]["n"] == 4  # 2 test tracks x 2 segments of 3 s
    assert metrics["track"]["n"] == 2 and {r["track"] for r in rows} == set(split["test"])
    for row in rows:
        assert float(row["p_noise"]) + float(row["p_tone"]) == pytest.approx(1.0, abs=1e-5)
    assert (run / "confusion_track.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Training again finds the finished run and does not train further.
    assert cli.main(argv) == 0
    assert "best epoch" in capsys.readouterr().out

    assert cli.main(["evaluate", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "test segments: accuracy" in out and "precision" in out and "noise" in out
    assert json.loads((run / "metrics.json").read_text()) == metrics

    good = data / "tone" / "tone0.wav"
    code = cli.main(["predict", str(run), str(good), str(dataset / "absent.wav"),
                     str(dataset / "short.wav")])
    out, err = capsys.readouterr()
    assert code == 1  # some files were skipped
    assert out.startswith(f"{good}: ") and out.count("\n") == 1
    assert "absent.wav (missing): " in err and "short.wav (too_short): " in err

    assert cli.main(["predict", str(run / "checkpoint.pt"), str(good), "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["n_segments"] == 2 and set(record["probabilities"]) == {"noise", "tone"}
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-9)
    assert record["label"] == max(record["probabilities"], key=record["probabilities"].get)


def test_predict_matches_segment_average(dataset, trained):
    """predict_files == softmax of the model on the file's cached log-mels, averaged."""
    from genrelens.models import load_checkpoint
    from genrelens.models.inference import predict_files, predict_proba

    run = trained[0]
    loaded = load_checkpoint(run / "checkpoint.pt")
    from genrelens.audio import load_audio, segment_audio
    from genrelens.features import log_mel

    path = dataset / "data" / "noise" / "noise1.wav"
    (prediction,), skipped = predict_files(loaded, [path])
    assert not skipped
    segments = segment_audio(load_audio(path, sr=22050), config=loaded.feature_config)
    expected = predict_proba(loaded.model, log_mel(segments, config=loaded.feature_config))
    np.testing.assert_allclose(prediction.segment_probabilities, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(prediction.probabilities, expected.mean(axis=0), atol=1e-12)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--data", "{data}", "--out", "{tmp}/r", "--model", "nope"],
         "model='nope' is unknown"),
        (["train", "--data", "{data}", "--out", "{tmp}/r", "--model-args", "[1]"], "JSON object"),
        (["train", "--data", "{data}", "--out", "{tmp}/r", "--pretrained"],
         "only available for model 'vgg16'"),
        (["evaluate", "{tmp}"], "checkpoint.pt does not exist"),
        (["predict", "{tmp}/none.pt", "x.wav"], "does not exist"),
    ],
)
def test_cli_errors_are_one_line(dataset, tmp_path, capsys, argv, message):
    argv = [a.format(data=dataset / "data", tmp=tmp_path) for a in argv]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


class RecordingLogger:
    """A logger double built as ``make_logger("tensorboard", log_dir=...)`` would build one."""

    made: list["RecordingLogger"] = []

    def __init__(self, log_dir):
        self.log_dir, self.scalars, self.closed = log_dir, [], False
        RecordingLogger.made.append(self)

    def log_scalars(self, values, *, step):
        self.scalars.append((step, dict(values)))

    def log_figure(self, name, figure, *, step):
        raise AssertionError("training sends no figures")

    def close(self):
        self.closed = True


def test_train_logger_receives_every_epoch_of_history_csv(dataset, tmp_path, monkeypatch):
    from genrelens import loggers

    monkeypatch.setitem(loggers.LOGGERS, "tensorboard", RecordingLogger)
    RecordingLogger.made.clear()
    run = tmp_path / "logged"
    argv = ["train", "--data", str(dataset / "data"), "--out", str(run), "--cache",
            str(dataset / "runs" / "cache"), *TRAIN_ARGS, "--no-evaluate",
            "--logger", "tensorboard"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(argv) == 0
    (logger,) = RecordingLogger.made
    assert logger.log_dir == run / "tensorboard" and logger.closed
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [step for step, _ in logger.scalars] == [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for (_, values), row in zip(logger.scalars, rows, strict=True):
        assert set(values) == set(row) - {"epoch", "best"}
        for key in ("train_loss", "valid_loss", "valid_accuracy", "lr"):
            assert values[key] == pytest.approx(float(row[key]), rel=1e-6)


@pytest.mark.parametrize(("name", "module", "package"), [
    ("tensorboard", "torch.utils.tensorboard", "pip install tensorboard"),
    ("mlflow", "mlflow", "pip install mlflow"),
])
def test_train_logger_without_its_package_stops_before_training(dataset, tmp_path, capsys,
                                                                 monkeypatch, name, module,
                                                                 package):
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    run = tmp_path / "r"
    argv = ["train", "--data", str(dataset / "data"), "--out", str(run), *TRAIN_ARGS,
            "--logger", name]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert package in err and err.count("\n") == 1
    assert not (run / "checkpoint.pt").exists() and not (run / "history.csv").exists()
