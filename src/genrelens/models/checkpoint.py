"""Checkpoints: a model saved as data (name, arguments, weights), never as code.

A checkpoint file is ``torch.save`` of a dict with the keys

=================  =================================================================
``format``         ``"genrelens-checkpoint"``
``format_version`` ``1``
``model_name``     registered name (:func:`genrelens.models.available_models`)
``model_args``     constructor keyword arguments (plain values)
``feature_config`` :meth:`genrelens.FeatureConfig.to_dict` of the input features
``class_names``    list of class names; index ``i`` is logit ``i``
``state_dict``     tensors of the model
``versions``       ``{"genrelens": ..., "torch": ...}`` of the writer
``extra``          optional dict of plain values (e.g. the training epoch)
=================  =================================================================

:func:`load_checkpoint` reads it with ``torch.load(weights_only=True)``: only tensors and plain
containers can be unpickled, so a file carrying pickled objects or callables is refused with a
:class:`~genrelens.errors.CheckpointError` before any of its code can run. Writes are atomic.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genrelens.config import FeatureConfig, preset
from genrelens.device import resolve_device
from genrelens.errors import CheckpointError, GenrelensError, ParameterError
from genrelens._io import atomic_path
from genrelens.models.registry import available_models, get_model

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_file",
    "read_checkpoint_dict",
    "state_dict_mismatch",
    "LoadedModel",
    "CHECKPOINT_KEYS",
]

_FORMAT = "genrelens-checkpoint"
_FORMAT_VERSION = 1

#: Keys every checkpoint must hold.
CHECKPOINT_KEYS = (
    "format",
    "format_version",
    "model_name",
    "model_args",
    "feature_config",
    "class_names",
    "state_dict",
    "versions",
)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model rebuilt from a checkpoint, with everything needed to feed it.

    Attributes
    ----------
    model : torch.nn.Module
        In evaluation mode, on the CPU.
    model_name : str
    model_args : dict
    feature_config : FeatureConfig
        How its input log-mel segments must be computed.
    class_names : tuple of str
    extra : dict
    versions : dict
        genrelens and torch versions of the writer.
    """

    model: nn.Module
    model_name: str
    model_args: dict[str, Any]
    feature_config: FeatureConfig
    class_names: tuple[str, ...]
    extra: dict[str, Any]
    versions: dict[str, str]


def _check_plain(value: Any, where: str) -> None:
    """Raise ParameterError unless ``value`` is built of str/int/float/bool/None/list/tuple/dict."""
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ParameterError(f"{where} has key {key!r}: expected string keys.")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise ParameterError(
        f"{where} is a {type(value).__name__}: expected plain values (str, int, float, bool, None, "
        "lists, dicts) so the checkpoint loads with weights_only=True."
    )


