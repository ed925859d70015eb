"""The pretrained musicnn taggers, ported to PyTorch: ``MTT_musicnn``, ``MSD_musicnn``,
``MTT_vgg`` and ``MSD_vgg``.

The PyPI wheel ``musicnn==0.1.0`` (ISC licence, MTG-UPF) ships four TF1 checkpoints of music
auto-taggers with 50 tags each, trained on MagnaTagATune (``MTT_*``) or the Million Song
Dataset (``MSD_*``) [1]_ [2]_. genrelens reads them with its own numpy reader
(:mod:`genrelens.models.tf_checkpoint`, every CRC checked, nothing executed) from the
installed wheel or from a copy of its package folder; it never imports the wheel's modules
(they need TensorFlow). Install it without its dependencies (its metadata asks for
TensorFlow 1.x and numpy < 1.17, which the checkpoint files do not need)::

    pip install --no-deps musicnn==0.1.0

Front end (:func:`musicnn_input`): 16 kHz mono, STFT of 512 samples with hop 256 (Hann,
centred), power, 96 Slaney mel bands, then ``log10(10000 * S + 1)``; the models take patches
of 187 frames (about 3 s). Like every genrelens model, a port takes ``(batch, 1, n_mels,
n_frames)`` = ``(batch, 1, 96, 187)`` and returns logits ``(batch, 50)`` (the wheel applies a
sigmoid: tags are independent). (The wheel rounds the mel power to float16 before the
logarithm; genrelens keeps float32.)

``get_model("MSD_musicnn")`` loads the installed wheel's weights (``weights=FOLDER``: a copy of
its package folder; ``weights=None``: random). A port is saved as a genrelens checkpoint with
``save_checkpoint(..., model_args={"weights": None}, feature_config=MUSICNN_FEATURES,
class_names=musicnn_tags(name))`` and loads back without the wheel; :data:`MUSICNN_FEATURES`
is the ``"musicnn"`` front end of :func:`genrelens.config.preset` (``compression="log10"``),
so every command that computes features from a checkpoint's FeatureConfig (``predict``,
``explain``, ``evaluate-xai``, ``global``) gives the port its own input, and "off" (silence)
is 0. Each port declares :attr:`~_Pretrained.front_end` (checkpoints written before the
compression was recorded load with it) and :attr:`~_Pretrained.conv_layout` (its
convolutions' maps are (time, mel), which Grad-CAM turns to (mel, time)). Tag files with
``genrelens tag`` (:func:`load_pretrained`; the wheel's patches,
:func:`musicnn_file_patches`). A frozen backbone with a trained head is
:class:`genrelens.models.transfer.TransferModel`; :meth:`Musicnn.embed` and
:meth:`MusicnnVGG.embed` give its embeddings.

Architectures, as the checkpoints' graphs (``.meta``) define them, with batch norm in
inference mode and TensorFlow's epsilon 1e-3:

* musicnn [1]_: input batch norm; a timbral front end (convolutions of 7 frames x 38 and x 67
  mel bands, 204 filters each) and a temporal one (128, 64 and 32 frames x 1 band, 51 filters
  each, "same" padding), each followed by ReLU, batch norm and a max over frequency; a mid end
  of three 1-D convolutions (7 frames, 64 filters, ReLU, batch norm; the second and third with
  residual connections); the dense concatenation of front and mid end (753 channels) pooled
  over time by max and mean (interleaved per channel, 1506 values), batch norm, a dense layer
  of 200 units (ReLU, batch norm) and the 50 logits.
* vgg [2]_: input batch norm, five 3x3 convolutions of 128 filters (ReLU, batch norm, max
  pool), a flatten of the last (2, 1, 128) map and the 50 logits. The poolings (time x
  frequency, window = stride unless noted) are (4, 1) stride (2, 2), (2, 2), (2, 2), (2, 2),
  (4, 4) for ``MTT_vgg``; ``MSD_vgg``'s graph pools (4, 1), (1, 4), (2, 2), (2, 2), (4, 4)
  (the wheel's ``models.py`` shows the MTT poolings for both; the graph is followed here).

References
----------
.. [1] J. Pons and X. Serra, "musicnn: pre-trained convolutional neural networks for music
   audio tagging", ISMIR late-breaking demo, 2019.
.. [2] J. Pons, O. Nieto, M. Prockup, E. M. Schmidt, A. F. Ehmann and X. Serra, "End-to-end
   learning for music audio tagging at scale", ISMIR 2018.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from genrelens.config import preset
from genrelens.errors import CheckpointError, ParameterError
from genrelens.features import log_mel
from genrelens.models.checkpoint import LoadedModel
from genrelens.models.layers import check_input, check_positive_int
from genrelens.models.registry import get_model, register_model
from genrelens.models.tf_checkpoint import map_tf_tensors, read_tf_checkpoint

__all__ = [
    "MUSICNN_MODELS",
    "MUSICNN_FEATURES",
    "MUSICNN_PATCH_FRAMES",
    "WHEEL_INSTALL",
    "musicnn_input",
    "musicnn_patches",
    "musicnn_file_patches",
    "load_pretrained",
    "musicnn_wheel_dir",
    "musicnn_tags",
    "Musicnn",
    "MusicnnVGG",
]

#: The four pretrained taggers of the wheel.
MUSICNN_MODELS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")

#: How to install the wheel (named in every error about it).
WHEEL_INSTALL = 'pip install --no-deps "musicnn==0.1.0"'

#: Frames of one input patch (the wheel: ``time_to_frames(3 s) + 1``).
MUSICNN_PATCH_FRAMES = 187

#: The front end of every musicnn and vgg tagger: the ``"musicnn"`` preset of
#: :func:`genrelens.config.preset` (16 kHz, STFT 512/256, 96 mel bands, ``log10(10000 * S +
#: 1)``, segments of 186 hops giving :data:`MUSICNN_PATCH_FRAMES` frames). Checkpoints of the
#: ports and of transfer models carry it as their ``feature_config``.
MUSICNN_FEATURES = preset("musicnn")

_BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default, as in the graphs


def musicnn_input(y: np.ndarray) -> np.ndarray:
    """The musicnn front end: ``log10(10000 * mel_power + 1)`` of a 16 kHz waveform.

    Parameters
    ----------
    y : numpy.ndarray, shape (..., n_samples)
        Mono waveforms at 16 kHz.

    Returns
    -------
    numpy.ndarray, shape (..., 96, 1 + n_samples // 256), float32
        :func:`genrelens.features.log_mel` with :data:`MUSICNN_FEATURES`: the mel power equals
        librosa's ``melspectrogram(y, sr=16000, n_fft=512, hop_length=256, n_mels=96,
        power=2)``, compressed by ``log10(10000 * S + 1)``.
    """
    return np.asarray(log_mel(np.asarray(y), config=MUSICNN_FEATURES), dtype=np.float32)


def musicnn_patches(y: np.ndarray, *, patches_per_chunk: int = 32) -> np.ndarray:
    """The input patches of a whole recording, as the wheel's tagger cuts them.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_samples,)
        A mono waveform at 16 kHz.
    patches_per_chunk : int
        Patches computed at once (bounds memory on long files; the values do not depend on it).

    Returns
    -------
    numpy.ndarray, shape (n_patches, 96, 187), float32
        :func:`musicnn_input` of the recording cut into consecutive patches of
        :data:`MUSICNN_PATCH_FRAMES` frames without overlap, the last incomplete one dropped (as
        the wheel does). A recording shorter than one patch gives one patch, its frames
        repeated (the ``repeat-pad`` of the models' training configuration).
    """
    check_positive_int("patches_per_chunk", patches_per_chunk)
    y = np.asarray(y, dtype=np.float32)
    hop, frames = MUSICNN_FEATURES.hop_length, MUSICNN_PATCH_FRAMES
    n_frames = 1 + y.size // hop
    if n_frames < frames:
        return musicnn_input(y)[None][..., np.arange(frames) % n_frames]
    n_patches = 1 + (n_frames - frames) // frames
    half = MUSICNN_FEATURES.n_fft // 2
    padded = np.pad(y, (half, half))  # the centring of the whole-file STFT
    chunks = []
    for first in range(0, n_patches, patches_per_chunk):
        last = min(first + patches_per_chunk, n_patches)
        f0, f1 = first * frames, last * frames
        # Frames 1 .. f1 - f0 of this piece's centred STFT are frames f0 .. f1 - 1 of the file's.
        piece = padded[f0 * hop:(f1 - 1) * hop + 2 * half]
        spec = musicnn_input(piece)[:, 1:1 + f1 - f0]
        chunks.append(spec.reshape(spec.shape[0], last - first, frames).transpose(1, 0, 2))
    return np.ascontiguousarray(np.concatenate(chunks))


def musicnn_file_patches(path: str | os.PathLike[str]) -> np.ndarray:
    """:func:`musicnn_patches` of an audio file (any format, resampled to 16 kHz mono).

    Raises
    ------
    AudioLoadError
        For a file that cannot be used (see :func:`genrelens.audio.load_audio`).
    """
    from genrelens.audio import load_audio

    return musicnn_patches(load_audio(path, sr=MUSICNN_FEATURES.sr))


# --------------------------------------------------------------------------------------------
# The wheel
# --------------------------------------------------------------------------------------------

def musicnn_wheel_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the musicnn package: ``path``, or the installed wheel's.

    The installed package is located with :func:`importlib.util.find_spec`, which imports
    nothing of it.

    Raises
    ------
    CheckpointError
        If the wheel is not installed (the message says how to install it) or ``path`` is not
        a musicnn package folder (no ``configuration.py``).
    """
    if path is None:
        spec = importlib.util.find_spec("musicnn")
        if spec is None or not spec.submodule_search_locations:
            raise CheckpointError(
                "the pretrained musicnn models need the musicnn wheel, which is not installed: "
                f"run `{WHEEL_INSTALL}` (--no-deps: its TensorFlow requirement is not needed), "
                "or give the path of its package folder."
            )
        folder = Path(list(spec.submodule_search_locations)[0])
    else:
        folder = Path(path)
    if not (folder / "configuration.py").is_file():
        raise CheckpointError(
            f"musicnn folder {folder} has no configuration.py: expected the `musicnn` package "
            f"folder of the wheel (`{WHEEL_INSTALL}`)."
        )
    return folder


def _check_name(name: str) -> str:
    if name not in MUSICNN_MODELS:
        raise ParameterError(f"model={name!r} is invalid: expected one of {list(MUSICNN_MODELS)}.")
    return name


def musicnn_tags(name: str, *, wheel: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The 50 tag names of a pretrained model, read from the wheel's ``configuration.py``.

    The file is parsed (``ast.literal_eval`` of the ``MTT_LABELS`` / ``MSD_LABELS``
    assignment), never executed.

    Parameters
    ----------
    name : {"MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"}
    wheel : path-like or None
        The musicnn package folder (default: the installed wheel).

    Raises
    ------
    CheckpointError
        If the wheel is missing or its configuration lacks the list.
    """
    variable = f"{_check_name(name)[:3]}_LABELS"
    file = musicnn_wheel_dir(wheel) / "configuration.py"
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"musicnn configuration {file} cannot be read: {exc}") from None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == variable):
            try:
                tags = ast.literal_eval(node.value)
            except ValueError:
                break
            if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
                return tuple(tags)
    raise CheckpointError(
        f"musicnn configuration {file} has no list of strings {variable}: expected the file of "
        f"musicnn 0.1.0 (`{WHEEL_INSTALL}`)."
    )


def load_pretrained(name: str, *, wheel: str | os.PathLike[str] | None = None) -> LoadedModel:
    """A pretrained tagger with its tag names and front end, ready for
    :func:`genrelens.models.inference.predict_files` (``features=musicnn_file_patches``).

    ``name`` and ``wheel`` are as for :func:`musicnn_tags`.

    Returns
    -------
    LoadedModel
        The model in evaluation mode, ``class_names`` its 50 tags, ``feature_config``
        :data:`MUSICNN_FEATURES`; ``model_args`` rebuild it without the wheel from a
        genrelens checkpoint of its weights. Its tags are independent: pass
        ``multi_label=True`` to ``predict_files``.
    """
    tags = musicnn_tags(name, wheel=wheel)
    model = get_model(name, weights="wheel" if wheel is None else wheel).eval()
    return LoadedModel(
        model=model,
        model_name=name,
        model_args={"weights": None},
        feature_config=MUSICNN_FEATURES,
        class_names=tags,
        extra={},
        versions={},
    )


# --------------------------------------------------------------------------------------------
# Weight mapping helpers
# --------------------------------------------------------------------------------------------

_TFMapping = dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]]


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _conv2d(a: np.ndarray) -> np.ndarray:
    """TF (height, width, in, out) -> torch (out, in, height, width)."""
    return a.transpose(3, 2, 0, 1)


def _conv1d(a: np.ndarray) -> np.ndarray:
    """A TF (7, channels, 1, out) kernel spanning all channels -> torch Conv1d (out, in, 7)."""
    return a[:, :, 0, :].transpose(2, 1, 0)


def _dense(a: np.ndarray) -> np.ndarray:
    """TF (in, out) -> torch (out, in)."""
    return a.T


def _map_kernel(mapping: _TFMapping, torch_name: str, tf_name: str, transform: Callable) -> None:
    """Map a TF layer's ``kernel`` and ``bias`` to a torch layer's ``weight`` and ``bias``."""
    mapping[f"{torch_name}.weight"] = (f"{tf_name}/kernel", transform)
    mapping[f"{torch_name}.bias"] = (f"{tf_name}/bias", _same)


def _map_bn(mapping: _TFMapping, torch_name: str, index: int) -> None:
    """Map TF's ``batch_normalization[_index]`` to a torch batch norm."""
    tf_name = "batch_normalization" + (f"_{index}" if index else "")
    for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                         ("running_var", "moving_variance")):
        mapping[f"{torch_name}.{ours}"] = (f"{tf_name}/{theirs}", _same)


class _Pretrained(nn.Module):
    """Shared loading of a wheel checkpoint into a port (subclasses define ``_mapping``)."""

    #: The wheel's checkpoint folder name; set by each registered class.
    checkpoint: str = ""
    #: The :func:`~genrelens.config.preset` the model's input follows; a checkpoint's
    #: FeatureConfig gets its compression (:func:`genrelens.models.load_checkpoint`).
    front_end: ClassVar[str] = "musicnn"
    #: (height, width) of the 4-D activations of its convolutions: (time, mel), as in the
    #: TensorFlow graphs (:func:`genrelens.explain.gradients.grad_cam_maps` reads it).
    conv_layout: ClassVar[tuple[str, str]] = ("time", "mel")

    def _mapping(self) -> _TFMapping:
        raise NotImplementedError

    def _load_weights(self, weights: str | os.PathLike[str] | None) -> None:
        """Load the checkpoint ``self.checkpoint`` of the wheel (``"wheel"``: the installed
        one; a path: its package folder); ``None`` keeps the random initialisation."""
        if weights is None:
            return
        folder = musicnn_wheel_dir(None if weights == "wheel" else weights) / self.checkpoint
        state = map_tf_tensors(read_tf_checkpoint(folder), self._mapping(), source=str(folder))
        own = self.state_dict()
        tensors = {k: torch.from_numpy(v) for k, v in state.items()}
        tensors.update({k: v for k, v in own.items() if k.endswith("num_batches_tracked")})
        shapes = {k: (tuple(tensors[k].shape), tuple(v.shape)) for k, v in own.items()
                  if k in tensors and tensors[k].shape != v.shape}
        if shapes:
            raise CheckpointError(
                f"checkpoint {folder} does not fit {type(self).__name__}: shapes (file, model) "
                f"{shapes}."
            )
        self.load_state_dict(tensors, strict=True)

    def _check_patch(self, x: torch.Tensor, *, frames: int | None = None) -> torch.Tensor:
        """``x`` as (batch, 1, time, mel) after checking it is ``(batch, 1, 96, frames)``."""
        check_input(x)
        n_mels = MUSICNN_FEATURES.n_mels
        if x.shape[2] != n_mels or (frames is not None and x.shape[3] != frames):
            name = self.checkpoint or type(self).__name__
            raise ParameterError(
                f"input has shape {tuple(x.shape)}: {name} expects (batch, 1, {n_mels}, "
                f"{frames or 'n_frames'}) patches of its own front end "
                "(genrelens.models.musicnn.musicnn_patches)."
            )
        return x.transpose(2, 3)  # the graph's layout: time is the height, mel the width


def _blocks(modules: nn.ModuleList) -> Iterator[nn.ModuleDict]:
    """The blocks of ``modules``, each a ``ModuleDict`` of its layers by role."""
    for block in modules:
        assert isinstance(block, nn.ModuleDict)
        yield block


def _max_pooled_block(conv: nn.Module, bn: nn.Module, **more: nn.Module) -> nn.ModuleDict:
    """A ``conv -> ReLU -> batch norm -> max -> post`` block (:func:`_max_pooled`); ``post``
    is the identity until :func:`genrelens.models.fold.inference_copy` folds the batch norm
    into the convolution and ``post`` (the ports list these blocks in
    ``max_pooled_blocks``)."""
    return nn.ModuleDict({"conv": conv, "relu": nn.ReLU(), "bn": bn, "post": nn.Identity(),
                          **more})


def _max_pooled(block: nn.ModuleDict, x: torch.Tensor,
                reduce: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``post(reduce(bn(relu(conv(x)))))`` for a max ``reduce`` (a max pool or ``amax``)."""
    return block["post"](reduce(block["bn"](block["relu"](block["conv"](x)))))


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


def _bn1d(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=_BN_EPS)


# --------------------------------------------------------------------------------------------
# musicnn
# --------------------------------------------------------------------------------------------

#: Timbral front end: (mel bands spanned, filters); temporal: (frames spanned, filters).
_TIMBRAL = ((38, 204), (67, 204))
_TEMPORAL = ((128, 51), (64, 51), (32, 51))
_MID_FILTERS = 64
_DENSE_UNITS = 200
_N_TAGS = 50


class Musicnn(_Pretrained):
    """The musicnn tagger [1]_ as a PyTorch module (see the module docstring).

    Parameters
    ----------
    weights : "wheel", path-like or None
        ``"wheel"``: the checkpoint :attr:`checkpoint` of the installed musicnn wheel; a path:
        the wheel's ``musicnn`` package folder; ``None``: random weights (e.g. to load a
        genrelens checkpoint of the model).

    Attributes
    ----------
    input_bn : nn.BatchNorm2d
    timbral, temporal : nn.ModuleList
        Per filter shape, a block of convolution, ReLU, batch norm and ``post`` (the identity;
        a clamp once :func:`~genrelens.models.fold.inference_copy` folds the batch norm).
    mid : nn.ModuleList
        Three 1-D convolutions over time with their batch norms.
    pool_bn, dense, dense_bn, output : modules of the back end.
    """

    def __init__(self, *, weights: str | os.PathLike[str] | None = "wheel") -> None:
        super().__init__()
        self.input_bn = _bn2d(1)
        self.timbral = nn.ModuleList(
            _max_pooled_block(nn.Conv2d(1, n, (7, bands)), _bn2d(n)) for bands, n in _TIMBRAL
        )
        self.temporal = nn.ModuleList(
            _max_pooled_block(nn.Conv2d(1, n, (frames, 1)), _bn2d(n)) for frames, n in _TEMPORAL
        )
        front = sum(n for _, n in _TIMBRAL + _TEMPORAL)
        self.mid = nn.ModuleList(
            nn.ModuleDict({"conv": nn.Conv1d(channels, _MID_FILTERS, 7, padding=3),
                           "bn": _bn1d(_MID_FILTERS)})
            for channels in (front, _MID_FILTERS, _MID_FILTERS)
        )
        pooled = 2 * (front + 3 * _MID_FILTERS)
        self.pool_bn = _bn1d(pooled)
        self.dense = nn.Linear(pooled, _DENSE_UNITS)
        self.dense_bn = _bn1d(_DENSE_UNITS)
        self.output = nn.Linear(_DENSE_UNITS, _N_TAGS)
        self.dropout = nn.Dropout(0.5)
        self._load_weights(weights)

    def _mapping(self) -> _TFMapping:
        mapping: _TFMapping = {}
        _map_bn(mapping, "input_bn", 0)
        blocks = [*self.timbral, *self.temporal]
        for i in range(len(blocks)):
            group, j = ("timbral", i) if i < len(self.timbral) else ("temporal", i - len(self.timbral))
            _map_kernel(mapping, f"{group}.{j}.conv", "conv2d" + (f"_{i}" if i else ""), _conv2d)
            _map_bn(mapping, f"{group}.{j}.bn", i + 1)
        for j in range(len(self.mid)):
            _map_kernel(mapping, f"mid.{j}.conv", f"conv2d_{len(blocks) + j}", _conv1d)
            _map_bn(mapping, f"mid.{j}.bn", len(blocks) + 1 + j)
        _map_bn(mapping, "pool_bn", len(blocks) + len(self.mid) + 1)
        _map_kernel(mapping, "dense", "dense", _dense)
        _map_bn(mapping, "dense_bn", len(blocks) + len(self.mid) + 2)
        _map_kernel(mapping, "output", "dense_1", _dense)
        return mapping

    #: :func:`~genrelens.models.fold.inference_copy` keeps the default memory format: the
    #: front end's one-channel convolutions with 7 x 38 to 128 x 1 kernels ran 1.4x (batch 1)
    #: to 2x (batch 8) slower channels-last on this project's CPU (measured).
    channels_last: ClassVar[bool] = False

    #: Blocks whose batch norm :func:`~genrelens.models.fold.inference_copy` folds (see
    #: :mod:`genrelens.models.fold`): the front end's, each maxed over the mel axis.
    max_pooled_blocks: ClassVar[tuple[str, ...]] = tuple(
        [f"timbral.{i}" for i in range(len(_TIMBRAL))]
        + [f"temporal.{i}" for i in range(len(_TEMPORAL))])

    #: Sizes of :meth:`embed`'s (penultimate, pooled) embeddings.
    embedding_sizes = (_DENSE_UNITS, 2 * (sum(n for _, n in _TIMBRAL + _TEMPORAL)
                                          + 3 * _MID_FILTERS))

    #: The back end as the musicnn paper [1]_ defines it (after the front end and the mid
    #: end): the pooled features' batch norm and the dense layer of the penultimate
    #: embedding (the tag layer ``output`` excepted). What ``finetune="backend"`` trains.
    backend: ClassVar[tuple[str, ...]] = ("pool_bn", "dense", "dense_bn")

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The embeddings of ``(batch, 1, 96, n_frames)`` musicnn input.

        Returns
        -------
        penultimate : torch.Tensor, shape (batch, 200)
            The dense layer before the tag logits (after its ReLU and batch norm).
        pooled : torch.Tensor, shape (batch, 1506)
            The front and mid end's 753 channels pooled over time by max and mean
            (interleaved per channel), before the back end's batch norm.
        """
        h = self.input_bn(self._check_patch(x))
        features = []
        for block in _blocks(self.timbral):
            padded = nn.functional.pad(h, (0, 0, 3, 3))
            features.append(_max_pooled(block, padded, lambda h: h.amax(dim=3)))
        for block in _blocks(self.temporal):
            conv = block["conv"]
            assert isinstance(conv, nn.Conv2d)
            frames = conv.kernel_size[0]
            padded = nn.functional.pad(h, (0, 0, (frames - 1) // 2, frames // 2))  # TF "same"
            features.append(_max_pooled(block, padded, lambda h: h.amax(dim=3)))
        front = torch.cat(features, dim=1)  # (batch, 561, time)
        mids = [front]
        for j, block in enumerate(_blocks(self.mid)):
            out = block["bn"](torch.relu(block["conv"](mids[-1])))
            mids.append(out + mids[-1] if j else out)
        midend = torch.cat(mids, dim=1)  # (batch, 753, time)
        pooled = torch.stack([midend.amax(dim=2), midend.mean(dim=2)], dim=2).flatten(1)
        hidden = self.dense_bn(torch.relu(self.dense(self.dropout(self.pool_bn(pooled)))))
        return hidden, pooled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, 1, 96, n_frames)`` musicnn input to ``(batch, 50)`` tag logits."""
        return self.output(self.dropout(self.embed(x)[0]))


# --------------------------------------------------------------------------------------------
# vgg
# --------------------------------------------------------------------------------------------

#: Max-pool (window, stride) in (time, mel) after each convolution, as each graph has them.
_VGG_POOLS = {
    "MTT_vgg": (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)),
                ((4, 4), (4, 4))),
    "MSD_vgg": (((4, 1), (4, 1)), ((1, 4), (1, 4)), ((2, 2), (2, 2)), ((2, 2), (2, 2)),
                ((4, 4), (4, 4))),
}
_VGG_FILTERS = 128
_VGG_FLAT = 2 * 1 * _VGG_FILTERS  # the last map of a 187 x 96 patch


class MusicnnVGG(_Pretrained):
    """The vgg tagger of the musicnn wheel [2]_ (see the module docstring).

    Parameters
    ----------
    weights : "wheel", path-like or None
        As for :class:`Musicnn`.

    Attributes
    ----------
    input_bn : nn.BatchNorm2d
    convs : nn.ModuleList
        Five blocks of 3x3 convolution, ReLU, batch norm, max pool and ``post`` (as for
        :class:`Musicnn`'s front end).
    output : nn.Linear
        ``256 -> 50``; it fixes the input to 187 frames.
    """

    def __init__(self, *, weights: str | os.PathLike[str] | None = "wheel") -> None:
        super().__init__()
        self.input_bn = _bn2d(1)
        self.convs = nn.ModuleList(
            _max_pooled_block(
                nn.Conv2d(1 if i == 0 else _VGG_FILTERS, _VGG_FILTERS, 3, padding=1),
                _bn2d(_VGG_FILTERS), pool=nn.MaxPool2d(window, stride),
            )
            for i, (window, stride) in enumerate(_VGG_POOLS[self.checkpoint])
        )
        self.dropout = nn.Dropout(0.25)
        self.output_dropout = nn.Dropout(0.5)
        self.output = nn.Linear(_VGG_FLAT, _N_TAGS)
        self._load_weights(weights)

    def _mapping(self) -> _TFMapping:
        mapping: _TFMapping = {}
        _map_bn(mapping, "input_bn", 0)
        for i in range(len(self.convs)):
            _map_kernel(mapping, f"convs.{i}.conv", f"{i + 1}CNN", _conv2d)
            _map_bn(mapping, f"convs.{i}.bn", i + 1)
        _map_kernel(mapping, "output", "dense", _dense)
        return mapping

    #: Blocks whose batch norm :func:`~genrelens.models.fold.inference_copy` folds (see
    #: :mod:`genrelens.models.fold`): all five, each max-pooled.
    max_pooled_blocks: ClassVar[tuple[str, ...]] = tuple(
        f"convs.{i}" for i in range(len(_VGG_POOLS["MSD_vgg"])))

    #: Sizes of :meth:`embed`'s (penultimate, pooled) embeddings.
    embedding_sizes = (_VGG_FLAT, 2 * _VGG_FILTERS)

    #: The vgg has no front, mid and back end [2]_; as for :attr:`Musicnn.backend`, its back
    #: end here is what follows the ``pooled`` embedding: the fifth convolution block, whose
    #: map is the penultimate embedding. What ``finetune="backend"`` trains.
    backend: ClassVar[tuple[str, ...]] = ("convs.4",)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The embeddings of ``(batch, 1, 96, 187)`` musicnn input.

        Returns
        -------
        penultimate : torch.Tensor, shape (batch, 256)
            The flattened last map, the input of the tag logits.
        pooled : torch.Tensor, shape (batch, 256)
            The fourth block's 128 maps pooled over time and mel bands by max, then by mean.
        """
        h = self.input_bn(self._check_patch(x, frames=MUSICNN_PATCH_FRAMES))
        maps = []
        for i, block in enumerate(_blocks(self.convs)):
            h = _max_pooled(block, h, block["pool"])
            maps.append(h)
            if i < len(self.convs) - 1:
                h = self.dropout(h)
        fourth = maps[-2]
        pooled = torch.cat([fourth.amax(dim=(2, 3)), fourth.mean(dim=(2, 3))], dim=1)
        return h.permute(0, 2, 3, 1).flatten(1), pooled  # TF flattens (time, mel, channel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, 1, 96, 187)`` musicnn input to ``(batch, 50)`` tag logits."""
        return self.output(self.output_dropout(self.embed(x)[0]))


# --------------------------------------------------------------------------------------------
# Registration: one class per checkpoint
# --------------------------------------------------------------------------------------------

def _register(name: str, base: type[_Pretrained], trained_on: str) -> type[_Pretrained]:
    """Register a subclass of ``base`` loading the wheel's checkpoint ``name``."""
    cls = type(name.replace("_", ""), (base,), {
        "checkpoint": name,
        "__doc__": f"{base.__name__} trained on {trained_on} (checkpoint {name} of the wheel).",
        "__module__": __name__,
    })
    return register_model(name)(cls)


MTTMusicnn = _register("MTT_musicnn", Musicnn, "MagnaTagATune (50 MTT tags)")
MSDMusicnn = _register("MSD_musicnn", Musicnn, "the Million Song Dataset (50 last.fm tags)")
MTTVGG = _register("MTT_vgg", MusicnnVGG, "MagnaTagATune (50 MTT tags)")
MSDVGG = _register("MSD_vgg", MusicnnVGG, "the Million Song Dataset (50 last.fm tags)")
