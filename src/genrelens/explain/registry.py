"""The one vocabulary of explanation methods and component kinds.

Every method and component kind has ONE canonical name, used everywhere: in the API
(:func:`genrelens.explain.explain`, :func:`~genrelens.explain.track.explain_track`), in
:class:`~genrelens.explain.explanation.Explanation` files, in the files of ``genrelens explain``
and ``explain-dataset``, in evaluation tables and in the report. The short spellings a user may
type on the command line (``shap``, ``freq``, ``tf``) are aliases, resolved by
:func:`canonical_method` and :func:`canonical_kind` at the command line and when files written
by earlier versions (which used them) are read; nothing else spells them.

Methods
-------
``lime``, ``kernel_shap``, ``hybrid``
    Sampled perturbation methods (a sample design, then a fit; Ribeiro et al. 2016, Lundberg &
    Lee 2017). The hybrid fits LIME and KernelSHAP on the SAME evaluations, so its ``views``
    are ``lime`` and ``kernel_shap``.
``occlusion``
    One component off at a time (Zeiler & Fergus 2014): ``M + 1`` evaluations, no settings.
``gradcam``, ``ig``
    Gradient methods (Selvaraju et al. 2017; Sundararajan et al. 2017): one dense map per
    input, no components, none of the sampling settings. (For a model that reads waveforms,
    :class:`~genrelens.models.waveform.WaveformModel`, ``ig`` integrates over the components'
    gates and gives component scores; ``gradcam`` is refused.)

Component kinds
---------------
``time``, ``frequency``, ``tf_grid``
    Built from the feature configuration alone (the same components for every segment).
``stems``
    Built from the segment's waveform (source separation).
``superpixels``, ``custom``
    Built by the caller (:func:`~genrelens.explain.components.superpixels`,
    :func:`~genrelens.explain.components.from_map`); not buildable by name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError

__all__ = [
    "Method", "METHODS", "DENSE", "PERTURBATION", "KINDS", "BUILDABLE_KINDS", "AUDIO_FREE_KINDS",
    "SETTINGS", "method", "check_methods", "check_kinds", "canonical_method", "canonical_kind",
    "settings_for", "build_components", "METHOD_ALIASES", "KIND_ALIASES",
]

#: The method-specific settings of :func:`genrelens.explain.explain`.
SETTINGS = ("n_samples", "sampling", "tol", "round_size", "kernel_width", "distance", "alpha")
_SAMPLED = ("n_samples", "sampling", "tol", "round_size")
_LIME = ("kernel_width", "distance", "alpha")


@dataclasses.dataclass(frozen=True)
class Method:
    """Facts about one explanation method.

    Attributes
    ----------
    name : str
        The canonical name.
    dense : bool
        A gradient method: a dense map per input, no components, no model evaluations on
        perturbed inputs.
    settings : tuple of str
        The settings of :func:`~genrelens.explain.explain` (from :data:`SETTINGS`) it uses;
        any other given setting is an error.
    samplings : tuple of str
        Sample designs it accepts, the first being its default (empty: it does not sample).
    fits : tuple of str
        The estimators fitted on its evaluations (``kernel_shap``, ``lime``); the first gives
        ``scores``, all of them the ``others`` views when there is more than one.
    """

    name: str
    dense: bool
    settings: tuple[str, ...]
    samplings: tuple[str, ...] = ()
    fits: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        """The method whose scores are this method's ``scores`` (the hybrid: KernelSHAP)."""
        return self.fits[0] if self.fits else self.name

    @property
    def views(self) -> tuple[str, ...]:
        """The methods whose results one run of this method gives (the hybrid: two)."""
        return self.fits if len(self.fits) > 1 else (self.name,)


_METHODS = (
    Method("lime", False, _SAMPLED + _LIME, ("uniform", "mixture"), ("lime",)),
    Method("kernel_shap", False, _SAMPLED, ("shapley", "mixture", "leverage"),
           ("kernel_shap",)),
    Method("hybrid", False, _SAMPLED + _LIME, ("mixture",), ("kernel_shap", "lime")),
    Method("occlusion", False, ()),
    Method("gradcam", True, ()),
    Method("ig", True, ()),
)
_BY_NAME = {m.name: m for m in _METHODS}

