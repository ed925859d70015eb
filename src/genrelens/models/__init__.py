"""Black-box genre classifiers: a registry by name and safe checkpoints.

Every model maps log-mel dB of shape ``(batch, 1, n_mels, n_frames)`` to logits of shape
``(batch, n_classes)`` (no softmax inside ``forward``). Built in: ``"cnn"``
(:class:`~genrelens.models.cnn.CNN`), ``"shortchunk"``
(:class:`~genrelens.models.shortchunk.ShortChunkCNN`) and ``"vgg16"``
(:class:`~genrelens.models.vgg.VGG16`, loadable from torchvision's ImageNet weights); the
pretrained taggers ``"MTT_musicnn"``, ``"MSD_musicnn"``, ``"MTT_vgg"`` and ``"MSD_vgg"``
(:mod:`genrelens.models.musicnn`, read from the musicnn wheel), whose input is their own
front end (:func:`~genrelens.models.musicnn.musicnn_input`), not log-mel dB; and ``"transfer"``
(:class:`~genrelens.models.transfer.TransferModel`), a frozen musicnn backbone with a trained
head, taking the same input. A user's classifier of waveforms is wrapped as a
:class:`~genrelens.models.waveform.WaveformModel` to be explained.
"""

from genrelens.models.checkpoint import LoadedModel, load_checkpoint, save_checkpoint
from genrelens.models.cnn import CNN
from genrelens.models.musicnn import Musicnn, MusicnnVGG, musicnn_input, musicnn_tags
from genrelens.models.registry import available_models, get_model, register_model
from genrelens.models.shortchunk import ShortChunkCNN
from genrelens.models.transfer import TransferModel
from genrelens.models.vgg import VGG16, load_torchvision_vgg16
from genrelens.models.waveform import WaveformModel

__all__ = [
    "get_model",
    "available_models",
    "register_model",
    "save_checkpoint",
    "load_checkpoint",
    "LoadedModel",
    "CNN",
    "ShortChunkCNN",
    "VGG16",
    "load_torchvision_vgg16",
    "Musicnn",
    "MusicnnVGG",
    "musicnn_input",
    "musicnn_tags",
    "TransferModel",
    "WaveformModel",
]
