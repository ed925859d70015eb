"""Early stopping on a validation loss, with a state that survives interruption."""

from __future__ import annotations

import math
from typing import Any

from genrelens.errors import ParameterError
from genrelens.models.layers import check_positive_int

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Track the best validation loss and stop after ``patience`` epochs without improvement.

    Parameters
    ----------
    patience : int
        Epochs without an improvement larger than ``min_delta`` before :attr:`should_stop`.
    min_delta : float
        Smallest decrease of the loss that counts as an improvement.

    Attributes
    ----------
    best : float
        Best loss seen (``inf`` before the first epoch).
    best_epoch : int
        Epoch of ``best`` (``-1`` before the first epoch).
    bad_epochs : int
        Epochs since the last improvement.
    """

    def __init__(self, *, patience: int, min_delta: float = 0.0) -> None:
        check_positive_int("patience", patience)
        if not min_delta >= 0:
            raise ParameterError(f"min_delta={min_delta!r} is invalid: expected a number >= 0.")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best = math.inf
        self.best_epoch = -1
        self.bad_epochs = 0

    def step(self, loss: float, *, epoch: int) -> bool:
        """Record the loss of ``epoch``; return whether it is a new best.

        A non-finite loss never improves.
        """
        if math.isfinite(loss) and loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = float(loss), int(epoch), 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs passed without improvement."""
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        """Plain-value state for a resume file."""
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""
        self.patience = int(state["patience"])
        self.min_delta = float(state["min_delta"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
