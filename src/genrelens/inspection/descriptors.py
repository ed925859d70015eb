"""Interpretable audio descriptors, measured on log-mel segments and applied as edits.

ALE needs a feature that can be *set* to a value. A CNN's input is a log-mel image, whose
cells are not interpretable one by one; a descriptor is. Each :class:`Descriptor` has

* ``measure(logmel)`` — its value on each segment ``(N, n_mels, n_frames) -> (N,)``, and
* ``apply(logmel, current, target)`` — an edit of the segments that moves the value from
  ``current`` to ``target`` (torch, batched, differentiable-free, element-wise per item).

The ALE of a descriptor (:func:`descriptor_ale`) bins the measured values into quantile bins
and, for the segments of each bin, takes the finite difference of the model's output between
the edits to the bin's upper and lower edges, so "more low-end energy raises P(metal)" becomes
a curve over the range the data actually covers. Every edit is evaluated by the perturbation
engine (:func:`genrelens.explain.engine.evaluate`).

==================  ======  ===========================================================
descriptor          unit    measure ; edit
==================  ======  ===========================================================
``band_energy``     dB      10 log10 of the mean power of the band's mel bins ; a gain
                            of ``target - current`` dB on those bins (exact)
``loudness``        dB      10 log10 of the mean power of the segment ; a gain on all
                            cells (exact)
``spectral_tilt``   dB/oct  least-squares slope of the per-bin mean dB against log2 of
                            the bin's centre frequency ; a gain of ``delta * (log2 f -
                            mean log2 f)`` dB per bin (exact)
``hp_balance``      dB      harmonic minus percussive energy of the median-filter HPSS of
                            the mel amplitude (:func:`genrelens.explain.components.hpss`,
                            soft masks, margin 1) ; gains of ``+delta/2`` dB on the harmonic
                            and ``-delta/2`` dB on the percussive part of the segment (exact
                            for the segment's own parts, see below)
``tempo``           BPM     the autocorrelation tempo of the onset envelope ; a
                            time-stretch of the log-mel by ``target / current``, linear
                            interpolation along time, mirrored at the end and cropped to
                            ``n_frames`` (approximate: onsets are re-measured)
==================  ======  ===========================================================

Descriptors measure and edit in dB whatever the model's input compression: segments are
converted with :func:`genrelens.features.to_db` and edits converted back with
:func:`genrelens.features.from_db` (both the identity for the default dB input; for
``compression="log10"`` exact up to float rounding), so a band energy in dB and a gain in dB
mean the same for every front end.

"exact" means that re-measuring the edited segment gives ``target`` up to float rounding,
except where the floor clamps: edits never go below silence (``config.floor_db`` in the dB
view, i.e. ``config.silence`` in input values). For
``hp_balance`` "exact" refers to the parts of the unedited segment (masks estimated once, on
the original): the edit raises the level of the segment's harmonic part relative to its
percussive part by ``delta`` dB. HPSS is not linear, so masks re-estimated on the edited
segment give a value that moves the same way but not by exactly ``delta`` (soft masks sharpen
as one part grows).

Tempo (Ellis 2007, as in librosa's ``beat.tempo``): the onset envelope is the mean over mel
bins of the positive frame-to-frame dB increase; its autocorrelation, weighted by a log-normal
prior centred at 120 BPM with one octave of spread, peaks at the beat period, refined by
parabolic interpolation. On a 3-s segment this estimate is coarse (octave errors are common);
a segment without onsets (constant envelope) gets the prior's centre, 120 BPM.

References
----------
Apley, D. W. & Zhu, J. (2020). Visualizing the effects of predictor variables in black box
supervised learning models. JRSS-B 82(4).
Fitzgerald, D. (2010). Harmonic/percussive separation using median filtering. DAFx.
Ellis, D. P. W. (2007). Beat tracking by dynamic programming. Journal of New Music Research
36(1), 51-60.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from genrelens._validation import valid_logmel
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.features import from_db, to_db
from genrelens.inspection.ale import ALEResult, ale_from_evaluator

__all__ = [
    "Descriptor",
    "BandEnergy",
    "Loudness",
    "SpectralTilt",
    "HarmonicPercussiveBalance",
    "Tempo",
    "default_descriptors",
    "descriptor_ale",
]


@dataclasses.dataclass(frozen=True)
class Descriptor:
    """Base class: a named, measurable and editable property of a log-mel segment.

    Attributes
    ----------
    name : str
        Unique name, used in tables and file names (e.g. ``"band_energy[0-150 Hz]"``).
    config : FeatureConfig
        The feature configuration of the segments (floor, frequencies, frame rate).
    """

    name: str
    config: FeatureConfig

    unit: str = dataclasses.field(default="", init=False)

    def measure(self, logmel: np.ndarray) -> np.ndarray:
        """The descriptor's value on each segment: ``(N, n_mels, n_frames) -> (N,)`` float64."""
        raise NotImplementedError

    def apply(self, logmel: torch.Tensor, current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Edit segments ``(B, n_mels, n_frames)`` so that the value moves ``current -> target`` ``(B,)``."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (name, kind, unit and parameters)."""
        fields = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.init and f.name not in ("name", "config")
        }
        return {"name": self.name, "kind": type(self).__name__, "unit": self.unit, **fields}

    def _db(self, logmel: np.ndarray) -> np.ndarray:
        """Checked segments ``(N, n_mels, n_frames)`` in dB (see the module docstring)."""
        return to_db(_check_logmel(logmel, self.config), config=self.config)

    def _db_t(self, logmel: torch.Tensor) -> torch.Tensor:
        """Input segments (torch) in dB."""
        return to_db(logmel, config=self.config)

    def _floor(self, db: torch.Tensor) -> torch.Tensor:
        """Edited dB values, clamped at silence, back in input values."""
        return from_db(torch.clamp(db, min=self.config.floor_db), config=self.config)


