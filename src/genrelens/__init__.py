"""genrelens: train music-genre classifiers and explain their predictions.

>>> import genrelens
>>> track = genrelens.explain_file("runs/cnn", "song.wav", kind="frequency")  # doctest: +SKIP
>>> track.summary()  # doctest: +SKIP
"""

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

from genrelens._version import __version__

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
    "explain_file",
    "WaveformModel",
]


def __getattr__(name: str) -> object:
    """Lazy exports: ``import genrelens`` stays light (no torch) until they are used."""
    if name == "explain_file":
        from genrelens.explain.track import explain_file

        return explain_file
    if name == "WaveformModel":
        from genrelens.models.waveform import WaveformModel

        return WaveformModel
    raise AttributeError(f"module 'genrelens' has no attribute {name!r}")
