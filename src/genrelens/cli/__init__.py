"""The ``genrelens`` command line: ``main(argv=None) -> int``.

Each subcommand is a pair of functions here: ``_add_<name>(subparsers)`` declares its
arguments (each checked by its ``type`` while parsing) and the folders it writes
(``outputs``, locked while it runs; ``writable``, checked first), and ``_cmd_<name>(args) ->
int`` runs it by calling the library. Errors of the package
(:class:`~genrelens.errors.GenrelensError`, including a full disk or a read-only folder) are
printed as one clear line, control characters escaped, and give exit status
:data:`EXIT_ERROR` (3); a wrong command line gives argparse's status 2 with the usage of the
(sub)command at fault; anything else is a bug and shows its traceback. The statuses are listed
in ``genrelens --help`` (:data:`EXIT_STATUSES`).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from genrelens._version import __version__
from genrelens._io import check_writable, storage_error
from genrelens._parallel import default_jobs
from genrelens._terminal import printable
from genrelens.errors import GenrelensError
from genrelens.explain.fill import DEFAULT_FILL, FILL_KINDS
from genrelens.lock import locked

__all__ = ["main", "entry", "build_parser", "MALLOC_ENV", "EXIT_ERROR", "EXIT_STATUSES"]

#: Exit status of a command stopped by an error in its data, files or settings (a
#: GenrelensError); distinct from argparse's 2 for a wrong command line.
EXIT_ERROR = 3

#: The exit statuses of ``genrelens``, shown by ``genrelens --help``.
EXIT_STATUSES = {
    0: "done",
    1: "done, but some inputs were unusable or failed, and the output says which "
    "(data check, prepare, predict, explain-dataset)",
    2: "usage error: the command line does not parse (an unknown option, a missing argument, "
    "a value of the wrong type or range); the (sub)command's usage is printed and nothing ran",
    EXIT_ERROR: "data or run error: an input file, dataset, run, output folder or setting is "
    "unusable, including option values that the library checks after parsing (e.g. --n-fft 0); "
    "one line names it and what to do",
    130: "interrupted (Ctrl-C or SIGTERM); finished work is kept",
}

#: glibc malloc settings that keep large tensor buffers in the process instead of handing
#: them back to the kernel after each use; without them batched CPU inference becomes
#: page-fault bound (see README, "Speed"). They only act when set before the process starts.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "68719476736",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = _Parser(
        prog="genrelens",
        description="Train music-genre classifiers and explain their predictions.",
        epilog="exit status:\n" + "\n".join(
            textwrap.fill(text, width=79, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
            for code, text in EXIT_STATUSES.items()
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"genrelens {__version__}")
    parser.add_argument(
        "--max-duration",
        type=float,
        metavar="SECONDS",
        help="longest audio file any command accepts (default 1800 = 30 min); longer files are "
        "refused as too_long so that a small file of hours of audio cannot exhaust memory",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that refuses unknown arguments at the level that met them.

    argparse hands a subcommand's unknown arguments up to the top level, which then prints
    its own usage; here each (sub)command reports them with its own usage, so that
    ``genrelens train --epochz 3`` shows how to call ``train``.
    """

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102 (argparse's)
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Every option is checked while parsing (a bad value exits with status 2 before any work);
    an error of the package while running returns :data:`EXIT_ERROR`.
    A command then holds an exclusive lock on each folder it writes (its ``outputs``, see
    :mod:`genrelens.lock`) and checks that the other folders it writes a file into (its
    ``writable``) are writable, before it starts computing.
    """
    args = build_parser().parse_args(argv)
    folders = [Path(folder) for folder in getattr(args, "outputs", _nothing)(args)]
    try:
        with contextlib.ExitStack() as stack:
            for folder in folders:
                stack.enter_context(locked(folder, what="output folder"))
            for folder in getattr(args, "writable", _nothing)(args):
                check_writable(folder)
            stack.enter_context(_max_duration(args.max_duration))
            return int(args.func(args))
    except (GenrelensError, OSError) as exc:
        error = exc if isinstance(exc, GenrelensError) else _storage_error(exc, folders)
        if error is None:
            raise
        print(f"genrelens {args.command}: error: {printable(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"genrelens {args.command}: interrupted", file=sys.stderr)
        return 130


def _nothing(args: argparse.Namespace) -> list[Path]:
    """The ``outputs`` (or ``writable`` folders) of a command that has none."""
    return []


def _parent_of(option: str) -> Callable[[argparse.Namespace], list[Path]]:
    """The ``writable`` folders of a command writing a file given by ``option``, if given."""
    return lambda args: [Path(getattr(args, option)).parent] if getattr(args, option) else []


def _in_run(name: str) -> Callable[[argparse.Namespace], list[Path]]:
    """The ``outputs`` of a command writing ``--out``, by default ``RUN/<name>``."""
    return lambda args: [Path(args.out) if args.out else Path(args.run) / name]


def _storage_error(exc: OSError, folders: list[Path]) -> GenrelensError | None:
    """The StorageError of an OSError that no writer named (e.g. a full disk while writing a
    file that names no path), named after its file or else the command's output folder."""
    where = exc.filename or (folders[0] if folders else None)
    return None if where is None else storage_error(exc, where)


@contextlib.contextmanager
def _max_duration(seconds: float | None) -> Iterator[None]:
    """Set ``--max-duration`` as the environment variable that worker processes inherit too
    (:func:`genrelens.audio.resolve_max_seconds`), for the command's duration."""
    if seconds is None:
        yield
        return
    from genrelens.audio import MAX_SECONDS_ENV, resolve_max_seconds

    seconds = resolve_max_seconds(seconds, name="--max-duration")
    previous = os.environ.get(MAX_SECONDS_ENV)
    os.environ[MAX_SECONDS_ENV] = repr(seconds)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MAX_SECONDS_ENV, None)
        else:
            os.environ[MAX_SECONDS_ENV] = previous


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def entry() -> None:
    """Console-script entry point.

    Re-executes the interpreter once with :data:`MALLOC_ENV` set (unless already set, or
    ``GENRELENS_NO_REEXEC=1``), then runs :func:`main` and exits with its status. SIGTERM
    (``kill``, job schedulers, torchrun) is handled like Ctrl-C: the running stage is recorded
    as failed, finished work is kept, and the exit status is 130.
    """
    if os.environ.get("GENRELENS_NO_REEXEC") != "1" and any(
        os.environ.get(k) is None for k in MALLOC_ENV
    ):
        env = {**MALLOC_ENV, **os.environ}
        env.setdefault("GENRELENS_NO_REEXEC", "1")
        try:
            os.execve(sys.executable, [sys.executable, "-m", "genrelens", *sys.argv[1:]], env)
        except OSError:
            pass  # cannot re-execute (unusual platform): run with the default allocator
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())


