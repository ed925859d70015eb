"""Arguments that several ``genrelens`` commands share.

argparse ``type`` functions that check a value while parsing (:func:`positive`,
:func:`nonneg`, :func:`seconds`, :func:`fill_arg`, :func:`fill_list`), the command line's
aliases of method and component names (:func:`method_names`, :func:`kind_names`), groups of
options added to a command's parser and read back from its namespace (``--split``/
``--split-dir``/``--no-verify``, the feature configuration, ``--device``, ``--logger``) and
the folders a command writes (:func:`parent_of`, :func:`in_run`, see :func:`genrelens.cli.main`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrelens.errors import GenrelensError
from genrelens.explain.fill import DEFAULT_FILL, FILL_KINDS

if TYPE_CHECKING:
    from genrelens.config import FeatureConfig
    from genrelens.data.dataset import Dataset
    from genrelens.data.splits import Split

__all__ = [
    "csv_list",
    "positive",
    "nonneg",
    "seconds",
    "METHODS_HELP",
    "KINDS_HELP",
    "method_names",
    "kind_names",
    "FILL_NAMES",
    "FILL_HELP",
    "fill_arg",
    "fill_list",
    "add_device_option",
    "add_split_options",
    "split_from_args",
    "add_feature_options",
    "feature_config_from_args",
    "add_logger_option",
    "checkpoint_path",
    "parent_of",
    "in_run",
]


def csv_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _number(text: str, *, kind: type, low: float, inclusive: bool) -> Any:
    """``kind(text)`` if it is finite and above ``low`` (or equal, if ``inclusive``), else an
    :class:`argparse.ArgumentTypeError` that argparse shows with the option's name."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < low or (value == low and not inclusive):
        what = "an integer" if kind is int else "a finite number"
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: expected {what} {'>=' if inclusive else '>'} {low:g}"
        )
    return value


def positive(text: str) -> int:
    """An argparse ``type``: an integer >= 1 (counts, sizes, budgets)."""
    return _number(text, kind=int, low=1, inclusive=True)


def nonneg(text: str) -> int:
    """An argparse ``type``: an integer >= 0 (seeds, retries, replicates)."""
    return _number(text, kind=int, low=0, inclusive=True)


def seconds(text: str) -> float:
    """An argparse ``type``: a finite number > 0 (durations in seconds)."""
    return _number(text, kind=float, low=0, inclusive=False)


#: Names offered by ``explain`` and ``explain-dataset`` (aliases: shap, freq, tf).
METHODS_HELP = "lime,kernel_shap (alias shap),hybrid,occlusion,gradcam,ig"
KINDS_HELP = "time,frequency (alias freq),tf_grid (alias tf),stems"


def method_names(names: list[str]) -> list[str]:
    """Method names as typed, with the command line's aliases resolved to canonical names."""
    from genrelens.explain.registry import canonical_method

    return [canonical_method(name) for name in names]


def kind_names(names: list[str]) -> list[str]:
    """Component kinds as typed, with the command line's aliases resolved."""
    from genrelens.explain.registry import canonical_kind

    return [canonical_kind(name) for name in names]


#: Fills named on the command line (numbers are constant fills in input values, dB by default).
FILL_NAMES = tuple(kind for kind in FILL_KINDS if kind not in ("constant", "array"))
FILL_HELP = f"what 'off' means (default {DEFAULT_FILL}, chosen on real music)"


def fill_arg(text: str) -> str | float:
    """An argparse ``type``: a fill, a name of :data:`FILL_NAMES` or a finite number (a
    constant in the model's input values: dB by default)."""
    if text in FILL_NAMES:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: expected one of {', '.join(FILL_NAMES)} or a finite number "
            "(an input value: dB by default)"
        )
    return value


def fill_list(text: str) -> list[str | float]:
    """An argparse ``type``: comma-separated fills (see :func:`fill_arg`), at least one."""
    fills = [fill_arg(item) for item in csv_list(text)]
    if not fills:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected comma-separated fills")
    return fills


