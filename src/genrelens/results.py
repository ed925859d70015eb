"""Results of whole-dataset analyses and the index of the folder they are written to.

An analysis (the global view :mod:`genrelens.inspection.pipeline`, the explanation-quality
study :mod:`genrelens.evaluate.xai`) follows one pattern, as
:func:`~genrelens.explain.track.explain_track` / :func:`~genrelens.explain.track.write_track`
do for one track and scikit-learn's ``*Display.from_...`` do for plots:

1. a pure compute function returns a frozen **result** object (no file written);
2. one **writer** per result writes its files atomically, the figures drawn by
   :mod:`genrelens.display` from the result, and last ``OUT/index.json``;
3. ``Result.from_dir(OUT)`` reads the result back through the index (write -> read gives an
   equal result); the CLI prints from the result it computed, and the report lists the files
   of the folder from the index (no folder scan).

The index (``OUT/index.json``, :data:`INDEX_SCHEMA` version :data:`INDEX_VERSION`)::

    {"schema": "genrelens.output-index", "schema_version": 1,
     "result": "global" | "quality",          which result wrote the folder
     "summary": "summary.json",                parameters, tables and findings (JSON)
     "files": {"tables":  [...],               CSV tables
               "data":    [...],               further JSON data (e.g. aggregate.json, curves.json)
               "ale":     [...],               ALE results (genrelens.inspection.ale.ALEResult)
               "figures": [...]}}              PNG figures

Paths are relative to ``OUT``, with ``/``, sorted within each role.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from genrelens._io import write_json
from genrelens.errors import GenrelensError

__all__ = ["INDEX_FILE", "INDEX_SCHEMA", "INDEX_VERSION", "FILE_ROLES", "SOURCE_KEYS",
           "FolderResult", "write_index", "read_index", "check_index"]

#: File name of the index inside an output folder.
INDEX_FILE = "index.json"
#: The ``schema`` entry of every index.
INDEX_SCHEMA = "genrelens.output-index"
#: The ``schema_version`` written; readers accept this version only.
INDEX_VERSION = 1
#: The roles of the files listed in an index.
FILE_ROLES = ("tables", "data", "ale", "figures")
#: Entries of a result's ``source`` (set by
#: :func:`genrelens.inspection.segments.analyse_segments`), written at the top level of its
#: summary.
SOURCE_KEYS = ("run", "set")

R = TypeVar("R", bound="FolderResult")


def write_index(
    out: str | os.PathLike[str],
    *,
    result: str,
    files: Mapping[str, Sequence[str | os.PathLike[str]]],
    summary: str = "summary.json",
) -> Path:
    """Write ``OUT/index.json`` (the format in the module docstring) and return its path.

    Parameters
    ----------
    out : path-like
        The output folder.
    result : str
        Which result wrote the folder (``"global"``, ``"quality"``).
    files : mapping
        Role (one of :data:`FILE_ROLES`) -> paths of written files, below ``out`` (as the
        writers return them) or relative to it; roles left out are written as empty lists.
    summary : str
        The summary file, relative to ``out``.

    Raises
    ------
    GenrelensError
        For a role not in :data:`FILE_ROLES` or a file outside ``out`` (a writer's mistake).
    """
    out = Path(out)
    unknown = sorted(set(files) - set(FILE_ROLES))
    if unknown:
        raise GenrelensError(f"index of {out}: unknown file roles {unknown}; expected "
                             f"{list(FILE_ROLES)}.")
    listed = {}
    for role in FILE_ROLES:
        paths = []
        for path in map(Path, files.get(role, ())):
            rel = path.relative_to(out) if path.is_relative_to(out) else path
            if rel.is_absolute() or ".." in rel.parts:
                raise GenrelensError(f"index of {out}: {os.fspath(path)!r} lies outside it.")
            paths.append(rel.as_posix())
        listed[role] = sorted(paths)
    return write_json(out / INDEX_FILE, {
        "schema": INDEX_SCHEMA, "schema_version": INDEX_VERSION, "result": result,
        "summary": summary, "files": listed,
    })


def read_index(folder: str | os.PathLike[str], *, result: str | None = None) -> dict[str, Any]:
    """Read and check ``FOLDER/index.json``.

    Parameters
    ----------
    folder : path-like
        An output folder written by a result's writer.
    result : str, optional
        The result the folder must hold (``"global"``, ``"quality"``).

    Returns
    -------
    dict
        The index, with every role of :data:`FILE_ROLES` present.

    Raises
    ------
    GenrelensError
        When the index is absent, unreadable, of another schema or version, or of another
        result; the message names the file and what to do.
    """
    path = Path(folder) / INDEX_FILE
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenrelensError(
            f"{path} cannot be read ({exc}): is {Path(folder)} an output folder written by "
            "`genrelens global` or `genrelens evaluate-xai`? Run the command again to write it."
        ) from None
    return check_index(index, path=path, result=result)


def check_index(index: Any, *, path: str | os.PathLike[str],
                result: str | None = None) -> dict[str, Any]:
    """Check the parsed content of an index file (see :func:`read_index`).

    Parameters
    ----------
    index : object
        The JSON content of ``path``.
    path : path-like
        The index file, named in errors.
    result : str, optional
        The result the index must be of.

    Returns
    -------
    dict
        The index, with every role of :data:`FILE_ROLES` present (a list of str).

    Raises
    ------
    GenrelensError
        When the index is of another schema or version, or of another result.
    """
    if not isinstance(index, dict) or (index.get("schema"), index.get("schema_version")) != (
            INDEX_SCHEMA, INDEX_VERSION):
        found = ((index.get("schema"), index.get("schema_version")) if isinstance(index, dict)
                 else type(index).__name__)
        raise GenrelensError(
            f"{os.fspath(path)} is not an index of schema {INDEX_SCHEMA!r} version "
            f"{INDEX_VERSION} (found {found}): run the command again with this version of "
            "genrelens."
        )
    if result is not None and index.get("result") != result:
        raise GenrelensError(f"{os.fspath(path)} indexes a {index.get('result')!r} result, not "
                             f"a {result!r} one: name the folder of a {result!r} result.")
    files = index["files"] if isinstance(index.get("files"), dict) else {}
    return {**index, "summary": str(index.get("summary", "summary.json")),
            "files": {role: [str(p) for p in files.get(role) or []] for role in FILE_ROLES}}


class FolderResult:
    """Shared behaviour of the results written to an output folder with an index.

    A subclass (a frozen dataclass with ``params`` and ``source`` fields) sets :attr:`RESULT`
    and implements :meth:`to_dict` (its JSON-ready content, the ``summary.json`` it is
    written as) and :meth:`_from_folder`; its writer ends with :meth:`_write_folder`.
    Results compare equal when their JSON content is identical (NaN equal to NaN), so a
    result read back with :meth:`from_dir` equals the one written.
    """

    #: The ``result`` entry of the index.
    RESULT: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready content of the result."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return _canonical(self) == _canonical(other)  # type: ignore[arg-type]

    __hash__ = None  # type: ignore[assignment]  # equal by content, which holds lists

    @classmethod
    def from_dir(cls: type[R], folder: str | os.PathLike[str]) -> R:
        """Read the result written to ``folder`` (its :data:`INDEX_FILE` names the files).

        Raises
        ------
        GenrelensError
            When the index or a file it names cannot be read.
        """
        folder = Path(folder)
        index = read_index(folder, result=cls.RESULT)
        summary = cls._read_json(folder / index["summary"])
        return cls._from_folder(folder, index, summary)

    @classmethod
    def _from_folder(cls: type[R], folder: Path, index: dict[str, Any],
                     summary: dict[str, Any]) -> R:
        raise NotImplementedError

    @staticmethod
    def _read_json(path: Path) -> Any:
        """The JSON content of ``path`` (a file named by an index)."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GenrelensError(
                f"{path} cannot be read ({exc}): the folder is incomplete; run the command "
                "again."
            ) from None

    @classmethod
    def _split_summary(cls, summary: Mapping[str, Any], *,
                       extra: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``params`` and ``source`` of a read ``summary.json``: ``params`` are the entries
        that are neither a field of the result, nor ``out``, nor in ``extra``."""
        fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        taken = fields | {"out", *extra} | set(SOURCE_KEYS)
        return ({k: v for k, v in summary.items() if k not in taken},
                {k: summary[k] for k in SOURCE_KEYS if k in summary})

    def _write_folder(self, out: Path, *, files: Mapping[str, Sequence[Path]],
                      figures: Mapping[str, Any], separate: Sequence[str]) -> Path:
        """Finish a writer: save ``figures`` (file name -> figure or None) as PNG, write
        ``summary.json`` (:meth:`to_dict` without the ``separate`` entries, which the writer
        put in files of their own, plus ``out``) and last the index; return its path."""
        from genrelens import display

        saved = [display.save_png(fig, out / name) for name, fig in figures.items()
                 if fig is not None]
        summary = {k: v for k, v in self.to_dict().items() if k not in separate}
        write_json(out / "summary.json", {"out": str(out), **summary})
        return write_index(out, result=self.RESULT, files={**files, "figures": saved})


def _canonical(result: FolderResult) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, default=_plain)


def _plain(obj: Any) -> Any:
    return obj.tolist()
