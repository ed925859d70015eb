"""``genrelens demo|report``: the whole pipeline into one run directory, and its HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genrelens._terminal import printable
from genrelens.cli._options import add_logger_option, nonneg, seconds

__all__ = ["add_demo", "add_report"]


def add_demo(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens demo`` in ``sub``, the subparsers of ``genrelens``."""
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
    parser.add_argument("--seed", type=nonneg, default=0, help="the one random seed (default 0)")
    parser.add_argument("--cache", metavar="DIR", help="feature cache (default RUN/../cache)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="let stages replace results that were made with other parameters",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_logger_option(parser)
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


def add_report(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens report`` in ``sub``, the subparsers of ``genrelens``."""
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
        type=seconds,
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
