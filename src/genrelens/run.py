"""Run directories: one folder per experiment, with ``manifest.json`` and cached stages.

A run directory ``RUN/`` holds everything an experiment produced (split, checkpoint, metrics,
explanations, global results, report) and ``RUN/manifest.json``, the record of how: every
parameter, the :class:`~genrelens.config.FeatureConfig`, seeds, package versions, and one
entry per *stage* (``data``, ``prepare``, ``train``, ...) with its status, timings, the files
it wrote and a summary (e.g. files skipped and why).

Stages are cached by their inputs. :func:`stage_key` hashes a stage's parameters (as JSON)
and its input files (contents; folders by their listing of names, sizes and modification
times). :meth:`RunDir.run_stage` then

* skips the stage when the manifest records it as ``done`` with the same key and all of its
  outputs exist;
* runs it otherwise, recording ``running`` first (with the process id and host name), then
  ``done`` with the key, or ``failed`` with the error message (earlier stages and their files
  stay as they are; running again resumes from the failed stage);
* refuses, with :class:`RunDirError`, to replace the outputs of a finished stage that was run
  with *different* inputs, unless the run directory was opened with ``overwrite=True`` —
  nothing is overwritten silently.

The manifest is rewritten atomically after every change (:func:`genrelens._io.write_json`).

A process killed without warning (``kill -KILL``, out of memory, power loss) cannot record
anything, so its stage stays ``running`` in the file. :func:`stage_status` reads such a record
as ``interrupted`` when the recorded process no longer exists on this host, or (Linux) when its
PID now belongs to a process started at another time (a process on another host, or a record
without a process id, keeps ``running``: nothing can tell).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from genrelens._io import _json_default, write_json
from genrelens.errors import GenrelensError

__all__ = [
    "RunDir",
    "RunDirError",
    "StageOutcome",
    "stage_key",
    "stage_status",
    "package_versions",
    "command_line",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "PIPELINE_STAGES",
    "pipeline_order",
]

#: File name of the manifest inside a run directory.
MANIFEST_NAME = "manifest.json"
#: Version of the manifest's layout; bumped on incompatible changes.
MANIFEST_VERSION = 1

#: The pipeline's stage names in the order they run (``genrelens demo``).
PIPELINE_STAGES = ("synthesize", "data", "prepare", "train", "evaluate", "explain", "global",
                   "quality", "real-music", "report")


def pipeline_order(stages: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The names of a manifest's ``stages`` in pipeline order (:data:`PIPELINE_STAGES`), then
    stages of other names by the time they started (the manifest stores them alphabetically)."""
    def key(name: str) -> tuple[int, str, str]:
        rank = PIPELINE_STAGES.index(name) if name in PIPELINE_STAGES else len(PIPELINE_STAGES)
        record = stages[name] if isinstance(stages[name], Mapping) else {}
        return rank, str(record.get("started", "")), name

    return sorted(stages, key=key)


#: Distributions whose versions every manifest records.
_PACKAGES = (
    "genrelens", "numpy", "scipy", "torch", "librosa", "soundfile", "scikit-learn", "h5py",
    "matplotlib", "jinja2",
)


class RunDirError(GenrelensError):
    """A run directory cannot be used as asked (corrupt manifest, outputs would be replaced)."""


def package_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages genrelens depends on.

    Returns
    -------
    dict of str to str
        ``{"python": "3.11.2", "platform": "...", "numpy": "2.1.0", ...}``; a package that is
        not installed reads ``"absent"``.
    """
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def stage_key(params: Mapping[str, Any], inputs: Iterable[str | os.PathLike[str]] = ()) -> str:
    """A 16-hex-digit hash of a stage's parameters and input files.

    Parameters
    ----------
    params : mapping
        JSON-serialisable parameters (numpy scalars, paths and dataclasses with ``to_dict``
        are accepted); key order does not matter.
    inputs : iterable of path-like
        Files (hashed by content) and folders (hashed by the sorted listing of relative path,
        size and modification time of every file below them, so that a large dataset is not
        read). A missing path hashes as missing, so creating it changes the key.

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(params, sort_keys=True, default=_param_default).encode())
    for path in sorted(Path(p) for p in inputs):
        digest.update(b"\0" + os.fsencode(path.name))
        digest.update(_path_fingerprint(path))
    return digest.hexdigest()[:16]


