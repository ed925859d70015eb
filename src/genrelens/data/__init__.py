"""Datasets, batch loading, dataset checks, splits by track and the Kaggle GTZAN feature tables.

See :func:`open_dataset` (:mod:`genrelens.data.discover`) for the layouts recognised
(:mod:`genrelens.data.fma` for FMA),
:mod:`genrelens.data.splits` for the splits (fault-filtered GTZAN, FMA's own, stratified random,
k-fold), :mod:`genrelens.data.check` for ``genrelens data check``,
:mod:`genrelens.data.loading` for batch loading with skip reports and
:mod:`genrelens.data.tabular` for ``features_30_sec.csv`` / ``features_3_sec.csv``.
"""

from genrelens.data.dataset import Dataset, Track
from genrelens.data.discover import open_dataset
from genrelens.data.splits import (
    Split,
    default_split,
    fault_filtered_split,
    fma_split,
    kfold_splits,
    random_split,
)

__all__ = [
    "Track",
    "Dataset",
    "open_dataset",
    "Split",
    "default_split",
    "random_split",
    "kfold_splits",
    "fault_filtered_split",
    "fma_split",
]
