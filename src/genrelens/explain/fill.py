"""What "off" means: the fill that replaces a switched-off component.

Perturbation explanations depend on what a removed component is replaced by, so the choice is
explicit and recorded in every :class:`~genrelens.explain.explanation.Explanation`. Fills are
in the model's input values (``config.compression``): in dB by default, where **0 dB is loud**
and silence is ``config.floor_db`` (``10 * log10(amin / ref)``, -100 dB at the defaults); with
``compression="log10"`` (``log10(C * S + 1)``, musicnn's front end) silence is 0.
``config.silence`` is the value of silence in either.

======================  =================================================================
``fill=``               value of a switched-off cell
======================  =================================================================
``"min"``               silence: ``config.silence`` — the same for every clip, so
                        explanations of different clips remove towards the same input; far
                        from any training input (see below)
``"clip_min"``          the clip's own minimum (its quietest cell)
``"mean"``              the clip's mean over all cells (one number)
``"noise"``             Gaussian noise with the clip's mean and standard deviation, drawn
                        from a seed taken from ``random_state`` (the seed is recorded)
``"blur"``              the clip blurred by a Gaussian filter (``sigma`` in cells, default
                        one tenth of each axis), as in occlusion/meaningful perturbation
                        (Fong & Vedaldi 2017)
``"band_median"``       each mel band's median over the clip's frames: the clip's typical
                        spectrum, with every event shorter than half the clip taken out
``"local_median"``      each mel band's running median over ``width`` frames (default a
                        third of the clip, odd): the band's level around that time, without
                        events shorter than half the window (a longer event is kept at its
                        centre)
``"ring_median"``       each mel band's median over the frames ``gap`` to ``outer`` away on
                        both sides (12% and 40% of the clip: 0.35-1.2 s of a 3-s clip; the
                        clip's ends mirrored): what the band does *around* that time, never
                        the time itself, so an event up to about ``2 * gap`` long is replaced
                        wholly by its surroundings and longer ones (up to ``outer - gap``)
                        lose the majority of the ring
``"texture"``           ``"local_median"`` with the clip's own fluctuation: Gaussian noise
                        with each band's robust spread around its running median
                        (1.4826 × the median absolute deviation over frames), drawn from
                        its own seed, :data:`TEXTURE_SEED` (recorded), not from
                        ``random_state``: the same clip gets the same fill whatever the
                        sampling seed, so explanations with different seeds remove
                        towards the same input (another seed: :func:`texture_fill`). A
                        smooth infill has no texture, and a model can read a steady,
                        fluctuation-free band as a sustained tone (see below)
``"ring_texture"``      ``"ring_median"`` with the same texture (seeded as ``"texture"``):
                        also takes out events too long for the local median's window (a
                        0.6-s roll of bursts is longer than half of it and stays in
                        ``"texture"``'s level, at its centre)
a number                a constant in input values (dB by default)
an array                a user array ``(n_mels, n_frames)`` in input values
a :class:`Fill`         used as it is (its array must have the input's shape), e.g.
                        ``texture_fill(logmel, seed=3)``
``"remove"``            stems only: a switched-off part is removed from the mixture (its
                        STFT is zero); ``"min"`` means the same for stems
``None`` (default)      :data:`DEFAULT_FILL` for cells, ``"remove"`` for stems
======================  =================================================================

**Waveform models** (:class:`~genrelens.models.waveform.WaveformModel`) are edited in the
STFT domain of their waveform, not on a log-mel: :func:`resolve_stft_fill` computes the fill
above on the clip's STFT power in dB (``10 log10 |S|^2`` per STFT bin and frame, rows being
linear-frequency bins instead of mel bands) and returns the complex STFT value of a
switched-off cell: the fill's magnitude with the clip's own phase in that cell. So ``"min"``
is silence (magnitude 0: the cell is removed from the waveform), ``"local_median"`` gives each
bin its running-median level around that time (an event shorter than half the window is
replaced by what the bin sounds like around it), ``"texture"`` adds the bin's own robust
fluctuation to it, and numbers or arrays are dB of STFT power (``(1 + n_fft // 2,
n_frames)``). Keeping the clip's phase keeps the timing of onsets within a cell; an all-off
input is then the clip with every bin levelled to its fill, resynthesised by overlap-add. The
kept phase also keeps a trace of what was removed: a 0.1-s tone burst in noise, switched off
with ``"local_median"``, kept 0.6% of its energy (-22 dB), about 5 dB above the noise around
it, because its phase stays coherent across overlapping frames (``tests/explain/
test_explain_waveform.py``).

The default was chosen by measurement on real music (``genrelens bench-xai``, README
"Explanations on real music"): with ``"min"`` most coalitions that LIME and KernelSHAP
evaluate are spectrograms that are mostly silence, far from anything the model was trained on,
and the surrogate explains the model's behaviour there (the same border components ranked
first whatever the clip), while an infill from the clip itself keeps the model on its data.
Smooth infills (``"local_median"``, ``"ring_median"``, ``"blur"``) still leave it in one
respect: they have no texture, and a model that detects sustained tones fires on the all-off
input (probability 0.86 for the planted-tone model with ``"local_median"``, 0.15 with
``"texture"``), so LIME and KernelSHAP pointed at the tone in about half the excerpts;
``"texture"`` keeps each band's fluctuation and they find it in 90-100%.

References
----------
Fong, R. C., & Vedaldi, A. (2017). Interpretable explanations of black boxes by meaningful
perturbation. ICCV.
Sturmfels, P., Lundberg, S., & Lee, S.-I. (2020). Visualizing the impact of feature
attribution baselines. Distill.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from genrelens._validation import check_int
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError

__all__ = ["Fill", "resolve_fill", "resolve_stft_fill", "texture_fill", "FILL_KINDS", "DEFAULT_FILL",
           "TEXTURE_SEED"]

#: The fill of every perturbation method and IG's baseline when none is given (see above).
DEFAULT_FILL = "texture"

#: The seed of ``fill="texture"``'s noise: fixed, so that the fill depends on the clip only.
TEXTURE_SEED = 0

FILL_KINDS = ("min", "clip_min", "mean", "noise", "blur", "band_median", "local_median",
              "ring_median", "texture", "ring_texture",
              "constant", "array", "remove")


@dataclasses.dataclass(frozen=True, eq=False)
class Fill:
    """A resolved fill.

    Attributes
    ----------
    kind : str
        One of :data:`FILL_KINDS`.
    array : np.ndarray, float32, shape (n_mels, n_frames), or None
        The value of every switched-off cell; ``None`` for ``"remove"`` (stems). For a waveform
        model (:func:`resolve_stft_fill`): complex64 of shape ``(1 + n_fft // 2, n_frames)``,
        the STFT value of every switched-off cell.
    params : dict
        What is needed to rebuild it (constant value, sigma, seed), JSON-ready.
    """

    kind: str
    array: np.ndarray | None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        """A one-line description, e.g. ``"min (value=-100.0, unit=dB)"``."""
        detail = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind} ({detail})" if detail else self.kind

    def to_record(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """A JSON-ready dict and the array (if any) for an ``.npz``."""
        arrays = {} if self.array is None else {"fill_array": np.asarray(self.array)}
        return {"kind": self.kind, "params": dict(self.params)}, arrays

    @classmethod
    def from_record(cls, record: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Fill:
        """Rebuild from :meth:`to_record` output."""
        array = arrays.get("fill_array")
        return cls(
            kind=str(record["kind"]),
            array=None if array is None else np.asarray(
                array, dtype=np.complex64 if np.iscomplexobj(array) else np.float32),
            params=dict(record.get("params", {})),
        )


def resolve_fill(
    fill: str | float | np.ndarray | Fill | None,
    logmel: np.ndarray,
    *,
    config: FeatureConfig,
    rng: np.random.Generator,
    stems: bool = False,
    sigma: tuple[float, float] | None = None,
) -> Fill:
    """Turn a ``fill=`` argument into a :class:`Fill` for the input ``logmel``.

    Parameters
    ----------
    fill : str, number, array, Fill or None
        See the module docstring; None is :data:`DEFAULT_FILL` (``"remove"`` for stems).
    logmel : np.ndarray, shape (n_mels, n_frames)
        The clip being explained, in input values.
    config : FeatureConfig
        For ``config.silence`` and the unit recorded with constants.
    rng : np.random.Generator
        Source of ``"noise"``'s seed (``"texture"`` has its own, :data:`TEXTURE_SEED`).
    stems : bool
        True for stem components: only ``"min"``/``"remove"`` are meaningful.
    sigma : (float, float), optional
        Blur widths in (mel bins, frames) for ``"blur"``.
    """
    x = np.asarray(logmel, dtype=np.float32)
    if fill is None:
        fill = "remove" if stems else DEFAULT_FILL
    if stems:
        if isinstance(fill, str) and fill in ("min", "remove"):
            return Fill(kind="remove", array=None, params={})
        raise ParameterError(
            f"fill={_short(fill)} is not supported for stem components: a stem that is off is "
            "removed from the mixture; use fill='min' (or 'remove')."
        )
    if isinstance(fill, str):
        if fill == "min":
            return _constant("min", float(config.silence), x, config)
        if fill == "clip_min":
            return _constant("clip_min", float(x.min()), x, config)
        if fill == "mean":
            return _constant("mean", float(x.mean()), x, config)
        if fill == "noise":
            seed = int(rng.integers(2**31))
            noise = np.random.default_rng(seed).standard_normal(x.shape)
            array = (x.mean() + x.std() * noise).astype(np.float32)
            return Fill("noise", array, {"seed": seed, "mean": float(x.mean()),
                                         "std": float(x.std()), "unit": config.unit})
        if fill == "blur":
            from scipy.ndimage import gaussian_filter

            if sigma is None:
                sigma = (max(1.0, x.shape[0] / 10), max(1.0, x.shape[1] / 10))
            array = gaussian_filter(x.astype(np.float64), sigma=sigma, mode="nearest")
            return Fill("blur", array.astype(np.float32), {"sigma": [float(s) for s in sigma]})
        if fill == "band_median":
            array = np.repeat(np.median(x, axis=1, keepdims=True), x.shape[1], axis=1)
            return Fill("band_median", array.astype(np.float32), {})
        if fill == "local_median":
            return Fill("local_median", _local_median(x), {"width": _local_width(x)})
        if fill == "ring_median":
            g, o = _ring_radii(x)
            return Fill("ring_median", _ring_median(x, gap=g, outer=o), {"gap": g, "outer": o})
        if fill == "texture":
            return texture_fill(x)
        if fill == "ring_texture":
            return texture_fill(x, around="ring")
        raise ParameterError(
            f"fill={fill!r} is unknown: expected 'min', 'clip_min', 'mean', 'noise', 'blur', "
            "'band_median', 'local_median', 'ring_median', 'texture', 'ring_texture', a "
            f"number (a constant input value, in {config.unit}) or an array "
            "(n_mels, n_frames)."
        )
    if isinstance(fill, Fill):
        if fill.array is None or fill.array.shape != x.shape:
            raise ParameterError(
                f"fill is a Fill of kind {fill.kind!r} with an array of shape "
                f"{None if fill.array is None else fill.array.shape}: expected one built for "
                f"this input, of shape {x.shape} (n_mels, n_frames)."
            )
        return fill
    if isinstance(fill, (int, float, np.integer, np.floating)) and not isinstance(fill, bool):
        value = float(fill)
        if not np.isfinite(value):
            raise ParameterError(
                f"fill={fill!r} is invalid: expected a finite number (in {config.unit})."
            )
        return _constant("constant", value, x, config)
    array = np.asarray(fill.detach().cpu() if hasattr(fill, "detach") else fill)
    if not np.issubdtype(array.dtype, np.number) or array.squeeze().shape != x.shape:
        raise ParameterError(
            f"fill has shape {array.shape} and dtype {array.dtype}: expected a number or a "
            f"numeric array of the input's shape {x.shape} (n_mels, n_frames)."
        )
    array = array.squeeze().astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ParameterError(
            f"fill array contains NaN or infinite values: expected finite values in {config.unit}."
        )
    return Fill("array", array, {})


def texture_fill(logmel: np.ndarray, *, seed: int = TEXTURE_SEED,
                 around: str = "local") -> Fill:
    """The ``"texture"`` fill of ``logmel`` with the noise seed ``seed``.

    Each mel band's running median (as ``"local_median"``; ``around="ring"``: its median
    around each frame, as ``"ring_median"``, the fill ``"ring_texture"``) plus Gaussian noise
    with the band's robust spread around it (see the module docstring).
    ``fill="texture"`` is ``texture_fill(logmel)``; pass the result as ``fill=`` to use
    another seed.

    Parameters
    ----------
    logmel : np.ndarray, shape (n_mels, n_frames)
        The clip being explained, in input values.
    seed : int
        Seed of the noise (non-negative); recorded in ``params``.
    around : {"local", "ring"}
        The level the noise is added to.
    """
    seed = check_int("seed", seed, minimum=0)
    x = np.asarray(logmel, dtype=np.float32)
    if x.ndim != 2:
        raise ParameterError(f"logmel has shape {x.shape}: expected (n_mels, n_frames).")
    if around == "local":
        kind, base, params = "texture", _local_median(x), {"width": _local_width(x)}
    elif around == "ring":
        g, o = _ring_radii(x)
        kind, base, params = "ring_texture", _ring_median(x, gap=g, outer=o), {"gap": g,
                                                                                "outer": o}
    else:
        raise ParameterError(f"around={around!r} is invalid: expected 'local' or 'ring'.")
    spread = _robust_spread(x - base)
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    array = (base + spread * noise).astype(np.float32)
    return Fill(kind, array, {**params, "seed": seed})


def resolve_stft_fill(
    fill: str | float | np.ndarray | Fill | None,
    spec: np.ndarray,
    *,
    config: FeatureConfig,
    rng: np.random.Generator,
) -> Fill:
    """The fill of a waveform model's STFT cells (see the module docstring).

    Parameters
    ----------
    fill : str, number, array, Fill or None
        As for :func:`resolve_fill`, computed on the clip's STFT power in dB; numbers,
        arrays and :class:`Fill` arrays ``(1 + n_fft // 2, n_frames)`` are in dB of STFT power.
    spec : np.ndarray, complex, shape (1 + n_fft // 2, n_frames)
        The clip's STFT (:func:`genrelens.features.stft`).
    config : FeatureConfig
        Its ``amin`` and ``ref`` define the dB (whatever its ``compression``).
    rng : np.random.Generator
        Source of the noise seed.

    Returns
    -------
    Fill
        ``array`` complex64 like ``spec``: the fill's magnitude with ``spec``'s phase (phase 1
        where ``spec`` is 0); ``params["domain"] == "stft"``.
    """
    from genrelens import features

    db = dataclasses.replace(config, compression="db")
    spec = np.asarray(spec)
    magnitude = np.abs(spec).astype(np.float64)
    level = features.power_to_db(magnitude**2, config=db)
    resolved = resolve_fill(fill, level, config=db, rng=rng)
    assert resolved.array is not None  # stems=False: always an array
    power = features.decompress(resolved.array.astype(np.float64), config=db)
    phase = np.where(magnitude > 0, spec / np.where(magnitude > 0, magnitude, 1.0), 1.0)
    return Fill(resolved.kind, (np.sqrt(power) * phase).astype(np.complex64),
                {**resolved.params, "domain": "stft"})


def _local_width(x: np.ndarray) -> int:
    """The local median's window: a third of the clip's frames, odd (centred on the frame)."""
    return max(1, int(x.shape[1]) // 3) | 1


def _local_median(x: np.ndarray) -> np.ndarray:
    """Each band's running median over :func:`_local_width` frames, the ends held."""
    from scipy.ndimage import median_filter

    return np.asarray(median_filter(x, size=(1, _local_width(x)), mode="nearest"),
                      dtype=np.float32)


def _robust_spread(residual: np.ndarray) -> np.ndarray:
    """Each band's standard deviation estimated robustly from its residual over frames:
    1.4826 × the median absolute deviation (the standard deviation for Gaussian residuals,
    unmoved by events that fill less than half the frames); shape ``(n_mels, 1)``."""
    centre = np.median(residual, axis=1, keepdims=True)
    spread: np.ndarray = 1.4826 * np.median(np.abs(residual - centre), axis=1, keepdims=True)
    return spread


def _constant(kind: str, value: float, x: np.ndarray, config: FeatureConfig) -> Fill:
    """A fill of one value everywhere, recorded with the input's unit."""
    return Fill(kind, np.full(x.shape, value, np.float32), {"value": value, "unit": config.unit})


#: ``ring_median``'s gap and outer radius as fractions of the clip's frames.
_RING = (0.12, 0.4)


def _ring_radii(x: np.ndarray) -> tuple[int, int]:
    """``ring_median``'s gap and outer radius in frames for the clip ``x``."""
    gap, outer = _RING
    g = max(1, round(x.shape[1] * gap))
    return g, max(g + 1, round(x.shape[1] * outer))


def _ring_median(x: np.ndarray, *, gap: int, outer: int) -> np.ndarray:
    """Each band's median (the upper middle value) over the frames ``gap..outer`` before and
    after each frame, the clip's ends mirrored."""
    from scipy.ndimage import median_filter

    footprint = np.ones((1, 2 * outer + 1), dtype=bool)
    footprint[0, outer - gap + 1:outer + gap] = False
    return np.asarray(median_filter(x, footprint=footprint, mode="mirror"), dtype=np.float32)


def _short(value: Any) -> str:
    return f"array of shape {np.shape(value)}" if np.ndim(value) else repr(value)

