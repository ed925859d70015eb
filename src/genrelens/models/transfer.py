"""Transfer models: a frozen pretrained musicnn backbone and a small classification head.

:class:`TransferModel` (registered as ``"transfer"``) is one ``nn.Module`` taking the
backbone's own input ``(batch, 1, 96, 187)`` (the ``"musicnn"`` front end,
:data:`~genrelens.models.musicnn.MUSICNN_FEATURES`, which its checkpoints carry as their
``feature_config``) to class logits: the backbone's embeddings of each patch
(:meth:`~genrelens.models.musicnn.Musicnn.embed`: the penultimate dense layer and the
max/mean-pooled mid-level features), standardised with the training set's statistics (kept as
buffers), then a linear layer or a one-hidden-layer MLP. Being a single module, the whole model
(backbone + head) can be explained like any other, Grad-CAM reaching the backbone's
convolutions; its checkpoint holds the backbone's weights too, so it loads without the wheel, and
every command computing features from the checkpoint (``predict``, ``explain``,
``evaluate-xai``, ``global``) gives it its own input.

Training either freezes the backbone (``finetune="none"``): the embeddings are computed once
per track (:mod:`genrelens.training.transfer`) and only the head learns, as in the linear-probe
evaluations of pretrained audio embeddings [1]_; or fine-tunes part of it with the head
(``finetune="backend"``: the back end, :attr:`~genrelens.models.musicnn.Musicnn.backend`;
``"all"``: every layer feeding the embeddings) in :func:`genrelens.training.fit`. The
backbone's batch-norm statistics and dropouts stay in evaluation mode in both cases (the
pretrained statistics are kept; only weights learn), and the parameters that are not
fine-tuned have ``requires_grad=False``, so no gradient is computed for them.

References
----------
.. [1] J. Pons and X. Serra, "musicnn: pre-trained convolutional neural networks for music
   audio tagging", ISMIR late-breaking demo, 2019 (embeddings + linear classifiers for genre).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from genrelens._validation import check_choice
from genrelens.errors import ParameterError
from genrelens.models.layers import check_positive_int
from genrelens.models.musicnn import MUSICNN_MODELS, Musicnn, MusicnnVGG
from genrelens.models.registry import get_model, register_model

__all__ = [
    "TransferModel",
    "EMBEDDING_LAYERS",
    "FINETUNE_PARTS",
    "state_digest",
]

#: The embeddings a head can take, in the order of :meth:`Musicnn.embed`.
EMBEDDING_LAYERS = ("penultimate", "pooled")

#: Which part of the backbone trains with the head (:class:`TransferModel`'s ``finetune``).
FINETUNE_PARTS = ("none", "backend", "all")


def state_digest(module: nn.Module) -> str:
    """sha256 of a module's state: every tensor's name, dtype, shape and bytes, sorted by name.

    Two modules have the same digest exactly when their weights and buffers are identical.
    """
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _check_layers(layers: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(layers)
    if not chosen or len(set(chosen)) != len(chosen) or set(chosen) - set(EMBEDDING_LAYERS):
        raise ParameterError(
            f"layers={list(chosen)!r} is invalid: expected distinct names among "
            f"{list(EMBEDDING_LAYERS)}."
        )
    return tuple(name for name in EMBEDDING_LAYERS if name in chosen)


@register_model("transfer")
class TransferModel(nn.Module):
    """A pretrained musicnn backbone with a classification head (see the module docstring).

    Parameters
    ----------
    backbone : {"MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"}
        The pretrained tagger whose embeddings feed the head.
    n_classes : int
    hidden : int
        0: a linear head; otherwise the units of the MLP's hidden layer (ReLU).
    layers : sequence of {"penultimate", "pooled"}
        The embeddings concatenated as the head's input.
    weights : "wheel", path-like or None
        The backbone's weights (as for :class:`~genrelens.models.musicnn.Musicnn`); ``None``
        (random) when a checkpoint's weights are loaded next.
    finetune : {"none", "backend", "all"}
        The part of the backbone that trains with the head: none (a frozen backbone), its
        back end (the layers after the embedding ``"pooled"``, :attr:`Musicnn.backend
        <genrelens.models.musicnn.Musicnn.backend>`; needs the ``"penultimate"`` layer, the
        only one they feed) or all the layers feeding the embeddings.

    Attributes
    ----------
    backbone : Musicnn or MusicnnVGG
        Kept in evaluation mode (its batch norms and dropouts frozen) by :meth:`train`.
    finetune : str
    mean, scale : torch.Tensor, shape (n_features,)
        Standardisation of the embeddings (buffers set by :meth:`set_standardization`).
    head : nn.Sequential
    front_end, conv_layout
        Those of the backbones (:class:`~genrelens.models.musicnn.Musicnn`).
    """

    front_end: ClassVar[str] = Musicnn.front_end
    conv_layout: ClassVar[tuple[str, str]] = Musicnn.conv_layout
    backbone: Musicnn | MusicnnVGG
    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        *,
        backbone: str,
        n_classes: int,
        hidden: int = 0,
        layers: Sequence[str] = EMBEDDING_LAYERS,
        weights: str | os.PathLike[str] | None = None,
        finetune: str = "none",
    ) -> None:
        super().__init__()
        if backbone not in MUSICNN_MODELS:
            raise ParameterError(
                f"backbone={backbone!r} is unknown: expected one of {list(MUSICNN_MODELS)}."
            )
        check_positive_int("n_classes", n_classes)
        if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 0:
            raise ParameterError(f"hidden={hidden!r} is invalid: expected an integer >= 0 (0: "
                                 "linear head).")
        self.layers = _check_layers(layers)
        self.finetune = check_choice("finetune", finetune, FINETUNE_PARTS)
        if finetune == "backend" and "penultimate" not in self.layers:
            raise ParameterError(
                f"finetune='backend' with layers={list(self.layers)!r}: the back end feeds only "
                "the 'penultimate' embedding; add it to layers or fine-tune 'all'."
            )
        model = get_model(backbone, weights=weights).eval()
        assert isinstance(model, (Musicnn, MusicnnVGG))  # the models of MUSICNN_MODELS
        self.backbone = model
        if finetune != "none":
            trained = {id(p) for p in self.finetuned_parameters()}
            for parameter in self.backbone.parameters():
                parameter.requires_grad_(id(parameter) in trained)
        sizes = dict(zip(EMBEDDING_LAYERS, self.backbone.embedding_sizes, strict=True))
        n_features = sum(sizes[name] for name in self.layers)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.head = (
            nn.Sequential(nn.Linear(n_features, n_classes)) if hidden == 0
            else nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(),
                               nn.Linear(hidden, n_classes))
        )

    @property
    def frozen(self) -> bool:
        """Whether the backbone keeps its weights (``finetune="none"``): then the head's
        input can be cached."""
        return self.finetune == "none"

    def finetuned_parameters(self) -> list[nn.Parameter]:
        """The backbone's parameters that train with the head (empty for a frozen one): its
        :attr:`~genrelens.models.musicnn.Musicnn.backend` modules, or every module feeding
        the embeddings (all but the tag layer ``output``)."""
        if self.finetune == "none":
            return []
        names = (self.backbone.backend if self.finetune == "backend"
                 else [name for name, _ in self.backbone.named_children() if name != "output"])
        return [p for name in names for p in self.backbone.get_submodule(name).parameters()]

    def train(self, mode: bool = True) -> TransferModel:
        """Set the head's mode; the backbone stays in evaluation mode (its batch-norm
        statistics and dropouts frozen, also while it is fine-tuned)."""
        super().train(mode)
        self.backbone.eval()
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The head's input features of patches ``x`` (before standardisation).

        Returns
        -------
        torch.Tensor, shape (batch, n_features)
            The chosen embeddings concatenated in the order of :data:`EMBEDDING_LAYERS`.
        """
        found = dict(zip(EMBEDDING_LAYERS, self.backbone.embed(x), strict=True))
        return torch.cat([found[name] for name in self.layers], dim=1)

    def set_standardization(self, features: np.ndarray) -> None:
        """Standardise the head's input with the mean and standard deviation of ``features``
        (shape ``(n, n_features)``; constant features get scale 1)."""
        values = torch.as_tensor(np.asarray(features, dtype=np.float64))
        if values.ndim != 2 or values.shape[1] != self.mean.numel() or len(values) == 0:
            raise ParameterError(
                f"features have shape {tuple(values.shape)}: expected (n > 0, "
                f"{self.mean.numel()})."
            )
        std = values.std(dim=0, unbiased=False)
        self.mean.copy_(values.mean(dim=0).float())
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)).float())

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)`` of :meth:`embed`'s features."""
        return self.head((features - self.mean) / self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, 1, 96, 187)`` musicnn patches to ``(batch, n_classes)`` logits."""
        return self.classify(self.embed(x))
