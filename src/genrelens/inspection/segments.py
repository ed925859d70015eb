"""The segments a global view or an explanation-quality study runs on: a run's held-out data.

:func:`run_segments` opens a training run directory (``RUN/checkpoint.pt``, ``RUN/split.json``,
``RUN/train_config.json``), loads the cached log-mels of one set of the split (the test set by
default; the cache is prepared if needed) and selects a class-stratified, seeded sample of its
segments. Helpers give a selected segment's waveform (for stem components) and, on the
synthetic dataset, its ground-truth cue mask; :func:`analyse_segments` runs an analysis (the
global view, the explanation-quality study) on the selection and records the run in its result.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from genrelens._validation import check_int, check_random_state
from genrelens.errors import GenrelensError, ParameterError

__all__ = [
    "RunSegments",
    "run_segments",
    "analyse_segments",
    "segment_waveform",
    "segment_cue_mask",
    "progress_bar",
]


@dataclasses.dataclass(frozen=True, eq=False)
class RunSegments:
    """A trained model with a selection of held-out segments.

    Attributes
    ----------
    run : pathlib.Path
    loaded : LoadedModel
        The checkpoint (model in eval mode, class names, feature config).
    dataset : Dataset
    features : Features
        The selected segments (``logmel (N, n_mels, n_frames)``, ``labels``, ``track_ids``,
        ``segment_index``).
    set_name : str
    """

    run: Path
    loaded: Any
    dataset: Any
    features: Any
    set_name: str

    @property
    def class_names(self) -> tuple[str, ...]:
        """The model's class names."""
        return tuple(self.loaded.class_names)

    @property
    def config(self) -> Any:
        """The model's FeatureConfig."""
        return self.loaded.feature_config


def run_segments(
    run: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    set_name: str = "test",
    per_class: int | None = None,
    random_state: int = 0,
    progress: bool = False,
    device: str = "cpu",
) -> RunSegments:
    """Load ``RUN``'s model and a class-stratified sample of the segments of one split set.

    Parameters
    ----------
    run : path-like
        A run directory made by ``genrelens train``.
    data, cache : path-like, optional
        Override the dataset and cache folders recorded in ``RUN/train_config.json``.
    set_name : {"test", "valid", "train"}
    per_class : int, optional
        At most this many segments per true class, drawn without replacement with
        ``random_state`` (default: all segments of the set).
    random_state : int
    progress : bool
        Progress bar while the cache is prepared.
    device : str, default "cpu"
        Where the model is put (:func:`genrelens.device.resolve_device`).

    Returns
    -------
    RunSegments
    """
    from genrelens.cache import load_features, prepare
    from genrelens.data import Split, open_dataset
    from genrelens.models import load_checkpoint

    root = Path(run)
    if set_name not in ("train", "valid", "test"):
        raise ParameterError(f"set_name={set_name!r} is invalid: expected train, valid or test.")
    if per_class is not None:
        check_int("per_class", per_class, minimum=1)
    try:
        settings = json.loads((root / "train_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenrelensError(
            f"{root / 'train_config.json'} cannot be read ({exc}): is {root} a run directory "
            "made by `genrelens train`?"
        ) from None
    loaded = load_checkpoint(root / "checkpoint.pt", device=device)
    split = Split.load(root / "split.json")
    dataset = open_dataset(data if data is not None else settings["data"])
    part = dataset.subset(getattr(split, set_name))
    cache_dir = Path(cache if cache is not None else settings["cache"])
    prepare(part, cache_dir=cache_dir, config=loaded.feature_config, progress=progress)
    features = load_features(part, cache_dir=cache_dir, config=loaded.feature_config)
    if tuple(features.class_names) != tuple(loaded.class_names):
        raise GenrelensError(
            f"the dataset's classes {list(features.class_names)} differ from the checkpoint's "
            f"{list(loaded.class_names)}."
        )
    if len(features) == 0:
        raise GenrelensError(f"the {set_name} set of {root} has no usable segments.")
    keep = np.arange(len(features))
    if per_class is not None:
        rng = check_random_state(random_state)
        chosen = []
        for c in range(len(features.class_names)):
            idx = np.flatnonzero(features.labels == c)
            chosen.append(rng.choice(idx, size=min(per_class, idx.size), replace=False))
        keep = np.sort(np.concatenate(chosen))
    selected = dataclasses.replace(
        features,
        logmel=features.logmel[keep],
        track_ids=features.track_ids[keep],
        segment_index=features.segment_index[keep],
        labels=features.labels[keep],
    )
    return RunSegments(run=root, loaded=loaded, dataset=dataset, features=selected,
                       set_name=set_name)


def analyse_segments(
    analysis: Callable[..., Any],
    segments: RunSegments,
    **kwargs: Any,
) -> Any:
    """Run an analysis of a run's model on the selected segments and record the run.

    Calls ``analysis(model, logmel, labels, class_names=..., config=..., **kwargs)``
    (e.g. :func:`genrelens.inspection.pipeline.global_analysis`,
    :func:`genrelens.evaluate.xai.evaluate_explanations`) and sets the ``source`` of the
    result it returns to the run and set.

    Parameters
    ----------
    analysis : callable
        Returns a result with a ``source`` field (a frozen dataclass).
    segments : RunSegments
    **kwargs
        Passed to ``analysis``.

    Returns
    -------
    result
        The result, with ``source={"run": ..., "set": ...}``.
    """
    result = analysis(
        segments.loaded.model, segments.features.logmel, segments.features.labels,
        class_names=segments.class_names, config=segments.config, **kwargs,
    )
    return dataclasses.replace(result, source={"run": str(segments.run),
                                               "set": segments.set_name})


def segment_waveform(segments: RunSegments, i: int) -> np.ndarray:
    """The waveform ``(segment_samples,)`` of selected segment ``i`` (for stem components)."""
    from genrelens.audio import load_segments

    config = segments.config
    track = segments.dataset.track(str(segments.features.track_ids[i]))
    return load_segments(track.path, config=config)[int(segments.features.segment_index[i])]


def segment_cue_mask(segments: RunSegments, i: int) -> np.ndarray | None:
    """The ground-truth cue mask ``(n_mels, n_frames)`` of selected segment ``i``, or None.

    Available for datasets made by ``genrelens data synth`` (a ``cues/`` folder beside or
    above the genre folders); ``None`` otherwise.
    """
    root = Path(segments.dataset.root)
    base = next((p for p in (root, root.parent) if (p / "cues").is_dir()), None)
    if base is None:
        return None
    from genrelens.data.synthetic.cues import cue_mask, load_cues

    config = segments.config
    record = load_cues(base, str(segments.features.track_ids[i]))
    start = float(segments.features.segment_index[i]) * config.segment_hop_seconds
    n_frames = int(segments.features.logmel.shape[-1])
    return cue_mask(record.events, config=config, start=start, n_frames=n_frames)


def progress_bar(items: Any, *, enabled: bool, desc: str) -> Any:
    """``items`` wrapped in a tqdm progress bar on stderr (a no-op when not ``enabled``)."""
    from tqdm.auto import tqdm

    return tqdm(items, disable=not enabled, desc=desc, leave=False)