#: Every method's canonical name.
METHODS = tuple(_BY_NAME)
#: Gradient methods (dense maps).
DENSE = tuple(m.name for m in _METHODS if m.dense)
#: Perturbation methods (need components; run through the engine).
PERTURBATION = tuple(m.name for m in _METHODS if not m.dense)

#: Every component kind a :class:`~genrelens.explain.components.Components` can have.
KINDS = ("time", "frequency", "tf_grid", "superpixels", "custom", "stems")
#: Kinds :func:`build_components` builds by name.
BUILDABLE_KINDS = ("time", "frequency", "tf_grid", "stems")
#: Buildable kinds that need no waveform (the same components for every segment).
AUDIO_FREE_KINDS = ("time", "frequency", "tf_grid")

#: Command-line spellings -> canonical names (also what earlier versions wrote in track files).
METHOD_ALIASES = {"shap": "kernel_shap"}
KIND_ALIASES = {"freq": "frequency", "tf": "tf_grid"}


def method(name: str) -> Method:
    """The :class:`Method` called ``name`` (canonical), or a :class:`ParameterError`."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ParameterError(
            f"method={name!r} is unknown: expected one of {list(METHODS)}."
        ) from None


def check_methods(methods: Any, *, allowed: tuple[str, ...] = METHODS,
                  name: str = "methods") -> tuple[str, ...]:
    """``methods`` as a tuple of canonical names, each from ``allowed``, none twice."""
    return _check_names(methods, allowed=allowed, name=name)


def check_kinds(kinds: Any, *, allowed: tuple[str, ...] = BUILDABLE_KINDS,
                name: str = "kinds") -> tuple[str, ...]:
    """``kinds`` as a tuple of canonical names, each from ``allowed``, none twice."""
    return _check_names(kinds, allowed=allowed, name=name)


def canonical_method(name: str) -> str:
    """The canonical name of a method spelled ``name`` (an alias of :data:`METHOD_ALIASES`
    or already canonical); unknown names are returned unchanged for the caller to reject."""
    return METHOD_ALIASES.get(name, name)


def canonical_kind(name: str) -> str:
    """The canonical name of a component kind spelled ``name`` (see :func:`canonical_method`)."""
    return KIND_ALIASES.get(name, name)


def settings_for(name: str, **settings: Any) -> dict[str, Any]:
    """Of ``settings`` (keyword settings of :func:`~genrelens.explain.explain`), those that
    method ``name`` uses: for callers that run several methods with one set of settings."""
    used = method(name).settings
    return {k: v for k, v in settings.items() if k in used or k not in SETTINGS}


def build_components(kind: str, *, config: FeatureConfig, n_frames: int,
                     audio: np.ndarray | None = None, n_bands: int = 8) -> Any:
    """The components of ``kind`` for one segment, with each constructor's defaults.

    Parameters
    ----------
    kind : {"time", "frequency", "tf_grid", "stems"}
        ``time``: 10 segments; ``frequency``: ``n_bands`` log-spaced bands; ``tf_grid``:
        10 x 8 patches; ``stems``: the waveform ``audio`` separated (harmonic/percussive
        by default) in 10 segments.
    config : FeatureConfig
    n_frames : int
        Frames of the log-mel input.
    audio : np.ndarray, optional
        The segment's waveform; required for ``stems``.
    n_bands : int
        Bands of ``frequency``.

    Returns
    -------
    Components
    """
    from genrelens.explain import components as C

    kind = check_kinds((kind,), name="kind")[0]
    if kind == "time":
        return C.time_segments(config=config, n_frames=n_frames)
    if kind == "frequency":
        return C.frequency_bands(config=config, n_frames=n_frames, n_bands=n_bands)
    if kind == "tf_grid":
        return C.tf_grid(config=config, n_frames=n_frames)
    if audio is None:
        raise ParameterError("kind='stems' needs the segment's waveform: pass audio=.")
    return C.stems(audio, config=config)


def _check_names(names: Any, *, allowed: tuple[str, ...], name: str) -> tuple[str, ...]:
    given = (names,) if isinstance(names, str) else tuple(names) if names is not None else ()
    if not given or not all(isinstance(n, str) and n in allowed for n in given) or len(
            set(given)) != len(given):
        raise ParameterError(
            f"{name}={list(given)!r} is invalid: expected a non-empty list of distinct names "
            f"from {list(allowed)}."
        )
    return given

