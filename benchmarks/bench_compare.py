"""genrelens vs. lime, shap and captum: speed, agreement, sample efficiency, deletion AUC.

Every tool explains the SAME model (the registered ``cnn``, 10 classes; random weights with
non-trivial batch-norm statistics, or ``--checkpoint``) on the SAME input (one 1 x 128 x 130
log-mel: random dB values, or the first segment of ``--audio``), over the SAME 80 = 10 x 8
time-frequency components (``genrelens.explain.components.tf_grid``), with the same fill
("min": silence, -100 dB) and the same budget (``--n-samples``, default 1000):

=====================  ===================================================================
genrelens LIME         ``explain(method="lime", distance="cosine", kernel_width=0.25)``
                       (lime_image's kernel), all 10 classes from one sample set
genrelens KernelSHAP   ``explain(method="kernel_shap")``, all 10 classes
genrelens hybrid       ``explain(method="hybrid")``: LIME and KernelSHAP of all 10 classes
                       from ONE set of model evaluations
lime                   ``lime_image.LimeImageExplainer().explain_instance`` with a
                       segmentation function returning the 10 x 8 grid, ``hide_color`` =
                       the fill, ``top_labels=10``, ``num_samples`` = budget, batch 10
shap                   ``shap.KernelExplainer`` over the 80 binary component features
                       (background: all off; explained: all on) with a masking function that
                       builds the log-mel from the binary vector, ``nsamples`` = budget,
                       ``l1_reg=False`` (the default keeps only 10 non-zero features)
captum Lime/KernelShap ``captum.attr.Lime`` (its defaults: Lasso, cosine kernel) and
                       ``KernelShap`` with ``feature_mask`` = the component map,
                       ``baselines`` = the fill, ``n_samples`` = budget,
                       ``perturbations_per_eval=16``; one call per class -> 10 calls
=====================  ===================================================================

The references run the model as a user would give it to them (the eval-mode module, batches
of 64 for shap's one big call); genrelens runs its inference copy (batch norm folded,
channels-last) through its engine. All run in this one process, so with the same allocator
and torch threads (both stated in the output).

Measured:

* **time** of each tool, median of ``--repeats`` runs (alternating tools), and the speed-up
  of the hybrid over lime + shap (target >= 4x) and over captum Lime + KernelShap;
* **agreement**: Spearman rank correlation per class between genrelens KernelSHAP and shap
  KernelExplainer (and genrelens LIME vs lime) at ``--agree-samples`` (large) and at the
  budget — they estimate the same quantities, so it should approach 1 as budgets grow;
* **sample efficiency**: the smallest budget in ``--budgets`` at which two seeds' scores of
  the predicted class reach a Spearman correlation of 0.9, per tool;
* **deletion AUC** (Petsiuk et al. 2018) of the predicted class at the budget, with
  :mod:`genrelens.evaluate.faithfulness` (curves evaluated through the genrelens engine for
  every tool's scores alike), beside a random order. Lower is better.

The engine's own overhead against the pure model time is ``benchmarks/bench_engine.py``.

Usage::

    .venv/bin/pip install -e ".[compare]"
    python benchmarks/bench_compare.py [--quick] [--repeats 3] [--json out.json]
        [--checkpoint RUN/checkpoint.pt --audio clip.wav] [--default-malloc]

Prints the JSON record to stdout (or ``--json``) and a table to stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import allocator, emit, ensure_malloc_env  # noqa: E402
from bench_engine import _model  # noqa: E402  (shared benchmark helpers)

N_CLASSES = 10
GENRELENS_TOOLS = ("genrelens_lime", "genrelens_kernel_shap", "genrelens_hybrid")
REFERENCE_TOOLS = ("lime", "shap", "captum_lime", "captum_kernel_shap")


# ---------------------------------------------------------------------------- the setting


class Setting:
    """The model, input, components and fill every tool gets."""

    def __init__(self, args: argparse.Namespace) -> None:
        import numpy as np
        import torch

        from genrelens.config import FeatureConfig
        from genrelens.explain import components

        if args.checkpoint:
            from genrelens.models import load_checkpoint

            loaded = load_checkpoint(args.checkpoint)
            self.model, self.config = loaded.model, loaded.feature_config
        else:
            self.model, self.config = _model("cnn", N_CLASSES), FeatureConfig()
        if args.audio:
            from genrelens.audio import load_audio, segment_audio
            from genrelens.features import log_mel

            y = segment_audio(load_audio(args.audio, sr=self.config.sr), config=self.config)[0]
            self.x = log_mel(y, config=self.config).astype(np.float32)
        else:
            self.x = np.random.default_rng(1).normal(
                -40, 15, (self.config.n_mels, self.config.n_frames)).astype(np.float32)
        self.comps = components.tf_grid(n_time=10, n_freq=8, config=self.config)
        self.cmap = self.comps.map
        self.fill = float(self.config.floor_db)  # fill="min"
        self.torch = torch
        self.captum_classes = args.captum_classes
        self.target = int(np.argmax(self.probabilities(self.x[None])[0]))  # predicted class
        self.class_order = [self.target, *(c for c in range(N_CLASSES) if c != self.target)]

    def probabilities(self, batch: "np.ndarray", batch_size: int = 64) -> "np.ndarray":
        """Class probabilities of log-mel inputs ``(n, n_mels, n_frames)`` (reference side)."""
        import numpy as np

        torch = self.torch
        out = []
        with torch.inference_mode():
            for a in range(0, batch.shape[0], batch_size):
                t = torch.from_numpy(np.ascontiguousarray(batch[a:a + batch_size],
                                                          dtype=np.float32)).unsqueeze(1)
                out.append(torch.softmax(self.model(t), dim=1).double().numpy())
        return np.concatenate(out)


# ---------------------------------------------------------------------------- the tools


def run_tool(tool: str, s: Setting, n_samples: int, seed: int) -> tuple["np.ndarray", int]:
    """Scores ``(10, 80)`` of all classes and the number of model evaluations."""
    import numpy as np

    if tool.startswith("genrelens_"):
        from genrelens.explain import explain

        method = tool[len("genrelens_"):]
        cosine = {"distance": "cosine", "kernel_width": 0.25}  # lime_image's kernel
        extra = cosine if method in ("lime", "hybrid") else {}
        exp = explain(s.model, s.x, method=method, components=s.comps, fill="min",
                      n_samples=n_samples, random_state=seed, **extra)
        if method == "hybrid":
            return np.stack([exp.others["lime"], exp.others["kernel_shap"]]), \
                exp.cost["n_evaluations"]
        return exp.scores, exp.cost["n_evaluations"]
    if tool == "lime":
        from lime import lime_image

        count = [0]

        def classifier(images: np.ndarray) -> np.ndarray:
            count[0] += images.shape[0]
            return s.probabilities(images[..., 0])

        exp = lime_image.LimeImageExplainer(random_state=seed).explain_instance(
            s.x.astype(np.float64), classifier, top_labels=N_CLASSES, hide_color=s.fill,
            num_samples=n_samples, segmentation_fn=lambda image: s.cmap, random_seed=seed,
            batch_size=10)
        scores = np.zeros((N_CLASSES, s.comps.n_components))
        for label, pairs in exp.local_exp.items():
            for j, w in pairs:
                scores[label, j] = w
        return scores, count[0]
    if tool == "shap":
        import shap

        count = [0]
        x, fill, cmap = s.x, s.fill, s.cmap

        def masked(z: np.ndarray) -> np.ndarray:  # binary component vectors -> probabilities
            count[0] += z.shape[0]
            return s.probabilities(np.where(z.astype(bool)[:, cmap], x, fill))

        m = s.comps.n_components
        explainer = shap.KernelExplainer(masked, np.zeros((1, m)), seed=seed)
        np.random.seed(seed)  # KernelExplainer samples with numpy's global generator
        values = explainer.shap_values(np.ones((1, m)), nsamples=n_samples, l1_reg=False,
                                       silent=True)
        values = np.asarray(values)
        scores = values[0].T if values.shape[-1] == N_CLASSES else values[:, 0, :]
        return scores, count[0]
    if tool in ("captum_lime", "captum_kernel_shap"):
        import torch
        from captum.attr import KernelShap, Lime

        count = [0]

        def forward(t: torch.Tensor) -> torch.Tensor:
            count[0] += t.shape[0]
            return torch.softmax(s.model(t), dim=1)

        explainer = (Lime if tool == "captum_lime" else KernelShap)(forward)
        inputs = torch.from_numpy(s.x)[None, None]
        mask = torch.from_numpy(s.cmap.astype(np.int64))[None, None]
        scores = np.full((N_CLASSES, s.comps.n_components), np.nan)
        torch.manual_seed(seed)
        with torch.inference_mode():
            for c in s.class_order[:s.captum_classes]:
                attr = explainer.attribute(inputs, baselines=s.fill, target=c, feature_mask=mask,
                                           n_samples=n_samples, perturbations_per_eval=16)
                a = attr[0, 0].numpy()
                # every cell of a component carries the component's score
                scores[c] = [a[s.cmap == j][0] for j in range(s.comps.n_components)]
        return scores, count[0]
    raise ValueError(tool)


def _views(tool: str, scores: "np.ndarray") -> dict[str, "np.ndarray"]:
    """The score arrays a tool produced, by the method they estimate."""
    if tool == "genrelens_hybrid":
        return {"lime": scores[0], "kernel_shap": scores[1]}
    kind = "lime" if tool.endswith("lime") else "kernel_shap"
    return {kind: scores}


# ---------------------------------------------------------------------------- measurements


def _log(message: str) -> None:
    print(f"[bench_compare {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def spearman_rows(a: "np.ndarray", b: "np.ndarray") -> "np.ndarray":
    from genrelens.explain.api import spearman

    return spearman(a, b)


def timing(tools: list[str], s: Setting, n_samples: int, repeats: int) -> dict:
    runs: dict[str, list[float]] = {t: [] for t in tools}
    evaluations: dict[str, int] = {}
    scores: dict[str, object] = {}
    for tool in tools:  # warm-up: first-call imports (scipy.stats, skimage, ...), kernels
        _log(f"warm-up {tool}")
        run_tool(tool, s, 100, seed=0)
    for r in range(repeats):  # alternate tools so that load drift hits all alike
        for tool in tools:
            _log(f"timing {tool}, repeat {r + 1}/{repeats}")
            t0 = time.perf_counter()
            sc, n_eval = run_tool(tool, s, n_samples, seed=r)
            runs[tool].append(time.perf_counter() - t0)
            evaluations[tool] = n_eval
            if r == 0:
                scores[tool] = sc
    return {"seconds": runs, "median": {t: statistics.median(v) for t, v in runs.items()},
            "n_evaluations": evaluations, "scores": scores}


def agreement(s: Setting, n_samples: int, tools: list[str]) -> dict:
    """Spearman per class, genrelens vs the reference estimating the same quantity."""
    import numpy as np

    pairs = [("genrelens_kernel_shap", "shap"), ("genrelens_lime", "lime"),
             ("genrelens_kernel_shap", "captum_kernel_shap")]
    out = {}
    cache: dict[str, object] = {}
    for ours, theirs in pairs:
        if theirs not in tools or (theirs.startswith("captum")
                                   and s.captum_classes < N_CLASSES):
            continue
        for t in (ours, theirs):
            if t not in cache:
                _log(f"agreement: {t} at {n_samples} samples")
                cache[t] = run_tool(t, s, n_samples, seed=0)[0]
        rho = spearman_rows(cache[ours], cache[theirs])
        out[f"{ours} vs {theirs}"] = {"per_class": rho.tolist(),
                                      "mean": float(np.nanmean(rho)),
                                      "min": float(np.nanmin(rho))}
    return out


def sample_efficiency(s: Setting, tools: list[str], budgets: list[int], target: int) -> dict:
    """Smallest budget whose two seeds agree to Spearman >= 0.9 on class ``target``."""
    out = {}
    for tool in tools:
        rows = []
        reached: dict[str, int | None] = {}
        for n in budgets:
            _log(f"sample efficiency: {tool} at {n} samples, two seeds")
            (a, n_eval), (b, _) = run_tool(tool, s, n, 1), run_tool(tool, s, n, 2)
            va, vb = _views(tool, a), _views(tool, b)
            rhos = {k: float(spearman_rows(va[k][target:target + 1],
                                           vb[k][target:target + 1])[0]) for k in va}
            rows.append({"budget": n, "n_evaluations_per_run": n_eval, "spearman": rhos})
            for k, rho in rhos.items():
                if rho >= 0.9 and reached.get(k) is None:
                    reached[k] = n_eval
                reached.setdefault(k, None)
            if all(v is not None for v in reached.values()):
                break
        out[tool] = {"runs": rows, "evaluations_to_0.9": reached}
    return out


def deletion(s: Setting, scores: dict, target: int) -> dict:
    """Deletion AUC of class ``target`` for every tool's scores (and a random order)."""
    import numpy as np

    from genrelens.evaluate.faithfulness import curve_auc, random_scores, removal_masks
    from genrelens.explain.engine import evaluate_masks
    from genrelens.explain.fill import resolve_fill

    fill = resolve_fill("min", s.x, config=s.config, rng=np.random.default_rng(0))
    rows = {}
    candidates = [(f"{tool}:{k}", v[target]) for tool, sc in scores.items()
                  for k, v in _views(tool, sc).items()]
    rng = np.random.default_rng(0)
    candidates += [(f"random:{i}", random_scores(s.comps.n_components, rng=rng))
                   for i in range(5)]
    for name, row in candidates:
        z, fractions = removal_masks(row, mode="deletion")
        y = evaluate_masks(s.model, s.x, s.comps, z, fill=fill, batch_size=16).outputs
        rows[name] = curve_auc(y[:, target], fractions)
    random = [v for k, v in rows.items() if k.startswith("random:")]
    rows = {k: v for k, v in rows.items() if not k.startswith("random:")}
    rows["random (mean of 5)"] = float(np.mean(random))
    return rows


