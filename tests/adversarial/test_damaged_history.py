"""A cut or garbled ``history.csv``: ``evaluate`` names it before any work; ``train`` repairs
it from ``last.pt``."""

from __future__ import annotations

import numpy as np
import pytest

from genrelens import cli
from genrelens.config import FeatureConfig
from genrelens.run import RunDirError
from genrelens.training import TrainConfig, fit
from genrelens.training.run import evaluate_run, read_history

_GOOD = "epoch,train_loss,valid_loss\n1,0.9,1.0\n2,0.7,0.8\n"


@pytest.mark.parametrize("damage", [
    b"3,0.5",  # cut short: the last row lacks cells
    b"3,0.5,0.6,7\n",  # a row with an extra cell
    b"\xff\xfe\x00 appended bytes",  # not UTF-8
    b"3,0.5,abc\n",  # not a number
])
def test_evaluate_names_a_damaged_history_before_any_work(tmp_path, damage):
    (tmp_path / "history.csv").write_bytes(_GOOD.encode() + damage)

    with pytest.raises(RunDirError, match="history.csv is damaged .*genrelens train"):
        read_history(tmp_path)
    with pytest.raises(RunDirError, match="history.csv is damaged"):
        evaluate_run(tmp_path, progress=False)  # no checkpoint needed to stop: checked first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]  # nothing written


def test_evaluate_cli_exits_3_naming_the_file(tmp_path, capsys):
    (tmp_path / "history.csv").write_bytes(_GOOD.encode() + b"3,0.5")

    assert cli.main(["evaluate", str(tmp_path), "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "history.csv is damaged" in err and "Traceback" not in err


def test_training_again_rewrites_a_damaged_history_from_last_pt(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(-40.0, 5.0, (8, 24, 20)).astype(np.float32), np.arange(8) % 2
    config = TrainConfig(model_args={"channels": [2, 2, 2, 2]}, epochs=2, batch_size=4,
                         threads=1)
    kwargs = dict(x_train=x, y_train=y, x_valid=x, y_valid=y, class_names=("a", "b"),
                  feature_config=FeatureConfig(), config=config, run_dir=tmp_path,
                  progress=False)
    fit(**kwargs)
    intact = read_history(tmp_path)
    path = tmp_path / "history.csv"
    path.write_bytes(path.read_bytes()[:-9])  # cut inside the last row

    again = fit(**kwargs)  # finished: nothing is trained, the history is restored

    assert again.epochs_run == 2 and read_history(tmp_path) == intact
