"""The ``genrelens`` command line: ``main(argv=None) -> int``.

Each subcommand is a pair of functions in the module of its command group
(:mod:`~genrelens.cli.data`: ``data ...`` and ``prepare``; :mod:`~genrelens.cli.training`:
``train``, ``evaluate``, ``predict``, ``tag``, ``tabular``; :mod:`~genrelens.cli.explaining`:
``explain``, ``explain-dataset``, ``global``; :mod:`~genrelens.cli.quality`: ``evaluate-xai``,
``bench-xai``; :mod:`~genrelens.cli.run`: ``demo``, ``report``; ``completion`` here, as it
prints this parser): ``add_<name>(subparsers)`` declares its arguments (each checked by its
``type`` while parsing, the shared ones from :mod:`~genrelens.cli._options`) and the folders
it writes (``outputs``, locked while it runs; ``writable``, checked first), and
``_cmd_<name>(args) -> int`` runs it by calling the library. Errors of the package
(:class:`~genrelens.errors.GenrelensError`, including a full disk or a read-only folder) are
printed as one clear line, control characters escaped, and give exit status
:data:`EXIT_ERROR` (3); a wrong command line gives argparse's status 2 with the usage of the
(sub)command at fault; anything else is a bug and shows its traceback. The statuses are listed
in ``genrelens --help`` (:data:`EXIT_STATUSES`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

from genrelens._io import check_writable, storage_error
from genrelens._terminal import printable
from genrelens._version import __version__
from genrelens.cli.data import add_data, add_prepare
from genrelens.cli.explaining import add_explain, add_explain_dataset, add_global
from genrelens.cli.quality import add_bench_xai, add_evaluate_xai
from genrelens.cli.run import add_demo, add_report
from genrelens.cli.training import add_evaluate, add_predict, add_tabular, add_tag, add_train
from genrelens.errors import GenrelensError
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


# ``genrelens <name>``: one ``add_<name>`` per entry, in the order of the pipeline.
_SUBCOMMANDS: list = [
    add_data,
    add_prepare,
    add_train,
    add_evaluate,
    add_predict,
    add_tag,
    add_explain,
    add_explain_dataset,
    add_global,
    add_evaluate_xai,
    add_bench_xai,
    add_tabular,
    add_demo,
    add_report,
    _add_completion,
]