def _device_arg(text: str) -> str:
    """An argparse ``type``: a device this machine has (:func:`genrelens.device.resolve_device`),
    kept as given so that ``auto`` is resolved where the model runs."""
    from genrelens.device import resolve_device

    try:
        resolve_device(text)
    except GenrelensError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device`` of the commands that run a model (read as ``args.device``)."""
    parser.add_argument(
        "--device", default="auto", type=_device_arg, metavar="DEVICE",
        help="where the model runs: auto (CUDA when available, else cpu), cpu, cuda, cuda:N or "
        "mps (default auto)",
    )


def add_split_options(parser: argparse.ArgumentParser, *, saved: bool = True) -> None:
    """Add how a command chooses its split: ``--split JSON`` (if ``saved``), ``--split-dir``,
    ``--no-verify``; read them back with :func:`split_from_args`."""
    group = parser.add_argument_group("split")
    if saved:
        group.add_argument(
            "--split", metavar="JSON", help="a split saved by `genrelens data split` (wins)"
        )
    group.add_argument(
        "--split-dir",
        metavar="DIR",
        help="folder with the fault-filtered GTZAN lists (train.txt or train_filtered.txt, ...); "
        "default: the ones `genrelens data fetch-split gtzan-ff` stored, else a random split",
    )
    group.add_argument(
        "--no-verify",
        action="store_true",
        help="accept lists whose sha256 differs from the published ones (e.g. .au entries)",
    )


def split_from_args(
    args: argparse.Namespace, dataset: Dataset, *, random_state: int = 0
) -> Split:
    """The :class:`~genrelens.data.Split` chosen by :func:`add_split_options`' arguments."""
    from genrelens.data import default_split
    from genrelens.data.splits import Split

    if getattr(args, "split", None):
        split = Split.load(args.split)
        split.validate(dataset)
        return split
    return default_split(
        dataset, split_dir=args.split_dir, random_state=random_state, verify=not args.no_verify
    )


#: FeatureConfig fields settable on the command line: (flag, field, type).
_FEATURE_OPTIONS = (
    ("--sr", "sr", int),
    ("--n-fft", "n_fft", int),
    ("--hop-length", "hop_length", int),
    ("--n-mels", "n_mels", int),
    ("--fmin", "fmin", float),
    ("--fmax", "fmax", float),
    ("--segment-seconds", "segment_seconds", float),
    ("--segment-hop-seconds", "segment_hop_seconds", float),
    ("--fft-precision", "fft_precision", str),
    ("--compression", "compression", str),
    ("--log10-scale", "log10_scale", float),
)


def add_feature_options(parser: argparse.ArgumentParser) -> None:
    """Add the FeatureConfig flags; read them back with :func:`feature_config_from_args`."""
    from genrelens.config import PRESETS

    group = parser.add_argument_group("features (default: FeatureConfig defaults)")
    group.add_argument(
        "--front-end", dest="feature_preset", choices=sorted(PRESETS), default="default",
        help="a named front end to start from (musicnn: 16 kHz, 96 mels, log10(10000 S + 1), "
        "187 frames); the flags below change single fields of it",
    )
    for flag, field, kind in _FEATURE_OPTIONS:
        group.add_argument(flag, dest=f"feature_{field}", type=kind, metavar=kind.__name__.upper())


def feature_config_from_args(args: argparse.Namespace) -> FeatureConfig:
    """The FeatureConfig of :func:`add_feature_options`' flags (unset flags keep the
    ``--front-end``'s values; ``--segment-seconds`` alone also sets the hop, for
    non-overlapping segments)."""
    import dataclasses

    from genrelens.config import preset

    given = {
        field: getattr(args, f"feature_{field}")
        for _, field, _ in _FEATURE_OPTIONS
        if getattr(args, f"feature_{field}") is not None
    }
    if "segment_seconds" in given:
        given.setdefault("segment_hop_seconds", given["segment_seconds"])
    return dataclasses.replace(preset(args.feature_preset), **given)


def add_logger_option(parser: argparse.ArgumentParser) -> None:
    """``--logger`` of the commands that train (read as ``args.logger``)."""
    from genrelens.loggers import LOGGER_CHOICES, TENSORBOARD_FOLDER

    parser.add_argument(
        "--logger", choices=LOGGER_CHOICES, default="none",
        help=f"send each training epoch's losses, accuracies and rate to TensorBoard (event "
        f"files in RUN/{TENSORBOARD_FOLDER}; needs the tensorboard package) or to the active "
        "MLflow run (needs mlflow); default none (history.csv is always written)",
    )


def checkpoint_path(run: str) -> Path:
    """RUN as given to ``explain``/``predict``: a run directory (its checkpoint.pt) or a file."""
    from genrelens.models.checkpoint import checkpoint_file

    return checkpoint_file(run)


def parent_of(option: str) -> Callable[[argparse.Namespace], list[Path]]:
    """The ``writable`` folders of a command writing a file given by ``option``, if given."""
    return lambda args: [Path(getattr(args, option)).parent] if getattr(args, option) else []


def in_run(name: str) -> Callable[[argparse.Namespace], list[Path]]:
    """The ``outputs`` of a command writing ``--out``, by default ``RUN/<name>``."""
    return lambda args: [Path(args.out) if args.out else Path(args.run) / name]