def _add_data(sub: argparse._SubParsersAction) -> None:
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
        type=_seconds,
        default=3.0,
        help="segment length; shorter files are reported as too short (default 3)",
    )
    parser.add_argument("--jobs", type=_positive, default=None,
                        help="files decoded at once, in worker processes (default: the CPUs available, "
                        "at most 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_cmd_data_check, writable=_parent_of("json"))


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


def _add_split_options(parser: argparse.ArgumentParser, *, saved: bool = True) -> None:
    """Add how a command chooses its split: ``--split JSON`` (if ``saved``), ``--split-dir``,
    ``--no-verify``; read them back with :func:`_split_from_args`."""
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


def _split_from_args(args: argparse.Namespace, dataset, *, random_state: int = 0):
    """The :class:`~genrelens.data.Split` chosen by :func:`_add_split_options`' arguments."""
    from genrelens.data import default_split
    from genrelens.data.splits import Split

    if getattr(args, "split", None):
        split = Split.load(args.split)
        split.validate(dataset)
        return split
    return default_split(
        dataset, split_dir=args.split_dir, random_state=random_state, verify=not args.no_verify
    )


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
    _add_split_options(parser, saved=False)
    parser.add_argument("--seed", type=_nonneg, default=0, help="random_state (default 0)")
    parser.add_argument("--valid-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--folds", type=_positive, default=5, help="folds of kfold (default 5)")
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
        splits = [_split_from_args(args, dataset, random_state=args.seed)]
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
    parser.add_argument("--seed", type=_nonneg, default=0, help="dataset seed (default 0)")
    parser.add_argument(
        "--per-genre", type=_positive, default=10, metavar="N", help="tracks per genre (default 10)"
    )
    parser.add_argument(
        "--duration", type=_seconds, default=30.0, metavar="S",
        help="seconds per track (default 30)"
    )
    parser.add_argument("--sr", type=_positive, default=22050, help="sampling rate (default 22050)")
    parser.add_argument("--jobs", type=_positive, default=1, help="worker processes (default 1)")
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


def _add_feature_options(parser: argparse.ArgumentParser) -> None:
    """Add the FeatureConfig flags; read them back with :func:`_feature_config_from_args`."""
    from genrelens.config import PRESETS

    group = parser.add_argument_group("features (default: FeatureConfig defaults)")
    group.add_argument(
        "--front-end", dest="feature_preset", choices=sorted(PRESETS), default="default",
        help="a named front end to start from (musicnn: 16 kHz, 96 mels, log10(10000 S + 1), "
        "187 frames); the flags below change single fields of it",
    )
    for flag, field, kind in _FEATURE_OPTIONS:
        group.add_argument(flag, dest=f"feature_{field}", type=kind, metavar=kind.__name__.upper())


def _feature_config_from_args(args: argparse.Namespace):
    """The FeatureConfig of :func:`_add_feature_options`' flags (unset flags keep the
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


def _add_prepare(sub: argparse._SubParsersAction) -> None:
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
    _add_feature_options(parser)
    parser.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        help="tracks processed concurrently, one per worker process (default: the CPUs "
        "available, at most 8)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(  # the cache entry is locked by prepare()
        func=_cmd_prepare, writable=lambda args: [args.cache, *_parent_of("json")(args)]
    )


def _cmd_prepare(args: argparse.Namespace) -> int:
    from genrelens._io import write_json
    from genrelens.cache import prepare
    from genrelens.data import open_dataset

    report = prepare(
        open_dataset(args.data),
        cache_dir=args.cache,
        config=_feature_config_from_args(args),
        progress=not args.no_progress,
        jobs=default_jobs() if args.jobs is None else args.jobs,
    )
    print(report.summary())
    if args.json:
        write_json(args.json, report.to_dict())
    return 0 if report.n_segments else 1



def _add_explain(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "explain",
        help="Explain a trained model's decisions on an audio clip or a whole track.",
        description="Cut AUDIO into the model's segments, explain every segment with every "
        "method and component kind, and write per-segment explanations (JSON + NPZ), plots "
        "(PNG) and listenable explanations (WAV: the top-k components and the rest), plus "
        "track-level aggregates (mean over segments; segments side by side) and summary.json "
        "to DIR. When both lime and shap are asked for they share one set of model evaluations.",
    )
    parser.add_argument(
        "run", metavar="RUN", help="training run directory (RUN/checkpoint.pt) or a checkpoint file"
    )
    parser.add_argument("audio", metavar="AUDIO", help="audio file: a clip or a whole track")
    parser.add_argument(
        "--methods",
        default="kernel_shap",
        metavar="LIST",
        help=f"comma-separated from {_METHODS_HELP} (default kernel_shap)",
    )
    parser.add_argument(
        "--components",
        default="tf_grid",
        metavar="LIST",
        help=f"comma-separated from {_KINDS_HELP} (default tf_grid); ignored by gradcam/ig",
    )
    parser.add_argument(
        "--samples",
        type=_positive,
        default=1000,
        metavar="N",
        help="model evaluations per LIME/SHAP explanation (default 1000)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--target",
        metavar="CLASS",
        help="class name or index for plots and WAVs (default: the track's predicted class)",
    )
    parser.add_argument(
        "--fill",
        default=None,
        type=_fill_arg,
        help=f"what 'off' means / IG baseline: {', '.join(_FILL_NAMES[:-1])} or a number (an "
        f"input value: dB by default; min is silence in any front end) (default: "
        f"{DEFAULT_FILL}, chosen on real music; stems: removed)",
    )
    parser.add_argument("--seed", type=_nonneg, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--segments", metavar="LIST", help="comma-separated segment indices (default all)"
    )
    parser.add_argument(
        "--top-k", type=_positive, default=3, metavar="K",
        help="components in the top WAV (default 3)"
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace the explanation that DIR holds (its summary.json, track/ and segments/)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_device_option(parser)
    parser.set_defaults(func=_cmd_explain, outputs=lambda args: [args.out])


def _cmd_explain(args: argparse.Namespace) -> int:
    import json

    from genrelens.audio import load_segments
    from genrelens.errors import ParameterError
    from genrelens.explain.track import claim_out, explain_track, write_track
    from genrelens.models import load_checkpoint

    def csv(text: str, name: str) -> list[str]:
        items = _csv_list(text)
        if not items:
            raise ParameterError(f"{name}={text!r} is invalid: expected a comma-separated list.")
        return items

    out = claim_out(args.out, overwrite=args.overwrite)
    checkpoint = _checkpoint_path(args.run)
    loaded = load_checkpoint(checkpoint, device=args.device)
    config = loaded.feature_config
    segments = load_segments(args.audio, config=config)
    try:
        index = (
            None if args.segments is None else [int(i) for i in csv(args.segments, "--segments")]
        )
    except ValueError:
        raise ParameterError(
            f"--segments={args.segments!r} is invalid: expected comma-separated segment indices."
        ) from None
    target = int(args.target) if args.target is not None and args.target.isdigit() else args.target
    names = loaded.class_names
    if target is not None and not (
        target in names or isinstance(target, int) and target < len(names)
    ):
        raise ParameterError(
            f"target={target!r} is not a class of the model: expected one of {list(names)} or an "
            f"index 0..{len(names) - 1}."
        )
    results = explain_track(
        loaded,
        segments,
        config=config,
        methods=_method_names(csv(args.methods, "--methods")),
        kinds=_kind_names(csv(args.components, "--components")),
        n_samples=args.samples,
        fill=args.fill,
        random_state=args.seed,
        segment_index=index,
        progress=not args.no_progress,
    )
    summary_path = write_track(
        results,
        segments,
        out,
        target=target,
        k=args.top_k,
        summary={
            "audio": str(args.audio),
            "checkpoint": str(checkpoint),
            "model_name": loaded.model_name,
            "methods": args.methods,
            "components": args.components,
            "n_samples": args.samples,
            "fill": args.fill if args.fill is not None else f"{DEFAULT_FILL} (default)",
            "seed": args.seed,
        },
    )
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    probs = summary["track_prediction"]
    best = max(range(len(probs)), key=probs.__getitem__)
    print(
        printable(f"track: {len(summary['segment_index'])} segments explained; "
        f"predicted {names[best]} (p={probs[best]:.2f}); "
        f"explaining {summary['target']['name']}")
    )
    for entry in summary["results"]:
        tops = ", ".join(
            f"{t['name']} ({t['mean_score']:+.3g})" for t in entry.get("top_components", [])
        )
        print(printable(
            f"{entry['method']:>9} {entry['kind']:<5} {entry['n_evaluations']:>7} evaluations "
            f"{entry['seconds']:7.1f} s  {tops}"
        ))
    print(printable(f"-> {summary_path}"))
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="Train a genre classifier on a dataset folder into a run directory.",
        description="Train MODEL on the log-mel segments of the dataset in DIR, keep the "
        "checkpoint with the lowest validation loss (RUN/checkpoint.pt), stop early, and "
        "evaluate the test set once at the end. Interrupted runs resume from RUN/last.pt when "
        "the same command is given again. Each skipped file is listed with its reason; a "
        "dataset without two classes with usable tracks (or with a class whose files are all "
        "skipped) is refused before anything is trained; duplicate recordings (byte-identical "
        "or re-encoded) are kept in one set of the split, with a warning. Data-parallel on CPU "
        "with `torchrun --nproc_per_node=N -m genrelens train ...`.",
    )
    parser.add_argument("--data", metavar="DIR", required=True, help="dataset folder")
    parser.add_argument("--out", metavar="RUN", required=True, help="run directory")
    parser.add_argument(
        "--model", default="cnn",
        help="cnn (default), shortchunk or vgg16; or a pretrained musicnn backbone (MTT_musicnn, "
        "MSD_musicnn, MTT_vgg, MSD_vgg) with --frozen or --finetune",
    )
    parser.add_argument(
        "--model-args", metavar="JSON", default="{}",
        help='constructor arguments as JSON, e.g. \'{"n_channels": 32}\'; with --frozen or '
        '--finetune, the head\'s: \'{"hidden": 64, "layers": ["penultimate"]}\' (default: '
        "linear head on the penultimate and pooled embeddings)",
    )
    parser.add_argument(
        "--frozen", action="store_true",
        help="transfer learning: keep the pretrained backbone of --model frozen, compute its "
        "embeddings of each 3-s patch once (cached) and train a linear or MLP head on them",
    )
    parser.add_argument(
        "--finetune", choices=["backend", "all"],
        help="transfer learning: fine-tune the pretrained backbone of --model with the head, "
        "starting from the --frozen recipe's head: its back end (the layers after the pooled "
        "mid-level features) or all its layers; resumable like any training",
    )
    parser.add_argument("--backbone-lr", type=float, metavar="LR",
                        help="with --finetune: Adam learning rate of the backbone (default: "
                        "--lr / 10)")
    parser.add_argument("--wheel", metavar="DIR",
                        help="with --frozen or --finetune: the musicnn package folder (default: "
                        "the installed wheel)")
    parser.add_argument(
        "--pretrained", metavar="PATH", nargs="?", const="", default=None,
        help="vgg16: start from torchvision's ImageNet weights (PATH, or torch hub's cache "
        "when no PATH is given); never downloaded",
    )
    parser.add_argument("--cache", metavar="DIR", help="log-mel cache (default RUN/../cache)")
    _add_feature_options(parser)
    _add_device_option(parser)
    _add_split_options(parser)
    parser.add_argument("--epochs", type=_positive, default=30, help="maximum epochs (default 30)")
    parser.add_argument("--batch-size", type=_positive, default=32,
                        help="global batch (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="Adam L2 (default 0)")
    parser.add_argument("--patience", type=_nonneg, default=6, help="early stopping (default 6)")
    parser.add_argument(
        "--lr-patience", type=_nonneg, default=2, help="epochs before halving the rate (default 2)"
    )
    parser.add_argument("--spec-augment", action="store_true", help="time/frequency masking")
    parser.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA", help="0: off")
    parser.add_argument("--class-weight", choices=["balanced", "none"], default="balanced")
    parser.add_argument("--seed", type=_nonneg, default=0, help="seed of everything (default 0)")
    parser.add_argument("--threads", type=_positive, help="torch threads per process")
    parser.add_argument("--restart", action="store_true", help="discard a previous run in RUN")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the test evaluation")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_logger_option(parser)
    parser.add_argument(
        "--stream", action="store_true",
        help="memory-map the segments from consolidated files written once into the cache "
        "instead of reading them into RAM: for datasets larger than RAM (same weights, slower)",
    )
    parser.set_defaults(  # torchrun: rank 0 holds the run directory for every rank
        func=_cmd_train,
        outputs=lambda args: [args.out] if os.environ.get("RANK", "0") == "0" else [],
    )


def _add_logger_option(parser: argparse.ArgumentParser) -> None:
    from genrelens.loggers import LOGGER_CHOICES, TENSORBOARD_FOLDER

    parser.add_argument(
        "--logger", choices=LOGGER_CHOICES, default="none",
        help=f"send each training epoch's losses, accuracies and rate to TensorBoard (event "
        f"files in RUN/{TENSORBOARD_FOLDER}; needs the tensorboard package) or to the active "
        "MLflow run (needs mlflow); default none (history.csv is always written)",
    )


def _print_metrics(metrics: dict) -> None:
    for level in ("segment", "track"):
        m = metrics[level]
        print(
            printable(f"test {level}s: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, "
            f"loss {m['loss']:.3f} (n={m['n']})")
        )


def _cmd_train(args: argparse.Namespace) -> int:
    import json
    import warnings

    from genrelens.errors import ParameterError
    from genrelens.loggers import open_logger
    from genrelens.models.vgg import default_vgg16_weights_path
    from genrelens.training import TrainConfig
    from genrelens.training.run import train_run

    try:
        model_args = json.loads(args.model_args)
    except ValueError as exc:
        raise ParameterError(f"--model-args {args.model_args!r} is not JSON: {exc}.") from None
    if not isinstance(model_args, dict):
        raise ParameterError(f"--model-args {args.model_args!r}: expected a JSON object.")
    transfer = _transfer_model(args)
    if transfer:
        model_args = {"backbone": args.model, **model_args}
        if args.finetune:
            model_args["finetune"] = args.finetune
    pretrained = args.pretrained
    if pretrained == "":
        pretrained = str(default_vgg16_weights_path())
    config = TrainConfig(
        model="transfer" if transfer else args.model, model_args=model_args,
        pretrained=pretrained, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        lr_patience=args.lr_patience, patience=args.patience, spec_augment=args.spec_augment,
        mixup_alpha=args.mixup, class_weight=args.class_weight, seed=args.seed,
        threads=args.threads, backbone_lr=args.backbone_lr,
    )
    split = None
    if args.split or args.split_dir or args.no_verify:
        from genrelens.data import open_dataset

        split = _split_from_args(args, open_dataset(args.data), random_state=args.seed)

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(printable(f"genrelens train: warning: {message}"), file=sys.stderr)

    # rank 0 logs (torchrun); an absent package is reported before anything is trained
    with warnings.catch_warnings(), open_logger(
        args.logger if int(os.environ.get("RANK", "0")) == 0 else "none", run_dir=args.out,
    ) as logger:
        warnings.showwarning = show
        if transfer and not args.finetune:
            return _train_transfer(args, config=config, split=split, logger=logger)
        result = train_run(
            args.data, out=args.out, config=config, cache_dir=args.cache, split=split,
            restart=args.restart, evaluate=not args.no_evaluate, progress=not args.no_progress,
            stream=args.stream,
            feature_config=None if transfer else _feature_config_from_args(args),
            device=args.device, logger=logger, weights=args.wheel or "wheel",
        )
    fit = result.fit
    if int(os.environ.get("RANK", "0")) == 0:
        print(printable(
            f"{args.out}: best epoch {fit.best_epoch} of {fit.epochs_run}, validation loss "
            f"{fit.best_valid_loss:.4f}, accuracy {fit.best_valid_accuracy:.3f}"
            + (" (stopped early)" if fit.stopped_early else "")
            + (
                f"; {fit.seconds:.0f} s, {fit.train_segments_per_second:.0f} training segments/s"
                if fit.epochs_run > fit.resumed_from
                else "; already finished"
            )
        ))
        if result.metrics is not None:
            _print_metrics(result.metrics)
    return 0


def _transfer_model(args: argparse.Namespace) -> bool:
    """Whether ``train`` trains a head on a pretrained musicnn backbone (``--frozen``, or
    ``--finetune`` with its backbone)."""
    from genrelens.errors import ParameterError
    from genrelens.models.musicnn import MUSICNN_MODELS

    if args.backbone_lr is not None and not args.finetune:
        raise ParameterError("--backbone-lr applies only with --finetune backend|all.")
    if args.model not in MUSICNN_MODELS:
        if args.frozen or args.finetune or args.wheel:
            raise ParameterError(
                f"--frozen, --finetune and --wheel need a pretrained musicnn backbone as "
                f"--model, not {args.model!r}: expected one of {list(MUSICNN_MODELS)}."
            )
        return False
    if args.frozen == bool(args.finetune):
        raise ParameterError(
            f"--model {args.model} is a pretrained backbone: add either --frozen (a head on "
            "its cached embeddings) or --finetune backend|all (the backbone trains too)."
        )
    if args.pretrained is not None:
        raise ParameterError("--pretrained does not apply to a musicnn backbone (its weights "
                             "come from the wheel, --wheel): leave it out.")
    for flag, used in (("--stream", args.stream), ("--spec-augment", args.spec_augment),
                       ("--mixup", args.mixup > 0)):
        if used and args.frozen:
            raise ParameterError(f"{flag} does not apply to --frozen (the head trains on cached "
                                 "embeddings): leave it out.")
    return True


def _train_transfer(args: argparse.Namespace, *, config, split, logger) -> int:
    from genrelens.training.run import train_transfer_run

    result = train_transfer_run(
        args.data, out=args.out, config=config, weights=args.wheel or "wheel",
        cache_dir=args.cache, split=split, evaluate=not args.no_evaluate,
        progress=not args.no_progress, logger=logger,
    )
    fit = result.fit
    embedded = (f"embeddings {result.embedding_seconds:.1f} s" if result.embedding_seconds
                else "embeddings from the cache")
    print(printable(
        f"{args.out}: frozen {args.model} + head, best epoch {fit.best_epoch} of "
        f"{fit.epochs_run}, validation loss {fit.best_valid_loss:.4f}, accuracy "
        f"{fit.best_valid_accuracy:.3f}; {embedded}, head {fit.seconds:.1f} s"
    ))
    if result.metrics is not None:
        _print_metrics(result.metrics)
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="Evaluate a trained run on its test set (metrics, confusion matrices, curves).",
        description="Evaluate RUN/checkpoint.pt on the test tracks of RUN/split.json at segment "
        "and track level (mean of segment probabilities) and write RUN/metrics.json, "
        "predictions.csv, confusion_{segment,track}.{csv,png} and curves.png.",
    )
    parser.add_argument("run", metavar="RUN", help="run directory made by `genrelens train`")
    parser.add_argument("--data", metavar="DIR", help="dataset folder (default: the trained one)")
    parser.add_argument("--cache", metavar="DIR", help="log-mel cache (default: the trained one)")
    parser.add_argument("--batch-size", type=_positive, default=64)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--stream", action="store_true",
                        help="memory-map the test segments instead of reading them into RAM")
    _add_device_option(parser)
    parser.set_defaults(func=_cmd_evaluate, outputs=lambda args: [args.run])


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from genrelens.training.run import evaluate_run

    metrics = evaluate_run(
        args.run, data=args.data, cache_dir=args.cache, batch_size=args.batch_size,
        progress=not args.no_progress, stream=args.stream, device=args.device,
    )
    print(printable(f"{args.run}: {metrics['model']} (epoch {metrics['checkpoint_epoch']}), split "
          f"{metrics['split']}"))
    _print_metrics(metrics)
    per_class = {printable(name): m for name, m in metrics["track"]["per_class"].items()}
    width = max(len(name) for name in per_class)
    print(f"{'class':<{width}}  precision  recall  f1     tracks")
    for name, m in per_class.items():
        print(f"{name:<{width}}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:5.3f}  "
              f"{m['support']:6d}")
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "predict",
        help="Print the genre distribution of audio files.",
        description="Classify each AUDIO file with the model of RUN (a run directory or a "
        "checkpoint file): the file is cut into segments whose class probabilities are "
        "averaged. Unusable files are reported on stderr and skipped; exit status 1 if any "
        "was skipped.",
    )
    parser.add_argument("run", metavar="RUN", help="run directory or checkpoint .pt file")
    parser.add_argument("audio", metavar="AUDIO", nargs="+", help="audio files")
    parser.add_argument("--top", type=_positive, metavar="K",
                        help="show only the K most probable classes, most probable first "
                        "(also in --json)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--batch-size", type=_positive, default=64)
    _add_device_option(parser)
    parser.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from genrelens.models import load_checkpoint
    from genrelens.models.inference import predict_files

    loaded = load_checkpoint(_checkpoint_path(args.run), device=args.device)
    predictions, skipped = predict_files(loaded, args.audio, batch_size=args.batch_size)
    return _print_predictions(args, predictions, skipped)


def _print_predictions(args: argparse.Namespace, predictions: list, skipped: list) -> int:
    """Print file predictions (``--json``, ``--top``) and skipped files; the exit status."""
    import json

    for skip in skipped:
        detail = skip.message.removeprefix(f"{skip.path}: ")
        print(printable(f"genrelens {args.command}: skipped {skip.path} ({skip.reason}): "
                        f"{detail}"), file=sys.stderr)
    if args.json:
        print(json.dumps([p.to_dict(top=args.top) for p in predictions], indent=2))
    for p in [] if args.json else predictions:
        shown = ", ".join(f"{name} {prob:.3f}" for name, prob in p.ranked(top=args.top))
        print(printable(f"{p.path}: {shown}"))
    return 1 if skipped else 0


def _add_tag(sub: argparse._SubParsersAction) -> None:
    from genrelens.models.musicnn import MUSICNN_MODELS, WHEEL_INSTALL

    parser = sub.add_parser(
        "tag",
        help="Tag audio files with a pretrained music tagger (zero-shot).",
        description="Tag each AUDIO file with a pretrained musicnn model (50 tags each; MSD: "
        "rock, pop, jazz, metal, Hip-Hop, ...; MTT: guitar, piano, vocal, ...). The file is "
        "resampled to 16 kHz and cut into 3-s patches; each tag's probability is the mean "
        "over patches of its sigmoid (as the musicnn wheel's tagger). The weights are read "
        f"from the musicnn wheel ({WHEEL_INSTALL}). Unusable files are reported on stderr "
        "and skipped; exit status 1 if any was skipped.",
    )
    parser.add_argument("audio", metavar="AUDIO", nargs="+", help="audio files")
    parser.add_argument("--model", choices=MUSICNN_MODELS, default="MSD_musicnn",
                        help="the pretrained tagger (default MSD_musicnn)")
    parser.add_argument("--wheel", metavar="DIR",
                        help="the musicnn package folder (default: the installed wheel)")
    parser.add_argument("--top", type=_positive, default=5,
                        help="show the K most probable tags (default 5)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON with every tag's probability instead of a table")
    parser.add_argument("--batch-size", type=_positive, default=16)
    parser.set_defaults(func=_cmd_tag)


def _cmd_tag(args: argparse.Namespace) -> int:
    from genrelens.models.inference import predict_files
    from genrelens.models.musicnn import load_pretrained, musicnn_file_patches

    loaded = load_pretrained(args.model, wheel=args.wheel)
    predictions, skipped = predict_files(loaded, args.audio, batch_size=args.batch_size,
                                         features=musicnn_file_patches, multi_label=True)
    return _print_predictions(args, predictions, skipped)


def _add_global(sub: argparse._SubParsersAction) -> None:
    from genrelens.explain.registry import PERTURBATION

    parser = sub.add_parser(
        "global",
        help="Global view of a trained model: per-genre aggregates and ALE of audio descriptors.",
        description="Explain a class-stratified sample of RUN's test segments locally (hybrid "
        "LIME/KernelSHAP by default), aggregate the scores per genre and component, rank audio "
        "descriptors (band energies, loudness, spectral tilt, harmonic/percussive balance) per "
        "genre from the band (and stem) scores, and draw the ALE curves of each genre's top "
        "descriptors. Writes tables (CSV/JSON) and plots (PNG) to RUN/global/.",
    )
    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("--out", metavar="DIR", help="output folder (default RUN/global)")
    parser.add_argument("--data", metavar="DIR", help="dataset folder (default: the run's)")
    parser.add_argument("--cache", metavar="DIR", help="feature cache (default: the run's)")
    parser.add_argument("--method", default="hybrid", choices=PERTURBATION)
    parser.add_argument("--components", default="frequency,time", metavar="LIST",
                        help="comma-separated from frequency,time,tf_grid,stems (default "
                        "frequency,time; frequency is required)")
    parser.add_argument("--per-class", type=_positive, default=4,
                        help="segments explained per genre (4)")
    parser.add_argument("--ale-per-class", type=_positive, default=20,
                        help="segments per genre the ALE curves average over (20)")
    parser.add_argument("--samples", type=_positive, default=256,
                        help="evaluations per explanation (256)")
    parser.add_argument("--fill", default=None, type=_fill_arg,
                        help=_FILL_HELP)
    parser.add_argument("--bands", type=_positive, default=8, help="frequency bands (default 8)")
    parser.add_argument("--top-k", type=_positive, default=3,
                        help="descriptors per genre (default 3)")
    parser.add_argument("--descriptors", default="", metavar="LIST",
                        help="further descriptors to draw ALE for, e.g. tempo")
    parser.add_argument("--bins", type=_positive, default=8, help="ALE bins (default 8)")
    parser.add_argument("--bootstrap", type=_nonneg, default=50,
                        help="ALE bootstrap replicates (50)")
    parser.add_argument("--ale-output", choices=["probabilities", "logits"],
                        default="probabilities", help="what the ALE curves show (probabilities)")
    parser.add_argument("--seed", type=_nonneg, default=0, help="random_state (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_device_option(parser)
    parser.set_defaults(func=_cmd_global, outputs=_in_run("global"))


def _cmd_global(args: argparse.Namespace) -> int:
    from genrelens.inspection.pipeline import global_view

    result = global_view(
        args.run, out=args.out, data=args.data, cache=args.cache, method=args.method,
        kinds=_csv_list(args.components), per_class=args.per_class,
        ale_per_class=args.ale_per_class, n_samples=args.samples, fill=args.fill,
        n_bands=args.bands, top_k=args.top_k, descriptors=_csv_list(args.descriptors),
        n_bins=args.bins, n_bootstrap=args.bootstrap, ale_output=args.ale_output,
        random_state=args.seed, plots=not args.no_plots, progress=not args.no_progress,
        device=args.device,
    )
    for genre, items in result.findings.items():
        print(printable(f"{genre}:"))
        for item in items:
            print(printable(f"  {item['text']} (rank score {item['importance']:.4f})"))
    cost = result.cost
    print(printable(f"{cost['local_evaluations']} + {cost['ale_evaluations']} model evaluations in "
          f"{cost['seconds']:.1f} s -> {args.outputs(args)[0]}"))
    return 0


def _add_evaluate_xai(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate-xai",
        help="Measure explanation quality: deletion/insertion, sanity, stability, ground truth.",
        description="Explain a class-stratified sample of RUN's test segments with every method "
        "and component kind and measure, beside a random-explanation baseline: deletion and "
        "insertion AUC, faithfulness correlation and label flips (faithfulness); the "
        "model-parameter randomisation test (sanity: all layers at once and layer by layer "
        "from the output down); rank stability across seeds and fills; "
        "localisation of the synthetic cues (ground truth, datasets from `genrelens data "
        "synth`); and cost. Writes CSV/JSON tables and PNG plots to RUN/xai/.",
    )
    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("--out", metavar="DIR", help="output folder (default RUN/xai)")
    parser.add_argument("--data", metavar="DIR", help="dataset folder (default: the run's)")
    parser.add_argument("--cache", metavar="DIR", help="feature cache (default: the run's)")
    parser.add_argument("--methods", default="lime,kernel_shap,occlusion,gradcam,ig",
                        metavar="LIST", help="comma-separated methods (random is always added)")
    parser.add_argument("--components", default="time,frequency,tf_grid", metavar="LIST",
                        help="comma-separated from time,frequency,tf_grid")
    parser.add_argument("--per-class", type=_positive, default=2,
                        help="test segments per class (2)")
    parser.add_argument("--samples", type=_positive, default=500,
                        help="evaluations of LIME/KernelSHAP (shared; default 500)")
    parser.add_argument("--fill", default=None, type=_fill_arg,
                        help=_FILL_HELP)
    parser.add_argument("--subsets", type=_positive, default=50,
                        help="random subsets of the faithfulness correlation (50)")
    parser.add_argument("--check", type=_positive, default=5,
                        help="segments for the sanity check and stability (5)")
    parser.add_argument("--seeds", type=_positive, default=3,
                        help="seeds compared for stability (3)")
    parser.add_argument("--fills", default=f"{DEFAULT_FILL},min,blur", metavar="LIST",
                        type=_fill_list,
                        help=f"fills compared for stability ({DEFAULT_FILL},min,blur)")
    parser.add_argument("--no-cascading", action="store_true",
                        help="randomise all layers at once only, not also layer by layer (one "
                        "set of explanations of the check segments less per layer)")
    parser.add_argument("--seed", type=_nonneg, default=0, help="random_state (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_device_option(parser)
    parser.set_defaults(func=_cmd_evaluate_xai, outputs=_in_run("xai"))


def _cmd_evaluate_xai(args: argparse.Namespace) -> int:
    from genrelens.evaluate.xai import evaluate_xai

    result = evaluate_xai(
        args.run, out=args.out, data=args.data, cache=args.cache, per_class=args.per_class,
        methods=_csv_list(args.methods), kinds=_csv_list(args.components),
        n_samples=args.samples, fill=args.fill, n_subsets=args.subsets,
        n_check=args.check, seeds=args.seeds, fills=args.fills,
        cascading=not args.no_cascading, random_state=args.seed, plots=not args.no_plots,
        progress=not args.no_progress, device=args.device,
    )
    params = result.params
    print(printable(f"{params['n_segments']} segments, fill {params['fill']}"))
    print(f"{'method':<12} {'kind':<10} {'del AUC':>8} {'ins AUC':>8} {'faith r':>8}")
    for row in result.faithfulness:
        print(f"{row['method']:<12} {row['kind']:<10} {row['deletion_auc']:8.3f} "
              f"{row['insertion_auc']:8.3f} {row['faithfulness_corr']:8.3f}")
    for row in result.off_manifold:
        print(f"off-manifold? {row['method']:<12} {row['kind']:<10} "
              f"{row['edge_share']:.0%} of the positive relevance on the grid's borders "
              f"({row['edge_area']:.0%} of the area) in {row['flagged']:.0%} of explanations; "
              f"p(class) with all off {row['off_probability']:.2f} vs "
              f"{row['full_probability']:.2f} (fill {params['fill']})")
    for row in result.sanity:
        verdict = "passes" if row["passes"] else "FAILS"
        print(f"sanity {row['method']:<12} {row['kind']:<8} |rho| {row['spearman_abs']:.2f} "
              f"{verdict}")
    for (method, kind), curve in result.cascading_curves()[1].items():
        print(f"cascading {method:<12} {kind:<8} |rho| {' '.join(f'{v:.2f}' for v in curve)} "
              "(layers re-initialised from the output down)")
    for row in result.groundtruth:
        print(f"cues {row['method']:<12} {row['kind']:<8} rank acc {row['rank_accuracy']:.3f} "
              f"(chance {row['chance']:.3f}), mass {row['mass_accuracy']:.3f}, pointing "
              f"{row['pointing_game']:.2f}")
    print(printable(f"{result.seconds:.1f} s -> {args.outputs(args)[0]}"))
    return 0


def _add_bench_xai(sub: argparse._SubParsersAction) -> None:
    from genrelens.evaluate.planted_bench import BENCH_FILLS, BENCH_KINDS, BENCH_METHODS

    parser = sub.add_parser(
        "bench-xai",
        help="Planted-cue benchmark on real recordings: do explanations find known sounds?",
        description="Cut 3-s excerpts from the audio files under DIR (files split into "
        "train/valid/test), keep each excerpt as it is and once with each kind of planted "
        "sound (tonal, percussive, timbral; loud, medium, subtle), train one model per cue kind "
        "to tell it from the plain music, and score every method x component kind x fill against the planted sound's "
        "box (pointing game on components and cells, relevance mass, rank, deletion/insertion), "
        "beside chance and a random explanation. `bash scripts/fetch_real_music.sh DIR` "
        "fetches freely licensed music for it. Writes tables, per-excerpt results and a plot "
        "to --out; re-running resumes.",
    )
    parser.add_argument("folder", metavar="DIR", help="folder of audio files (recursive)")
    parser.add_argument("--out", metavar="DIR", default="runs/bench-xai",
                        help="output folder (default runs/bench-xai)")
    parser.add_argument("--methods", default=",".join(BENCH_METHODS), metavar="LIST",
                        help=f"comma-separated (default {','.join(BENCH_METHODS)})")
    parser.add_argument("--components", default=",".join(BENCH_KINDS), metavar="LIST",
                        help=f"comma-separated (default {','.join(BENCH_KINDS)})")
    parser.add_argument("--fills", default=",".join(BENCH_FILLS), metavar="LIST",
                        help=f"comma-separated (default {','.join(BENCH_FILLS)})")
    parser.add_argument("--cues", default="tonal,percussive,timbral", metavar="LIST",
                        help="cue kinds planted (default tonal,percussive,timbral)")
    parser.add_argument("--per-level", type=_positive, default=8,
                        help="test excerpts explained per cue kind and level (8)")
    parser.add_argument("--per-file", type=_positive, default=60,
                        help="excerpts cut from each file at most (60)")
    parser.add_argument("--samples", type=_positive, default=1000,
                        help="budget of LIME, KernelSHAP and the hybrid (1000)")
    parser.add_argument("--epochs", type=_positive, default=20, help="training epochs at most (20)")
    parser.add_argument("--model", default="cnn",
                        help="model trained per cue kind (default cnn), or a pretrained backbone "
                        "(MSD_musicnn, MTT_musicnn, MSD_vgg, MTT_vgg): frozen, with a linear head "
                        "on its embeddings, the excerpts in its own front end")
    parser.add_argument("--quick", action="store_true",
                        help="a small run to try it: 2 excerpts per level, 20 per file, "
                        "tf_grid, fills texture,local_median,blur,min, 8 epochs")
    parser.add_argument("--all-excerpts", action="store_true",
                        help="explain planted test excerpts the model misclassifies too")
    parser.add_argument("--seed", type=_nonneg, default=0, help="seeds everything (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_cmd_bench_xai, outputs=lambda args: [args.out])


def _cmd_bench_xai(args: argparse.Namespace) -> int:
    from genrelens.evaluate.planted_bench import bench_xai

    quick = {"per_level": 2, "per_file": 20, "kinds": ["tf_grid"],
             "fills": ["texture", "local_median", "blur", "min"], "epochs": 8,
             } if args.quick else {}
    options = {"per_level": args.per_level, "per_file": args.per_file,
               "kinds": _csv_list(args.components), "fills": _csv_list(args.fills),
               "epochs": args.epochs, **quick}
    summary = bench_xai(
        args.folder, out=args.out, methods=_csv_list(args.methods),
        cue_kinds=_csv_list(args.cues), n_samples=args.samples, seed=args.seed, model=args.model,
        only_correct=not args.all_excerpts, progress=not args.no_progress, **options,
    )
    accuracy = ", ".join(f"{kind} {acc['test']:.2f}" for kind, acc in summary["accuracy"].items())
    print(f"{summary['n_files']} files, {summary['n_excerpts']} excerpts; test accuracy of each "
          f"cue kind's model: {accuracy}; {summary['n_explained']} planted test excerpts "
          "explained")
    if not summary["headline"]:
        print("no tf_grid explanation to summarise (see rows.csv / table.csv)")
        return 0
    print(f"{'method':<12} {'fill':<13} {'point comp':>10} {'point cell':>10} {'mass/area':>9} "
          f"{'del AUC':>8} (chance {summary['headline'][0]['chance_component']:.2f}, tf_grid)")
    for row in summary["headline"]:
        print(f"{row['method']:<12} {row['fill']:<13} {row['point_component']:10.2f} "
              f"{row['point_cell']:10.2f} {row['mass_ratio']:9.1f} {row['deletion_auc']:8.3f}")
    print(printable(f"{summary['timings']['total']:.0f} s -> {args.out}"))
    return 0


def _checkpoint_path(run: str) -> Path:
    """RUN as given to ``explain``/``predict``: a run directory (its checkpoint.pt) or a file."""
    from genrelens.models.checkpoint import checkpoint_file

    return checkpoint_file(run)


def _csv_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [item.strip() for item in text.split(",") if item.strip()]


#: Names offered by ``explain`` and ``explain-dataset`` (aliases: shap, freq, tf).
_METHODS_HELP = "lime,kernel_shap (alias shap),hybrid,occlusion,gradcam,ig"
_KINDS_HELP = "time,frequency (alias freq),tf_grid (alias tf),stems"


def _method_names(names: list[str]) -> list[str]:
    """Method names as typed, with the command line's aliases resolved to canonical names."""
    from genrelens.explain.registry import canonical_method

    return [canonical_method(name) for name in names]


def _kind_names(names: list[str]) -> list[str]:
    """Component kinds as typed, with the command line's aliases resolved."""
    from genrelens.explain.registry import canonical_kind

    return [canonical_kind(name) for name in names]


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


def _positive(text: str) -> int:
    """An argparse ``type``: an integer >= 1 (counts, sizes, budgets)."""
    return _number(text, kind=int, low=1, inclusive=True)


def _nonneg(text: str) -> int:
    """An argparse ``type``: an integer >= 0 (seeds, retries, replicates)."""
    return _number(text, kind=int, low=0, inclusive=True)


def _seconds(text: str) -> float:
    """An argparse ``type``: a finite number > 0 (durations in seconds)."""
    return _number(text, kind=float, low=0, inclusive=False)


#: Fills named on the command line (numbers are constant fills in input values, dB by default).
_FILL_NAMES = tuple(kind for kind in FILL_KINDS if kind not in ("constant", "array"))
_FILL_HELP = f"what 'off' means (default {DEFAULT_FILL}, chosen on real music)"


def _fill_arg(text: str) -> str | float:
    """An argparse ``type``: a fill, a name of :data:`_FILL_NAMES` or a finite number (a
    constant in the model's input values: dB by default)."""
    if text in _FILL_NAMES:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: expected one of {', '.join(_FILL_NAMES)} or a finite number "
            "(an input value: dB by default)"
        )
    return value


