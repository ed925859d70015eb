"""``genrelens train|evaluate|predict|tag|tabular``: models trained, evaluated and applied."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from genrelens._terminal import printable
from genrelens.cli._options import (
    add_device_option,
    add_feature_options,
    add_logger_option,
    add_split_options,
    checkpoint_path,
    feature_config_from_args,
    nonneg,
    positive,
    split_from_args,
)

__all__ = ["add_train", "add_evaluate", "add_predict", "add_tag", "add_tabular"]


def add_train(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens train`` in ``sub``, the subparsers of ``genrelens``."""
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
    add_feature_options(parser)
    add_device_option(parser)
    add_split_options(parser)
    parser.add_argument("--epochs", type=positive, default=30, help="maximum epochs (default 30)")
    parser.add_argument("--batch-size", type=positive, default=32,
                        help="global batch (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="Adam L2 (default 0)")
    parser.add_argument("--patience", type=nonneg, default=6, help="early stopping (default 6)")
    parser.add_argument(
        "--lr-patience", type=nonneg, default=2, help="epochs before halving the rate (default 2)"
    )
    parser.add_argument("--spec-augment", action="store_true", help="time/frequency masking")
    parser.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA", help="0: off")
    parser.add_argument("--class-weight", choices=["balanced", "none"], default="balanced")
    parser.add_argument("--seed", type=nonneg, default=0, help="seed of everything (default 0)")
    parser.add_argument("--threads", type=positive, help="torch threads per process")
    parser.add_argument("--restart", action="store_true", help="discard a previous run in RUN")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the test evaluation")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_logger_option(parser)
    parser.add_argument(
        "--stream", action="store_true",
        help="memory-map the segments from consolidated files written once into the cache "
        "instead of reading them into RAM: for datasets larger than RAM (same weights, slower)",
    )
    parser.set_defaults(  # torchrun: rank 0 holds the run directory for every rank
        func=_cmd_train,
        outputs=lambda args: [args.out] if os.environ.get("RANK", "0") == "0" else [],
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

        split = split_from_args(args, open_dataset(args.data), random_state=args.seed)

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
            feature_config=None if transfer else feature_config_from_args(args),
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


def _print_metrics(metrics: dict) -> None:
    for level in ("segment", "track"):
        m = metrics[level]
        print(
            printable(f"test {level}s: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}, "
            f"loss {m['loss']:.3f} (n={m['n']})")
        )


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens evaluate`` in ``sub``, the subparsers of ``genrelens``."""
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
    parser.add_argument("--batch-size", type=positive, default=64)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--stream", action="store_true",
                        help="memory-map the test segments instead of reading them into RAM")
    add_device_option(parser)
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


def add_predict(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens predict`` in ``sub``, the subparsers of ``genrelens``."""
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
    parser.add_argument("--top", type=positive, metavar="K",
                        help="show only the K most probable classes, most probable first "
                        "(also in --json)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--batch-size", type=positive, default=64)
    add_device_option(parser)
    parser.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from genrelens.models import load_checkpoint
    from genrelens.models.inference import predict_files

    loaded = load_checkpoint(checkpoint_path(args.run), device=args.device)
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


def add_tag(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens tag`` in ``sub``, the subparsers of ``genrelens``."""
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
    parser.add_argument("--top", type=positive, default=5,
                        help="show the K most probable tags (default 5)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON with every tag's probability instead of a table")
    parser.add_argument("--batch-size", type=positive, default=16)
    parser.set_defaults(func=_cmd_tag)


def _cmd_tag(args: argparse.Namespace) -> int:
    from genrelens.models.inference import predict_files
    from genrelens.models.musicnn import load_pretrained, musicnn_file_patches

    loaded = load_pretrained(args.model, wheel=args.wheel)
    predictions, skipped = predict_files(loaded, args.audio, batch_size=args.batch_size,
                                         features=musicnn_file_patches, multi_label=True)
    return _print_predictions(args, predictions, skipped)


def add_tabular(sub: argparse._SubParsersAction) -> None:
    """Register ``genrelens tabular`` in ``sub``, the subparsers of ``genrelens``."""
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
    add_split_options(train)
    train.add_argument("--seed", type=nonneg, default=0, help="random_state (default 0)")
    train.add_argument("--max-iter", type=positive, default=200,
                       help="boosting iterations (default 200)")
    train.add_argument("--top", type=positive, default=6,
                       help="features with ALE curves (default 6)")
    train.add_argument("--bins", type=positive, default=10, help="ALE quantile bins (default 10)")
    train.add_argument("--bootstrap", type=nonneg, default=50,
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
