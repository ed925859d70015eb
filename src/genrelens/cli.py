"""The ``genrelens`` command line: ``main(argv=None) -> int``.

Each subcommand is a pair of functions here: ``_add_<name>(subparsers)`` declares its
arguments and ``_cmd_<name>(args) -> int`` runs it by calling the library. Errors of the
package (:class:`~genrelens.errors.GenrelensError`) are printed as one clear line and give
exit status 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from genrelens import __version__
from genrelens.errors import GenrelensError

__all__ = ["main", "entry", "build_parser", "MALLOC_ENV"]

#: glibc malloc settings that keep large tensor buffers in the process instead of handing
#: them back to the kernel after each use; without them batched CPU inference becomes
#: page-fault bound (see README, "Speed"). They only act when set before the process starts.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "68719476736",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="genrelens",
        description="Train music-genre classifiers and explain their predictions.",
    )
    parser.add_argument("--version", action="version", version=f"genrelens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except GenrelensError as exc:
        print(f"genrelens {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genrelens {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """Console-script entry point.

    Re-executes the interpreter once with :data:`MALLOC_ENV` set (unless already set, or
    ``GENRELENS_NO_REEXEC=1``), then runs :func:`main` and exits with its status.
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
    sys.exit(main())


def _add_data(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="Create, check and split datasets.")
    data_sub = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data_sub.required = True
    for add in _DATA_SUBCOMMANDS:
        add(data_sub)


# ``genrelens data <name>``: one ``_add_data_<name>`` per entry.
_DATA_SUBCOMMANDS: list = []

# ``genrelens <name>``: one ``_add_<name>`` per entry, in the order of the pipeline.
_SUBCOMMANDS: list = [_add_data]
