"""The :class:`Explanation` result object (frozen) and its JSON + NPZ storage.

Every explainer of :mod:`genrelens.explain` returns one. Component methods (LIME,
KernelSHAP, hybrid, occlusion) give ``scores`` of shape ``(n_classes, n_components)``; dense
methods (Grad-CAM, Integrated Gradients) give a map ``(n_classes, n_mels, n_frames)``.
Everything needed to judge and repeat the explanation travels with it: the input, the
components, the fill, every parameter including ``random_state``, the cost ledger and the
surrogate's fit quality.

Storage: ``save("out/exp")`` writes ``out/exp.json`` (readable record) and ``out/exp.npz``
(arrays), each atomically; the JSON names the NPZ and its SHA-256 so that a mismatched pair
is detected on :meth:`Explanation.load`. ``save(..., share_stems=True)`` puts the stems' STFT
into a file named after its content beside the JSON, written once for every explanation of
the same segment. The schema (:data:`SCHEMA_VERSION`) is documented in
``docs/explanation-schema.md`` and in :meth:`Explanation.save`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from genrelens._io import atomic_path, write_json
from genrelens._validation import check_int
from genrelens.errors import GenrelensError, ParameterError
from genrelens.explain.components import Components
from genrelens.explain.fill import Fill

if TYPE_CHECKING:
    import shap

__all__ = ["Explanation", "TopComponent", "SCHEMA_VERSION"]

#: Version of the saved schema, written as ``"schema_version"``. 1: files of genrelens before
#: the field existed (``"format_version": 1``, all arrays in the NPZ); 2: adds
#: ``"shared_arrays"`` (arrays kept in files shared between explanations). Files of every
#: version up to this one are read.
SCHEMA_VERSION = 2


class TopComponent(NamedTuple):
    """One entry of :meth:`Explanation.top`: component (or cell) index, name and score."""

    index: int  # type: ignore[assignment]  # shadows tuple.index: a public field name
    name: str
    score: float


@dataclasses.dataclass(frozen=True, eq=False)
class Explanation:
    """A local explanation of one input.

    Attributes
    ----------
    method : str
        ``"lime"``, ``"kernel_shap"``, ``"hybrid"``, ``"occlusion"``, ``"gradcam"``, ``"ig"``, ...
    scores : np.ndarray, float64
        ``(n_classes, n_components)`` for component methods; ``(n_classes, n_mels, n_frames)``
        for dense methods. Positive = supports the class.
    prediction : np.ndarray, float64, shape (n_classes,)
        The model's class probabilities for the input (raw outputs when ``output == "raw"``).
    logmel : np.ndarray, float32, shape (n_mels, n_frames)
        The explained input in dB (for stems: the log-mel of the sum of the parts).
    components : Components or None
        The interpretable components; ``None`` for dense methods without components.
    fill : Fill or None
        What "off" meant (for IG: the baseline); ``None`` when not applicable (Grad-CAM).
    output : str
        What the scores explain: ``"probabilities"`` (softmax of logits), ``"logits"`` or
        ``"raw"`` (the model's output as is).
    class_names : tuple of str or None
    params : dict
        Every parameter of the call (``n_samples``, ``random_state``, kernel width, ...).
    cost : dict
        ``n_evaluations`` (model calls on single inputs), ``seconds``, ``batch_size``, ...
    fit : dict
        Surrogate fit quality and reference values: LIME ``r2`` (weighted, per class),
        ``intercept``, ``local_prediction``; KernelSHAP ``base_value`` (f(fill)) and
        ``full_value`` (f(x) on the explained input); hybrid ``agreement`` (Spearman per class).
        Values are floats or arrays of shape (n_classes,).
    others : dict
        Further score arrays of the same shape as ``scores`` computed from the same model
        evaluations, e.g. the hybrid's ``{"lime": ..., "kernel_shap": ...}``.
    """

    method: str
    scores: np.ndarray
    prediction: np.ndarray
    logmel: np.ndarray
    components: Components | None = None
    fill: Fill | None = None
    output: str = "probabilities"
    class_names: tuple[str, ...] | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cost: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    fit: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    others: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # own read-only copies: freezing must not touch the caller's arrays
        scores = np.array(self.scores, dtype=np.float64)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "prediction", np.array(self.prediction, dtype=np.float64))
        object.__setattr__(self, "logmel", np.array(self.logmel, dtype=np.float32))
        object.__setattr__(self, "others", {k: np.array(v, dtype=np.float64)
                                            for k, v in self.others.items()})
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(map(str, self.class_names)))
        n_classes = self.prediction.shape[-1]
        if self.prediction.ndim != 1 or scores.shape[0] != n_classes:
            raise ParameterError(
                f"scores has shape {scores.shape} and prediction {self.prediction.shape}: "
                "expected scores (n_classes, ...) and prediction (n_classes,)."
            )
        if self.class_names is not None and len(self.class_names) != n_classes:
            raise ParameterError(
                f"class_names has {len(self.class_names)} entries: expected n_classes={n_classes}."
            )
        if scores.ndim == 2:
            if self.components is None or scores.shape[1] != self.components.n_components:
                raise ParameterError(
                    f"scores has shape {scores.shape}: component scores need components with "
                    f"{scores.shape[1]} entries."
                )
        elif scores.ndim != 3 or scores.shape[1:] != self.logmel.shape:
            raise ParameterError(
                f"scores has shape {scores.shape}: expected (n_classes, n_components) or a "
                f"dense map (n_classes, {self.logmel.shape[0]}, {self.logmel.shape[1]})."
            )
        for name, other in self.others.items():
            if np.shape(other) != scores.shape:
                raise ParameterError(
                    f"others[{name!r}] has shape {np.shape(other)}: expected {scores.shape}."
                )
        for arr in (scores, self.prediction, self.logmel, *self.others.values()):
            arr.setflags(write=False)

    # ------------------------------------------------------------------ views

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return int(self.prediction.shape[0])

    @property
    def is_dense(self) -> bool:
        """True for cell-wise maps (Grad-CAM, IG), False for component scores."""
        return self.scores.ndim == 3

    @property
    def predicted_class(self) -> int:
        """Index of the most probable class."""
        return int(np.argmax(self.prediction))

    def class_index(self, target: int | str | None = None) -> int:
        """Index of ``target`` (an index, a class name, or ``None`` for the predicted class)."""
        if target is None:
            return self.predicted_class
        if isinstance(target, str):
            if self.class_names is None or target not in self.class_names:
                raise ParameterError(
                    f"target={target!r} is not a class name: expected one of "
                    f"{list(self.class_names or [])} or an index 0..{self.n_classes - 1}."
                )
            return self.class_names.index(target)
        return check_int("target", target, minimum=0, maximum=self.n_classes - 1)

    def top(self, k: int = 5, *, target: int | str | None = None) -> list[TopComponent]:
        """The ``k`` components (dense: cells) with the highest scores for ``target``.

        Parameters
        ----------
        k : int
            How many; at most the number of components (cells).
        target : int, str or None
            Class index or name; ``None`` = the predicted class.

        Returns
        -------
        list of TopComponent
            ``(index, name, score)``, highest score first; ties broken by lower index.
            For dense maps ``index`` is the flat cell index ``mel * n_frames + frame`` and the
            name reads ``"mel m, frame t"``.
        """
        check_int("k", k, minimum=1)
        row = self.scores[self.class_index(target)].ravel()
        order = np.argsort(-row, kind="stable")[:k]
        if self.is_dense:
            n_frames = self.scores.shape[2]
            names = [f"mel {i // n_frames}, frame {i % n_frames}" for i in order]
        else:
            assert self.components is not None
            names = [self.components.names[i] for i in order]
        return [TopComponent(int(i), n, float(row[i])) for i, n in zip(order, names)]

    def to_map(self, target: int | str | None = None, *, spread: bool = True) -> np.ndarray:
        """Scores of ``target`` painted onto the input grid, ``(n_mels, n_frames)``.

        With ``spread`` (the default), component scores are spread evenly over the cells of
        their component (a component of ``c`` cells with score ``s`` gives ``s / c`` per
        cell, so the map sums to the scores); without it every cell carries its component's
        score (the map's values are the scores themselves, in the units of bar charts of the
        scores). Cells of no component are 0. Dense maps are returned as they are. Not
        available for stems (their components are not cells).
        """
        row = self.scores[self.class_index(target)]
        if self.is_dense:
            return np.array(row)
        assert self.components is not None
        if self.components.map is None:
            raise ParameterError(
                "to_map() is not available for stem components: they are parts of the mixture, "
                "not cells; plot scores per part and time segment instead."
            )
        return self.components.paint(row, spread=spread)

    def to_shap(self, class_: int | str | None = None, *,
                components: Components | None = None) -> shap.Explanation:
        """The scores of one class as a ``shap.Explanation``, for shap's plots.

        shap's model is additive (Lundberg & Lee 2017): ``base_values`` plus the sum of
        ``values`` is the output explained. ``values`` are the component scores of ``class_``
        (dense maps: their sums over ``components``), ``data`` the components' activations in
        the explained input (all on: ones), ``feature_names`` the component names, and
        ``base_values`` the output the scores start from:

        * KernelSHAP and hybrid: ``fit["base_value"]``, the output with every component off;
        * LIME: ``fit["intercept"]``, so that base plus values is LIME's local prediction;
        * occlusion (``f(x) - f(x without j)``, Zeiler & Fergus 2014): ``f(x)`` minus the sum
          of the scores, so that the plot ends at the model's output on the explained input
          (``fit["full_value"]``). For a model additive over the components this base is the
          output with every component off and the scores are exact; otherwise the base
          differs from that output by the interactions occlusion does not see;
        * Integrated Gradients (Sundararajan et al. 2017): ``fit["f_baseline"]``, the output
          on the baseline; base plus values is ``f(x)`` up to ``fit["completeness_gap"]`` and
          the attribution of cells outside every component;
        * Grad-CAM (Selvaraju et al. 2017): 0. Its map is a relevance, not a change of the
          output: the values are summed relevance and the plot's end is their total, not
          ``f(x)``.

        ``shap.plots.waterfall(exp.to_shap())`` then draws the explanation of the predicted
        class.

        Parameters
        ----------
        class_ : int, str or None
            Class index or name; ``None`` = the predicted class.
        components : Components, optional
            For dense maps (Grad-CAM, IG) only, required there: the cell components (e.g.
            :func:`~genrelens.explain.components.tf_grid` of the input's shape) whose cells
            are summed (:meth:`Components.sum_cells`).

        Returns
        -------
        shap.Explanation
            ``values`` (M,), ``base_values`` (a float), ``data`` (M,) ones and
            ``feature_names`` (M,) names, in the units of :attr:`output`.

        Raises
        ------
        ParameterError
            When shap is not installed; for a dense map without ``components`` (or with stem
            components, or of another shape); for ``components`` given with component scores;
            for a method without a base value.

        References
        ----------
        Lundberg, S. M., & Lee, S.-I. (2017). A unified approach to interpreting model
        predictions. NeurIPS.
        Zeiler, M. D., & Fergus, R. (2014). Visualizing and understanding convolutional
        networks. ECCV.
        Sundararajan, M., Taly, A., & Yan, Q. (2017). Axiomatic attribution for deep networks.
        ICML.
        Selvaraju, R. R., et al. (2017). Grad-CAM: Visual explanations from deep networks via
        gradient-based localization. ICCV.
        """
        c = self.class_index(class_)
        if self.is_dense:
            if components is None:
                raise ParameterError(
                    f"to_shap() of a dense map (method={self.method!r}) needs components=: the "
                    "cell components whose cells are summed, e.g. components.tf_grid(...) of "
                    "the input's shape."
                )
            values = components.sum_cells(self.scores[c])
        elif components is not None:
            raise ParameterError(
                f"components= is for dense maps only; method={self.method!r} has its own "
                "components: leave it out."
            )
        else:
            components = self.components
            values = self.scores[c].copy()
        assert components is not None  # component scores always have their components
        base = self._shap_base(c, values)
        try:
            import shap
        except ImportError as exc:
            raise ParameterError("to_shap() needs shap: pip install 'genrelens[compare]'.") from exc
        return shap.Explanation(
            values=values,
            base_values=base,
            data=np.ones(components.n_components),
            feature_names=list(components.names),
        )

    def _shap_base(self, c: int, values: np.ndarray) -> float:
        """The base value of :meth:`to_shap` for class ``c`` (see there)."""
        if self.method == "gradcam":
            return 0.0
        keys = {"kernel_shap": "base_value", "hybrid": "base_value", "lime": "intercept",
                "occlusion": "full_value", "ig": "f_baseline"}
        if self.method not in keys or keys[self.method] not in self.fit:
            raise ParameterError(
                f"to_shap() needs an additive explanation with a base value; method="
                f"{self.method!r} has none: expected one of {sorted([*keys, 'gradcam'])}."
            )
        value = np.broadcast_to(np.asarray(self.fit[keys[self.method]], np.float64),
                                (self.n_classes,))[c]
        return float(value - values.sum()) if self.method == "occlusion" else float(value)

    def as_method(self, name: str) -> Explanation:
        """The explanation whose primary ``scores`` are ``others[name]`` (e.g. hybrid's LIME)."""
        if name == self.method:
            return self
        if name not in self.others:
            raise ParameterError(
                f"name={name!r} is not available: expected {self.method!r} or one of "
                f"{sorted(self.others)}."
            )
        return dataclasses.replace(self, method=name, scores=self.others[name], others={})

    def __repr__(self) -> str:
        label = (
            self.class_names[self.predicted_class] if self.class_names else self.predicted_class
        )
        what = f"components={self.components!r}" if self.components else "dense"
        return (
            f"Explanation(method={self.method!r}, scores{self.scores.shape}, predicted={label!r}, "
            f"{what}, n_evaluations={self.cost.get('n_evaluations')})"
        )

    def _repr_html_(self) -> str:
        """Jupyter display: the plot, the top components and (stems) audio players.

        Rendered by :func:`genrelens.explain.html.explanation_html` (labels HTML-escaped).
        """
        from genrelens.explain.html import explanation_html

        return explanation_html(self)

    # ------------------------------------------------------------------ storage

    def save(self, path: str | os.PathLike[str], *, share_stems: bool = False) -> Path:
        """Write ``<path>.json`` and ``<path>.npz`` atomically; return the JSON path.

        ``path`` may end in ``.json`` or ``.npz`` or have no suffix.

        Parameters
        ----------
        path : path-like
        share_stems : bool
            For stem components: store the parts' complex STFT (about 3 MB for a 3-s segment
            at the defaults) in ``stft-<hash>.npz`` beside the JSON, named after the STFT's
            content and written only when absent, instead of in ``<path>.npz``: explanations
            of one segment by several methods then share one copy
            (:func:`genrelens.explain.track.write_track` does this).

        Notes
        -----
        Schema version 2 (:data:`SCHEMA_VERSION`; ``docs/explanation-schema.md``). The JSON:

        ``schema_version`` (int), ``method`` (str), ``output`` ("probabilities", "logits" or
        "raw"), ``class_names`` (list of str or null), ``params`` (every parameter, incl.
        ``random_state``), ``cost`` (``n_evaluations``, ``seconds``, ...), ``others`` (names
        of the other views of a hybrid, e.g. ``["lime"]``), ``fit`` (name → number, or
        ``{"array": key}`` naming an NPZ array), ``components`` (optional: ``kind``, ``shape``
        [n_mels, n_frames], ``names``, ``extents`` [[start_s, end_s, low_hz, high_hz], ...],
        ``config`` (FeatureConfig), ``params``, and for stems ``stems`` = {``names``,
        ``n_segments``, ``separator``}), ``fill`` (optional: the fill's record),
        ``arrays`` = {``file``: the NPZ's name, ``sha256``: of its bytes} and, when shared
        arrays exist, ``shared_arrays`` = {array key: {``file``, ``sha256``}} (files in the
        same folder).

        The NPZ: ``scores`` (n_classes, n_components) or (n_classes, n_mels, n_frames),
        ``prediction`` (n_classes,), ``logmel`` (n_mels, n_frames), ``components_map``
        (int, -1 = no component) or ``stems_stft`` (complex64, n_parts × bins × frames;
        in the shared file when shared) and ``stems_segment_of_frame``, ``fit_<name>``,
        ``others_<name>`` and the fill's arrays.
        """
        base = _base(path)
        arrays: dict[str, np.ndarray] = {
            "scores": self.scores, "prediction": self.prediction, "logmel": self.logmel,
        }
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "method": self.method,
            "output": self.output,
            "class_names": None if self.class_names is None else list(self.class_names),
            "params": _jsonable(self.params),
            "cost": _jsonable(self.cost),
            "others": sorted(self.others),
            "fit": {},
        }
        for name, value in self.others.items():
            arrays[f"others_{name}"] = np.asarray(value)
        for name, value in self.fit.items():
            if np.ndim(value):
                arrays[f"fit_{name}"] = np.asarray(value)
                record["fit"][name] = {"array": f"fit_{name}"}
            else:
                record["fit"][name] = _jsonable(value)
        if self.components is not None:
            record["components"], comp_arrays = self.components.to_record()
            if share_stems and "stems_stft" in comp_arrays:
                record["shared_arrays"] = {"stems_stft": _write_shared(
                    base.parent, "stems_stft", comp_arrays.pop("stems_stft"))}
            arrays.update(comp_arrays)
        if self.fill is not None:
            record["fill"], fill_arrays = self.fill.to_record()
            arrays.update(fill_arrays)
        buffer = io.BytesIO()
        # numpy's stub types **kwds as allow_pickle's bool
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        payload = buffer.getvalue()
        npz_path = _with(base, ".npz")
        with atomic_path(npz_path) as tmp:
            tmp.write_bytes(payload)
        record["arrays"] = {"file": npz_path.name, "sha256": hashlib.sha256(payload).hexdigest()}
        return write_json(_with(base, ".json"), record)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Explanation:
        """Read an explanation written by :meth:`save`."""
        base = _base(path)
        json_path, npz_path = _with(base, ".json"), _with(base, ".npz")
        try:
            record = json.loads(json_path.read_text(encoding="utf-8"))
            payload = npz_path.read_bytes()
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON
            raise GenrelensError(
                f"cannot read explanation {json_path} / {npz_path}: {exc}"
            ) from exc
        version = record.get("schema_version", 1 if record.get("format_version") == 1 else None)
        if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
            found = ("schema_version", record["schema_version"]) if "schema_version" in record \
                else ("format_version", record.get("format_version"))
            raise GenrelensError(
                f"{json_path} has {found[0]}={found[1]!r}: this genrelens reads schema versions "
                f"1 to {SCHEMA_VERSION}; read it with the genrelens that wrote it, or upgrade."
            )
        if hashlib.sha256(payload).hexdigest() != record["arrays"]["sha256"]:
            raise GenrelensError(
                f"{npz_path} does not match {json_path} (SHA-256 differs): the pair was mixed up "
                "or one file was changed; save the explanation again."
            )
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        for key, ref in (record.get("shared_arrays") or {}).items():
            arrays[key] = _read_shared(json_path, key, ref)
        fit = {
            name: arrays[value["array"]] if isinstance(value, dict) and "array" in value else value
            for name, value in record["fit"].items()
        }
        return cls(
            method=record["method"],
            scores=arrays["scores"],
            prediction=arrays["prediction"],
            logmel=arrays["logmel"],
            components=(
                Components.from_record(record["components"], arrays)
                if "components" in record else None
            ),
            fill=Fill.from_record(record["fill"], arrays) if "fill" in record else None,
            output=record["output"],
            class_names=None if record["class_names"] is None else tuple(record["class_names"]),
            params=record["params"],
            cost=record["cost"],
            fit=fit,
            others={name: arrays[f"others_{name}"] for name in record["others"]},
        )


def _write_shared(folder: Path, key: str, array: np.ndarray) -> dict[str, str]:
    """Store ``array`` as ``key`` in ``folder/stft-<hash of its content>.npz`` unless that file
    exists; return its reference ``{"file", "sha256"}`` (SHA-256 of the file's bytes)."""
    array = np.ascontiguousarray(array)
    content = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    content.update(array.tobytes())
    path = folder / f"stft-{content.hexdigest()[:20]}.npz"
    if not path.is_file():
        buffer = io.BytesIO()
        # numpy's stub types **kwds as allow_pickle's bool
        np.savez_compressed(buffer, **{key: array})  # type: ignore[arg-type]
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _read_shared(json_path: Path, key: str, ref: Mapping[str, Any]) -> np.ndarray:
    """The array ``key`` of the shared file ``ref`` beside ``json_path``, checked."""
    name = str(ref.get("file", "")) if isinstance(ref, Mapping) else ""
    if not name or Path(name).name != name or name in (".", ".."):
        raise GenrelensError(
            f"{json_path} names the shared file {name!r} for {key!r}: expected a file name in "
            "the same folder; save the explanation again."
        )
    try:
        payload = (json_path.parent / name).read_bytes()
    except OSError as exc:
        raise GenrelensError(
            f"cannot read {name}, the shared {key!r} of {json_path}: {exc}; copy it along with "
            "the explanation, or save the explanation again."
        ) from exc
    if hashlib.sha256(payload).hexdigest() != ref.get("sha256"):
        raise GenrelensError(
            f"{json_path.parent / name} does not match {json_path} (SHA-256 differs): the "
            "shared file was changed or replaced; save the explanation again."
        )
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        stored: np.ndarray = data[key]
        return stored


def _base(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".json", ".npz") else p


def _with(base: Path, suffix: str) -> Path:
    return base.with_name(base.name + suffix)


def _jsonable(value: Any) -> Any:
    """Round-trip ``value`` through JSON so that the stored record equals the loaded one."""
    from genrelens._io import _json_default

    return json.loads(json.dumps(value, default=_json_default))