def _mean_power_db(logmel: np.ndarray, *, axis: tuple[int, ...]) -> np.ndarray:
    """10 log10 of the mean of ``10 ** (dB / 10)``, computed stably (log-sum-exp)."""
    x = np.asarray(logmel, dtype=np.float64) * (math.log(10.0) / 10.0)
    peak = x.max(axis=axis, keepdims=True)
    mean = np.exp(x - peak).mean(axis=axis, keepdims=True)
    return np.squeeze((peak + np.log(mean)) * (10.0 / math.log(10.0)), axis=axis)


@dataclasses.dataclass(frozen=True)
class BandEnergy(Descriptor):
    """Energy of mel bins ``[low_bin, high_bin)`` in dB; edited by a gain on those bins."""

    low_bin: int = 0
    high_bin: int = 1
    unit: str = dataclasses.field(default="dB", init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.low_bin < self.high_bin <= self.config.n_mels:
            raise ParameterError(
                f"low_bin={self.low_bin}, high_bin={self.high_bin} are invalid: expected "
                f"0 <= low_bin < high_bin <= n_mels={self.config.n_mels}."
            )

    def measure(self, logmel: np.ndarray) -> np.ndarray:
        band = self._db(logmel)[:, self.low_bin : self.high_bin]
        return _mean_power_db(band, axis=(1, 2))

    def apply(self, logmel: torch.Tensor, current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        gain = torch.zeros(logmel.shape[-2], dtype=logmel.dtype)
        gain[self.low_bin : self.high_bin] = 1.0
        delta = (target - current).to(logmel.dtype)
        return self._floor(self._db_t(logmel) + delta[:, None, None] * gain[None, :, None])


@dataclasses.dataclass(frozen=True)
class Loudness(Descriptor):
    """Mean power of the whole segment in dB; edited by a gain on every cell."""

    unit: str = dataclasses.field(default="dB", init=False)

    def measure(self, logmel: np.ndarray) -> np.ndarray:
        return _mean_power_db(self._db(logmel), axis=(1, 2))

    def apply(self, logmel: torch.Tensor, current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._floor(self._db_t(logmel) + (target - current).to(logmel.dtype)[:, None, None])


@dataclasses.dataclass(frozen=True)
class SpectralTilt(Descriptor):
    """Slope of the mean spectrum in dB per octave; edited by a gain linear in log2 frequency."""

    unit: str = dataclasses.field(default="dB/oct", init=False)

    def _octaves(self) -> np.ndarray:
        from genrelens.features import mel_frequencies

        o = np.log2(mel_frequencies(self.config))
        return o - o.mean()

    def measure(self, logmel: np.ndarray) -> np.ndarray:
        spectrum = self._db(logmel).astype(np.float64).mean(axis=2)
        o = self._octaves()
        return spectrum @ o / (o @ o)

    def apply(self, logmel: torch.Tensor, current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        o = torch.as_tensor(self._octaves(), dtype=logmel.dtype)
        delta = (target - current).to(logmel.dtype)
        return self._floor(self._db_t(logmel) + delta[:, None, None] * o[None, :, None])


@dataclasses.dataclass(frozen=True)
class HarmonicPercussiveBalance(Descriptor):
    """Harmonic minus percussive energy in dB (median-filter HPSS of the mel amplitude)."""

    kernel_size: int = 17
    margin: float = 1.0
    unit: str = dataclasses.field(default="dB", init=False)

    def _masks(self, logmel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Soft harmonic and percussive masks ``(N, n_mels, n_frames)`` of the mel amplitude."""
        from genrelens.explain.components import hpss

        amp = np.power(10.0, np.asarray(logmel, dtype=np.float64) / 20.0)
        mh, mp = np.empty_like(amp), np.empty_like(amp)
        for i, a in enumerate(amp):
            parts = hpss(a, kernel_size=self.kernel_size, margin=self.margin)
            mh[i], mp[i] = parts["harmonic"].real / a, parts["percussive"].real / a
        return mh, mp

    def measure(self, logmel: np.ndarray) -> np.ndarray:
        x = self._db(logmel)
        return self.balance(x, *self._masks(x))

    @staticmethod
    def balance(logmel: np.ndarray, mask_h: np.ndarray, mask_p: np.ndarray) -> np.ndarray:
        """Harmonic minus percussive energy in dB of segments for given soft masks, ``(N,)``."""
        power = np.power(10.0, np.asarray(logmel, dtype=np.float64) / 10.0)
        tiny = np.finfo(np.float64).tiny
        harm = (mask_h**2 * power).sum(axis=(1, 2)) + tiny
        perc = (mask_p**2 * power).sum(axis=(1, 2)) + tiny
        return 10.0 * np.log10(harm / perc)

    def apply(self, logmel: torch.Tensor, current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        db = self._db_t(logmel)
        mh, mp = (torch.as_tensor(m) for m in self._masks(db.detach().cpu().numpy()))
        delta = (target - current).to(torch.float64)[:, None, None]
        gain = mh * 10.0 ** (delta / 40.0) + mp * 10.0 ** (-delta / 40.0) + (1.0 - mh - mp)
        tiny = torch.finfo(torch.float64).tiny
        edited = db.to(torch.float64) + 20.0 * torch.log10(gain.clamp_min(tiny))
        return self._floor(edited.to(logmel.dtype))


@dataclasses.dataclass(frozen=True)
class Tempo(Descriptor):
    """Autocorrelation tempo in BPM; edited by time-stretching the log-mel."""

    min_bpm: float = 40.0
    max_bpm: float = 240.0
    prior_bpm: float = 120.0
    prior_octaves: float = 1.0
    unit: str = dataclasses.field(default="BPM", init=False)

    def __post_init__(self) -> None:
        if not 0 < self.min_bpm < self.prior_bpm < self.max_bpm or not self.prior_octaves > 0:
            raise ParameterError(
                f"min_bpm={self.min_bpm}, prior_bpm={self.prior_bpm}, max_bpm={self.max_bpm}, "
                f"prior_octaves={self.prior_octaves} are invalid: expected 0 < min_bpm < "
                "prior_bpm < max_bpm and prior_octaves > 0."
            )

    @property
    def frame_rate(self) -> float:
        """Log-mel frames per second."""
        return self.config.sr / self.config.hop_length

    def measure(self, logmel: np.ndarray) -> np.ndarray:
        x = self._db(logmel).astype(np.float64)
        onset = np.maximum(np.diff(x, axis=2), 0.0).mean(axis=1)  # (N, n_frames - 1)
        onset -= onset.mean(axis=1, keepdims=True)
        n = onset.shape[1]
        lo = max(1, int(math.floor(60.0 * self.frame_rate / self.max_bpm)))
        hi = min(n - 2, int(math.ceil(60.0 * self.frame_rate / self.min_bpm)))
        out = np.full(len(x), float(self.prior_bpm))
        if hi <= lo:
            return out
        lags = np.arange(lo - 1, hi + 2)
        acf = np.stack([(onset[:, : n - k] * onset[:, k:]).sum(axis=1) / (n - k) for k in lags], 1)
        bpm = 60.0 * self.frame_rate / np.maximum(lags, 1e-9)
        prior = np.exp(-0.5 * (np.log2(bpm / self.prior_bpm) / self.prior_octaves) ** 2)
        weighted = acf * prior
        inner = weighted[:, 1:-1]
        best = np.argmax(inner, axis=1) + 1
        rows = np.arange(len(x))
        y0, y1, y2 = weighted[rows, best - 1], weighted[rows, best], weighted[rows, best + 1]
        den = y0 - 2.0 * y1 + y2
        shift = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
        lag = lags[best] + np.clip(shift, -0.5, 0.5)
        valid = inner.max(axis=1) > 0
        out[valid] = 60.0 * self.frame_rate / lag[valid]
        return out

    def apply(self, logmel: torch.Tensor, current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n = logmel.shape[-1]
        rate = (target / current).to(torch.float64)  # > 1: faster, events come sooner
        pos = torch.arange(n, dtype=torch.float64)[None, :] * rate[:, None]  # (B, n)
        if n > 1:  # mirror positions beyond the end back into the segment
            period = 2.0 * (n - 1)
            pos = torch.remainder(pos, period)
            pos = torch.where(pos > n - 1, period - pos, pos)
        left = pos.floor().clamp(0, n - 1).long()
        right = (left + 1).clamp(max=n - 1)
        w = (pos - left.to(torch.float64)).to(logmel.dtype)[:, None, :]
        idx = left[:, None, :].expand(-1, logmel.shape[-2], -1)
        idx_r = right[:, None, :].expand(-1, logmel.shape[-2], -1)
        a, b = torch.gather(logmel, 2, idx), torch.gather(logmel, 2, idx_r)
        return a + w * (b - a)


def default_descriptors(
    config: FeatureConfig, *, n_bands: int = 8, tempo: bool = True
) -> list[Descriptor]:
    """The descriptors of the global view: one band energy per frequency-band component, etc.

    The bands are those of :func:`genrelens.explain.components.frequency_bands` with
    ``n_bands`` (same edges), so the band scores of a local explanation map one-to-one onto
    band-energy descriptors (see :mod:`genrelens.inspection.aggregate`).

    Returns
    -------
    list of Descriptor
        ``band_energy[<low>-<high> Hz]`` for each band, then ``loudness``, ``spectral_tilt``,
        ``hp_balance`` and (if ``tempo``) ``tempo``.
    """
    from genrelens.explain.components import frequency_bands

    bands = frequency_bands(config=config, n_bands=n_bands)
    column = np.asarray(bands.map)[:, 0]
    out: list[Descriptor] = []
    for b, extent in enumerate(bands.extents):
        rows = np.flatnonzero(column == b)
        name = f"band_energy[{extent.low_hz:.0f}-{extent.high_hz:.0f} Hz]"
        out.append(BandEnergy(name, config, low_bin=int(rows[0]), high_bin=int(rows[-1]) + 1))
    out += [
        Loudness("loudness", config),
        SpectralTilt("spectral_tilt", config),
        HarmonicPercussiveBalance("hp_balance", config),
    ]
    if tempo:
        out.append(Tempo("tempo", config))
    return out


def descriptor_ale(
    model: Any,
    logmel: np.ndarray,
    descriptors: Descriptor | Sequence[Descriptor],
    *,
    class_names: Sequence[str],
    n_bins: int = 10,
    n_bootstrap: int = 100,
    confidence: float = 0.9,
    random_state: int | np.random.Generator | None = 0,
    output: str = "probabilities",
    batch_size: int | str = "auto",
    progress: bool = False,
) -> ALEResult:
    """ALE of a model's outputs over one descriptor (or the second-order ALE of a pair).

    Parameters
    ----------
    model : nn.Module or callable
        ``(B, 1, n_mels, n_frames) -> (B, n_classes)`` (see :mod:`genrelens.explain.engine`).
    logmel : ndarray, shape (N, n_mels, n_frames)
        The segments the effect is averaged over (e.g. a test split).
    descriptors : Descriptor or (Descriptor, Descriptor)
    class_names : sequence of str
    n_bins, n_bootstrap, confidence, random_state
        As in :func:`genrelens.inspection.ale.ale_from_evaluator`.
    output : {"probabilities", "logits", "raw"}
        What the curve shows (default: class probabilities).
    batch_size : int or "auto"
    progress : bool
        Progress bar on stderr.

    Returns
    -------
    ALEResult
        ``params`` also holds ``output``, each descriptor's description and unit; ``n_evaluations``
        and ``seconds`` come from the engine (2 edits per segment, 4 for a pair).
    """
    from genrelens.explain.engine import evaluate

    descs = [descriptors] if isinstance(descriptors, Descriptor) else list(descriptors)
    if len(descs) not in (1, 2) or not all(isinstance(d, Descriptor) for d in descs):
        raise ParameterError(
            f"descriptors={descriptors!r} is invalid: expected a Descriptor or a pair of them."
        )
    x = _check_logmel(logmel, descs[0].config)
    values = np.stack([d.measure(x) for d in descs], axis=1)
    base = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    current = torch.from_numpy(values)
    n_evaluations = 0

    def evaluate_at(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
        tgt = torch.from_numpy(np.asarray(targets, dtype=np.float64).reshape(len(rows), -1))
        idx = torch.from_numpy(np.asarray(rows, dtype=np.int64))

        def make_inputs(start: int, stop: int) -> torch.Tensor:
            r = idx[start:stop]
            out = base[r]
            for j, d in enumerate(descs):
                out = d.apply(out, current[r, j], tgt[start:stop, j])
            return out.to(torch.float32).unsqueeze(1)

        nonlocal n_evaluations
        result = evaluate(
            model, make_inputs, len(rows), batch_size=batch_size, output=output, progress=progress
        )
        n_evaluations += result.n_evaluations
        return result.outputs

    res = ale_from_evaluator(
        evaluate_at,
        values[:, 0] if len(descs) == 1 else values,
        feature_names=[d.name for d in descs],
        output_names=list(class_names),
        n_bins=n_bins,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        random_state=random_state,
        params={
            "output": output,
            "units": [d.unit for d in descs],
            "descriptors": [d.describe() for d in descs],
        },
    )
    return dataclasses.replace(res, n_evaluations=n_evaluations)


def _check_logmel(logmel: np.ndarray, config: FeatureConfig) -> np.ndarray:
    return valid_logmel(logmel, batched=True, n_mels=config.n_mels)
