"""``genrelens data check|fetch-split|split|synth`` and ``genrelens prepare``: datasets,
their splits and their cached features."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genrelens._parallel import default_jobs
from genrelens._terminal import printable
from genrelens.cli._options import (
    add_feature_options,
    add_split_options,
    feature_config_from_args,
    nonneg,
    parent_of,
    positive,
    seconds,
    split_from_args,
)

__all__ = ["add_data", "add_prepare"]


def add_data(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens data`` in ``sub``, the subparsers of ``genrelens``."""
    parser = sub.add_parser("data", help="Create, check and split datasets.")
    data_sub = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data_sub.required = True
    for add in _DATA_SUBCOMMANDS:
        add(data_sub)


def _add_data_check(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "check",
        help="Report what a dataset folder holds and what is wrong with it.",
        description="Decode every file of the dataset in DIR (GTZAN in its original or Kaggle "
        "layout, FMA: fma_small|fma_medium|fma_large|fma_full with fma_metadata/ beside it, or "
        "DIR/<label>/*.wav|flac|mp3|ogg|opus|aiff|au|m4a|..., see genrelens.formats) and report "
        "counts per class, durations, unreadable files with reasons (also files whose first "
        "bytes are not the format their name promises), byte-identical duplicates, files of "
        "unknown type, folders without audio and files the metadata lists but the disk lacks. "
        "Exit status 1 when the dataset is unusable (no readable tracks, fewer than 2 classes "
        "with readable tracks, or a class whose files are all unreadable), else 0.",
    )
    parser.add_argument("dir", metavar="DIR", help="dataset folder")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument(
        "--segment-seconds",
        type=seconds,
        default=3.0,
        help="segment length; shorter files are reported as too short (default 3)",
    )
    parser.add_argument("--jobs", type=positive, default=None,
                        help="files decoded at once, in worker processes (default: the CPUs available, "
                        "at most 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_cmd_data_check, writable=parent_of("json"))


def _cmd_data_check(args: argparse.Namespace) -> int:
    from genrelens._io import write_json
    from genrelens.config import FeatureConfig
    from genrelens.data import open_dataset
    from genrelens.data.check import check_dataset

    config = FeatureConfig(
        segment_seconds=args.segment_seconds, segment_hop_seconds=args.segment_seconds
    )
    report = check_dataset(open_dataset(args.dir), config=config, progress=not args.no_progress,
                           jobs=default_jobs() if args.jobs is None else args.jobs)
    print(report.format())
    if args.json:
        write_json(args.json, report.to_dict())
    return 0 if report.usable else 1


def _add_data_fetch_split(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "fetch-split",
        help="Download a published split's lists and verify their checksums.",
        description="Download the three lists of the fault-filtered, artist-disjoint GTZAN split "
        "(Kereliuk, Sturm & Larsen 2015; 443/197/290 tracks) from repository coreyker/dnn-mgr at "
        "a fixed commit, verify their sha256 and write them atomically (nothing is written on a "
        "mismatch). Default destination: $XDG_CACHE_HOME/genrelens/splits/gtzan-ff, where "
        "training finds them; elsewhere, pass the folder as --split-dir.",
    )
    parser.add_argument("name", choices=["gtzan-ff"], help="the split to fetch")
    parser.add_argument("--out", metavar="DIR", help="destination folder")
    parser.add_argument(
        "--force", action="store_true", help="download even if verified lists are present"
    )
    parser.set_defaults(func=_cmd_data_fetch_split,
                        outputs=lambda args: [args.out] if args.out else [])


def _cmd_data_fetch_split(args: argparse.Namespace) -> int:
    from genrelens.data.splits import fetch_split, read_split_lists

    dest = fetch_split(args.name, out=args.out, force=args.force)
    sizes = {k: len(v) for k, v in read_split_lists(dest).items()}
    counts = ", ".join(f"{k} {n}" for k, n in sizes.items())
    print(printable(f"{args.name}: verified lists in {dest} ({counts})"))
    return 0


def _add_data_split(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "split",
        help="Write a train/valid/test split of a dataset's tracks as JSON.",
        description="Split the tracks of the dataset in DIR (never its segments) and write the "
        "split as JSON. Methods: default (fault-filtered for GTZAN when its lists are available, "
        "FMA's own artist-filtered split for FMA, else stratified random), gtzan-ff, random, "
        "kfold (writes OUT/fold-K.json). Byte-identical files are kept in one set of a random "
        "split and warned about in the others (`genrelens train` also finds re-encoded "
        "copies).",
    )
    parser.add_argument("dir", metavar="DIR", help="dataset folder")
    parser.add_argument("--out", metavar="PATH", required=True, help="split JSON (kfold: folder)")
    parser.add_argument(
        "--method", choices=["default", "gtzan-ff", "random", "kfold"], default="default"
    )
    add_split_options(parser, saved=False)
    parser.add_argument("--seed", type=nonneg, default=0, help="random_state (default 0)")
    parser.add_argument("--valid-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--folds", type=positive, default=5, help="folds of kfold (default 5)")
    parser.set_defaults(
        func=_cmd_data_split,
        outputs=lambda args: [args.out] if args.method == "kfold" else [],
        writable=lambda args: [] if args.method == "kfold" else [Path(args.out).parent],
    )


def _cmd_data_split(args: argparse.Namespace) -> int:
    from genrelens.data import open_dataset
    from genrelens.data import splits as sp
    from genrelens.data.duplicates import find_identical

    dataset = open_dataset(args.dir)
    if args.method == "kfold":
        splits = sp.kfold_splits(
            dataset, n_folds=args.folds, valid_fraction=args.valid_fraction, random_state=args.seed
        )
    elif args.method == "random":
        splits = [sp.random_split(
            dataset,
            valid_fraction=args.valid_fraction,
            test_fraction=args.test_fraction,
            random_state=args.seed,
        )]
    elif args.method == "gtzan-ff":
        splits = [sp.fault_filtered_split(
            dataset, split_dir=args.split_dir, verify=not args.no_verify
        )]
    else:
        splits = [split_from_args(args, dataset, random_state=args.seed)]
    # byte-identical copies stay in one set of a random split (moving them between k-folds
    # would test a track twice) and are warned about in k-folds; published splits (fixed
    # lists, random_state None) are curated: their files are not hashed
    if any(s.random_state is not None for s in splits):
        duplicates = find_identical(dataset.tracks)
        splits = [sp.keep_together(s, duplicates, dataset=dataset,
                                   move=args.method != "kfold" and s.random_state is not None)
                  for s in splits]
    if args.method == "kfold":
        made = [(s, s.save(Path(args.out) / f"fold-{k + 1}.json")) for k, s in enumerate(splits)]
    else:
        made = [(splits[0], splits[0].save(args.out))]
    for split, path in made:
        sizes = ", ".join(f"{k} {len(v)}" for k, v in split.sets().items())
        print(printable(f"{split.name}: {sizes} -> {path}"))
    for warning in made[0][0].warnings:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    return 0


def _add_data_synth(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "synth",
        help="Synthesise the built-in GTZAN-layout dataset with stems and cue ground truth.",
        description="Write procedurally synthesised music (numpy only, no downloads) for the ten "
        "GTZAN genres in the GTZAN original layout (OUT/genres/<genre>/<genre>.000NN.wav), with "
        "its stems (OUT/stems/<id>/{drums,bass,harmony,lead}.wav, summing to the mix), the "
        "time-frequency location of each genre-defining cue (OUT/cues/<id>.json) and "
        "OUT/synth.json. The same seed gives byte-identical files.",
    )
    parser.add_argument("--out", metavar="DIR", required=True, help="new or empty folder")
    parser.add_argument("--seed", type=nonneg, default=0, help="dataset seed (default 0)")
    parser.add_argument(
        "--per-genre", type=positive, default=10, metavar="N", help="tracks per genre (default 10)"
    )
    parser.add_argument(
        "--duration", type=seconds, default=30.0, metavar="S",
        help="seconds per track (default 30)"
    )
    parser.add_argument("--sr", type=positive, default=22050, help="sampling rate (default 22050)")
    parser.add_argument("--jobs", type=positive, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--no-stems", action="store_true", help="skip the stems (about 1 GB per 100 x 30 s)"
    )
    parser.add_argument("--force", action="store_true", help="write into a non-empty DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_cmd_data_synth, outputs=lambda args: [args.out])


def _cmd_data_synth(args: argparse.Namespace) -> int:
    import time

    from genrelens.data.gtzan import GTZAN_GENRES
    from genrelens.data.synthetic import synthesize_dataset

    started = time.perf_counter()
    out = synthesize_dataset(
        args.out,
        n_per_genre=args.per_genre,
        duration=args.duration,
        sr=args.sr,
        seed=args.seed,
        stems=not args.no_stems,
        force=args.force,
        jobs=args.jobs,
        progress=not args.no_progress,
    )
    print(printable(
        f"synth: {len(GTZAN_GENRES) * args.per_genre} tracks of {args.duration:g} s "
        f"(seed {args.seed}) -> {out} in {time.perf_counter() - started:.1f} s"
    ))
    return 0


def add_prepare(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens prepare`` in ``sub``, the subparsers of ``genrelens``."""
    parser = sub.add_parser(
        "prepare",
        help="Compute and cache the log-mel features of every segment of a dataset.",
        description="Compute the log-mel spectrogram of every segment of every track of the "
        "dataset in DIR once, into CACHE/<config digest>/ (HDF5, keyed by the feature "
        "configuration and the sha256 of each file). Re-running computes only new or changed "
        "files; an interrupted run resumes. Unusable files are skipped and listed with their "
        "reason. Exit status 1 when no track is usable, else 0.",
    )
    parser.add_argument("--data", metavar="DIR", required=True, help="dataset folder")
    parser.add_argument("--cache", metavar="CACHE", required=True, help="feature cache folder")
    add_feature_options(parser)
    parser.add_argument(
        "--jobs",
        type=positive,
        default=None,
        help="tracks processed concurrently, one per worker process (default: the CPUs "
        "available, at most 8)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(  # the cache entry is locked by prepare()
        func=_cmd_prepare, writable=lambda args: [args.cache, *parent_of("json")(args)]
    )


def _cmd_prepare(args: argparse.Namespace) -> int:
    from genrelens._io import write_json
    from genrelens.cache import prepare
    from genrelens.data import open_dataset

    report = prepare(
        open_dataset(args.data),
        cache_dir=args.cache,
        config=feature_config_from_args(args),
        progress=not args.no_progress,
        jobs=default_jobs() if args.jobs is None else args.jobs,
    )
    print(report.summary())
    if args.json:
        write_json(args.json, report.to_dict())
    return 0 if report.n_segments else 1


# ``genrelens data <name>``: one ``_add_data_<name>`` per entry.
_DATA_SUBCOMMANDS: list = [
    _add_data_check,
    _add_data_fetch_split,
    _add_data_split,
    _add_data_synth,
]
