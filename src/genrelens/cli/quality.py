"""``genrelens evaluate-xai|bench-xai``: how far the explanations can be trusted."""

from __future__ import annotations

import argparse

from genrelens._terminal import printable
from genrelens.cli._options import (
    FILL_HELP,
    add_device_option,
    csv_list,
    fill_arg,
    fill_list,
    in_run,
    nonneg,
    positive,
)
from genrelens.explain.fill import DEFAULT_FILL

__all__ = ["add_evaluate_xai", "add_bench_xai"]


def add_evaluate_xai(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens evaluate-xai`` in ``sub``, the subparsers of ``genrelens``."""
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
    parser.add_argument("--per-class", type=positive, default=2,
                        help="test segments per class (2)")
    parser.add_argument("--samples", type=positive, default=500,
                        help="evaluations of LIME/KernelSHAP (shared; default 500)")
    parser.add_argument("--fill", default=None, type=fill_arg,
                        help=FILL_HELP)
    parser.add_argument("--subsets", type=positive, default=50,
                        help="random subsets of the faithfulness correlation (50)")
    parser.add_argument("--check", type=positive, default=5,
                        help="segments for the sanity check and stability (5)")
    parser.add_argument("--seeds", type=positive, default=3,
                        help="seeds compared for stability (3)")
    parser.add_argument("--fills", default=f"{DEFAULT_FILL},min,blur", metavar="LIST",
                        type=fill_list,
                        help=f"fills compared for stability ({DEFAULT_FILL},min,blur)")
    parser.add_argument("--no-cascading", action="store_true",
                        help="randomise all layers at once only, not also layer by layer (one "
                        "set of explanations of the check segments less per layer)")
    parser.add_argument("--seed", type=nonneg, default=0, help="random_state (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_option(parser)
    parser.set_defaults(func=_cmd_evaluate_xai, outputs=in_run("xai"))


def _cmd_evaluate_xai(args: argparse.Namespace) -> int:
    from genrelens.evaluate.xai import evaluate_xai

    result = evaluate_xai(
        args.run, out=args.out, data=args.data, cache=args.cache, per_class=args.per_class,
        methods=csv_list(args.methods), kinds=csv_list(args.components),
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


def add_bench_xai(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens bench-xai`` in ``sub``, the subparsers of ``genrelens``."""
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
    parser.add_argument("--per-level", type=positive, default=8,
                        help="test excerpts explained per cue kind and level (8)")
    parser.add_argument("--per-file", type=positive, default=60,
                        help="excerpts cut from each file at most (60)")
    parser.add_argument("--samples", type=positive, default=1000,
                        help="budget of LIME, KernelSHAP and the hybrid (1000)")
    parser.add_argument("--epochs", type=positive, default=20, help="training epochs at most (20)")
    parser.add_argument("--model", default="cnn",
                        help="model trained per cue kind (default cnn), or a pretrained backbone "
                        "(MSD_musicnn, MTT_musicnn, MSD_vgg, MTT_vgg): frozen, with a linear head "
                        "on its embeddings, the excerpts in its own front end")
    parser.add_argument("--quick", action="store_true",
                        help="a small run to try it: 2 excerpts per level, 20 per file, "
                        "tf_grid, fills texture,local_median,blur,min, 8 epochs")
    parser.add_argument("--all-excerpts", action="store_true",
                        help="explain planted test excerpts the model misclassifies too")
    parser.add_argument("--seed", type=nonneg, default=0, help="seeds everything (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_cmd_bench_xai, outputs=lambda args: [args.out])


def _cmd_bench_xai(args: argparse.Namespace) -> int:
    from genrelens.evaluate.planted_bench import bench_xai

    quick = {"per_level": 2, "per_file": 20, "kinds": ["tf_grid"],
             "fills": ["texture", "local_median", "blur", "min"], "epochs": 8,
             } if args.quick else {}
    options = {"per_level": args.per_level, "per_file": args.per_file,
               "kinds": csv_list(args.components), "fills": csv_list(args.fills),
               "epochs": args.epochs, **quick}
    summary = bench_xai(
        args.folder, out=args.out, methods=csv_list(args.methods),
        cue_kinds=csv_list(args.cues), n_samples=args.samples, seed=args.seed, model=args.model,
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