def _versions() -> dict[str, str]:
    from genrelens._version import __version__

    # str(): torch.__version__ is a TorchVersion, which weights_only loading refuses.
    return {"genrelens": __version__, "torch": str(torch.__version__)}


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: nn.Module,
    model_name: str,
    model_args: Mapping[str, Any],
    feature_config: FeatureConfig,
    class_names: Sequence[str],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its description to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        Destination (conventionally ``RUN/checkpoint.pt``).
    model : torch.nn.Module
        Its ``state_dict()`` is saved (moved to the CPU; a DDP wrapper is unwrapped).
    model_name : str
        The registered name that rebuilds it.
    model_args : mapping
        Constructor arguments of plain values.
    feature_config : FeatureConfig
    class_names : sequence of str
        One per output logit.
    extra : mapping or None
        Further plain values to keep (e.g. ``{"epoch": 12}``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        For an unknown ``model_name``, non-plain arguments, or a class count that does not
        match the model's output size.
    """
    if model_name not in available_models():
        raise ParameterError(
            f"model_name={model_name!r} is unknown: expected one of {list(available_models())}."
        )
    _check_plain(dict(model_args), "model_args")
    _check_plain(dict(extra or {}), "extra")
    if not isinstance(feature_config, FeatureConfig):
        raise ParameterError(
            f"feature_config is a {type(feature_config).__name__}: expected a FeatureConfig."
        )
    names = [str(name) for name in class_names]
    if not names or len(set(names)) != len(names):
        raise ParameterError(f"class_names={names!r} is invalid: expected distinct names.")
    module = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    payload = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "model_name": model_name,
        "model_args": dict(model_args),
        "feature_config": feature_config.to_dict(),
        "class_names": names,
        "state_dict": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
        "versions": _versions(),
        "extra": dict(extra or {}),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint_dict(path: str | os.PathLike[str], *, mmap: bool = False) -> dict[str, Any]:
    """Unpickle ``path`` safely (``weights_only=True``) and return the top-level dict.

    ``mmap=True`` maps the tensors' storage from the file instead of reading it (large files).

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, not a dict, or holds pickled objects or code.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"checkpoint {file} does not exist.")
    try:
        data = torch.load(file, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # the unpickler's errors vary: corrupt zip, EOF, refused global
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        refused = [line for line in lines if "GLOBAL" in line or "Unsupported global" in line]
        if refused:
            raise CheckpointError(
                f"checkpoint {file} is refused: it contains pickled objects or code, which "
                "genrelens never executes (loading uses weights_only=True); only load "
                f"checkpoints from sources you trust. Detail: {refused[0]}"
            ) from None
        boilerplate = (
            "Weights only load failed", "Please file an issue", "Check the documentation"
        )
        detail = next(
            (line for line in lines if not line.startswith(boilerplate)), type(exc).__name__
        )
        raise CheckpointError(
            f"checkpoint {file} cannot be read (not a torch checkpoint, or damaged): {detail}"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(
            f"checkpoint {file} holds a {type(data).__name__}: expected a dict with keys "
            f"{list(CHECKPOINT_KEYS)}."
        )
    return data


def checkpoint_file(run_or_checkpoint: str | os.PathLike[str]) -> Path:
    """The checkpoint of a training run directory (``RUN/checkpoint.pt``), or the file given.

    Parameters
    ----------
    run_or_checkpoint : path-like
        A run directory written by ``genrelens train`` or a checkpoint file.
    """
    path = Path(run_or_checkpoint)
    return path / "checkpoint.pt" if path.is_dir() else path


def load_checkpoint(
    path: str | os.PathLike[str], *, device: str | torch.device | None = "cpu"
) -> LoadedModel:
    """Read a checkpoint written by :func:`save_checkpoint` and rebuild its model.

    Parameters
    ----------
    path : path-like
        A checkpoint file (e.g. ``RUN/checkpoint.pt``).
    device : str or torch.device, default "cpu"
        Where the model is put (:func:`genrelens.device.resolve_device`; ``"auto"``: CUDA
        when available). The file is always read onto the CPU first, so a checkpoint saved
        on a GPU loads anywhere.

    Returns
    -------
    LoadedModel
        The model is in evaluation mode, on ``device``. A model declaring its front end
        (``front_end``: a preset name, as the musicnn ports and transfer models do) gets that
        preset's compression in ``feature_config``.

    Raises
    ------
    ParameterError
        If ``device`` is unknown or not available here.
    CheckpointError
        Missing file; pickled code (refused without executing it); missing keys (named);
        an unknown format or model name; weights that do not fit the model (names listed,
        checked before the model is allocated); NaN or infinite weights (named); class names
        that are not one per output.
    """
    file = Path(path)
    target = resolve_device(device)
    data = read_checkpoint_dict(file)
    missing = [key for key in CHECKPOINT_KEYS if key not in data]
    if missing:
        raise CheckpointError(f"checkpoint {file} is missing keys {missing}.")
    if data["format"] != _FORMAT or data["format_version"] != _FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {file} has format {data['format']!r} version {data['format_version']!r}: "
            f"expected {_FORMAT!r} version {_FORMAT_VERSION}."
        )
    name = data["model_name"]
    if name not in available_models():
        raise CheckpointError(
            f"checkpoint {file} holds model {name!r}, which is not registered: expected one of "
            f"{list(available_models())} (import the module that registers it first)."
        )
    state = data["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {file} has a state_dict of type {type(state).__name__}.")
    class_names = tuple(str(c) for c in data["class_names"])
    try:
        config = FeatureConfig.from_dict(dict(data["feature_config"]))
        # The meta device allocates nothing: model_args asking for huge layers cost no memory
        # until they are known to match the weights the file actually holds.
        with torch.device("meta"):
            probe = get_model(name, **dict(data["model_args"]))
    except (GenrelensError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {file} has invalid settings: {exc}") from None
    config = _declared_compression(probe, config)
    _check_probe(probe, state=state, config=config, class_names=class_names, where=(file, name))
    model = get_model(name, **dict(data["model_args"]))
    model.load_state_dict(state, strict=True)
    model.eval().to(target)
    return LoadedModel(
        model=model,
        model_name=name,
        model_args=dict(data["model_args"]),
        feature_config=config,
        class_names=class_names,
        extra=dict(data.get("extra") or {}),
        versions=dict(data["versions"]),
    )


def _declared_compression(model: nn.Module, config: FeatureConfig) -> FeatureConfig:
    """``config`` with the compression of the front end ``model`` declares, if any.

    A model class may name the :func:`~genrelens.config.preset` its input follows in a
    ``front_end`` attribute (the musicnn ports, transfer models). Its input compression is
    then a property of the model, not of the file: checkpoints written before
    :attr:`FeatureConfig.compression` existed, or with the default ``"db"``, load with the
    model's own compression instead of silently feeding it dB.
    """
    name = getattr(model, "front_end", None)
    if name is None:
        return config
    own = preset(name)
    return dataclasses.replace(config, compression=own.compression, log10_scale=own.log10_scale)


def _check_probe(
    probe: nn.Module,
    *,
    state: Mapping[str, Any],
    config: FeatureConfig,
    class_names: tuple[str, ...],
    where: tuple[Path, str],
) -> None:
    """Check a model built on the meta device against a file's weights and class names.

    Raises :class:`CheckpointError` when the weights' names or shapes differ from the model's,
    when a weight is NaN or infinite, when the model cannot take one segment of ``config``, or
    when its number of outputs is not the number of class names; nothing of the model's size
    is allocated.
    """
    file, name = where
    own = {key: tuple(value.shape) for key, value in probe.state_dict().items()}
    problems = state_dict_mismatch(own, state)
    if problems:
        raise CheckpointError(f"checkpoint {file} does not fit model {name!r}: {problems}.")
    broken = [
        key for key, value in state.items()
        if value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]
    if broken:
        more = f" and {len(broken) - 6} more" if len(broken) > 6 else ""
        raise CheckpointError(
            f"checkpoint {file} holds NaN or infinite weights in {', '.join(broken[:6])}{more}: "
            "the training diverged or the file was damaged; use an earlier checkpoint or retrain "
            "(e.g. with a lower learning rate)."
        )
    shape = (1, 1, config.n_mels, config.n_frames)
    try:
        with torch.no_grad():
            out = probe.eval()(torch.empty(shape, device="meta"))
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {file}: model {name!r} cannot take one segment of its feature_config "
            f"(input shape {shape}): {exc}"
        ) from None
    n_outputs = out.shape[-1] if isinstance(out, torch.Tensor) and out.ndim == 2 else None
    if n_outputs != len(class_names):
        raise CheckpointError(
            f"checkpoint {file} lists {len(class_names)} class_names {list(class_names)} but "
            f"model {name!r} gives {n_outputs} outputs per segment; the checkpoint was edited "
            "or written by another tool: re-save it with one class name per output."
        )


def state_dict_mismatch(
    expected: Mapping[str, Sequence[int]], state: Mapping[str, Any], *, limit: int = 6
) -> str:
    """Describe how ``state`` differs from the expected names and shapes ("" when it fits).

    Parameters
    ----------
    expected : mapping of str to shape
        Parameter and buffer names with their shapes.
    state : mapping of str to torch.Tensor
        A state dict as read from a file.
    limit : int
        At most this many names are listed per kind of problem.

    Returns
    -------
    str
        ``"missing keys: ...; unexpected keys: ...; shape mismatches: ..."`` (parts that apply).
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{key} {tuple(getattr(state[key], 'shape', ()))} (expected {tuple(shape)})"
        for key, shape in expected.items()
        if key in state
        and (
            not isinstance(state[key], torch.Tensor) or tuple(state[key].shape) != tuple(shape)
        )
    ]
    parts = []
    for label, names in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", mismatched),
    ):
        if names:
            more = f" and {len(names) - limit} more" if len(names) > limit else ""
            parts.append(f"{label}: {', '.join(names[:limit])}{more}")
    return "; ".join(parts)
