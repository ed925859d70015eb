"""genrelens: train music-genre classifiers and explain their predictions."""

from genrelens.config import FeatureConfig
from genrelens.errors import (
    AudioLoadError,
    CacheError,
    CheckpointError,
    DatasetError,
    GenrelensError,
    ParameterError,
    SplitError,
    StorageError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "FeatureConfig",
    "GenrelensError",
    "ParameterError",
    "AudioLoadError",
    "DatasetError",
    "SplitError",
    "CheckpointError",
    "CacheError",
    "StorageError",
]
