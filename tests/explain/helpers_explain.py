"""Tiny analytic models and inputs shared by the explain-core tests (16 x 20 inputs)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genrelens.config import FeatureConfig
from genrelens.explain.components import Components

N_MELS, N_FRAMES = 16, 20
CONFIG = FeatureConfig(n_mels=N_MELS)


def logmel(seed: int = 0) -> np.ndarray:
    """A (16, 20) log-mel-like input in dB."""
    return np.random.default_rng(seed).normal(-40.0, 12.0, (N_MELS, N_FRAMES)).astype(np.float32)


def component_means_matrix(components: Components) -> np.ndarray:
    """(M, n_cells) averaging matrix: row j averages the cells of component j."""
    flat = components.map.ravel()
    a = np.zeros((components.n_components, flat.size))
    for j in range(components.n_components):
        a[j, flat == j] = 1.0 / np.count_nonzero(flat == j)
    return a


class AdditiveModel:
    """``f_c(x) = sum_j W[c, j] * mean of x over component j`` (logits), float64."""

    def __init__(self, components: Components, weights: np.ndarray) -> None:
        self.a = torch.from_numpy(component_means_matrix(components))
        self.w = torch.from_numpy(np.asarray(weights, dtype=np.float64))

    def means(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.reshape(batch.shape[0], -1).to(torch.float64) @ self.a.T

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self.means(batch) @ self.w.T

    def contributions(self, x: np.ndarray, fill_db: float) -> np.ndarray:
        """Exact per-component contributions ``W * (mean_j(x) - fill)`` (n_classes, M)."""
        m = self.means(torch.from_numpy(x)[None].to(torch.float64))[0].numpy()
        return self.w.numpy() * (m - fill_db)[None, :]


class InteractionModel(AdditiveModel):
    """Non-additive: products and maxima of component means (scaled to O(1))."""

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        m = (self.means(batch) + 60.0) / 40.0
        return torch.stack(
            [m[:, 0] * m[:, 1] + m[:, 2], torch.max(m[:, 1:], dim=1).values - m[:, 0] ** 2,
             m.prod(dim=1)], dim=1,
        )


class TinyCNN(nn.Module):
    """A small conv net with batch norm, 3 classes."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.AdaptiveAvgPool2d((4, 4)), nn.Flatten(), nn.Linear(64, 3),
        )
        with torch.no_grad():
            bn = self.body[1]
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x / 40.0)