def stage_status(record: Mapping[str, Any]) -> str:
    """The status of a stage's manifest record, as it stands now.

    Parameters
    ----------
    record : mapping
        A stage's entry of ``manifest.json`` (``RunDir.stage(name)``).

    Returns
    -------
    str
        The recorded ``"status"`` (``"done"``, ``"failed"``, ``"running"``, ...), except that a
        ``"running"`` stage whose process (``"pid"`` on ``"host"``) no longer exists on this host
        is ``"interrupted"``: it was killed before it could record anything. Where Linux's
        ``/proc`` tells when a process started, a process that reuses the PID (e.g. after a
        reboot) is told apart by that (``"process"``).
    """
    status = str(record.get("status", "unknown"))
    pid = record.get("pid")
    here = record.get("host") == socket.gethostname()
    if status != "running" or not isinstance(pid, int) or not here:
        return status
    started = record.get("process")
    alive = _process_exists(pid) and (started is None or _process_start(pid) in (None, started))
    return status if alive else "interrupted"


def _process_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started, as ``"<boot id>:<clock ticks since boot>"`` (Linux), or
    None where ``/proc`` does not tell."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"  # field 22, after the name
    except (OSError, IndexError):
        return None


def _param_default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return _json_default(obj)


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (what the manifest stores and reads back)."""
    return json.loads(json.dumps(value, default=_param_default))


def _path_fingerprint(path: Path) -> bytes:
    if path.is_file():
        from genrelens.data.check import file_sha256

        return b"file" + bytes.fromhex(file_sha256(path))
    if path.is_dir():
        h = hashlib.sha256()
        for p in sorted(path.rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return b"dir" + h.digest()
    return b"missing"


class StageOutcome:
    """What :meth:`RunDir.run_stage` did: ``status`` is ``"done"`` or ``"skipped"``.

    Attributes
    ----------
    name : str
    status : str
        ``"done"`` (ran now) or ``"skipped"`` (cached).
    seconds : float
        Wall time of this call (about 0 when skipped).
    summary : dict
        What the stage function returned (or the recorded summary when skipped).
    """

    __slots__ = ("name", "status", "seconds", "summary")

    def __init__(self, name: str, status: str, seconds: float, summary: dict[str, Any]) -> None:
        self.name, self.status, self.seconds, self.summary = name, status, seconds, summary

    def __repr__(self) -> str:
        return f"StageOutcome({self.name!r}, {self.status!r}, seconds={self.seconds:.2f})"


class RunDir:
    """A run directory and its manifest.

    Parameters
    ----------
    root : path-like
        The folder; created if absent.
    overwrite : bool
        Allow a stage to replace the outputs of a finished stage run with other inputs.

    Examples
    --------
    >>> run = RunDir("runs/demo")                                   # doctest: +SKIP
    >>> run.run_stage("train", fit, params={"epochs": 5}, inputs=[run.path("split.json")],
    ...               outputs=["checkpoint.pt", "history.csv"])     # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.root = Path(root)
        self.overwrite = overwrite
        if self.root.exists() and not self.root.is_dir():
            raise RunDirError(f"run directory {self.root} exists and is not a folder.")
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest = self._read_manifest()

    # ----------------------------------------------------------------- manifest

    @property
    def manifest_path(self) -> Path:
        """``RUN/manifest.json``."""
        return self.root / MANIFEST_NAME

    def _read_manifest(self) -> dict[str, Any]:
        path = self.manifest_path
        if not path.exists():
            return {
                "manifest_version": MANIFEST_VERSION,
                "created": _now(),
                "versions": package_versions(),
                "params": {},
                "stages": {},
            }
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunDirError(
                f"{path} cannot be read ({exc}): repair or delete it, or choose another run "
                "directory."
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
            raise RunDirError(
                f"{path} is not a genrelens manifest of version {MANIFEST_VERSION}: choose "
                "another run directory."
            )
        manifest.setdefault("stages", {})
        manifest.setdefault("params", {})
        return manifest

    def save(self) -> Path:
        """Write the manifest atomically (after refreshing the package versions)."""
        self.manifest["versions"] = package_versions()
        self.manifest["updated"] = _now()
        return write_json(self.manifest_path, self.manifest)

    def record(self, **entries: Any) -> None:
        """Set top-level manifest entries (e.g. ``feature_config=...``, ``seeds=...``) and save."""
        for key, value in entries.items():
            if key == "stages":
                raise RunDirError("record(stages=...) is not allowed: stages are run_stage's.")
            self.manifest[key] = _jsonable(value)
        self.save()

    def path(self, *parts: str) -> Path:
        """A path inside the run directory."""
        return self.root.joinpath(*parts)

    def stage(self, name: str) -> dict[str, Any] | None:
        """The manifest's record of stage ``name``, or None if it never ran."""
        return self.manifest["stages"].get(name)

    def status(self, name: str) -> str | None:
        """The status of stage ``name`` now (:func:`stage_status`), or None if it never ran."""
        record = self.stage(name)
        return None if record is None else stage_status(record)

    # ------------------------------------------------------------------- stages

    def is_fresh(self, name: str, key: str, outputs: Sequence[str]) -> bool:
        """True when stage ``name`` is recorded ``done`` with ``key`` and its outputs exist."""
        record = self.stage(name)
        return (
            record is not None
            and record.get("status") == "done"
            and record.get("key") == key
            and all(self.path(o).exists() for o in outputs)
        )

    def run_stage(
        self,
        name: str,
        func: Callable[[], Mapping[str, Any] | None],
        *,
        params: Mapping[str, Any],
        inputs: Sequence[str | os.PathLike[str]] = (),
        outputs: Sequence[str] = (),
        force: bool = False,
    ) -> StageOutcome:
        """Run stage ``name`` unless it is cached; record the outcome in the manifest.

        Parameters
        ----------
        name : str
            Stage name (manifest key).
        func : callable
            ``func() -> summary dict or None``; writes the outputs into the run directory.
        params : mapping
            The stage's parameters (recorded, and hashed into the key).
        inputs : sequence of path-like
            Files and folders the stage reads (hashed into the key).
        outputs : sequence of str
            Paths relative to the run directory that the stage writes; all must exist after
            ``func`` returns.
        force : bool
            Run even when cached.

        Returns
        -------
        StageOutcome

        Raises
        ------
        RunDirError
            If a finished stage with other inputs would be replaced and the run directory was
            not opened with ``overwrite=True``, or if ``func`` did not write its outputs.
        Exception
            Whatever ``func`` raises, after the stage is recorded as ``failed`` with the error.
        """
        key = stage_key(params, inputs)
        if not force and self.is_fresh(name, key, outputs):
            record = self.stage(name) or {}
            return StageOutcome(name, "skipped", 0.0, dict(record.get("summary") or {}))
        previous = self.stage(name)
        if (
            previous is not None
            and previous.get("status") == "done"
            and previous.get("key") != key
            and not self.overwrite
            and any(self.path(o).exists() for o in outputs)
        ):
            raise RunDirError(
                f"stage {name!r} of run directory {self.root} was run with other parameters or "
                f"inputs (key {previous.get('key')} != {key}); its files would be replaced. Use "
                "another run directory (--out) or allow replacing (--overwrite)."
            )
        started = time.perf_counter()
        self.manifest["stages"][name] = _jsonable({
            "status": "running", "key": key, "params": dict(params),
            "inputs": [os.fspath(p) for p in inputs], "outputs": list(outputs),
            "started": _now(), "pid": os.getpid(), "host": socket.gethostname(),
            "process": _process_start(os.getpid()),
        })
        self.save()
        try:
            summary = dict(func() or {})
            missing = [o for o in outputs if not self.path(o).exists()]
            if missing:
                raise RunDirError(f"stage {name!r} finished without writing {missing}.")
        except BaseException as exc:
            record = self.manifest["stages"][name]
            record.update(
                status="failed", seconds=time.perf_counter() - started, finished=_now(),
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exception(exc)[-3:],
            )
            self.save()
            raise
        seconds = time.perf_counter() - started
        record = self.manifest["stages"][name]
        record.update(
            status="done", seconds=seconds, finished=_now(),
            summary=_jsonable(summary),
        )
        self.save()
        return StageOutcome(name, "done", seconds, record["summary"])


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def command_line() -> list[str]:
    """The command line of this process (recorded in manifests)."""
    return [Path(sys.argv[0]).name, *sys.argv[1:]]
