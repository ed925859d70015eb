"""TrainConfig: every setting of a training run, saved as ``RUN/train_config.json``."""

from __future__ import annotations

import dataclasses
from typing import Any

from genrelens.config import dataclass_from_dict
from genrelens.errors import ParameterError
from genrelens.models.layers import check_positive_int
from genrelens.models.registry import check_model_args

__all__ = ["TrainConfig", "CLASS_WEIGHTS"]

#: Accepted values of :attr:`TrainConfig.class_weight`.
CLASS_WEIGHTS = ("balanced", "none")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`genrelens.training.fit`.

    Parameters
    ----------
    model : str
        Registered model name (``"cnn"``, ``"shortchunk"``, ``"vgg16"``).
    model_args : dict
        Constructor arguments besides ``n_classes`` (which comes from the data).
    pretrained : str or None
        Path of torchvision's ImageNet VGG16 weights to start from (``vgg16`` only).
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Global batch size (split among the ranks of a distributed run).
    lr, weight_decay : float
        Adam's learning rate and L2 penalty.
    backbone_lr : float or None
        Adam's learning rate for the fine-tuned part of a ``"transfer"`` model's backbone
        (``model_args`` ``finetune="backend"`` or ``"all"``); ``None``: ``lr / 10``
        (:attr:`backbone_learning_rate`), the pretrained weights moving less than the new head.
    lr_factor, lr_patience : float, int
        ``ReduceLROnPlateau`` on the validation loss: multiply the rate by ``lr_factor`` after
        ``lr_patience`` epochs without improvement.
    patience : int
        Early stopping: end after this many epochs without a better validation loss.
    spec_augment : bool
        Apply SpecAugment time and frequency masking to training batches.
    mixup_alpha : float
        Mixup's ``Beta(alpha, alpha)`` parameter; 0 disables mixup.
    class_weight : {"balanced", "none"}
        ``"balanced"`` weighs the loss by ``n_segments / (n_classes * count_c)`` so unbalanced
        folders do not favour large classes (all ones on balanced data).
    seed : int
        Seeds model initialisation (torch), data order and augmentation (numpy).
    threads : int or None
        Intra-op threads per process; ``None``: usable CPUs divided by the number of ranks.
    """

    model: str = "cnn"
    model_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    pretrained: str | None = None
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    backbone_lr: float | None = None
    lr_factor: float = 0.5
    lr_patience: int = 2
    patience: int = 6
    spec_augment: bool = False
    mixup_alpha: float = 0.0
    class_weight: str = "balanced"
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            check_positive_int(name, getattr(self, name))
        if not isinstance(self.lr_patience, int) or self.lr_patience < 0:
            raise ParameterError(
                f"lr_patience={self.lr_patience!r} is invalid: expected an integer >= 0."
            )
        if self.threads is not None:
            check_positive_int("threads", self.threads)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ParameterError(f"seed={self.seed!r} is invalid: expected an integer >= 0.")
        if not (isinstance(self.lr, int | float) and self.lr > 0):
            raise ParameterError(f"lr={self.lr!r} is invalid: expected a positive number.")
        if not (isinstance(self.weight_decay, int | float) and self.weight_decay >= 0):
            raise ParameterError(
                f"weight_decay={self.weight_decay!r} is invalid: expected a number >= 0."
            )
        if not (isinstance(self.lr_factor, int | float) and 0 < self.lr_factor < 1):
            raise ParameterError(f"lr_factor={self.lr_factor!r} is invalid: expected 0 < x < 1.")
        if not (isinstance(self.mixup_alpha, int | float) and self.mixup_alpha >= 0):
            raise ParameterError(
                f"mixup_alpha={self.mixup_alpha!r} is invalid: expected a number >= 0 (0: off)."
            )
        if self.class_weight not in CLASS_WEIGHTS:
            raise ParameterError(
                f"class_weight={self.class_weight!r} is invalid: expected one of {CLASS_WEIGHTS}."
            )
        if not isinstance(self.model_args, dict) or "n_classes" in self.model_args:
            raise ParameterError(
                f"model_args={self.model_args!r} is invalid: expected a dict without n_classes "
                "(the number of classes comes from the data)."
            )
        check_model_args(self.model, {"n_classes": 2, **self.model_args})
        if self.backbone_lr is not None:
            if not (isinstance(self.backbone_lr, int | float) and self.backbone_lr > 0):
                raise ParameterError(
                    f"backbone_lr={self.backbone_lr!r} is invalid: expected a positive number "
                    "(None: lr / 10)."
                )
            if self.model_args.get("finetune", "none") == "none" or self.model != "transfer":
                raise ParameterError(
                    f"backbone_lr={self.backbone_lr!r} applies only to a fine-tuned backbone: "
                    "use model 'transfer' with model_args finetune='backend' or 'all'."
                )
        if self.pretrained is not None and self.model != "vgg16":
            raise ParameterError(
                f"pretrained={self.pretrained!r} is only available for model 'vgg16', "
                f"not {self.model!r}."
            )

    @property
    def backbone_learning_rate(self) -> float:
        """:attr:`backbone_lr`, or ``lr / 10`` when it is ``None``."""
        return self.lr / 10 if self.backbone_lr is None else float(self.backbone_lr)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from :meth:`to_dict` output; unknown keys raise :class:`ParameterError`."""
        return dataclass_from_dict(cls, data)

