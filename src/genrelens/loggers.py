"""Optional experiment loggers: training curves and explanation figures to TensorBoard or MLflow.

A *logger* is any object with the three methods of :class:`Logger`; :func:`genrelens.training.fit`
calls ``log_scalars`` after every epoch (the row of ``history.csv``, step = epoch) and
:func:`log_explanation` sends an explanation's figure. Two adapters are provided, each usable
only where its package is installed (neither is a dependency of genrelens):

* :class:`TensorBoardLogger` writes event files with ``torch.utils.tensorboard.SummaryWriter``
  (needs the ``tensorboard`` package): ``tensorboard --logdir LOG_DIR`` shows them.
* :class:`MLflowLogger` logs metrics and figures to the active MLflow run (``mlflow``).

:func:`make_logger` builds one by name and says what to install when its package is absent;
:func:`open_logger` is the choice of ``genrelens train --logger`` for a run directory.
Bring your own (Weights & Biases, a CSV writer, a test double) by implementing the protocol.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from genrelens.errors import GenrelensError, ParameterError

__all__ = ["Logger", "TensorBoardLogger", "MLflowLogger", "make_logger", "open_logger",
           "log_epoch", "log_explanation", "LOGGERS", "LOGGER_CHOICES", "TENSORBOARD_FOLDER"]


@runtime_checkable
class Logger(Protocol):
    """What genrelens calls on a logger."""

    def log_scalars(self, values: Mapping[str, float], *, step: int) -> None:
        """Record the named numbers of one step (e.g. an epoch's losses)."""

    def log_figure(self, name: str, figure: Any, *, step: int) -> None:
        """Record a matplotlib figure under ``name``."""

    def close(self) -> None:
        """Flush and release what the logger holds."""


class TensorBoardLogger:
    """Write scalars and figures as TensorBoard event files in ``log_dir``.

    Parameters
    ----------
    log_dir : path-like
        Folder of the event files (created).

    Raises
    ------
    GenrelensError
        When ``torch.utils.tensorboard`` cannot be imported (the ``tensorboard`` package is
        absent): the message says to ``pip install tensorboard``.
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise GenrelensError(
                f"the TensorBoard logger needs the tensorboard package ({exc}): "
                "pip install tensorboard, or pass another logger."
            ) from exc
        self.writer = SummaryWriter(log_dir=os.fspath(log_dir))

    def log_scalars(self, values: Mapping[str, float], *, step: int) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, float(value), global_step=step)

    def log_figure(self, name: str, figure: Any, *, step: int) -> None:
        self.writer.add_figure(name, figure, global_step=step, close=False)

    def close(self) -> None:
        self.writer.close()


class MLflowLogger:
    """Log scalars as metrics and figures as PNG artifacts of the active MLflow run.

    Raises
    ------
    GenrelensError
        When ``mlflow`` cannot be imported: the message says to ``pip install mlflow``.
    """

    def __init__(self) -> None:
        try:
            import mlflow
        except ImportError as exc:
            raise GenrelensError(
                f"the MLflow logger needs the mlflow package ({exc}): pip install mlflow, or "
                "pass another logger."
            ) from exc
        self.mlflow = mlflow

    def log_scalars(self, values: Mapping[str, float], *, step: int) -> None:
        self.mlflow.log_metrics({k: float(v) for k, v in values.items()}, step=step)

    def log_figure(self, name: str, figure: Any, *, step: int) -> None:
        self.mlflow.log_figure(figure, f"{name}/step-{step:05d}.png")

    def close(self) -> None:
        """Nothing to release: the MLflow run belongs to the caller."""


#: Logger names of :func:`make_logger`.
LOGGERS = {"tensorboard": TensorBoardLogger, "mlflow": MLflowLogger}


def make_logger(name: str, **kwargs: Any) -> Logger:
    """The logger called ``name`` (``"tensorboard"``: ``log_dir=`` required; ``"mlflow"``).

    Raises
    ------
    ParameterError
        For an unknown ``name``.
    GenrelensError
        When the logger's package is not installed (the message names it).
    """
    if name not in LOGGERS:
        raise ParameterError(f"logger={name!r} is invalid: expected one of {sorted(LOGGERS)}.")
    return LOGGERS[name](**kwargs)


#: Choices of ``genrelens train --logger``: no logger, or a name of :data:`LOGGERS`.
LOGGER_CHOICES = ("none", *LOGGERS)

#: Folder of a run directory that receives the TensorBoard event files of its training.
TENSORBOARD_FOLDER = "tensorboard"


@contextlib.contextmanager
def open_logger(name: str, *, run_dir: str | os.PathLike[str]) -> Iterator[Logger | None]:
    """The logger ``--logger NAME`` of ``genrelens train`` (and ``demo``) trains run directory
    ``run_dir`` with, closed on exit.

    ``"none"``: no logger (``None``); ``"tensorboard"``: event files in
    ``RUN/tensorboard`` (``tensorboard --logdir`` on the runs' parent folder compares runs);
    ``"mlflow"``: the active MLflow run (MLflow starts one when none is active).

    Raises
    ------
    ParameterError
        For a name not in :data:`LOGGER_CHOICES`.
    GenrelensError
        When the logger's package is not installed (the message names it), on entry.
    """
    if name == "none":
        yield None
        return
    kwargs = {"log_dir": Path(run_dir) / TENSORBOARD_FOLDER} if name == "tensorboard" else {}
    logger = make_logger(name, **kwargs)
    try:
        yield logger
    finally:
        logger.close()


def log_epoch(logger: Logger | None, row: Mapping[str, float]) -> None:
    """Send one epoch's row of ``history.csv`` to ``logger`` (if any): every number but
    ``epoch`` (the step) and ``best`` (a flag)."""
    if logger is not None:
        logger.log_scalars({k: v for k, v in row.items() if k not in ("epoch", "best")},
                           step=int(row["epoch"]))


def log_explanation(
    logger: Logger,
    explanation: Any,
    *,
    step: int = 0,
    kind: str = "auto",
    target: int | str | None = None,
    name: str | None = None,
) -> Any:
    """Draw ``explanation`` (:class:`genrelens.display.ExplanationDisplay`, ``kind``) and send
    the figure to ``logger`` under ``name`` (default ``"explanations/<method>_<components>"``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure sent (not closed, so that it can be shown or saved too).
    """
    from genrelens.display import ExplanationDisplay

    figure = ExplanationDisplay(explanation, target=target).plot(kind=kind).figure_
    comps = explanation.components
    default = f"explanations/{explanation.method}_{comps.kind if comps is not None else 'dense'}"
    logger.log_figure(name or default, figure, step=step)
    return figure
