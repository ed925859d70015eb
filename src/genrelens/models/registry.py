"""Models registered by name: :func:`register_model`, :func:`get_model`, :func:`available_models`.

A checkpoint stores a model's registered name and constructor arguments, never its code, so
that :func:`genrelens.models.load_checkpoint` rebuilds it from the registry (asteroid-style).
Every registered model maps log-mel dB input of shape ``(batch, 1, n_mels, n_frames)`` to
logits of shape ``(batch, n_classes)``: no softmax inside ``forward``. (The pretrained musicnn
taggers take the same shape computed by their own front end, see :mod:`genrelens.models.musicnn`.)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from genrelens.errors import ParameterError

__all__ = ["register_model", "get_model", "available_models", "check_model_args"]

_REGISTRY: dict[str, type[nn.Module]] = {}

M = TypeVar("M", bound=type[nn.Module])


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator registering an ``nn.Module`` subclass under ``name``.

    Parameters
    ----------
    name : str
        The name used by :func:`get_model`, checkpoints and ``genrelens train --model``.

    Raises
    ------
    ParameterError
        If ``name`` is empty or already taken by another class.
    """
    if not isinstance(name, str) or not name:
        raise ParameterError(f"name={name!r} is invalid: expected a non-empty string.")

    def decorator(cls: M) -> M:
        taken = _REGISTRY.get(name)
        if taken is not None and taken is not cls:
            raise ParameterError(
                f"name={name!r} is already registered for {taken.__module__}.{taken.__qualname__}: "
                "choose another name."
            )
        _REGISTRY[name] = cls
        return cls

    return decorator


def available_models() -> tuple[str, ...]:
    """The registered model names, sorted."""
    return tuple(sorted(_REGISTRY))


def check_model_args(name: str, model_args: dict[str, Any]) -> type[nn.Module]:
    """Return the class registered as ``name`` if it accepts ``model_args``, without building it.

    Raises
    ------
    ParameterError
        For an unknown name or arguments the constructor does not accept.
    """
    try:
        cls = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ParameterError(
            f"model={name!r} is unknown: expected one of {list(available_models())}."
        ) from None
    try:
        inspect.signature(cls).bind(**model_args)
    except TypeError as exc:
        raise ParameterError(
            f"model_args={model_args!r} are invalid for model {name!r}: {exc}."
        ) from None
    return cls


def get_model(name: str, **model_args: Any) -> nn.Module:
    """Build the model registered as ``name`` with keyword arguments ``model_args``.

    Parameters
    ----------
    name : str
        A name from :func:`available_models` (built in: ``"cnn"``, ``"shortchunk"``, ``"vgg16"``,
        and the pretrained ``"MTT_musicnn"``, ``"MSD_musicnn"``, ``"MTT_vgg"``, ``"MSD_vgg"``).
    **model_args
        Constructor arguments, e.g. ``n_classes=10``.

    Returns
    -------
    torch.nn.Module
        A freshly initialised model in training mode.

    Raises
    ------
    ParameterError
        For an unknown name or arguments the constructor does not accept.
    """
    return check_model_args(name, model_args)(**model_args)
