"""``cnn``: a compact four-block 2-D CNN on log-mel segments, the from-scratch baseline.

Architecture (input ``(batch, 1, n_mels, n_frames)`` log-mel dB)::

    InputNorm (fixed affine, see genrelens.models.layers)
    4 x [Conv2d 3x3 -> BatchNorm2d -> ReLU -> MaxPool2d 2x2]   channels c1..c4
    global average (or max) pooling over (mel, time)  ->  Dropout  ->  Linear(c4, n_classes)

The global pooling makes the model accept any input of at least 16 x 16 bins. This is the
classic small genre CNN (e.g. Choi et al., "Convolutional recurrent neural networks for music
classification", ICASSP 2017, its fully convolutional baseline), sized for CPU training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genrelens.errors import ParameterError
from genrelens.models.layers import (
    InputNorm,
    check_dropout,
    check_input,
    check_positive_int,
    conv_block,
)
from genrelens.models.registry import register_model

__all__ = ["CNN"]


@register_model("cnn")
class CNN(nn.Module):
    """Four conv blocks, global average pooling and a linear head; returns logits.

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    channels : sequence of 4 int
        Output channels of the four blocks.
    dropout : float
        Dropout probability before the linear head.
    pooling : {"avg", "max"}
        Global pooling over (mel, time). ``"avg"`` suits genre, a property of the whole
        segment; ``"max"`` suits short local events (a sound somewhere in the segment), which
        averaging dilutes by the segment's area.

    Attributes
    ----------
    input_norm : InputNorm
        Fixed input affine, set from the training data.
    features : nn.Sequential
        The four conv blocks; ``features[-1]`` is the last block (a Grad-CAM target).
    classifier : nn.Sequential
        ``Dropout -> Linear``.
    """

    def __init__(
        self,
        *,
        n_classes: int = 10,
        channels: Sequence[int] = (16, 32, 64, 128),
        dropout: float = 0.3,
        pooling: str = "avg",
    ) -> None:
        super().__init__()
        check_positive_int("n_classes", n_classes)
        channels = tuple(channels)
        if len(channels) != 4:
            raise ParameterError(f"channels={channels!r} is invalid: expected 4 positive integers.")
        for c in channels:
            check_positive_int("channels", c)
        self.input_norm = InputNorm()
        widths = (1, *channels)
        self.features = nn.Sequential(
            *(conv_block(widths[i], widths[i + 1]) for i in range(4))
        )
        if pooling not in ("avg", "max"):
            raise ParameterError(f"pooling={pooling!r} is invalid: expected 'avg' or 'max'.")
        self.pool = nn.AdaptiveAvgPool2d(1) if pooling == "avg" else nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(check_dropout(dropout)), nn.Linear(channels[-1], n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, 1, n_mels, n_frames)`` log-mel dB to ``(batch, n_classes)`` logits."""
        check_input(x)
        h = self.features(self.input_norm(x))
        return self.classifier(torch.flatten(self.pool(h), 1))