def run(args: argparse.Namespace) -> dict:
    import torch

    import genrelens

    versions = {"genrelens": genrelens.__version__, "torch": torch.__version__}
    tools = list(GENRELENS_TOOLS)
    for name, module in (("lime", "lime"), ("shap", "shap"), ("captum", "captum")):
        if name in args.skip:
            continue
        try:
            __import__(module)
            from importlib.metadata import version

            versions[name] = version(name)
        except ImportError:
            print(f"{name} is not installed (pip install -e '.[compare]'): skipped",
                  file=sys.stderr)
            continue
        tools += [t for t in REFERENCE_TOOLS if t.startswith(name)]
    s = Setting(args)
    target = s.target
    t = timing(tools, s, args.n_samples, args.repeats)
    med = t["median"]
    speedups = {}
    if "lime" in med and "shap" in med:
        speedups["hybrid vs lime + shap"] = (med["lime"] + med["shap"]) / med["genrelens_hybrid"]
    if "captum_lime" in med:
        scale = N_CLASSES / args.captum_classes  # captum: one call per class
        for tool in ("captum_lime", "captum_kernel_shap"):
            med[tool] *= scale
            t["n_evaluations"][tool] = round(t["n_evaluations"][tool] * scale)
        speedups["hybrid vs captum Lime + KernelShap (10 classes)"] = (
            med["captum_lime"] + med["captum_kernel_shap"]) / med["genrelens_hybrid"]
    if "lime" in med:
        speedups["genrelens LIME vs lime"] = med["lime"] / med["genrelens_lime"]
    if "shap" in med:
        speedups["genrelens KernelSHAP vs shap"] = med["shap"] / med["genrelens_kernel_shap"]
    result = {
        "benchmark": "genrelens vs lime, shap, captum on one log-mel input",
        "model": args.checkpoint or "cnn (random weights, 10 classes)",
        "input": args.audio or "random log-mel N(-40, 15) dB",
        "input_shape": [1, int(s.x.shape[0]), int(s.x.shape[1])],
        "components": "tf_grid 10 x 8 (80)",
        "fill": "min (-100 dB)",
        "n_samples": args.n_samples,
        "repeats": args.repeats,
        "explained_class": target,
        "allocator": allocator() + " (every tool: one process)",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "versions": versions,
        "captum_classes_measured": args.captum_classes,
        "seconds": t["seconds"],
        "seconds_median": med,
        "n_evaluations": t["n_evaluations"],
        "speedups": speedups,
        "target_hybrid_speedup": 4.0,
    }
    result["agreement_at_budget"] = _agreement_from(t["scores"])
    if "agreement" in args.parts:
        result["agreement_large_budget"] = {"n_samples": args.agree_samples,
                                            **agreement(s, args.agree_samples, tools)}
    if "efficiency" in args.parts:
        eff_tools = [x for x in ("genrelens_hybrid", "genrelens_lime", "lime", "shap")
                     if x in tools]
        result["sample_efficiency"] = {"budgets": args.budgets, "class": target,
                                       **sample_efficiency(s, eff_tools, args.budgets, target)}
    if "deletion" in args.parts:
        result["deletion_auc"] = {"class": target, "n_samples": args.n_samples,
                                  **deletion(s, t["scores"], target)}
    return result


