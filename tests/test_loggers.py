"""Optional experiment loggers: the protocol, explanation figures, absent packages."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from genrelens.errors import GenrelensError, ParameterError
from genrelens.explain import components as C
from genrelens.explain.explanation import Explanation
from genrelens.loggers import LOGGERS, log_explanation, make_logger


class FigureLogger:
    def __init__(self):
        self.figures = []

    def log_scalars(self, values, *, step):
        raise AssertionError("no scalars expected")

    def log_figure(self, name, figure, *, step):
        self.figures.append((name, figure, step))

    def close(self):
        pass


def _explanation() -> Explanation:
    comps = C.time_segments(n_mels=16, n_frames=40, n_segments=4)
    scores = np.array([[0.1, -0.2, 0.3, 0.0], [0.4, 0.1, -0.1, 0.2]])
    return Explanation(method="occlusion", scores=scores, prediction=np.array([0.3, 0.7]),
                       logmel=np.full((16, 40), -40.0, np.float32), components=comps,
                       class_names=("jazz", "metal"))


def test_log_explanation_sends_the_drawn_figure():
    logger = FigureLogger()
    exp = _explanation()
    fig = log_explanation(logger, exp, step=3, kind="temporal")
    ((name, sent, step),) = logger.figures
    assert (name, step) == ("explanations/occlusion_time", 3) and sent is fig
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, exp.scores[1])  # the predicted class, metal
    log_explanation(logger, exp, name="mine", target="jazz")
    assert logger.figures[-1][0] == "mine" and "jazz" in logger.figures[-1][1].axes[0].get_title()


@pytest.mark.parametrize(("name", "module", "package"), [
    ("tensorboard", "torch.utils.tensorboard", "pip install tensorboard"),
    ("mlflow", "mlflow", "pip install mlflow"),
])
def test_absent_packages_are_named_with_what_to_install(monkeypatch, tmp_path, name, module,
                                                        package):
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    kwargs = {"log_dir": tmp_path} if name == "tensorboard" else {}
    with pytest.raises(GenrelensError, match=package):
        make_logger(name, **kwargs)
    with pytest.raises(ParameterError, match="logger='wandb' is invalid"):
        make_logger("wandb")
    assert sorted(LOGGERS) == ["mlflow", "tensorboard"]


def test_tensorboard_logger_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    logger = make_logger("tensorboard", log_dir=tmp_path / "tb")
    logger.log_scalars({"valid_loss": 0.5}, step=1)
    log_explanation(logger, _explanation(), step=1)
    logger.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_mlflow_logger_logs_metrics_and_figures(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    with mlflow.start_run() as run:
        logger = make_logger("mlflow")
        logger.log_scalars({"valid_loss": 0.5}, step=1)
        log_explanation(logger, _explanation(), step=1)
    history = mlflow.tracking.MlflowClient().get_metric_history(run.info.run_id, "valid_loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.5)]


def test_open_logger_none_and_log_epoch_sends_the_row_without_epoch_and_best(tmp_path):
    from genrelens.loggers import LOGGER_CHOICES, log_epoch, open_logger

    with open_logger("none", run_dir=tmp_path) as logger:
        assert logger is None and LOGGER_CHOICES[0] == "none"
    log_epoch(None, {"epoch": 1, "valid_loss": 0.5})  # no logger: nothing to send
    sent = []

    class Recorder(FigureLogger):
        def log_scalars(self, values, *, step):
            sent.append((step, values))

    log_epoch(Recorder(), {"epoch": 4, "train_loss": 1.5, "valid_loss": 0.5, "best": 1})
    assert sent == [(4, {"train_loss": 1.5, "valid_loss": 0.5})]
    with pytest.raises(ParameterError, match="logger='wandb' is invalid"):
        with open_logger("wandb", run_dir=tmp_path):
            pass
