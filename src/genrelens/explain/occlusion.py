"""Occlusion: switch one component off at a time (Zeiler & Fergus 2014).

``score_j = f(x) - f(x with component j off)`` for every class, from ``M + 1`` model
evaluations. For a model that is additive over the components this equals each component's
contribution exactly; interactions are ignored (compare KernelSHAP).

Reference
---------
Zeiler, M. D., & Fergus, R. (2014). Visualizing and understanding convolutional networks. ECCV.
"""

from __future__ import annotations

import numpy as np

__all__ = ["occlusion_design", "occlusion_scores"]


def occlusion_design(n_components: int) -> np.ndarray:
    """``(M + 1, M)`` rows: all-on, then all-on with component ``j`` off for ``j = 0..M-1``."""
    return np.vstack([np.ones(n_components, np.int8),
                      1 - np.eye(n_components, dtype=np.int8)])


def occlusion_scores(y: np.ndarray) -> np.ndarray:
    """Scores ``(n_classes, M)`` from outputs ``y`` ``(M + 1, n_classes)`` on the design."""
    y = np.asarray(y, dtype=np.float64)
    scores: np.ndarray = (y[0][None, :] - y[1:]).T.copy()
    return scores