def _agreement_from(scores: dict) -> dict:
    import numpy as np

    out = {}
    for ours, theirs in (("genrelens_kernel_shap", "shap"), ("genrelens_lime", "lime"),
                         ("genrelens_kernel_shap", "captum_kernel_shap")):
        if ours in scores and theirs in scores:
            rho = spearman_rows(scores[ours], scores[theirs])
            out[f"{ours} vs {theirs}"] = {"mean": float(np.nanmean(rho)),
                                          "min": float(np.nanmin(rho))}
    return out


def _table(r: dict) -> str:
    med, n_eval = r["seconds_median"], r["n_evaluations"]
    lines = [
        f"allocator: {r['allocator']}; torch {r['versions']['torch']}, {r['torch_threads']} "
        f"threads, {r['cpu_count']} CPUs, load {r['load_average_1min']:.1f}",
        f"{r['model']} on {r['input_shape']}, {r['components']}, fill {r['fill']}, "
        f"n_samples={r['n_samples']}, median of {r['repeats']}",
        "",
        "| tool (all 10 classes) | seconds | model evaluations |",
        "|---|---:|---:|",
        *[f"| {t} | {med[t]:.2f} | {n_eval[t]} |" for t in med],
        "",
        *[f"speed-up {k}: {v:.1f}x" for k, v in r["speedups"].items()],
        "",
        "| agreement (Spearman per class) | at budget: mean / min | "
        f"at {r.get('agreement_large_budget', {}).get('n_samples')}: mean / min |",
        "|---|---:|---:|",
    ]
    big = r.get("agreement_large_budget", {"n_samples": None})
    for k, v in r["agreement_at_budget"].items():
        b = big.get(k, {"mean": float("nan"), "min": float("nan")})
        lines.append(f"| {k} | {v['mean']:.3f} / {v['min']:.3f} | {b['mean']:.3f} / "
                     f"{b['min']:.3f} |")
    if "sample_efficiency" in r:
        lines += ["", f"sample efficiency (class {r['sample_efficiency']['class']}, Spearman "
                  "of two seeds >= 0.9): model evaluations needed",
                  "| tool | estimate | evaluations |", "|---|---|---:|"]
        for tool, v in r["sample_efficiency"].items():
            if isinstance(v, dict):
                for k, n in v["evaluations_to_0.9"].items():
                    lines.append(f"| {tool} | {k} | {n if n is not None else '> max budget'} |")
    if "deletion_auc" in r:
        lines += ["", f"deletion AUC (class {r['deletion_auc']['class']}, lower is better)",
                  "| scores | AUC |", "|---|---:|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in r["deletion_auc"].items()
                  if isinstance(v, float)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--agree-samples", type=int, default=8000)
    parser.add_argument("--budgets", type=lambda t: [int(x) for x in t.split(",")],
                        default=[250, 500, 1000, 2000, 4000, 8000])
    parser.add_argument("--captum-classes", type=int, default=N_CLASSES,
                        help="classes captum explains (its time is scaled to 10 classes)")
    parser.add_argument("--quick", action="store_true",
                        help="1 repeat, agreement at 2000 (no captum), budgets 250,1000, "
                        "captum on 1 class (time x 10)")
    parser.add_argument("--skip", default="", help="comma-separated: lime,shap,captum")
    parser.add_argument("--parts", default="agreement,efficiency,deletion",
                        help="measurements beside timing (comma-separated; default all)")
    parser.add_argument("--checkpoint", default=None, help="a genrelens checkpoint (10 classes)")
    parser.add_argument("--audio", default=None, help="explain this file's first segment")
    parser.add_argument("--json", default=None)
    parser.add_argument("--default-malloc", action="store_true",
                        help="do not re-execute with genrelens.cli.MALLOC_ENV set")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.agree_samples, args.budgets = 1, 2000, [250, 1000]
        args.captum_classes = 1
    args.skip = [x.strip() for x in args.skip.split(",") if x.strip()]
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    os.environ["TQDM_DISABLE"] = "1"  # lime_image shows a progress bar per call
    ensure_malloc_env(default_malloc=args.default_malloc)
    return emit(run(args), table=_table, json_path=args.json)


if __name__ == "__main__":
    sys.exit(main())
