"""Training of the registered models: :func:`fit` over log-mel arrays, :func:`train_run` for a
run directory, with resume, early stopping, augmentation and CPU data parallelism (torchrun).

This package imports :mod:`genrelens.models`; models never import it.
"""

from genrelens.training.config import TrainConfig
from genrelens.training.loop import FitResult, fit

__all__ = ["TrainConfig", "fit", "FitResult"]
