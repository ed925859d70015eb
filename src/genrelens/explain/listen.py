"""Listenable explanations: resynthesise the audio of chosen components (Haunschmid et al. 2020).

An explanation says *which* components made the model decide; listening to them says *what*
they are. :func:`listenable` returns two waveforms of the explained segment: the ``k``
components with the highest positive score for a class ("top"), and everything else
("rest"). Both are resynthesised from the masked STFT of the segment with its original
phase, so ``top + rest`` equals the original segment (up to float rounding), keeping every
component gives the original, and keeping none gives silence.

Masks in the STFT domain
------------------------
Cell components (time segments, frequency bands, time-frequency patches, superpixels, custom
maps) are defined on the log-mel grid ``(n_mels, n_frames)``. Log-mel frame ``t`` and STFT
frame ``t`` are the same frame (:func:`genrelens.features.stft` uses the log-mel's framing),
so only the frequency axis needs mapping. Each linear STFT bin ``f`` takes the
filterbank-weighted average of the mel-bin mask values::

    mask_lin[f, t] = sum_m W[m, f] * mask_mel[m, t] / sum_m W[m, f]

with ``W`` the mel filterbank :func:`genrelens.features.mel_filterbank`. Bins that no mel
filter covers (the DC bin, bins outside ``[fmin, fmax]``) take the mask of the mel band whose
centre frequency is nearest. The map is linear and its rows sum to one, which is what makes
``top + rest == original`` and ``all == original`` exact: a bin between two mel bands with
different masks is kept partially, in proportion to the bands' filter weights.

Cells that belong to no component (map value ``-1``) count as "rest". Stem components are
already STFTs: the kept audio is the inverse STFT of the sum of the kept parts' complex STFTs
over the kept time segments. Dense explanations (Grad-CAM, IG) have no components: their
"top" is the ``fraction`` of cells with the highest positive scores.

References
----------
Haunschmid, V., Manilow, E., & Widmer, G. (2020). audioLIME: Listenable explanations using
source separation. MML workshop.
Mishra, S., Sturm, B. L., & Dixon, S. (2017). Local interpretable model-agnostic explanations
for music content analysis. ISMIR.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genrelens._io import atomic_path
from genrelens._validation import check_int, valid_audio
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.explain.components import Components

if TYPE_CHECKING:  # a type only: Explanation's notebook view (display) imports this module
    from genrelens.explain.explanation import Explanation

__all__ = ["Listenable", "listenable", "resynthesize", "mel_to_stft_mask", "mel_to_linear",
           "wav_bytes", "write_wav"]


@dataclasses.dataclass(frozen=True)
class Listenable:
    """The two waveforms of a listenable explanation.

    Attributes
    ----------
    top : np.ndarray, float32, shape (n_samples,)
        The top components (or cells) only.
    rest : np.ndarray, float32, shape (n_samples,)
        Everything else; ``top + rest`` is the original segment.
    sr : int
        Sampling rate in Hz.
    target : int
        The class explained.
    kept : list of int
        Indices of the components in ``top`` (empty for dense maps).
    names : list of str
        Their names (dense maps: a description of the kept cells).
    """

    top: np.ndarray
    rest: np.ndarray
    sr: int
    target: int
    kept: list[int]
    names: list[str]


def listenable(
    explanation: Explanation,
    y: np.ndarray | None = None,
    *,
    k: int = 3,
    target: int | str | None = None,
    fraction: float = 0.1,
    config: FeatureConfig | None = None,
) -> Listenable:
    """Audio of the top-``k`` positive components of ``explanation`` and of the rest.

    Parameters
    ----------
    explanation : Explanation
        Any explanation of one segment.
    y : np.ndarray, shape (n_samples,), optional
        The waveform of the explained segment (at ``config.sr``); required unless the
        components are stems (which carry their STFTs).
    k : int, default 3
        How many components; only those with a positive score are kept, so fewer (or none)
        may be.
    target : int, str or None
        Class index or name; ``None`` = the predicted class.
    fraction : float, default 0.1
        Dense maps only: the share of cells (highest positive scores) in "top".
    config : FeatureConfig, optional
        The features' configuration; default the components' (required for dense maps).

    Returns
    -------
    Listenable
    """
    check_int("k", k, minimum=1)
    c = explanation.class_index(target)
    comps = explanation.components
    if explanation.is_dense or comps is None:
        if not 0.0 < fraction <= 1.0:
            raise ParameterError(f"fraction={fraction!r} is invalid: expected 0 < fraction <= 1.")
        if config is None:
            raise ParameterError(
                "config= is required for dense explanations (no components to take it from)."
            )
        score = explanation.to_map(c)
        n_top = max(1, int(round(fraction * score.size)))
        order = np.argsort(-score, axis=None, kind="stable")[:n_top]
        kept = np.zeros(score.size)
        kept[order[score.ravel()[order] > 0]] = 1.0
        n_kept = int(kept.sum())
        cell_keep = kept.reshape(score.shape)
        top, rest = _masked_audio(_required_audio(y), cell_keep, 1.0 - cell_keep, config=config)
        name = f"top {n_kept} cells ({100 * n_kept / score.size:.1f} %)"
        return Listenable(top, rest, config.sr, c, [], [name])
    row = explanation.scores[c]
    top_k = [int(i) for i in np.argsort(-row, kind="stable")[:k] if row[i] > 0]
    keep = np.zeros(comps.n_components)
    keep[top_k] = 1.0
    if comps.stems is not None:
        top = resynthesize(comps, keep, y=y)
        rest = resynthesize(comps, 1.0 - keep, y=y, uncovered=1.0)
    else:  # one STFT of y for both
        top, rest = _masked_audio(
            _required_audio(y), comps.paint(keep), comps.paint(1.0 - keep, uncovered=1.0),
            config=comps.config,
        )
    return Listenable(top, rest, comps.config.sr, c, top_k, [comps.names[i] for i in top_k])


def resynthesize(
    components: Components,
    keep: np.ndarray,
    *,
    y: np.ndarray | None = None,
    uncovered: float = 0.0,
) -> np.ndarray:
    """The waveform of the kept components (original phase).

    Parameters
    ----------
    components : Components
        Of the segment ``y``.
    keep : array-like, shape (n_components,)
        1 = keep, 0 = drop (fractions scale the component).
    y : np.ndarray, shape (n_samples,), optional
        The segment's waveform; required for cell components. For stems its length (if
        given) sets the output length, else ``hop_length * (n_frames - 1)`` samples.
    uncovered : float, default 0
        Mask value of cells that belong to no component (map value ``-1``).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
    """
    from genrelens import features

    keep = np.asarray(keep, dtype=np.float64)
    if keep.shape != (components.n_components,):
        raise ParameterError(
            f"keep has shape {keep.shape}: expected ({components.n_components},), one value "
            "per component."
        )
    config = components.config
    if components.stems is not None:
        parts = components.stems
        gains = keep.reshape(len(parts.names), parts.n_segments)[:, parts.segment_of_frame]
        S = np.einsum("pt,pft->ft", gains, parts.stft.astype(np.complex128))
        length = (
            config.hop_length * (S.shape[-1] - 1) if y is None else int(np.asarray(y).shape[-1])
        )
        return np.asarray(features.istft(S, config=config, length=length), dtype=np.float32)
    mel_mask = components.paint(keep, uncovered=uncovered)
    return _masked_audio(_required_audio(y), mel_mask, config=config)[0]


def mel_to_stft_mask(mel_mask: np.ndarray, *, config: FeatureConfig) -> np.ndarray:
    """Map a mask ``(..., n_mels, n_frames)`` on mel bins to ``(..., 1 + n_fft // 2, n_frames)``.

    Filterbank-weighted average of the mel masks per linear bin; bins no filter covers take
    the nearest mel band (see the module docstring). Linear; all-ones gives all-ones.
    """
    stft_mask: np.ndarray = np.einsum(
        "fm,...mt->...ft", mel_to_linear(config), np.asarray(mel_mask, dtype=np.float64)
    )
    return stft_mask


def wav_bytes(y: np.ndarray, *, sr: int) -> bytes:
    """``y`` as the bytes of a 16-bit PCM WAV file (values clipped to [-1, 1])."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(
        buffer,
        np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0),
        sr,
        format="WAV",
        subtype="PCM_16",
    )
    return buffer.getvalue()