def _device_arg(text: str) -> str:
    """An argparse ``type``: a device this machine has (:func:`genrelens.device.resolve_device`),
    kept as given so that ``auto`` is resolved where the model runs."""
    from genrelens.device import resolve_device

    try:
        resolve_device(text)
    except GenrelensError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device`` of the commands that run a model (read as ``args.device``)."""
    parser.add_argument(
        "--device", default="auto", type=_device_arg, metavar="DEVICE",
        help="where the model runs: auto (CUDA when available, else cpu), cpu, cuda, cuda:N or "
        "mps (default auto)",
    )


def _fill_list(text: str) -> list[str | float]:
    """An argparse ``type``: comma-separated fills (see :func:`_fill_arg`), at least one."""
    fills = [_fill_arg(item) for item in _csv_list(text)]
    if not fills:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected comma-separated fills")
    return fills


def _add_tabular(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tabular",
        help="A gradient-boosting baseline on GTZAN's feature tables, explained with ALE.",
    )
    tab_sub = parser.add_subparsers(dest="tabular_command", metavar="TABULAR_COMMAND")
    tab_sub.required = True
    train = tab_sub.add_parser(
        "train",
        help="Fit HistGradientBoosting on features_30_sec.csv / features_3_sec.csv.",
        description="Fit scikit-learn's HistGradientBoostingClassifier on a Kaggle GTZAN feature "
        "table with a track-level split, report validation and test accuracy, save the model "
        "(joblib = pickle: only load files you made) and write ALE curves of the features with "
        "the largest effects to OUT/ale/.",
    )
    train.add_argument("--features", metavar="CSV", required=True, help="feature table (CSV)")
    train.add_argument("--out", metavar="DIR", required=True, help="output folder")
    _add_split_options(train)
    train.add_argument("--seed", type=_nonneg, default=0, help="random_state (default 0)")
    train.add_argument("--max-iter", type=_positive, default=200,
                       help="boosting iterations (default 200)")
    train.add_argument("--top", type=_positive, default=6,
                       help="features with ALE curves (default 6)")
    train.add_argument("--bins", type=_positive, default=10, help="ALE quantile bins (default 10)")
    train.add_argument("--bootstrap", type=_nonneg, default=50,
                       help="bootstrap replicates of the ALE band (default 50; 0: none)")
    train.add_argument("--no-plots", action="store_true", help="write no PNG")
    train.set_defaults(func=_cmd_tabular_train, outputs=lambda args: [args.out])


def _cmd_tabular_train(args: argparse.Namespace) -> int:
    from genrelens.data.splits import Split
    from genrelens.inspection.tabular import train_tabular

    metrics = train_tabular(
        args.features,
        out=args.out,
        split=Split.load(args.split) if args.split else None,
        split_dir=args.split_dir,
        verify=not args.no_verify,
        random_state=args.seed,
        max_iter=args.max_iter,
        n_top=args.top,
        n_bins=args.bins,
        n_bootstrap=args.bootstrap,
        plots=not args.no_plots,
    )
    line = f"test accuracy {metrics['test_accuracy']:.3f}"
    if "test_track_accuracy" in metrics:
        line += f" (per track {metrics['test_track_accuracy']:.3f})"
    sizes = ", ".join(f"{k} {v}" for k, v in metrics["n_tracks"].items())
    print(printable(f"{line}; split {metrics['split']['name']}: {sizes} tracks"))
    for item in metrics["ale"]["top"]:
        print(printable(f"  ALE importance {item['importance']:.4f}  {item['feature']}"))
    print(printable(f"wrote {Path(args.out)}"))
    for warning in metrics["split"]["warnings"]:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="Run the whole pipeline (synthesise, prepare, train, evaluate, explain, global, "
        "quality, report) into one run directory.",
        description="One command for everything: synthesise the embedded synthetic dataset (or "
        "use --data DIR, a GTZAN copy or a class-per-folder collection), prepare log-mel "
        "features, train, evaluate, explain a few test tracks of different genres with every "
        "method and component kind, compute global explanations and explanation quality, and "
        "write the HTML report. Each stage is cached in RUN/manifest.json: running again skips "
        "finished stages and resumes a failed one. Prints the report's path.",
    )
    parser.add_argument("--data", metavar="DIR", help="dataset folder (default: synthetic)")
    parser.add_argument("--model", default="cnn",
                        help="model trained (default cnn), or a pretrained backbone (MSD_musicnn, "
                        "MTT_musicnn, MSD_vgg, MTT_vgg): frozen, with a linear head on its "
                        "embeddings; every stage then uses its front end and the report names "
                        "the backbone")
    parser.add_argument("--real-music", metavar="DIR",
                        help="also run a small planted-cue benchmark on these real recordings "
                        "(bash scripts/fetch_real_music.sh DIR) and show it in the report")
    parser.add_argument(
        "--out", metavar="RUN", help="run directory (default runs/demo, with --quick runs/demo-quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small data and budgets: the quickest end-to-end run (README gives its time)"
    )
    parser.add_argument("--seed", type=_nonneg, default=0, help="the one random seed (default 0)")
    parser.add_argument("--cache", metavar="DIR", help="feature cache (default RUN/../cache)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="let stages replace results that were made with other parameters",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_logger_option(parser)
    parser.set_defaults(func=_cmd_demo, outputs=lambda args: [_demo_out(args)])


def _demo_out(args: argparse.Namespace) -> Path:
    """The run directory of ``demo``: ``--out``, else the default of a full or quick demo."""
    from genrelens.demo import DEFAULT_OUT, QUICK_OUT

    return Path(args.out) if args.out else (QUICK_OUT if args.quick else DEFAULT_OUT)


def _cmd_demo(args: argparse.Namespace) -> int:
    from genrelens.demo import DemoSettings, run_demo

    out = _demo_out(args)
    print(printable(f"run directory: {out.absolute()}"), file=sys.stderr)
    settings = DemoSettings.quick(seed=args.seed) if args.quick else DemoSettings(seed=args.seed)
    report = run_demo(
        out=out,
        data=args.data,
        real_music=args.real_music,
        settings=settings,
        model=args.model,
        cache_dir=args.cache,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        logger=args.logger,
    )
    print(printable(report.absolute()))
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="Write the self-contained HTML report of a run directory.",
        description="Render RUN/report.html from the results saved in run directory RUN "
        "(dataset overview, split, training curves, metrics, explanations with audio, global "
        "explanations, explanation quality, run record). Sections whose files are absent say "
        "'not computed'. No model is run. Prints the report's path.",
    )
    parser.add_argument("run", metavar="RUN", help="run directory")
    parser.add_argument("--out", metavar="PATH", help="report file (default RUN/report.html)")
    parser.add_argument(
        "--max-audio-seconds",
        type=_seconds,
        default=10.0,
        help="longest embedded audio excerpt in seconds (default 10)",
    )
    parser.set_defaults(
        func=_cmd_report,
        writable=lambda args: [Path(args.out).parent if args.out else Path(args.run)],
    )


def _cmd_report(args: argparse.Namespace) -> int:
    import warnings

    from genrelens.report import render_report

    with warnings.catch_warnings(record=True) as left_out:
        warnings.simplefilter("always")
        path = render_report(args.run, out=args.out, max_audio_seconds=args.max_audio_seconds)
    for warning in left_out:
        print(printable(f"genrelens report: warning: {warning.message}"), file=sys.stderr)
    print(printable(path.absolute()))
    return 0


def _add_explain_dataset(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "explain-dataset",
        help="Explain every track of a run's dataset, serially, on local processes or on Dask.",
        description="Explain every test track (or every track) of RUN's dataset with every "
        "method and component kind, one task per track, serially, on local processes or on a "
        "Dask distributed cluster. Each track's seed comes from (--seed, track id) and the "
        "engine batch size is fixed, so results do not depend on the schedule. Each track's "
        "results are written atomically to OUT/<track>/ (result.json + one NPZ per method and "
        "kind); finished tracks are skipped when run again (resumable); failed tracks are "
        "retried, then reported in OUT/index.json. Exit status 1 when a track failed.",
    )
    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("--data", metavar="DIR", help="dataset folder (default: the run's)")
    parser.add_argument("--split", default="test", choices=["test", "all"],
                        help="explain the run's test tracks or all tracks (default test)")
    parser.add_argument("--tracks", metavar="LIST", help="comma-separated track ids (default all)")
    parser.add_argument("--methods", default="kernel_shap", metavar="LIST",
                        help=f"comma-separated from {_METHODS_HELP} (default kernel_shap; lime "
                        "and kernel_shap together share evaluations)")
    parser.add_argument("--components", default="tf_grid", metavar="LIST",
                        help=f"comma-separated from {_KINDS_HELP} (default tf_grid)")
    parser.add_argument("--samples", type=_positive, default=1000, metavar="N",
                        help="model evaluations per LIME/SHAP explanation (default 1000)")
    parser.add_argument("--fill", default=None, type=_fill_arg,
                        help=_FILL_HELP)
    parser.add_argument("--seed", type=_nonneg, default=0,
                        help="random_state of the run (default 0)")
    parser.add_argument("--executor", default="local", choices=["serial", "local", "dask"],
                        help="serial, local processes or a Dask cluster (default local)")
    parser.add_argument("--workers", type=_positive, metavar="N",
                        help="worker processes (local, or a Dask LocalCluster; default: cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--retries", type=_nonneg, default=2,
                        help="extra attempts of a task that crashed (default 2)")
    parser.add_argument("--batch-size", type=_positive, default=16, metavar="B",
                        help="engine batch size, fixed for reproducible results (default 16)")
    parser.add_argument("--threads", type=_positive, metavar="N", help="torch threads per worker")
    parser.add_argument("--out", metavar="DIR", help="output folder (default RUN/explanations)")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute tracks finished with other settings")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_device_option(parser)
    parser.set_defaults(func=_cmd_explain_dataset, outputs=_in_run("explanations"))


def _cmd_explain_dataset(args: argparse.Namespace) -> int:
    from genrelens.explain.batch import explain_dataset

    report = explain_dataset(
        args.run, data=args.data, split=args.split,
        track_ids=None if args.tracks is None else _csv_list(args.tracks),
        methods=_method_names(_csv_list(args.methods)),
        kinds=_kind_names(_csv_list(args.components)),
        n_samples=args.samples, fill=args.fill, random_state=args.seed,
        executor=args.executor, workers=args.workers, scheduler=args.scheduler,
        retries=args.retries, batch_size=args.batch_size, threads=args.threads, out=args.out,
        overwrite=args.overwrite, progress=not args.no_progress, device=args.device,
    )
    print(report.summary())
    print(printable(f"-> {report.out}"))
    return 1 if report.failed else 0


def _add_completion(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "completion",
        help="Print a shell completion script for genrelens.",
        description="Print a completion script generated from genrelens' own argument parser "
        "(subcommands, options, option choices; file names otherwise). Load it with "
        "`source <(genrelens completion bash)`, or save it as "
        "~/.local/share/bash-completion/completions/genrelens. zsh: run `autoload -U "
        "bashcompinit && bashcompinit` first.",
    )
    parser.add_argument("shell", choices=["bash"], help="the shell (bash; zsh via bashcompinit)")
    parser.set_defaults(func=_cmd_completion)


def _cmd_completion(args: argparse.Namespace) -> int:
    from genrelens.completion import bash_completion

    print(bash_completion(build_parser(), prog="genrelens"), end="")
    return 0


# ``genrelens data <name>``: one ``_add_data_<name>`` per entry.
_DATA_SUBCOMMANDS: list = [
    _add_data_check,
    _add_data_fetch_split,
    _add_data_split,
    _add_data_synth,
]

# ``genrelens <name>``: one ``_add_<name>`` per entry, in the order of the pipeline.
_SUBCOMMANDS: list = [
    _add_data,
    _add_prepare,
    _add_train,
    _add_evaluate,
    _add_predict,
    _add_tag,
    _add_explain,
    _add_explain_dataset,
    _add_global,
    _add_evaluate_xai,
    _add_bench_xai,
    _add_tabular,
    _add_demo,
    _add_report,
    _add_completion,
]
