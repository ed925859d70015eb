"""Explanations of a whole dataset, serially, on local processes or on a Dask cluster.

Explaining every track of a dataset with every method is embarrassingly parallel: one task per
track (:func:`explain_track_task`) loads the checkpoint (once per worker process), the track's
audio, cuts it into the model's segments and calls
:func:`genrelens.explain.track.explain_track` — the perturbations run through the one engine
(:mod:`genrelens.explain.engine`), this module only distributes tracks. :func:`explain_dataset`
runs the tasks with one of three executors:

``"serial"``
    In this process, one track after the other.
``"local"``
    A :class:`concurrent.futures.ProcessPoolExecutor` of ``workers`` processes (spawned, each
    with ``cpu_count // workers`` torch threads unless ``threads`` is given); they exit when
    this process dies, even by ``kill -KILL``.
``"dask"``
    A Dask distributed cluster: an existing scheduler at ``scheduler`` (``tcp://host:8786``;
    clusters made with dask-jobqueue, dask-kubernetes, ``dask scheduler``/``dask worker``, ...)
    or, without an address, a ``LocalCluster`` of ``workers`` processes. Workers must see the
    run directory and the audio at the same paths (a shared file system).

Guarantees
----------
* **Same results whatever the schedule.** Each track's seed is derived from
  ``(random_state, track_id)`` (:func:`track_seed`), not from the order in which tracks run,
  and the engine's batch size is fixed (``batch_size``, default 16; ``"auto"`` measures
  throughput and the batch size changes the last float bits), so serial, local and Dask runs
  write bit-identical scores.
* **Atomic, resumable.** A track's files are written into a temporary folder that is renamed to
  ``OUT/<track>/`` when complete; a track whose ``result.json`` exists with the same settings
  is skipped, so an interrupted run resumes where it stopped. A finished track made with
  different settings is an error unless ``overwrite=True``.
* **Failures are reported, not fatal.** Errors of the data (an undecodable or too short audio
  file: :class:`~genrelens.errors.GenrelensError`) cannot be cured by retrying and are
  reported at once; any other exception (a worker that died or ran out of memory) is retried
  up to ``retries`` times, then reported. The other tracks finish either way, except after a
  :class:`~genrelens.errors.StorageError` (disk full, read-only output), which every other
  track would meet too: it stops the run at once, finished tracks kept.

Files::

    OUT/index.json                      finished tracks, settings, failures (reason, message), cost
                                        (the schema of :func:`write_index`, shared with the demo)
    OUT/<track>/result.json             track id, label, seed, predictions, per result: top
                                        components of the predicted class, evaluations, seconds
    OUT/<track>/<method>_<kind>.npz     segment_scores (n_segments, n_classes, M) or dense maps,
                                        segment_predictions, segment_index, mean_scores, prediction

``OUT`` defaults to ``RUN/explanations``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrelens._io import raise_storage_error, safe_file_name, umask, write_json
from genrelens._parallel import process_pool
from genrelens._terminal import printable
from genrelens._validation import check_choice, check_int
from genrelens.errors import GenrelensError, ParameterError, StorageError
from genrelens.explain import registry
from genrelens.explain.fill import DEFAULT_FILL

if TYPE_CHECKING:
    from genrelens.data import Dataset, Track
    from genrelens.explain.track import TrackExplanation
    from genrelens.models import LoadedModel

#: ``submit(task) -> future`` of an executor (a concurrent.futures or a Dask future).
_Submit = Callable[["TrackTask"], Any]
#: ``wait_first(futures) -> the finished ones`` of an executor.
_WaitFirst = Callable[[list[Any]], Iterable[Any]]

__all__ = [
    "EXECUTORS",
    "SPLITS",
    "TrackTask",
    "TrackFailure",
    "DatasetReport",
    "track_seed",
    "explain_track_task",
    "explain_dataset",
    "load_track_result",
    "track_dir_name",
    "write_index",
    "INDEX_FORMAT",
]

#: Executors of :func:`explain_dataset`.
EXECUTORS = ("serial", "local", "dask")
#: Which tracks :func:`explain_dataset` explains.
SPLITS = ("test", "all")
RESULT_FILE = "result.json"
INDEX_FILE = "index.json"
_FORMAT = "genrelens-dataset-explanations"
#: The ``format`` of every ``RUN/explanations/index.json`` (see :func:`write_index`).
INDEX_FORMAT = "genrelens-explanations-index"


@dataclasses.dataclass(frozen=True)
class TrackTask:
    """Everything a worker needs to explain one track (plain values: cheap to send).

    Attributes
    ----------
    track_id, path, label : str
        The track (:class:`genrelens.data.Track`).
    checkpoint : str
        The model checkpoint file.
    out : str
        The output folder; the track's files go to ``out/<track_dir_name(track_id)>/``.
    methods, kinds : tuple of str
        As for :func:`~genrelens.explain.track.explain_track`.
    n_samples : int
    fill : str, float or None
    seed : int
        The track's seed (:func:`track_seed`).
    batch_size : int or "auto"
        Engine batch size.
    threads : int or None
        ``torch.set_num_threads`` in the worker (None: leave as is).
    device : str
        Where the worker runs the model (:func:`genrelens.device.resolve_device`, resolved on
        the worker: ``"auto"`` uses the worker's GPU if it has one).
    settings_key : str
        Digest of the settings, stored with the result to decide whether it can be reused.
    """

    track_id: str
    path: str
    label: str
    checkpoint: str
    out: str
    methods: tuple[str, ...]
    kinds: tuple[str, ...]
    n_samples: int
    fill: str | float | None
    seed: int
    batch_size: int | str
    threads: int | None
    settings_key: str
    device: str = "cpu"


@dataclasses.dataclass(frozen=True)
class TrackFailure:
    """A track that could not be explained.

    Attributes
    ----------
    track_id, path : str
    reason : str
        ``AudioLoadError.reason`` (``"undecodable"``, ``"too_short"``, ...), the class name of
        another :class:`~genrelens.errors.GenrelensError`, or ``"error: <ExceptionType>"``.
    message : str
    attempts : int
        How many times the task ran.
    """

    track_id: str
    path: str
    reason: str
    message: str
    attempts: int


@dataclasses.dataclass(frozen=True)
class DatasetReport:
    """What :func:`explain_dataset` did.

    Attributes
    ----------
    out : Path
        The output folder (``OUT/index.json`` holds this report).
    n_tracks : int
        Tracks asked for.
    computed : tuple of str
        Tracks explained by this call.
    skipped : tuple of str
        Tracks already finished with the same settings (resumed runs).
    failed : tuple of TrackFailure
    seconds : float
        Wall-clock time of the call.
    track_seconds : float
        Sum of the computed tracks' own times (for the cost per track).
    executor : str
    workers : int
    """

    out: Path
    n_tracks: int
    computed: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: tuple[TrackFailure, ...]
    seconds: float
    track_seconds: float
    executor: str
    workers: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "out": os.fspath(self.out),
            "n_tracks": self.n_tracks,
            "computed": list(self.computed),
            "skipped": list(self.skipped),
            "failed": [dataclasses.asdict(f) for f in self.failed],
            "seconds": self.seconds,
            "track_seconds": self.track_seconds,
            "executor": self.executor,
            "workers": self.workers,
        }

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"{self.n_tracks} tracks: {len(self.computed)} explained, {len(self.skipped)} already "
            f"done, {len(self.failed)} failed ({self.executor}, {self.workers} worker(s), "
            f"{self.seconds:.1f} s"
            + (
                f"; {self.track_seconds / len(self.computed):.2f} s per track in a worker)"
                if self.computed
                else ")"
            )
        ]
        lines += [f"  failed {f.track_id}: {f.reason}: {f.message}" for f in self.failed]
        return "\n".join(map(printable, lines))  # names: one line each


def track_seed(random_state: int, track_id: str) -> int:
    """The seed of one track: a function of ``(random_state, track_id)`` only.

    Parameters
    ----------
    random_state : int
        Non-negative seed of the whole run.
    track_id : str

    Returns
    -------
    int
        In ``[0, 2**63)``; drawn with :class:`numpy.random.SeedSequence` from ``random_state``
        and the SHA-256 of ``track_id``, so it does not depend on which tracks run, in which
        order or where.
    """
    check_int("random_state", random_state, minimum=0)
    digest = hashlib.sha256(track_id.encode("utf-8")).digest()
    words = np.frombuffer(digest, dtype=np.uint32)
    seq = np.random.SeedSequence([int(random_state), *(int(w) for w in words)])
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def track_dir_name(track_id: str) -> str:
    """The folder name of a track's results (``"rock/song"`` -> ``"rock_song"``)."""
    return safe_file_name(track_id)


# --------------------------------------------------------------------------- the worker side

_MODELS: dict[tuple[str, int, int, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _loaded_model(checkpoint: str, device: str) -> LoadedModel:
    """The checkpoint's LoadedModel on ``device``, loaded once per process (and file version)."""
    from genrelens.models import load_checkpoint

    stat = os.stat(checkpoint)
    key = (os.path.abspath(checkpoint), stat.st_mtime_ns, stat.st_size, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS.clear()
            _MODELS[key] = load_checkpoint(checkpoint, device=device)
        return _MODELS[key]


def explain_track_task(task: TrackTask) -> dict[str, Any]:
    """Explain one track and write its files atomically (the task run by every executor).

    Parameters
    ----------
    task : TrackTask

    Returns
    -------
    dict
        ``{"status": "done", "track_id", "seconds", "n_evaluations"}`` or, for an error of the
        data (:class:`~genrelens.errors.GenrelensError`, not worth retrying),
        ``{"status": "failed", "track_id", "reason", "message"}``. Other exceptions propagate
        (the executor retries them).
    """
    import torch

    from genrelens.audio import load_segments
    from genrelens.explain.track import explain_track

    start = time.perf_counter()
    if task.threads is not None:
        torch.set_num_threads(task.threads)
    try:
        loaded = _loaded_model(task.checkpoint, task.device)
        config = loaded.feature_config
        segments = load_segments(task.path, config=config)
        results = explain_track(
            loaded, segments, config=config, methods=task.methods, kinds=task.kinds,
            n_samples=task.n_samples, fill=task.fill, random_state=task.seed,
            batch_size=task.batch_size,
        )
    except GenrelensError as exc:
        return {"status": "failed", "track_id": task.track_id,
                "reason": getattr(exc, "reason", type(exc).__name__), "message": str(exc)}
    record = _write_track_result(task, loaded, results, seconds=time.perf_counter() - start)
    return {"status": "done", "track_id": task.track_id, "seconds": record["seconds"],
            "n_evaluations": record["n_evaluations"]}


def _write_track_result(task: TrackTask, loaded: LoadedModel,
                        results: Mapping[tuple[str, str], TrackExplanation], *,
                        seconds: float) -> dict[str, Any]:
    """Write ``result.json`` and one NPZ per result into a temporary folder, then rename it."""
    out = Path(task.out)
    final = out / track_dir_name(task.track_id)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=out))
    tmp.chmod(0o777 & ~umask())  # mkdtemp makes 0700 folders whatever the umask
    try:
        entries = []
        first = next(iter(results.values()))
        predicted = int(np.argmax(first.prediction))
        for (method, kind), res in results.items():
            name = f"{method}_{kind}"
            with open(tmp / f"{name}.npz", "wb") as fh:
                np.savez_compressed(
                    fh,
                    segment_scores=np.stack([e.scores for e in res.segments]),
                    segment_predictions=np.stack([e.prediction for e in res.segments]),
                    segment_index=res.segment_index,
                    mean_scores=res.mean_scores,
                    prediction=res.prediction,
                )
            entry: dict[str, Any] = {
                "method": method, "kind": kind, "file": f"{name}.npz", **res.cost(),
            }
            comps = res.segments[0].components
            if comps is not None:
                entry["component_names"] = list(comps.names)
                entry["top_components"] = res.top_components(predicted, 5)
            entries.append(entry)
        record = {
            "format": _FORMAT, "track_id": task.track_id, "path": task.path, "label": task.label,
            "seed": task.seed, "settings_key": task.settings_key,
            "class_names": list(loaded.class_names),
            "segment_index": first.segment_index.tolist(),
            "prediction": first.prediction.tolist(),
            "predicted": loaded.class_names[predicted],
            "n_evaluations": int(sum(e["n_evaluations"] for e in entries)),
            "seconds": seconds, "results": entries,
        }
        write_json(tmp / RESULT_FILE, record)
        if final.exists():  # a stale or concurrent copy: the new one replaces it whole
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise_storage_error(exc, final)
    return record


def load_track_result(out: str | os.PathLike[str], track_id: str
                      ) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, np.ndarray]]]:
    """Read one track's results written by :func:`explain_dataset`.

    Returns
    -------
    record : dict
        The content of ``result.json``.
    arrays : dict
        ``(method, kind) -> {"segment_scores", "segment_predictions", "segment_index",
        "mean_scores", "prediction"}``.

    Raises
    ------
    GenrelensError
        If the track has no finished result in ``out``.
    """
    folder = Path(out) / track_dir_name(track_id)
    try:
        record = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenrelensError(
            f"{folder}: no finished explanation of track {track_id!r} ({exc}); run "
            "`genrelens explain-dataset` first."
        ) from exc
    arrays = {}
    for entry in record["results"]:
        with np.load(folder / entry["file"]) as npz:
            # canonical keys also for results written with the older spellings (shap, tf)
            key = (registry.canonical_method(entry["method"]),
                   registry.canonical_kind(entry["kind"]))
            arrays[key] = {k: npz[k] for k in npz.files}
    return record, arrays


