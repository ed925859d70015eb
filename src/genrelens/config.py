"""FeatureConfig: the one description of how audio becomes model input.

It travels with every feature cache, checkpoint and explanation, so that nothing downstream
re-states a constant (a classic source of silent train/explain mismatches).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, TypeVar

from genrelens.errors import ParameterError

__all__ = ["FeatureConfig", "dataclass_from_dict", "COMPRESSIONS", "PRESETS", "preset"]

_T = TypeVar("_T")

#: Values of :attr:`FeatureConfig.fft_precision`.
FFT_PRECISIONS = ("float64", "float32")

#: Values of :attr:`FeatureConfig.compression`.
COMPRESSIONS = ("db", "log10")

#: Fields added after caches and checkpoints were first written, with the value every earlier
#: configuration had. :meth:`FeatureConfig.digest` leaves a field out while it has this value,
#: so the cache folders of earlier configurations keep their names.
_LATER_FIELDS: dict[str, Any] = {"compression": "db", "log10_scale": 10000.0}


def dataclass_from_dict(cls: type[_T], data: dict[str, Any]) -> _T:
    """Build the dataclass ``cls`` from a dict of its fields (``from_dict`` of config classes).

    Raises
    ------
    ParameterError
        If ``data`` has keys that are not fields of ``cls`` (named in the message).
    """
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ParameterError(
            f"{cls.__name__} got unknown keys {unknown}: expected a subset of {sorted(known)}."
        )
    return cls(**data)


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the log-mel front end and of segmentation.

    Parameters
    ----------
    sr : int
        Sampling rate in Hz every file is resampled to (GTZAN: 22050).
    n_fft : int
        FFT size in samples.
    hop_length : int
        STFT hop in samples.
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Frequency range of the mel filterbank in Hz; ``fmax=None`` means ``sr / 2``.
    segment_seconds : float
        Length of one model input in seconds (3 s gives 130 frames at the defaults).
    segment_hop_seconds : float
        Hop between segment starts; equal to ``segment_seconds`` for non-overlapping cuts.
    amin : float
        Power floor before the logarithm; ``10 * log10(amin)`` dB is the quietest value.
    ref : float
        Reference power for 0 dB (fixed, not per-input, so loudness is kept). In dB, 0 is loud:
        silence is ``10 * log10(amin)``, not 0.
    compression : {"db", "log10"}
        How mel power ``S`` becomes the model input (:func:`genrelens.features.compress`):
        ``"db"`` (default) is ``10 * log10(max(S, amin) / ref)``, silence at :attr:`floor_db`;
        ``"log10"`` is ``log10(log10_scale * S + 1)`` (musicnn's front end [1]_), silence at 0.
        :attr:`silence` gives the value of silence in either. With ``"log10"``, ``amin`` and
        ``ref`` only define the dB view of the input (:func:`genrelens.features.to_db`) used by
        the audio descriptors.
    log10_scale : float
        The gain ``C`` of ``log10(C * S + 1)`` (musicnn: 10000); unused with ``"db"``.
    fft_precision : {"float64", "float32"}
        Precision of the STFT. ``"float64"`` (default) gives librosa's values within 2e-5 dB.
        ``"float32"`` halves the FFT's cost (feature extraction about 1.6x faster per segment,
        ``benchmarks/bench_features.py``) but rounds quiet bands: measured up to 0.04 dB from
        the float64 values on the synthetic music and 0.16 dB on pure tones (bands far below a
        frame's loudest). For large datasets where librosa-exact values do not matter; like
        every field it travels with caches and checkpoints, so models see one precision.

    Notes
    -----
    The log-mel matches ``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr,
    n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=2.0),
    ref=ref, amin=amin, top_db=None)`` (Slaney mel scale and normalisation, centred frames,
    constant padding); with ``compression="log10"``, ``log10(log10_scale * melspectrogram(...)
    + 1)``.

    Named front ends of known models are in :data:`PRESETS` (:func:`preset`).

    References
    ----------
    .. [1] J. Pons and X. Serra, "musicnn: Pre-trained convolutional neural networks for music
       audio tagging", ISMIR late-breaking demo, 2019.
    """

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    segment_seconds: float = 3.0
    segment_hop_seconds: float = 3.0
    amin: float = 1e-10
    ref: float = 1.0
    fft_precision: str = "float64"
    compression: str = "db"
    log10_scale: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("sr", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ParameterError(f"{name}={value!r} is invalid: expected a positive integer.")
        if self.hop_length > self.n_fft:
            raise ParameterError(
                f"hop_length={self.hop_length} is larger than n_fft={self.n_fft}: frames would skip "
                "samples; use hop_length <= n_fft."
            )
        nyquist = self.sr / 2
        fmax = self.fmax_hz
        if not 0.0 <= self.fmin < fmax <= nyquist:
            raise ParameterError(
                f"fmin={self.fmin!r}, fmax={self.fmax!r} are invalid: expected "
                f"0 <= fmin < fmax <= sr/2 = {nyquist:g} Hz."
            )
        if not self.segment_seconds > 0 or not self.segment_hop_seconds > 0:
            raise ParameterError(
                f"segment_seconds={self.segment_seconds!r}, segment_hop_seconds="
                f"{self.segment_hop_seconds!r} are invalid: expected positive numbers of seconds."
            )
        if self.segment_samples < self.n_fft:
            raise ParameterError(
                f"segment_seconds={self.segment_seconds!r} gives {self.segment_samples} samples, "
                f"fewer than n_fft={self.n_fft}: use a longer segment or a smaller n_fft."
            )
        if self.fft_precision not in FFT_PRECISIONS:
            raise ParameterError(
                f"fft_precision={self.fft_precision!r} is invalid: expected one of "
                f"{list(FFT_PRECISIONS)}."
            )
        if not self.amin > 0 or not self.ref > 0:
            raise ParameterError(f"amin={self.amin!r}, ref={self.ref!r}: both must be positive.")
        if self.compression not in COMPRESSIONS:
            raise ParameterError(
                f"compression={self.compression!r} is invalid: expected one of "
                f"{list(COMPRESSIONS)}."
            )
        if isinstance(self.log10_scale, bool) or not 0 < self.log10_scale < float("inf"):
            raise ParameterError(
                f"log10_scale={self.log10_scale!r} is invalid: expected a positive finite number "
                "(the C of log10(C * S + 1))."
            )

    @property
    def fmax_hz(self) -> float:
        """Upper edge of the filterbank in Hz (``fmax`` or ``sr / 2``)."""
        return float(self.sr / 2 if self.fmax is None else self.fmax)

    @property
    def segment_samples(self) -> int:
        """Samples in one segment."""
        return int(round(self.segment_seconds * self.sr))

    @property
    def segment_hop_samples(self) -> int:
        """Samples between the starts of consecutive segments."""
        return int(round(self.segment_hop_seconds * self.sr))

    @property
    def n_frames(self) -> int:
        """Log-mel frames of one segment (centred STFT): ``1 + segment_samples // hop_length``."""
        return 1 + self.segment_samples // self.hop_length

    @property
    def floor_db(self) -> float:
        """The dB value of silence, ``10 * log10(amin / ref)``."""
        import math

        return 10.0 * math.log10(self.amin / self.ref)

    @property
    def silence(self) -> float:
        """The input value of silence (zero power) in this compression: :attr:`floor_db` for
        ``"db"``, 0 for ``"log10"``."""
        return self.floor_db if self.compression == "db" else 0.0

    @property
    def unit(self) -> str:
        """The unit of the input values, for labels: ``"dB"`` or ``"log10(C·S+1)"``."""
        return "dB" if self.compression == "db" else f"log10({self.log10_scale:g}·S+1)"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Build from :meth:`to_dict` output; unknown keys raise :class:`ParameterError`."""
        return dataclass_from_dict(cls, data)

    def digest(self) -> str:
        """A stable 16-hex-digit hash of the configuration, used to key caches.

        Fields added later (``compression``, ``log10_scale``) count only when they differ from
        the value every earlier configuration had, so earlier caches keep their digest.
        """
        fields = {
            k: v for k, v in self.to_dict().items()
            if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]
        }
        payload = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


#: Named front ends of known models (:func:`preset`). ``"musicnn"`` is the input of the
#: musicnn and vgg taggers of Pons & Serra (2019): 16 kHz, ``n_fft`` 512, hop 256, 96 Slaney
#: mel bands of power, ``log10(10000 * S + 1)``, 187 frames. Its segments are 2.976 s (186
#: hops) so that a segment gives 187 frames; frames 0..185 equal those of musicnn's own
#: extractor, and the last one is centred on the segment's end (half of its window is
#: padding, where musicnn, which frames the whole file, reads the following audio).
PRESETS: dict[str, FeatureConfig] = {
    "default": FeatureConfig(),
    "musicnn": FeatureConfig(
        sr=16000, n_fft=512, hop_length=256, n_mels=96, segment_seconds=2.976,
        segment_hop_seconds=2.976, compression="log10", log10_scale=10000.0,
    ),
}


def preset(name: str) -> FeatureConfig:
    """The named front end ``name`` of :data:`PRESETS`.

    Raises
    ------
    ParameterError
        If ``name`` is not a preset (the message lists them).
    """
    if name not in PRESETS:
        raise ParameterError(
            f"front end {name!r} is unknown: expected one of {sorted(PRESETS)}."
        )
    return PRESETS[name]
