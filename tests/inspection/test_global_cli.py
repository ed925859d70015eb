"""`genrelens global` and `genrelens evaluate-xai` end to end on a tiny run directory."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from genrelens.cli import main
from genrelens.config import FeatureConfig
from genrelens.data.splits import Split
from genrelens.models import get_model, save_checkpoint

CLASSES = ("a", "b")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    config = FeatureConfig(n_mels=32, segment_seconds=1.0)  # small inputs: 32 x 44
    sr, seconds = config.sr, 2.1
    t = np.arange(int(sr * seconds)) / sr
    for c, label in enumerate(CLASSES):
        (root / "data" / label).mkdir(parents=True)
        for i in range(2):  # class a: low tone, class b: high tone, plus noise
            y = 0.3 * np.sin(2 * np.pi * (200 if c == 0 else 3000) * t) + 0.05 * rng.normal(size=t.size)
            sf.write(root / "data" / label / f"{label}{i}.wav", y.astype(np.float32), sr)
    torch.manual_seed(0)
    model = get_model("cnn", n_classes=2, channels=(2, 2, 2, 2)).eval()
    run = root / "run"
    run.mkdir()
    save_checkpoint(run / "checkpoint.pt", model=model, model_name="cnn",
                    model_args={"n_classes": 2, "channels": [2, 2, 2, 2]},
                    feature_config=config, class_names=CLASSES)
    Split(name="custom", train=("a/a0", "b/b0"), valid=(), test=("a/a1", "b/b1")).save(
        run / "split.json")
    (run / "train_config.json").write_text(json.dumps(
        {"data": str(root / "data"), "cache": str(root / "cache")}))
    return run


@pytest.mark.slow
def test_global_command(run_dir, capsys):
    code = main(["global", str(run_dir), "--per-class", "1", "--ale-per-class", "1",
                 "--samples", "40", "--bands", "4", "--top-k", "1", "--bins", "3",
                 "--bootstrap", "5", "--no-progress", "--components", "frequency,stems"])
    assert code == 0
    out = run_dir / "global"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"] == str(run_dir) and summary["set"] == "test"
    assert set(summary["findings"]) == set(CLASSES)
    assert (out / "aggregate.csv").is_file() and (out / "descriptor_ranking.csv").is_file()
    assert any(p.suffix == ".json" for p in (out / "ale").iterdir())
    assert "model evaluations" in capsys.readouterr().out


@pytest.mark.slow
def test_evaluate_xai_command(run_dir, capsys):
    code = main(["evaluate-xai", str(run_dir), "--per-class", "1", "--samples", "30",
                 "--components", "frequency", "--methods", "kernel_shap,occlusion,gradcam",
                 "--subsets", "5", "--check", "1", "--seeds", "2", "--fills", "min",
                 "--no-progress", "--no-plots"])
    assert code == 0
    out = run_dir / "xai"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_segments"] == 2 and summary["groundtruth"] == []  # no cues in this data
    assert summary["fills"] == ["min"] and summary["seeds"] == 2
    methods = {r["method"] for r in summary["faithfulness"]}
    assert methods == {"kernel_shap", "occlusion", "gradcam", "random"}
    text = capsys.readouterr().out
    assert "del AUC" in text and "sanity" in text
    # the cascading check: the trained model, then 9 layers re-initialised one after another
    line = next(t for t in text.splitlines() if t.startswith("cascading occlusion"))
    assert line.split("|rho| ")[1].split(" (")[0].split()[0] == "1.00"
    assert len(line.split("|rho| ")[1].split(" (")[0].split()) == 10
    cascade = (out / "sanity_cascading.csv").read_text().splitlines()
    assert cascade[0] == "method,kind,layer,n_layers_randomized,spearman,spearman_abs,n"
    assert len(summary["sanity_cascading"]) == len(cascade) - 1 == 10 * len(summary["sanity"])
    assert not (out / "sanity_cascading.png").exists()  # --no-plots
    code = main(["evaluate-xai", str(run_dir), "--per-class", "1", "--samples", "30",
                 "--components", "frequency", "--methods", "occlusion", "--subsets", "5",
                 "--check", "1", "--seeds", "2", "--fills", "min", "--no-progress",
                 "--no-plots", "--no-cascading", "--out", str(run_dir / "xai_ends")])
    summary = json.loads((run_dir / "xai_ends" / "summary.json").read_text())
    assert code == 0 and summary["cascading"] is False
    assert [r["n_layers_randomized"] for r in summary["sanity_cascading"]][:2] == [0, 9]


def test_commands_report_errors(run_dir, tmp_path, capsys):
    assert main(["global", str(tmp_path), "--no-progress"]) == 3
    assert "train_config.json" in capsys.readouterr().err
    assert main(["evaluate-xai", str(run_dir), "--methods", "magic", "--no-progress"]) == 3
    assert "methods=" in capsys.readouterr().err
