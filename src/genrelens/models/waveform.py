"""Models that read waveforms: a user's classifier wrapped with its sample rate.

Most pretrained audio classifiers (e.g. Hugging Face ``AutoModelForAudioClassification``
models, wav2vec 2.0 / AST / BEATs heads) take raw waveforms and compute their own front end.
:class:`WaveformModel` wraps such a model, given as a function
``f(waveforms: Tensor (B, n_samples)) -> logits (B, n_classes)``, so that genrelens explains it
wherever it explains a log-mel model locally: :func:`genrelens.explain.explain` (the input is
then the waveform ``(n_samples,)``), :func:`~genrelens.explain.track.explain_track` and
:func:`genrelens.explain_file`.

Components are then defined in the STFT domain of the waveform (framing of
:attr:`WaveformModel.feature_config`): a component switched off replaces its STFT cells by the
fill (:func:`genrelens.explain.fill.resolve_stft_fill`), stems are mixed from their parts'
STFTs, and every edited STFT is resynthesised (:func:`genrelens.features.istft`) and given to
the model, which applies its own front end. Pictures use the log-mel of
:attr:`~WaveformModel.feature_config`, for display only. Integrated Gradients is taken over the
components' gates (:func:`genrelens.explain.gradients.gated_waveform_model`; the function must
be differentiable with torch); Grad-CAM, which needs the model's convolution layers on a
log-mel, is refused. Component explanations that are not local (ALE over audio descriptors,
``genrelens explain-dataset``, the command line) take a trained genrelens run, not a
WaveformModel.

Example
-------
>>> import torch
>>> from genrelens.models.waveform import WaveformModel
>>> def loudness(waveforms):  # a toy classifier: class 1 when the clip is loud
...     energy = waveforms.pow(2).mean(dim=1, keepdim=True)
...     return torch.cat([-energy, energy], dim=1)
>>> model = WaveformModel(loudness, sample_rate=16000, class_names=("quiet", "loud"))
>>> model(torch.ones(2, 16000)).shape
torch.Size([2, 2])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from genrelens._validation import check_int, valid_audio
from genrelens.config import FeatureConfig
from genrelens.device import model_device
from genrelens.errors import ParameterError
from genrelens.models.inference import check_outputs

__all__ = ["WaveformModel"]


@dataclasses.dataclass(frozen=True, eq=False)
class WaveformModel:
    """A classifier of waveforms, explained through the STFT domain of its input.

    Parameters
    ----------
    fn : callable
        ``fn(waveforms)`` with ``waveforms`` a float32 tensor ``(B, n_samples)`` at
        ``sample_rate`` returns ``(B, n_classes)`` logits (a tensor or an array). An
        ``nn.Module`` is put in evaluation mode by the caller; its inputs go to the device of its
        first parameter.
    sample_rate : int
        Sampling rate in Hz the model reads; audio files are decoded at this rate.
    class_names : sequence of str, optional
        One name per output.
    segment_seconds : float, default 3.0
        Length of one model input when a file is cut into segments (:func:`genrelens.explain_file`).
    feature_config : FeatureConfig, optional
        The STFT framing of the components (``n_fft``, ``hop_length``) and the log-mel used for
        pictures. Default ``FeatureConfig(sr=sample_rate, segment_seconds=segment_seconds)``
        (2048-sample Hann windows, hop 512, 128 mel bands). Its ``sr`` must be ``sample_rate``.

    Raises
    ------
    ParameterError
        If ``fn`` is not callable, ``sample_rate`` is not a positive integer, or
        ``feature_config`` has another sample rate.
    """

    fn: Callable[[torch.Tensor], Any]
    sample_rate: int
    class_names: Sequence[str] | None = None
    segment_seconds: float = 3.0
    feature_config: FeatureConfig | None = None

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ParameterError(
                f"fn={type(self.fn).__name__} is not callable: expected a function from "
                "waveforms (B, n_samples) to logits (B, n_classes)."
            )
        check_int("sample_rate", self.sample_rate, minimum=1)
        config = self.feature_config
        if config is None:
            config = FeatureConfig(sr=self.sample_rate, segment_seconds=self.segment_seconds,
                                   segment_hop_seconds=self.segment_seconds)
        elif not isinstance(config, FeatureConfig):
            raise ParameterError(
                f"feature_config={type(config).__name__} is invalid: expected a FeatureConfig."
            )
        if config.sr != self.sample_rate:
            raise ParameterError(
                f"feature_config.sr={config.sr} differs from sample_rate={self.sample_rate}: "
                "components are framed at the model's own rate; build the FeatureConfig with "
                f"sr={self.sample_rate}."
            )
        object.__setattr__(self, "feature_config", config)
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    @property
    def config(self) -> FeatureConfig:
        """:attr:`feature_config` (always set after construction)."""
        assert self.feature_config is not None
        return self.feature_config

    @property
    def device(self) -> torch.device:
        """Where the model's inputs go: the device of ``fn``'s weights, else the CPU."""
        return model_device(self.fn)

    def __call__(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of waveforms ``(B, n_samples)`` (checked)."""
        if not isinstance(waveforms, torch.Tensor) or waveforms.ndim != 2:
            shape = tuple(getattr(waveforms, "shape", ()))
            raise ParameterError(
                f"waveforms has shape {shape}: a WaveformModel reads a batch of mono "
                "waveforms (B, n_samples)."
            )
        out = check_outputs(self.fn(waveforms.to(torch.float32)), n_inputs=waveforms.shape[0])
        if self.class_names is not None and out.shape[1] != len(self.class_names):
            raise ParameterError(
                f"model returned {out.shape[1]} outputs per input but class_names has "
                f"{len(self.class_names)}: expected one name per output."
            )
        return out

    def check_waveform(self, y: Any) -> np.ndarray:
        """``y`` as a float32 mono waveform ``(n_samples,)`` long enough for one STFT frame."""
        array = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
        valid_audio(array, mono=True, name="the waveform of a WaveformModel (not a log-mel)")
        if array.size < self.config.n_fft or not np.all(np.isfinite(array)):
            raise ParameterError(
                f"the waveform has {array.size} samples, or non-finite ones: expected finite "
                f"samples at {self.sample_rate} Hz, at least n_fft={self.config.n_fft} of them."
            )
        return array.astype(np.float32)
