"""Train/validation/test splits of a dataset's *tracks* (never of segments).

Splits are lists of track ids, so the 3-s segments of one track always land in one set.

* :func:`fault_filtered_split`: the artist-disjoint, fault-filtered GTZAN split of Kereliuk,
  Sturm & Larsen (2015), "Deep learning and music adversaries", IEEE Trans. Multimedia 17(11)
  (443 train / 197 valid / 290 test; it leaves out the 70 repeated, distorted or mislabelled
  files found by Sturm (2013), "The GTZAN dataset: its contents, its faults, their effects on
  evaluation, and the future use"). Its three lists are not shipped: :func:`fetch_split`
  downloads them from their public source (repository coreyker/dnn-mgr at a fixed commit) and
  checks their sha256, or ``split_dir`` names a folder where the user keeps them.
* :func:`fma_split`: FMA's own split (``('set', 'split')`` of ``fma_metadata/tracks.csv``:
  training/validation/test), stratified and artist-filtered by its authors (Defferrard et al.
  2017), so no artist is in two sets.
* :func:`random_split`: stratified random track-level split with a seed. On GTZAN it puts
  tracks of one artist on both sides and inflates accuracy by 10+ points (Sturm 2013); the
  split carries a warning saying so.
* :func:`kfold_splits`: stratified k-fold; each fold's validation tracks are carved from its
  training folds, so the test fold is never used for model selection.
* :func:`default_split`: fault-filtered for GTZAN when the lists are available, FMA's own
  split for FMA, else random.
* :func:`keep_together`: moves duplicate recordings
  (:mod:`genrelens.data.duplicates`) into one set of a split, and warns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import numpy as np

from genrelens._io import atomic_path, write_json
from genrelens.data.dataset import Dataset
from genrelens.data.duplicates import Duplicates
from genrelens.data.fma import FMA_SETS, read_tracks_csv, tracks_csv_path
from genrelens.data.gtzan import track_id_from_name
from genrelens.errors import ParameterError, SplitError

__all__ = [
    "Split",
    "SET_NAMES",
    "FF_SOURCE",
    "FF_SHA256",
    "fetch_split",
    "read_split_lists",
    "split_cache_dir",
    "fault_filtered_split",
    "fma_split",
    "random_split",
    "kfold_splits",
    "default_split",
    "keep_together",
]

#: The three sets of every split, in order.
SET_NAMES: tuple[str, ...] = ("train", "valid", "test")

#: Where the fault-filtered lists come from: ``{name}`` is a set name.
FF_SOURCE = (
    "https://raw.githubusercontent.com/coreyker/dnn-mgr/"
    "bdad579ea6cb37b665ea6019fe1026a6ce20cbc7/gtzan/{name}_filtered.txt"
)
#: sha256 of each list as published at that commit.
FF_SHA256: dict[str, str] = {
    "train": "2b04966cef1486f1a7767b74271533fa23e220388db804a1937835e1fc4fa3fa",
    "valid": "f8fbee7c52397a0e0f3a91dc54fedecb2e27f5bdc9a9daeab8cb10d077e26956",
    "test": "09cafa6a89ce0a27f30ed250d56ecb4d03c22fffb5a693f96c7ae655ee02ac72",
}
_FETCH_HINT = "get them with `genrelens data fetch-split gtzan-ff` (or pass --split-dir DIR)"
_GTZAN_RANDOM_WARNING = (
    "random track-level split of GTZAN: GTZAN repeats artists (and some recordings) across "
    "tracks, so the same artist lands in train and test and accuracy is inflated by 10+ points "
    "(Sturm 2013); for honest numbers use the fault-filtered split "
    "(`genrelens data fetch-split gtzan-ff`)."
)
_FOLDER_RANDOM_WARNING = (
    "random track-level split: tracks of one artist or album can land in train and test, which "
    "inflates accuracy; if your folders hold several tracks per artist, make an artist-disjoint "
    "split yourself (Split(...).save(path))."
)
_FMA_RANDOM_WARNING = (
    "random track-level split of FMA: tracks of one artist land in train and test, which "
    "inflates accuracy; FMA's own artist-filtered split is the default (`genrelens data split "
    "--method default`)."
)
_SYNTHETIC_RANDOM_NOTE = (
    "random track-level split of the synthetic dataset: its tracks are independent draws with no "
    "shared artists, so a random split is honest here."
)
# default_split falls back to a random split when a cached list covers less of the dataset.
_MIN_COVERAGE = 0.9


@dataclasses.dataclass(frozen=True)
class Split:
    """A partition of track ids into train, validation and test sets.

    Parameters
    ----------
    name : str
        E.g. ``"gtzan-ff"``, ``"random"``, ``"kfold-3of5"``.
    train, valid, test : tuple of str
        Disjoint sets of track ids (lists are converted to tuples).
    random_state : int or None
        The seed that made it (``None`` for fixed lists).
    warnings : tuple of str
        What the user should know (inflated accuracy, list entries absent from the data, ...).
    """

    name: str
    train: tuple[str, ...]
    valid: tuple[str, ...]
    test: tuple[str, ...]
    random_state: int | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in ("train", "valid", "test", "warnings"):
            object.__setattr__(self, field, tuple(str(x) for x in getattr(self, field)))
        seen: dict[str, str] = {}
        for set_name in SET_NAMES:
            for track_id in getattr(self, set_name):
                if track_id in seen:
                    raise SplitError(
                        f"split {self.name!r}: track {track_id!r} is in both {seen[track_id]} and "
                        f"{set_name}; sets must be disjoint."
                    )
                seen[track_id] = set_name

    def sets(self) -> dict[str, tuple[str, ...]]:
        """``{"train": ..., "valid": ..., "test": ...}``."""
        return {s: getattr(self, s) for s in SET_NAMES}

    def set_of(self, track_id: str) -> str | None:
        """The set holding ``track_id``, or ``None``."""
        for set_name, ids in self.sets().items():
            if track_id in ids:
                return set_name
        return None

    def validate(self, dataset: Dataset) -> None:
        """Raise :class:`SplitError` if a track id of the split is not in ``dataset``."""
        missing = sorted(set().union(*self.sets().values()) - set(dataset.track_ids))
        if missing:
            raise SplitError(
                f"split {self.name!r} names {len(missing)} tracks absent from dataset "
                f"{dataset.root} (e.g. {missing[:3]}); was it made for another dataset?"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what :meth:`save` writes)."""
        return {"format": "genrelens-split", "version": 1, **dataclasses.asdict(self)}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the split as JSON (atomically) and return the path."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Split:
        """Read a split written by :meth:`save`.

        Raises
        ------
        SplitError
            If the file is missing, not JSON, or lacks a key.
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SplitError(f"{p}: no such split file.") from exc
        except (OSError, ValueError) as exc:
            raise SplitError(f"{p}: not a readable JSON split file ({exc}).") from exc
        if not isinstance(data, dict) or data.get("format") != "genrelens-split":
            raise SplitError(f"{p}: not a genrelens split file (no format 'genrelens-split').")
        keys = [f.name for f in dataclasses.fields(cls)]
        missing = [k for k in ("name", *SET_NAMES) if k not in data]
        if missing:
            raise SplitError(f"{p}: split file lacks keys {missing}.")
        return cls(**{k: data[k] for k in keys if k in data})


# --------------------------------------------------------------------------- fault-filtered lists


def split_cache_dir(name: str = "gtzan-ff") -> Path:
    """Default folder of downloaded split lists: ``$XDG_CACHE_HOME/genrelens/splits/<name>``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``.
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genrelens" / "splits" / name


