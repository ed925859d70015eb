"""``shortchunk``: the short-chunk CNN of Won et al. (2020) adapted to log-mel segments.

Reference: M. Won, A. Ferraro, D. Bogdanov and X. Serra, "Evaluation of CNN-based automatic music
tagging models", Proc. Sound and Music Computing (SMC) 2020 — the "short-chunk CNN" that
performed best in their comparison. Architecture (input ``(batch, 1, n_mels, n_frames)``)::

    InputNorm (fixed affine; the paper uses an input BatchNorm2d(1), see genrelens.models.layers)
    7 x [Conv2d 3x3 -> BatchNorm2d -> ReLU -> MaxPool2d 2x2]
        channels n, n, 2n, 2n, 2n, 2n, 4n   (paper: n = 128)
    global max pooling over (mel, time)     (paper: max over the remaining time steps)
    Linear(4n, 4n) -> BatchNorm1d -> ReLU -> Dropout(0.5) -> Linear(4n, n_classes)

Adaptations: the paper's input is 3.69-s chunks of 128 mel bands at 16 kHz and its output is a
sigmoid for multi-label tagging; here the input is any log-mel segment (pooling uses
``ceil_mode`` so inputs with fewer than 128 rows or columns still work) and the output is one
logit per genre for single-label classification (no sigmoid or softmax inside).
"""

from __future__ import annotations

import torch
from torch import nn

from genrelens.models.layers import (
    InputNorm,
    check_dropout,
    check_input,
    check_positive_int,
    conv_block,
)
from genrelens.models.registry import register_model

__all__ = ["ShortChunkCNN"]

#: Channel multipliers of the seven blocks (Won et al. 2020).
_MULTIPLIERS = (1, 1, 2, 2, 2, 2, 4)


@register_model("shortchunk")
class ShortChunkCNN(nn.Module):
    """Seven 3x3 conv blocks, global max pooling and two dense layers; returns logits.

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    n_channels : int
        Width ``n`` of the first block (paper: 128; smaller values train faster on CPU).
    dropout : float
        Dropout probability between the dense layers (paper: 0.5).

    Attributes
    ----------
    input_norm : InputNorm
    features : nn.Sequential
        The seven conv blocks; ``features[-1]`` is the last one (a Grad-CAM target).
    classifier : nn.Sequential
        ``Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear``.
    """

    def __init__(self, *, n_classes: int = 10, n_channels: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        check_positive_int("n_classes", n_classes)
        check_positive_int("n_channels", n_channels)
        widths = (1, *(m * n_channels for m in _MULTIPLIERS))
        self.input_norm = InputNorm()
        self.features = nn.Sequential(
            *(conv_block(widths[i], widths[i + 1], pool_ceil=True) for i in range(7))
        )
        self.pool = nn.AdaptiveMaxPool2d(1)
        width = widths[-1]
        self.classifier = nn.Sequential(
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Dropout(check_dropout(dropout)),
            nn.Linear(width, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, 1, n_mels, n_frames)`` log-mel dB to ``(batch, n_classes)`` logits."""
        check_input(x)
        h = self.features(self.input_norm(x))
        return self.classifier(torch.flatten(self.pool(h), 1))
