"""``vgg16``: VGG16 for one-channel log-mel input, loadable from torchvision's ImageNet weights.

Reference: K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image
recognition", ICLR 2015 (configuration D). Transfer from ImageNet to spectrograms follows e.g.
Palanisamy, Singhania and Yao, "Rethinking CNN models for audio classification", 2020.

The module is defined here (torchvision is not a dependency) with parameter names equal to
torchvision's ``vgg16`` state dict — ``features.0.weight`` ... ``features.28.bias``,
``classifier.0.weight`` ... ``classifier.6.bias`` — so :func:`load_torchvision_vgg16` loads the
file ``vgg16-397923af.pth`` that torchvision downloads into torch hub's cache. Adaptations:

* an :class:`~genrelens.models.layers.InputNorm` in front (its buffers are not in torchvision's
  file and keep the values fitted on the training data);
* the first convolution takes one channel: the ImageNet filters are summed over their three
  colour channels, which is exactly the response to a grey image fed to all three;
* the last classifier layer has ``n_classes`` outputs and is initialised afresh;
* ``AdaptiveAvgPool2d((7, 7))`` (as torchvision) lets any input of at least 32 x 32 bins through;
  a 128 x 130 log-mel reaches it as 4 x 4 and is up-sampled to 7 x 7.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from genrelens.errors import CheckpointError
from genrelens.models.checkpoint import read_checkpoint_dict, state_dict_mismatch
from genrelens.models.layers import InputNorm, check_dropout, check_input, check_positive_int
from genrelens.models.registry import register_model

__all__ = ["VGG16", "load_torchvision_vgg16", "default_vgg16_weights_path", "VGG16_WEIGHTS_FILE"]

#: File name of torchvision's ImageNet VGG16 weights in torch hub's ``checkpoints`` folder.
VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"

#: VGG configuration "D": output channels of each 3x3 convolution, "M" for a 2x2 max pool.
_CONFIG_D = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
             512, 512, 512, "M")


@register_model("vgg16")
class VGG16(nn.Module):
    """VGG16 (configuration D) with one input channel; returns logits.

    Parameters
    ----------
    n_classes : int
        Number of output classes (the last classifier layer).
    dropout : float
        Dropout probability of the two hidden classifier layers (torchvision: 0.5).

    Attributes
    ----------
    input_norm : InputNorm
    features : nn.Sequential
        13 convolutions with ReLU and 5 max pools, indexed as torchvision's. Its ReLUs are not
        in-place so that gradient hooks (Grad-CAM) work on any layer.
    avgpool : nn.AdaptiveAvgPool2d
    classifier : nn.Sequential
        ``Linear(25088, 4096) ReLU Dropout Linear(4096, 4096) ReLU Dropout Linear(4096, n)``.
    """

    def __init__(self, *, n_classes: int = 10, dropout: float = 0.5) -> None:
        super().__init__()
        check_positive_int("n_classes", n_classes)
        p = check_dropout(dropout)
        self.input_norm = InputNorm()
        layers: list[nn.Module] = []
        in_channels = 1
        for item in _CONFIG_D:
            if isinstance(item, str):  # "M"
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.ReLU()]
                in_channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(p),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(p),
            nn.Linear(4096, n_classes),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's VGG initialisation (Kaiming for convolutions, N(0, 0.01) for linears).
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                assert module.bias is not None  # every convolution here has a bias
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, 1, n_mels, n_frames)`` log-mel dB to ``(batch, n_classes)`` logits."""
        check_input(x)
        h = self.avgpool(self.features(self.input_norm(x)))
        return self.classifier(torch.flatten(h, 1))


def default_vgg16_weights_path() -> Path:
    """Where torchvision stores ImageNet VGG16 weights: ``<torch hub dir>/checkpoints/<file>``.

    The hub directory is ``torch.hub.get_dir()`` (``$TORCH_HOME/hub``, by default
    ``~/.cache/torch/hub``). genrelens never downloads this file.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_WEIGHTS_FILE


def _torchvision_shapes() -> dict[str, tuple[int, ...]]:
    """Names and shapes of torchvision's ImageNet ``vgg16`` state dict (3 colours, 1000 classes)."""
    shapes: dict[str, tuple[int, ...]] = {}
    index, in_channels = 0, 3
    for item in _CONFIG_D:
        if isinstance(item, str):  # "M"
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (item, in_channels, 3, 3)
        shapes[f"features.{index}.bias"] = (item,)
        in_channels = item
        index += 2
    for index, (n_out, n_in) in {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}.items():
        shapes[f"classifier.{index}.weight"] = (n_out, n_in)
        shapes[f"classifier.{index}.bias"] = (n_out,)
    return shapes


def load_torchvision_vgg16(model: VGG16, path: str | os.PathLike[str] | None = None) -> VGG16:
    """Load torchvision's ImageNet VGG16 weights into ``model`` (in place) and return it.

    Parameters
    ----------
    model : VGG16
        The model to initialise; its ``input_norm`` and last classifier layer are kept.
    path : path-like or None
        The state-dict file (``torch.save`` of ``torchvision.models.vgg16(...).state_dict()``);
        ``None`` means :func:`default_vgg16_weights_path`.

    Returns
    -------
    VGG16
        ``model``, with the first convolution's filters summed over the colour channels.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, contains pickled code, or its names or shapes do not
        match torchvision's ``vgg16`` (the message lists missing and unexpected names and shape
        mismatches).
    """
    file = default_vgg16_weights_path() if path is None else Path(path)
    if not file.is_file():
        raise CheckpointError(
            f"pretrained VGG16 weights {file} do not exist: give the path of torchvision's "
            f"ImageNet file ({VGG16_WEIGHTS_FILE}) with --pretrained PATH, or place it in torch "
            "hub's cache (genrelens does not download it)."
        )
    state = read_checkpoint_dict(file, mmap=True)
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"pretrained VGG16 weights {file} do not hold a state dict of tensors."
        )
    problems = state_dict_mismatch(_torchvision_shapes(), state)
    if problems:
        raise CheckpointError(
            f"pretrained weights {file} do not match torchvision's vgg16 ImageNet state dict; "
            f"{problems}."
        )
    adapted = {k: v for k, v in state.items() if not k.startswith("classifier.6.")}
    adapted["features.0.weight"] = state["features.0.weight"].sum(dim=1, keepdim=True)
    with torch.no_grad():
        result = model.load_state_dict(adapted, strict=False)
    kept = {"input_norm.mean", "input_norm.std", "classifier.6.weight", "classifier.6.bias"}
    if set(result.missing_keys) - kept or result.unexpected_keys:
        raise CheckpointError(
            f"model does not match torchvision's vgg16: missing {result.missing_keys}, "
            f"unexpected {result.unexpected_keys}."
        )
    return model