def fetch_split(
    name: str = "gtzan-ff",
    *,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the fault-filtered GTZAN lists, verify their sha256 and write them to ``out``.

    Parameters
    ----------
    name : str
        Only ``"gtzan-ff"``.
    out : path-like, optional
        Destination folder (default :func:`split_cache_dir`). Files are written as
        ``train.txt``, ``valid.txt``, ``test.txt``.
    force : bool
        Download even when verified lists are already there.
    timeout : float
        Seconds per request.

    Returns
    -------
    pathlib.Path
        The folder holding the three verified lists.

    Raises
    ------
    SplitError
        On a network failure or a checksum mismatch; then nothing is written (all three lists
        are downloaded and verified before the first is written, each write is atomic).
    """
    if name != "gtzan-ff":
        raise ParameterError(f"name={name!r} is unknown: expected 'gtzan-ff'.")
    dest = split_cache_dir(name) if out is None else Path(out)
    if not force:
        try:
            read_split_lists(dest, verify=True)
            return dest
        except SplitError:
            pass
    payloads = {}
    for set_name in SET_NAMES:
        url = FF_SOURCE.format(name=set_name)
        payload = _download(url, timeout=timeout)
        digest = hashlib.sha256(payload).hexdigest()
        if digest != FF_SHA256[set_name]:
            raise SplitError(
                f"{url}: sha256 {digest} differs from the expected {FF_SHA256[set_name]}; "
                "nothing was written. The download was altered (proxy, captive portal?): retry, "
                "or fetch the file by hand and pass --split-dir."
            )
        payloads[set_name] = payload
    for set_name, payload in payloads.items():
        with atomic_path(dest / f"{set_name}.txt") as tmp:
            tmp.write_bytes(payload)
    return dest


def _download(url: str, *, timeout: float) -> bytes:
    try:
        with urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed https URL
            return response.read()
    except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
        raise SplitError(
            f"cannot download {url} ({exc}); check the network, or download the three lists "
            "by hand into a folder and pass --split-dir DIR."
        ) from exc


def read_split_lists(
    split_dir: str | os.PathLike[str], *, verify: bool = True
) -> dict[str, list[str]]:
    """Read the three fault-filtered lists from ``split_dir``.

    Parameters
    ----------
    split_dir : path-like
        Holds ``train.txt`` / ``valid.txt`` / ``test.txt`` (or the original names
        ``train_filtered.txt``, ...).
    verify : bool
        Check each file's sha256 against :data:`FF_SHA256`. Turn off only for a copy you
        trust that differs in bytes (e.g. entries ending in ``.au``).

    Returns
    -------
    dict of str to list of str
        The non-empty lines of each list, e.g. ``"blues/blues.00029.wav"``.

    Raises
    ------
    SplitError
        If a list is missing (the message says how to get it) or fails verification.
    """
    folder = Path(split_dir)
    out = {}
    for set_name in SET_NAMES:
        candidates = [folder / f"{set_name}.txt", folder / f"{set_name}_filtered.txt"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise SplitError(
                f"{folder}: no {set_name}.txt or {set_name}_filtered.txt of the fault-filtered "
                f"GTZAN split; {_FETCH_HINT}."
            )
        payload = path.read_bytes()
        if verify:
            digest = hashlib.sha256(payload).hexdigest()
            if digest != FF_SHA256[set_name]:
                raise SplitError(
                    f"{path}: sha256 {digest} differs from the published list's "
                    f"{FF_SHA256[set_name]}; re-fetch it (`genrelens data fetch-split gtzan-ff "
                    "--force`) or, if you trust this copy, skip the check with --no-verify."
                )
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SplitError(f"{path}: not a text file of track names ({exc}).") from exc
        out[set_name] = [line.strip() for line in text.splitlines() if line.strip()]
    return out


def fault_filtered_split(
    dataset: Dataset,
    *,
    split_dir: str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> Split:
    """The artist-disjoint fault-filtered GTZAN split (Kereliuk et al. 2015) of ``dataset``.

    Parameters
    ----------
    dataset : Dataset
        A GTZAN dataset (layout ``"gtzan-original"`` or ``"gtzan-kaggle"``).
    split_dir : path-like, optional
        Folder with the lists (default :func:`split_cache_dir`, filled by :func:`fetch_split`).
    verify : bool
        Check the lists' sha256 (see :func:`read_split_lists`).

    Returns
    -------
    Split
        Named ``"gtzan-ff"``; entries absent from ``dataset`` are dropped and counted in
        ``warnings``; dataset tracks in no list (the faulty files) are in no set.

    Raises
    ------
    SplitError
        If the dataset is not GTZAN, a list is missing or corrupt, an entry is not a GTZAN
        file name, or a set ends up empty.
    """
    return _fault_filtered(dataset, split_dir=split_dir, verify=verify)[0]


def _fault_filtered(
    dataset: Dataset, *, split_dir: str | os.PathLike[str] | None, verify: bool
) -> tuple[Split, float]:
    """:func:`fault_filtered_split` and the fraction of list entries present in the dataset."""
    if not dataset.layout.startswith("gtzan"):
        raise SplitError(
            f"the fault-filtered split is for GTZAN; dataset {dataset.root} has layout "
            f"{dataset.layout!r}: use a random or k-fold split."
        )
    folder = split_cache_dir("gtzan-ff") if split_dir is None else Path(split_dir)
    lists = read_split_lists(folder, verify=verify)
    present = set(dataset.track_ids)
    sets: dict[str, list[str]] = {}
    absent: list[str] = []
    for set_name, entries in lists.items():
        ids: list[str] = []
        for entry in entries:
            track_id = track_id_from_name(entry)
            if track_id is None:
                raise SplitError(
                    f"{folder}: {set_name} list entry {entry!r} is not a GTZAN file name "
                    "(<genre>/<genre>.000NN.wav)."
                )
            (ids if track_id in present else absent).append(track_id)
        sets[set_name] = ids
    warnings = []
    n_entries = sum(len(v) for v in lists.values())
    if absent:
        warnings.append(
            f"{len(absent)} of {n_entries} fault-filtered list entries are not in the dataset "
            f"(e.g. {absent[:3]}); they are left out."
        )
    empty = [s for s in SET_NAMES if not sets[s]]
    if empty:
        raise SplitError(
            f"the fault-filtered split leaves set(s) {empty} empty on dataset {dataset.root} "
            f"({len(absent)} of {n_entries} entries absent): is this GTZAN?"
        )
    split = Split(name="gtzan-ff", random_state=None, warnings=tuple(warnings),
                  **{s: tuple(v) for s, v in sets.items()})
    return split, 1.0 - len(absent) / n_entries


# --------------------------------------------------------------------------- FMA's split


def fma_split(dataset: Dataset) -> Split:
    """FMA's own artist-filtered split of ``dataset``, read from ``fma_metadata/tracks.csv``.

    ``('set', 'split')`` ``training``, ``validation`` and ``test`` become the sets ``train``,
    ``valid`` and ``test``. Only the dataset's tracks are used: tracks of the subset without
    an audio file (:attr:`Dataset.missing`) or without a top genre are in no set.

    Parameters
    ----------
    dataset : Dataset
        An FMA dataset (layout ``"fma"``).

    Returns
    -------
    Split
        Named ``"fma"``. Its ``warnings`` count the tracks left out for a missing audio file
        or an unknown set name, and the artists found in two sets (FMA's split has none; a
        count above zero means ``tracks.csv`` was changed).

    Raises
    ------
    SplitError
        If the dataset is not FMA or a set ends up empty.
    DatasetError
        If ``tracks.csv`` is missing or malformed.
    """
    if dataset.layout != "fma":
        raise SplitError(
            f"FMA's split is for FMA; dataset {dataset.root} has layout {dataset.layout!r}: use "
            "a random or k-fold split."
        )
    records = {r.track_id: r for r in read_tracks_csv(tracks_csv_path(dataset.root))}
    sets: dict[str, list[str]] = {s: [] for s in SET_NAMES}
    unknown: list[str] = []
    sets_of_artist: dict[str, set[str]] = defaultdict(set)
    for track_id in dataset.track_ids:
        record = records.get(track_id)
        set_name = FMA_SETS.get(record.split) if record is not None else None
        if record is None or set_name is None:
            unknown.append(track_id)
            continue
        sets[set_name].append(track_id)
        sets_of_artist[record.artist_id].add(set_name)
    warnings = []
    if dataset.missing:
        warnings.append(
            f"{len(dataset.missing)} tracks of the split have no audio file in {dataset.root} "
            f"(e.g. {list(dataset.missing[:3])}); they are left out."
        )
    if unknown:
        warnings.append(
            f"{len(unknown)} tracks have no ('set', 'split') of {sorted(FMA_SETS)} in "
            f"tracks.csv (e.g. {unknown[:3]}); they are in no set."
        )
    crossing = sorted(a for a, names in sets_of_artist.items() if len(names) > 1)
    if crossing:
        warnings.append(
            f"{len(crossing)} artists have tracks in two sets (artist ids {crossing[:3]}); FMA's "
            "split has none: was tracks.csv changed?"
        )
    empty = [s for s in SET_NAMES if not sets[s]]
    if empty:
        raise SplitError(
            f"FMA's split leaves set(s) {empty} empty on dataset {dataset.root} "
            f"({len(dataset)} tracks): too few tracks have audio, or tracks.csv lacks "
            "('set', 'split'); use a random split."
        )
    return Split(name="fma", random_state=None, warnings=tuple(warnings),
                  **{s: tuple(v) for s, v in sets.items()})


# --------------------------------------------------------------------------- random splits


def _check_seed(random_state: int) -> int:
    if not isinstance(random_state, (int, np.integer)) or isinstance(random_state, bool):
        raise ParameterError(
            f"random_state={random_state!r} is invalid: expected an integer seed (e.g. 0)."
        )
    return int(random_state)


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ParameterError(f"{name}={value!r} is invalid: expected a fraction in [0, 1).")
    return float(value)


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def _by_class(dataset: Dataset) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {c: [] for c in dataset.class_names}
    for t in dataset.tracks:
        groups[t.label].append(t.track_id)
    return {c: sorted(ids) for c, ids in groups.items()}


def _is_synthetic(dataset: Dataset) -> bool:
    # `genrelens data synth` writes synth.json beside genres/ (the dataset root).
    return any((folder / "synth.json").is_file() for folder in (dataset.root, dataset.root.parent))


def _random_warning(dataset: Dataset) -> str:
    if _is_synthetic(dataset):
        return _SYNTHETIC_RANDOM_NOTE
    if dataset.layout == "fma":
        return _FMA_RANDOM_WARNING
    return _GTZAN_RANDOM_WARNING if dataset.layout.startswith("gtzan") else _FOLDER_RANDOM_WARNING


def random_split(
    dataset: Dataset,
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    random_state: int = 0,
) -> Split:
    """A stratified random split of the tracks.

    Each class's tracks are shuffled with ``np.random.default_rng(random_state)`` (classes in
    sorted order) and cut into ``round(n * test_fraction)`` test, ``round(n *
    valid_fraction)`` validation (rounding halves up) and the rest training tracks (at least
    one).

    Parameters
    ----------
    dataset : Dataset
    valid_fraction, test_fraction : float
        Fractions of each class; their sum must be below 1.
    random_state : int
        Seed; the same seed gives the same split.

    Returns
    -------
    Split
        Named ``"random"``, with a warning that random track splits inflate accuracy
        (strongly so on GTZAN).
    """
    seed = _check_seed(random_state)
    valid_fraction = _check_fraction("valid_fraction", valid_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if valid_fraction + test_fraction >= 1.0:
        raise ParameterError(
            f"valid_fraction={valid_fraction} + test_fraction={test_fraction} >= 1: no tracks "
            "would be left to train on."
        )
    rng = np.random.default_rng(seed)
    sets: dict[str, list[str]] = {s: [] for s in SET_NAMES}
    for ids in _by_class(dataset).values():
        order = [ids[i] for i in rng.permutation(len(ids))]
        n_test = min(_round_half_up(len(ids) * test_fraction), len(ids) - 1)
        n_valid = min(_round_half_up(len(ids) * valid_fraction), len(ids) - 1 - n_test)
        sets["test"] += order[:n_test]
        sets["valid"] += order[n_test : n_test + n_valid]
        sets["train"] += order[n_test + n_valid :]
    warnings = [_random_warning(dataset)]
    empty = [s for s in SET_NAMES if not sets[s]]
    warnings += [f"the {s} set is empty (too few tracks per class)" for s in empty]
    return Split(
        name="random",
        random_state=seed,
        warnings=tuple(warnings),
        **{s: tuple(sorted(v)) for s, v in sets.items()},
    )


def kfold_splits(
    dataset: Dataset,
    *,
    n_folds: int = 5,
    valid_fraction: float = 0.1,
    random_state: int = 0,
) -> list[Split]:
    """Stratified k-fold splits of the tracks; validation is carved from the training folds.

    Each class's shuffled tracks are dealt round-robin into ``n_folds`` folds, so fold sizes
    per class differ by at most one. Split ``k`` tests on fold ``k``; of the other folds'
    tracks, ``round(n * valid_fraction)`` per class (shuffled anew) validate and the rest train.
    Every track is tested exactly once over the ``n_folds`` splits.

    Parameters
    ----------
    dataset : Dataset
    n_folds : int
        At least 2, at most the number of tracks.
    valid_fraction : float
        Fraction of each class's non-test tracks used for validation.
    random_state : int
        Seed.

    Returns
    -------
    list of Split
        Named ``"kfold-<k>of<n_folds>"`` (k from 1).
    """
    seed = _check_seed(random_state)
    valid_fraction = _check_fraction("valid_fraction", valid_fraction)
    valid_int = isinstance(n_folds, int) and not isinstance(n_folds, bool)
    if not valid_int or not 2 <= n_folds <= len(dataset):
        raise ParameterError(
            f"n_folds={n_folds!r} is invalid: expected an integer from 2 to the number of "
            f"tracks ({len(dataset)})."
        )
    rng = np.random.default_rng(seed)
    classes = _by_class(dataset)
    folds: dict[str, list[list[str]]] = {}
    for label, ids in classes.items():
        order = [ids[i] for i in rng.permutation(len(ids))]
        folds[label] = [order[k::n_folds] for k in range(n_folds)]
    warnings = [_random_warning(dataset)]
    small = sorted(c for c, ids in classes.items() if len(ids) < n_folds)
    if small:
        warnings.append(f"classes {small} have fewer tracks than folds: some test folds lack them")
    splits = []
    for k in range(n_folds):
        sets: dict[str, list[str]] = {s: [] for s in SET_NAMES}
        for label in classes:
            sets["test"] += folds[label][k]
            rest = sorted(x for j, f in enumerate(folds[label]) if j != k for x in f)
            rest = [rest[i] for i in rng.permutation(len(rest))]
            n_valid = min(_round_half_up(len(rest) * valid_fraction), max(len(rest) - 1, 0))
            sets["valid"] += rest[:n_valid]
            sets["train"] += rest[n_valid:]
        splits.append(
            Split(
                name=f"kfold-{k + 1}of{n_folds}",
                random_state=seed,
                warnings=tuple(warnings),
                **{s: tuple(sorted(v)) for s, v in sets.items()},
            )
        )
    return splits


def keep_together(
    split: Split, duplicates: Duplicates, *, dataset: Dataset, move: bool = True
) -> Split:
    """Keep each group of duplicate recordings in one set of ``split``, and say so.

    Parameters
    ----------
    split : Split
    duplicates : Duplicates
        From :func:`genrelens.data.duplicates.find_duplicates`.
    dataset : Dataset
        Gives the tracks' labels.
    move : bool
        Move the members of a group that lie in several sets into the set holding most of
        them (ties: train, then valid, then test). ``False`` for splits that must stay as
        published or given (fault-filtered GTZAN, FMA's, a saved one): only warn.

    Returns
    -------
    Split
        With warnings (each added once, so a resumed run adds none) naming the duplicate
        groups and, unmoved, how many lie in two sets; the recordings found under two labels;
        and what the search left out.
    """
    if not duplicates.groups and not duplicates.notes:
        return split
    set_of = {t: name for name, ids in split.sets().items() for t in ids}
    sets = {name: list(ids) for name, ids in split.sets().items()}
    crossing = []
    for group in duplicates.groups:
        placed = [set_of[t] for t in group if t in set_of]
        if len(set(placed)) < 2:
            continue
        crossing.append(group)
        if move:
            target = max(SET_NAMES, key=lambda s: (placed.count(s), -SET_NAMES.index(s)))
            for t in group:
                if t in set_of:
                    sets[set_of[t]].remove(t)
                    sets[target].append(t)
    examples = "; ".join(duplicates.describe(k) for k in range(min(3, len(duplicates.groups))))
    warnings = list(split.warnings)
    if duplicates.groups:
        warnings.append(
            f"{len(duplicates.groups)} groups of duplicate recordings in dataset {dataset.root} "
            f"(e.g. {examples})"
            + (
                f": {len(crossing)} lie in two sets of split {split.name!r} and inflate its "
                "test accuracy; remove the copies."
                if crossing and not move
                else ": each is kept in one set of the split; remove the copies unless they are "
                "intended."
            )
        )
    labels = {t.track_id: t.label for t in dataset.tracks}
    mixed = [g for g in duplicates.groups if len({labels[t] for t in g}) > 1]
    if mixed:
        warnings.append(
            f"{len(mixed)} recordings are in the dataset under two labels (e.g. "
            f"{' = '.join(mixed[0])}: {sorted({labels[t] for t in mixed[0]})}); no model can be "
            "right on both: fix the labels or remove the copies."
        )
    warnings += duplicates.notes
    return Split(
        name=split.name,
        random_state=split.random_state,
        warnings=tuple(dict.fromkeys(warnings)),
        **{name: tuple(sorted(ids) if crossing and move else ids) for name, ids in sets.items()},
    )


def default_split(
    dataset: Dataset,
    *,
    split_dir: str | os.PathLike[str] | None = None,
    random_state: int = 0,
    verify: bool = True,
) -> Split:
    """The split genrelens uses unless told otherwise.

    * GTZAN with ``split_dir`` given: :func:`fault_filtered_split` from it (errors propagate).
    * GTZAN without ``split_dir``: the fault-filtered split from :func:`split_cache_dir` when
      :func:`fetch_split` has stored the lists there and they cover at least 90% of their
      entries (a subset of GTZAN, e.g. synthetic data, falls back); otherwise
      :func:`random_split` with a warning saying how to get the fault-filtered lists.
    * FMA: :func:`fma_split`, its own artist-filtered split (errors propagate; ``split_dir``
      and ``verify`` do not apply).
    * Other datasets: :func:`random_split`.

    Parameters
    ----------
    dataset : Dataset
    split_dir : path-like, optional
        Folder with the fault-filtered lists.
    random_state : int
        Seed of the random split (if one is made).
    verify : bool
        Check the lists' sha256.

    Returns
    -------
    Split
    """
    if dataset.layout == "fma":
        return fma_split(dataset)
    if not dataset.layout.startswith("gtzan") or _is_synthetic(dataset):
        return random_split(dataset, random_state=random_state)
    if split_dir is not None:
        return fault_filtered_split(dataset, split_dir=split_dir, verify=verify)
    try:
        split, coverage = _fault_filtered(dataset, split_dir=None, verify=verify)
    except SplitError as exc:
        reason = str(exc)
    else:
        if coverage >= _MIN_COVERAGE:
            return split
        reason = f"the dataset holds only {coverage:.0%} of the fault-filtered list entries"
    fallback = random_split(dataset, random_state=random_state)
    note = f"fault-filtered split not used ({reason})."
    return dataclasses.replace(fallback, warnings=(note, *fallback.warnings))