# --------------------------------------------------------------------------- the driver side


def explain_dataset(
    run: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str] | None = None,
    split: str = "test",
    track_ids: Sequence[str] | None = None,
    methods: Sequence[str] = ("kernel_shap",),
    kinds: Sequence[str] = ("tf_grid",),
    n_samples: int = 1000,
    fill: str | float | None = None,
    random_state: int = 0,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    batch_size: int | str = 16,
    threads: int | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    device: str = "cpu",
) -> DatasetReport:
    """Explain every track of a run's dataset (test set or all) and write the results.

    Parameters
    ----------
    run : path-like
        A training run directory (``RUN/checkpoint.pt``, ``RUN/split.json``,
        ``RUN/train_config.json``).
    data : path-like, optional
        The dataset folder; default the one recorded in ``RUN/train_config.json``.
    split : {"test", "all"}
        Explain the run's test tracks (``RUN/split.json``) or every track of the dataset.
    track_ids : sequence of str, optional
        Explain only these tracks (of the chosen split).
    methods, kinds, n_samples, fill
        As for :func:`genrelens.explain.track.explain_track` (``"lime"`` and
        ``"kernel_shap"`` together share one set of evaluations).
    random_state : int
        Seed of the run; track ``t`` uses :func:`track_seed` ``(random_state, t)``.
    executor : {"serial", "local", "dask"}
        See the module docstring; ``"local"`` with one worker runs serially.
    workers : int, optional
        Processes of ``"local"`` and of a Dask ``LocalCluster`` (default ``os.cpu_count()``);
        ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``executor="dask"`` only).
    retries : int
        Extra attempts of a task that raised an unexpected exception.
    batch_size : int or "auto"
        Engine batch size (a fixed integer keeps results independent of the schedule).
    threads : int, optional
        Torch threads per worker; default ``max(1, cpu_count // workers)`` for ``"local"`` and
        a Dask ``LocalCluster``, the workers' own setting otherwise (serial: unchanged).
    out : path-like, optional
        Output folder; default ``RUN/explanations``.
    overwrite : bool
        Recompute finished tracks whose settings differ instead of raising.
    progress : bool
        A tqdm bar on stderr over finished tracks.
    device : str, default "cpu"
        Where each worker runs the model (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
        ``"mps"``; checked here, resolved on each worker). Not part of the settings: results
        computed on another device are reused.

    Returns
    -------
    DatasetReport
        Also written to ``OUT/index.json``.

    Raises
    ------
    ParameterError
        For invalid arguments, or finished results made with other settings (without
        ``overwrite``).
    CheckpointError
        If ``RUN/checkpoint.pt`` cannot be loaded (checked once, before any track).
    """
    from genrelens.data import open_dataset
    from genrelens.data.check import file_sha256

    start = time.perf_counter()
    run = Path(run)
    check_choice("executor", executor, EXECUTORS)
    check_choice("split", split, SPLITS)
    if scheduler is not None and executor != "dask":
        raise ParameterError(
            f"scheduler={scheduler!r} is only used with executor='dask' (got {executor!r})."
        )
    check_int("retries", retries, minimum=0)
    if workers is not None:
        check_int("workers", workers, minimum=1)
    if threads is not None:
        check_int("threads", threads, minimum=1)
    if batch_size != "auto":
        check_int("batch_size", batch_size, minimum=1)
    methods = registry.check_methods(methods)
    kinds = registry.check_kinds(kinds)
    check_int("n_samples", n_samples, minimum=1)
    check_int("random_state", random_state, minimum=0)

    checkpoint = run / "checkpoint.pt"
    if not checkpoint.is_file():
        raise ParameterError(f"run={os.fspath(run)!r} has no checkpoint.pt: expected a run "
                             "directory made by `genrelens train`.")
    # a bad checkpoint or device fails once, here
    _loaded_model(os.fspath(checkpoint.absolute()), device)
    if data is None:
        data = _read_json(run / "train_config.json").get("data")
        if data is None:
            raise ParameterError(f"{run / 'train_config.json'} names no dataset: pass data=.")
    dataset = open_dataset(data)
    tracks = _select_tracks(dataset, run=run, split=split, track_ids=track_ids)
    out = Path(out) if out is not None else run / "explanations"

    n_workers = 1 if executor == "serial" else (workers or os.cpu_count() or 1)
    if executor == "local" and n_workers == 1:
        executor = "serial"
    if threads is None and (executor == "local" or (executor == "dask" and scheduler is None)):
        threads = max(1, (os.cpu_count() or 1) // n_workers)
    settings = {
        "checkpoint_sha256": file_sha256(checkpoint), "methods": list(methods),
        "kinds": list(kinds), "n_samples": int(n_samples),
        "fill": DEFAULT_FILL if fill is None else fill,  # a new default invalidates results
        "random_state": int(random_state), "batch_size": batch_size,
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    names = [track_dir_name(t.track_id) for t in tracks]
    if len(set(names)) != len(names):
        raise ParameterError("two track ids map to the same folder name; rename the files.")

    done, stale = _finished(out, tracks, key)
    if stale and not overwrite:
        raise ParameterError(
            f"{len(stale)} tracks in {out} were explained with other settings (e.g. "
            f"{stale[:3]}): pass overwrite=True (--overwrite) to recompute them, or choose "
            "another output folder."
        )
    todo = [
        TrackTask(
            track_id=t.track_id, path=os.fspath(Path(t.path).absolute()), label=t.label,
            checkpoint=os.fspath(checkpoint.absolute()), out=os.fspath(out.absolute()),
            methods=methods, kinds=kinds, n_samples=int(n_samples), fill=fill,
            seed=track_seed(random_state, t.track_id), batch_size=batch_size, threads=threads,
            settings_key=key, device=device,
        )
        for t in tracks
        if t.track_id not in done
    ]
    computed, failures, track_seconds = _execute(
        todo, executor=executor, workers=n_workers, scheduler=scheduler, retries=retries,
        progress=progress,
    )
    report = DatasetReport(
        out=out, n_tracks=len(tracks), computed=tuple(sorted(computed)),
        skipped=tuple(sorted(done)), failed=tuple(sorted(failures, key=lambda f: f.track_id)),
        seconds=time.perf_counter() - start, track_seconds=track_seconds, executor=executor,
        workers=n_workers,
    )
    labels = {t.track_id: t.label for t in tracks}
    finished = sorted([*report.computed, *report.skipped])
    write_index(out, written_by="explain-dataset",
                tracks=[{"track_id": t, "label": labels[t], "folder": track_dir_name(t)}
                        for t in finished],
                settings=settings, settings_key=key, split=split, **report.to_dict())
    return report


def write_index(out: str | os.PathLike[str], /, *, written_by: str,
                tracks: Sequence[Mapping[str, Any]], **extra: Any) -> Path:
    """Write ``OUT/index.json``, the one schema of an index of explained tracks.

    Parameters
    ----------
    out : path-like
        The explanations folder (``RUN/explanations`` by default).
    written_by : str
        ``"explain-dataset"`` or ``"demo"``.
    tracks : sequence of dict
        One entry per explained track: ``track_id``, ``label`` and ``folder`` (relative to
        ``out``) at least.
    **extra
        Entries of the writer (settings, cost, failures, ...).

    Returns
    -------
    pathlib.Path
        The written file: ``{"format": INDEX_FORMAT, "written_by", "tracks", **extra}``.
    """
    for entry in tracks:
        missing = {"track_id", "label", "folder"} - set(entry)
        if missing:
            raise ParameterError(f"tracks entry {dict(entry)!r} lacks {sorted(missing)}.")
    return write_json(Path(out) / INDEX_FILE, {"format": INDEX_FORMAT, "written_by": written_by,
                                               "tracks": [dict(t) for t in tracks], **extra})


def _execute(
    tasks: list[TrackTask], *, executor: str, workers: int, scheduler: str | None, retries: int,
    progress: bool,
) -> tuple[list[str], list[TrackFailure], float]:
    """Run the tasks with retries; return finished ids, failures and the tasks' seconds."""
    from tqdm.auto import tqdm

    computed: list[str] = []
    failures: list[TrackFailure] = []
    seconds = 0.0
    if not tasks:
        return computed, failures, seconds
    with _submitter(executor, workers=workers, scheduler=scheduler) as (submit, wait_first), tqdm(
        total=len(tasks), desc="explaining tracks", unit="track", disable=not progress
    ) as bar:
        attempts = {t.track_id: 1 for t in tasks}
        pending = {submit(t): t for t in tasks}
        while pending:
            for future in wait_first(list(pending)):
                task = pending.pop(future)
                try:
                    result = future.result()
                except StorageError:  # disk full or read-only: every other track would fail
                    raise
                except Exception as exc:  # the worker's unexpected error: retry, then report
                    if attempts[task.track_id] <= retries:
                        attempts[task.track_id] += 1
                        pending[submit(task)] = task
                        continue
                    result = {"status": "failed", "reason": f"error: {type(exc).__name__}",
                              "message": str(exc)}
                if result["status"] == "done":
                    computed.append(task.track_id)
                    seconds += result["seconds"]
                else:
                    failures.append(TrackFailure(
                        track_id=task.track_id, path=task.path, reason=result["reason"],
                        message=result["message"], attempts=attempts[task.track_id]))
                bar.update(1)
                bar.set_postfix(failed=len(failures))
    return computed, failures, seconds


class _submitter:
    """Context manager giving ``(submit(task) -> future, wait_first(futures) -> done)``."""

    def __init__(self, executor: str, *, workers: int, scheduler: str | None) -> None:
        self.executor, self.workers, self.scheduler = executor, workers, scheduler
        self._close: list[Callable[[], Any]] = []

    def __enter__(self) -> tuple[_Submit, _WaitFirst]:
        if self.executor == "serial":
            return _run_now, lambda futures: futures
        if self.executor == "local":
            return self._local()
        return self._dask()

    def __exit__(self, *exc: Any) -> None:
        for close in reversed(self._close):
            close()

    def _local(self) -> tuple[_Submit, _WaitFirst]:
        from concurrent.futures.process import BrokenProcessPool

        # spawn: fork after torch threads can hang; the workers die with this process
        holder = {"pool": process_pool(self.workers, method="spawn")}
        self._close.append(lambda: holder["pool"].shutdown(wait=True, cancel_futures=True))

        def submit(task: TrackTask) -> Any:
            try:
                return holder["pool"].submit(explain_track_task, task)
            except BrokenProcessPool:  # a worker died: start a new pool for the retries
                holder["pool"].shutdown(wait=False, cancel_futures=True)
                holder["pool"] = process_pool(self.workers, method="spawn")
                return holder["pool"].submit(explain_track_task, task)

        def wait_first(futures: list[Any]) -> Iterable[Any]:
            done, _ = concurrent.futures.wait(
                futures, return_when=concurrent.futures.FIRST_COMPLETED)
            return done

        return submit, wait_first

    def _dask(self) -> tuple[_Submit, _WaitFirst]:
        try:
            from distributed import Client, LocalCluster, wait
        except ImportError as exc:
            raise ParameterError(
                "executor='dask' needs dask.distributed: pip install 'genrelens[distributed]'."
            ) from exc
        if self.scheduler is None:
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            self._close.append(cluster.close)
            client = Client(cluster)
        else:
            try:
                client = Client(self.scheduler, timeout=30)
            except (OSError, TimeoutError) as exc:
                raise GenrelensError(
                    f"scheduler={self.scheduler!r}: cannot connect to a Dask scheduler there "
                    f"({exc}); start one (`dask scheduler`) or check the address."
                ) from exc
        self._close.append(client.close)

        def submit(task: TrackTask) -> Any:
            return client.submit(explain_track_task, task, pure=False)

        def wait_first(futures: list[Any]) -> Iterable[Any]:
            done: Iterable[Any] = wait(futures, return_when="FIRST_COMPLETED").done
            return done

        return submit, wait_first


def _run_now(task: TrackTask) -> concurrent.futures.Future[dict[str, Any]]:
    """Run a task in this process and return it as a finished future."""
    future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
    try:
        future.set_result(explain_track_task(task))
    except Exception as exc:
        future.set_exception(exc)
    return future


def _select_tracks(dataset: Dataset, *, run: Path, split: str,
                   track_ids: Sequence[str] | None) -> list[Track]:
    from genrelens.data import Split

    tracks = list(dataset.tracks)
    if split == "test":
        wanted = set(Split.load(run / "split.json").test)
        tracks = [t for t in tracks if t.track_id in wanted]
    if track_ids is not None:
        known = {t.track_id for t in tracks}
        missing = sorted(set(track_ids) - known)
        if missing:
            raise ParameterError(
                f"track_ids names {len(missing)} tracks that are not in the {split!r} tracks "
                f"(e.g. {missing[:3]})."
            )
        tracks = [t for t in tracks if t.track_id in set(track_ids)]
    return sorted(tracks, key=lambda t: t.track_id)


def _finished(out: Path, tracks: list[Track], key: str) -> tuple[list[str], list[str]]:
    """Tracks already finished with settings ``key`` and those finished with other settings."""
    done: list[str] = []
    stale: list[str] = []
    for t in tracks:
        path = out / track_dir_name(t.track_id) / RESULT_FILE
        if not path.is_file():
            continue
        try:
            same = json.loads(path.read_text(encoding="utf-8")).get("settings_key") == key
        except (OSError, ValueError):
            same = False
        (done if same else stale).append(t.track_id)
    return done, stale


def _read_json(path: Path) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return record
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{path}: cannot read it ({exc}); pass the dataset with data=.") \
            from exc
