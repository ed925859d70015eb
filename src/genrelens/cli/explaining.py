"""``genrelens explain|explain-dataset|global``: local explanations of one track or of a
whole dataset, and the global view of a model."""

from __future__ import annotations

import argparse

from genrelens._terminal import printable
from genrelens.cli._options import (
    FILL_HELP,
    FILL_NAMES,
    KINDS_HELP,
    METHODS_HELP,
    add_device_option,
    checkpoint_path,
    csv_list,
    fill_arg,
    in_run,
    kind_names,
    method_names,
    nonneg,
    positive,
)
from genrelens.explain.fill import DEFAULT_FILL

__all__ = ["add_explain", "add_explain_dataset", "add_global"]


def add_explain(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens explain`` in ``sub``, the subparsers of ``genrelens``."""
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
        help=f"comma-separated from {METHODS_HELP} (default kernel_shap)",
    )
    parser.add_argument(
        "--components",
        default="tf_grid",
        metavar="LIST",
        help=f"comma-separated from {KINDS_HELP} (default tf_grid); ignored by gradcam/ig",
    )
    parser.add_argument(
        "--samples",
        type=positive,
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
        type=fill_arg,
        help=f"what 'off' means / IG baseline: {', '.join(FILL_NAMES[:-1])} or a number (an "
        f"input value: dB by default; min is silence in any front end) (default: "
        f"{DEFAULT_FILL}, chosen on real music; stems: removed)",
    )
    parser.add_argument("--seed", type=nonneg, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--segments", metavar="LIST", help="comma-separated segment indices (default all)"
    )
    parser.add_argument(
        "--top-k", type=positive, default=3, metavar="K",
        help="components in the top WAV (default 3)"
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace the explanation that DIR holds (its summary.json, track/ and segments/)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device_option(parser)
    parser.set_defaults(func=_cmd_explain, outputs=lambda args: [args.out])


def _cmd_explain(args: argparse.Namespace) -> int:
    import json

    from genrelens.audio import load_segments
    from genrelens.errors import ParameterError
    from genrelens.explain.track import claim_out, explain_track, write_track
    from genrelens.models import load_checkpoint

    def csv(text: str, name: str) -> list[str]:
        items = csv_list(text)
        if not items:
            raise ParameterError(f"{name}={text!r} is invalid: expected a comma-separated list.")
        return items

    out = claim_out(args.out, overwrite=args.overwrite)
    checkpoint = checkpoint_path(args.run)
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
        methods=method_names(csv(args.methods, "--methods")),
        kinds=kind_names(csv(args.components, "--components")),
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


def add_explain_dataset(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens explain-dataset`` in ``sub``, the subparsers of ``genrelens``."""
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
                        help=f"comma-separated from {METHODS_HELP} (default kernel_shap; lime "
                        "and kernel_shap together share evaluations)")
    parser.add_argument("--components", default="tf_grid", metavar="LIST",
                        help=f"comma-separated from {KINDS_HELP} (default tf_grid)")
    parser.add_argument("--samples", type=positive, default=1000, metavar="N",
                        help="model evaluations per LIME/SHAP explanation (default 1000)")
    parser.add_argument("--fill", default=None, type=fill_arg,
                        help=FILL_HELP)
    parser.add_argument("--seed", type=nonneg, default=0,
                        help="random_state of the run (default 0)")
    parser.add_argument("--executor", default="local", choices=["serial", "local", "dask"],
                        help="serial, local processes or a Dask cluster (default local)")
    parser.add_argument("--workers", type=positive, metavar="N",
                        help="worker processes (local, or a Dask LocalCluster; default: cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--retries", type=nonneg, default=2,
                        help="extra attempts of a task that crashed (default 2)")
    parser.add_argument("--batch-size", type=positive, default=16, metavar="B",
                        help="engine batch size, fixed for reproducible results (default 16)")
    parser.add_argument("--threads", type=positive, metavar="N", help="torch threads per worker")
    parser.add_argument("--out", metavar="DIR", help="output folder (default RUN/explanations)")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute tracks finished with other settings")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device_option(parser)
    parser.set_defaults(func=_cmd_explain_dataset, outputs=in_run("explanations"))


def _cmd_explain_dataset(args: argparse.Namespace) -> int:
    from genrelens.explain.batch import explain_dataset

    report = explain_dataset(
        args.run, data=args.data, split=args.split,
        track_ids=None if args.tracks is None else csv_list(args.tracks),
        methods=method_names(csv_list(args.methods)),
        kinds=kind_names(csv_list(args.components)),
        n_samples=args.samples, fill=args.fill, random_state=args.seed,
        executor=args.executor, workers=args.workers, scheduler=args.scheduler,
        retries=args.retries, batch_size=args.batch_size, threads=args.threads, out=args.out,
        overwrite=args.overwrite, progress=not args.no_progress, device=args.device,
    )
    print(report.summary())
    print(printable(f"-> {report.out}"))
    return 1 if report.failed else 0


def add_global(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens global`` in ``sub``, the subparsers of ``genrelens``."""
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
    parser.add_argument("--per-class", type=positive, default=4,
                        help="segments explained per genre (4)")
    parser.add_argument("--ale-per-class", type=positive, default=20,
                        help="segments per genre the ALE curves average over (20)")
    parser.add_argument("--samples", type=positive, default=256,
                        help="evaluations per explanation (256)")
    parser.add_argument("--fill", default=None, type=fill_arg,
                        help=FILL_HELP)
    parser.add_argument("--bands", type=positive, default=8, help="frequency bands (default 8)")
    parser.add_argument("--top-k", type=positive, default=3,
                        help="descriptors per genre (default 3)")
    parser.add_argument("--descriptors", default="", metavar="LIST",
                        help="further descriptors to draw ALE for, e.g. tempo")
    parser.add_argument("--bins", type=positive, default=8, help="ALE bins (default 8)")
    parser.add_argument("--bootstrap", type=nonneg, default=50,
                        help="ALE bootstrap replicates (50)")
    parser.add_argument("--ale-output", choices=["probabilities", "logits"],
                        default="probabilities", help="what the ALE curves show (probabilities)")
    parser.add_argument("--seed", type=nonneg, default=0, help="random_state (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_option(parser)
    parser.set_defaults(func=_cmd_global, outputs=in_run("global"))


def _cmd_global(args: argparse.Namespace) -> int:
    from genrelens.inspection.pipeline import global_view

    result = global_view(
        args.run, out=args.out, data=args.data, cache=args.cache, method=args.method,
        kinds=csv_list(args.components), per_class=args.per_class,
        ale_per_class=args.ale_per_class, n_samples=args.samples, fill=args.fill,
        n_bands=args.bands, top_k=args.top_k, descriptors=csv_list(args.descriptors),
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