def write_wav(path: str | os.PathLike[str], y: np.ndarray, *, sr: int) -> Path:
    """Write ``y`` as a 16-bit PCM WAV file atomically and return the path."""
    payload = wav_bytes(y, sr=sr)
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)


# ---------------------------------------------------------------------------- helpers


def _required_audio(y: np.ndarray | None) -> np.ndarray:
    if y is None:
        raise ParameterError(
            "y= (the segment's waveform) is required to listen to cell components or dense maps."
        )
    audio: np.ndarray = valid_audio(np.asarray(y), mono=True).astype(np.float32)
    return audio


def _masked_audio(
    y: np.ndarray, *mel_masks: np.ndarray, config: FeatureConfig
) -> list[np.ndarray]:
    """``y`` filtered by each mask ``(n_mels, n_frames)`` (one STFT of ``y`` for all)."""
    from genrelens import features

    S = np.asarray(features.stft(y, config=config))
    out = []
    for mel_mask in mel_masks:
        if S.shape[-1] != mel_mask.shape[-1] or mel_mask.shape[0] != config.n_mels:
            raise ParameterError(
                f"y gives {S.shape[-1]} STFT frames but the mask has shape {mel_mask.shape} "
                f"(n_mels={config.n_mels}, n_frames): pass the waveform of the explained "
                "segment."
            )
        masked = S * mel_to_stft_mask(mel_mask, config=config)
        out.append(
            np.asarray(features.istft(masked, config=config, length=y.size), dtype=np.float32)
        )
    return out


def mel_to_linear(config: FeatureConfig) -> np.ndarray:
    """``(1 + n_fft // 2, n_mels)`` matrix with rows summing to 1 (see module docstring)."""
    from genrelens import features

    fb = np.asarray(features.mel_filterbank(config), dtype=np.float64)  # (n_mels, n_freq)
    total = fb.sum(axis=0)
    P: np.ndarray = np.divide(fb.T, total[:, None], out=np.zeros_like(fb.T), where=total[:, None] > 0)
    uncovered = np.flatnonzero(total <= 0)
    if uncovered.size:
        freqs = np.linspace(0.0, config.sr / 2, fb.shape[1])
        centres = np.asarray(features.mel_frequencies(config), dtype=np.float64)
        nearest = np.argmin(np.abs(freqs[uncovered, None] - centres[None, :]), axis=1)
        P[uncovered, nearest] = 1.0
    return P
