"""evaluate_explanations and global_analysis on a toy model whose answer is known."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from genrelens.config import FeatureConfig
from genrelens.evaluate.quality import QualityResult, cascading_curves, write_quality
from genrelens.evaluate.sanity import randomizable_layers
from genrelens.evaluate.xai import evaluate_explanations
from genrelens.explain.components import frequency_bands
from genrelens.inspection.ale import ALEResult
from genrelens.inspection.pipeline import global_analysis
from genrelens.inspection.result import GlobalResult, write_global
from genrelens.models import get_model

CONFIG = FeatureConfig(n_mels=24, segment_seconds=1.0)
N_FRAMES = CONFIG.n_frames
BANDS = frequency_bands(config=CONFIG, n_bands=5)  # 4 bands of 2, 5, 9, 8 mel bins
XAI_BANDS = frequency_bands(config=CONFIG)  # the frequency kind of evaluate_explanations
BAND_OF_CLASS = (1, 2, 3)  # class c listens to band BAND_OF_CLASS[c]


class BandModel(nn.Module):
    """A conv layer (identity at init) -> mean dB of one band per class (logits)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, 1, 1] = 1.0
        column = np.asarray(BANDS.map)[:, 0]
        w = np.stack([(column == b) / (column == b).sum() for b in BAND_OF_CLASS])
        self.head = nn.Linear(CONFIG.n_mels, len(BAND_OF_CLASS), bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor(0.2 * w, dtype=torch.float32))

    def forward(self, x):
        h = torch.relu(self.conv(x) + 100.0)  # dB above silence
        return self.head(h.mean(dim=3)[:, 0])


def _data(per_class=2, seed=0):
    rng = np.random.default_rng(seed)
    column = np.asarray(BANDS.map)[:, 0]
    xs, labels, masks = [], [], []
    for c, band in enumerate(BAND_OF_CLASS):
        for _ in range(per_class):
            x = -70 + 3 * rng.standard_normal((CONFIG.n_mels, N_FRAMES))
            mask = np.zeros_like(x, dtype=bool)
            start = int(rng.integers(0, N_FRAMES // 2))
            mask[column == band, start : start + N_FRAMES // 3] = True
            x[mask] += 40.0 + 10 * rng.uniform()
            xs.append(x)
            labels.append(c)
            masks.append(mask)
    return np.array(xs, dtype=np.float32), np.array(labels), masks


def test_evaluate_explanations_on_a_model_with_known_answers(tmp_path):
    x, labels, masks = _data(per_class=1)
    model = BandModel().eval()
    result = evaluate_explanations(
        model, x, labels, class_names=["a", "b", "c"], config=CONFIG,
        cue_masks=masks, kinds=("time", "frequency"), n_samples=64, n_subsets=20,
        n_check=1, seeds=2, fills=("min", "mean"), ig_steps=8, batch_size=64,
        fill="min",  # the cues last a third of the clip: a median infill would keep part of them
    )
    assert not any(tmp_path.iterdir())  # the compute function writes nothing
    write_quality(result, tmp_path)
    assert QualityResult.from_dir(tmp_path) == result  # write -> read round trip
    summary = result.to_dict()
    assert summary["model_accuracy_on_segments"] == 1.0
    faith = {(r["method"], r["kind"]): r for r in summary["faithfulness"]}
    assert {m for m, _ in faith} == {"lime", "kernel_shap", "occlusion", "gradcam", "ig", "random"}
    for kind in ("frequency",):
        # the model reads one band per class: methods that find it delete it first
        for method in ("kernel_shap", "occlusion", "ig"):
            assert faith[(method, kind)]["deletion_auc"] < faith[("random", kind)]["deletion_auc"]
            assert faith[(method, kind)]["insertion_auc"] > faith[("random", kind)]["insertion_auc"]
    assert faith[("occlusion", "frequency")]["faithfulness_corr"] > 0.5
    assert abs(faith[("random", "time")]["faithfulness_corr"]) < 0.6
    assert "flip@1" in faith[("occlusion", "frequency")]
    gt = {(r["method"], r["kind"]): r for r in summary["groundtruth"]}
    chance = gt[("occlusion", "frequency")]["chance"]
    assert 0 < chance < 0.2  # a band during a third of the segment
    # the band score painted over the band: a third of the band's cells are the cue
    assert gt[("occlusion", "frequency")]["rank_accuracy"] > chance + 0.15
    assert gt[("ig", "dense")]["mass_accuracy"] > gt[("random", "dense")]["mass_accuracy"]
    sanity = {(r["method"], r["kind"]): r for r in summary["sanity"]}
    assert ("gradcam", "dense") in sanity and sanity[("occlusion", "frequency")]["n"] == 1
    stab = {(r["method"], r["over"]): r for r in summary["stability"]}
    assert stab[("occlusion", "seed")]["mean_spearman"] == pytest.approx(1.0)  # deterministic
    assert stab[("random", "seed")]["mean_spearman"] < 0.9  # 4 components: coarse ranks
    assert ("gradcam", "fill") not in stab
    cost = {(r["method"], r["kind"]): r for r in summary["cost"]}
    # M + 1, and the all-off input of the off-manifold check
    assert cost[("occlusion", "frequency")]["evaluations_per_explanation"] == XAI_BANDS.n_components + 2
    assert cost[("random", "time")]["evaluations_per_explanation"] == 0
    cascade = {(r["method"], r["kind"], r["n_layers_randomized"]): r
               for r in summary["sanity_cascading"]}
    assert summary["cascading"] and len(cascade) == len(sanity) * 3  # trained, head, conv
    assert cascade[("occlusion", "frequency", 1)]["layer"] == "head"
    for name in ("faithfulness.csv", "sanity.csv", "stability.csv", "groundtruth.csv", "cost.csv",
                 "curves.json", "summary.json", "deletion_frequency.png", "groundtruth.png",
                 "sanity_cascading.csv", "sanity_cascading.png", "index.json"):
        assert (tmp_path / name).stat().st_size > 0
    header = (tmp_path / "faithfulness.csv").read_text().splitlines()[0]
    assert header.startswith("method,kind,fill,n,deletion_auc")
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert len(curves["occlusion/frequency"]["deletion_curve"]) == XAI_BANDS.n_components + 1


def test_cascading_sanity_check_on_a_small_cnn(tmp_path):
    x, labels, _ = _data(per_class=1)
    torch.manual_seed(0)
    model = get_model("cnn", n_classes=3, channels=(4, 4, 4, 4)).eval()
    layers = randomizable_layers(model)  # 4 x (conv, batch norm) + the classifier
    kw = dict(class_names=["a", "b", "c"], config=CONFIG, methods=("occlusion", "gradcam"),
              kinds=("tf_grid",), n_subsets=5, n_check=2, seeds=1, fills=("min",),
              batch_size=64)
    result = evaluate_explanations(model, x[:2], labels[:2], **kw)
    write_quality(result, tmp_path / "a")
    summary = result.to_dict()
    text = (tmp_path / "a" / "sanity_cascading.csv").read_text()
    assert text.splitlines()[0] == "method,kind,layer,n_layers_randomized,spearman,spearman_abs,n"
    rows = summary["sanity_cascading"]
    assert len(text.splitlines()) == 1 + len(rows) == 1 + 4 * (len(layers) + 1)
    steps, curves = cascading_curves(rows)
    assert steps == ["", *layers[::-1]] and steps[1] == "classifier.1"
    assert set(curves) == {("occlusion", "tf_grid"), ("gradcam", "dense"),
                           ("gradcam", "tf_grid"), ("random", "tf_grid")}
    # occlusion re-explains the trained model identically, and changes with the top layer
    occlusion = curves[("occlusion", "tf_grid")]
    assert occlusion[0] == 1.0 and occlusion[1] < 0.6 and np.all(occlusion[1:] < 0.6)
    assert np.all(np.abs(curves[("random", "tf_grid")]) < 0.3)  # the baseline: flat near 0
    # the last step is the full randomisation of sanity.csv
    for row in summary["sanity"]:
        assert curves[(row["method"], row["kind"])][-1] == row["spearman_abs"]
    assert all(r["n"] == 2 for r in rows)
    assert (tmp_path / "a" / "sanity_cascading.png").stat().st_size > 0
    # the same seed gives the same file; without cascading only the two ends, same sanity
    # check (but for the random baseline, drawn afresh at every step)
    write_quality(evaluate_explanations(model, x[:2], labels[:2], **kw), tmp_path / "b",
                  plots=False)
    assert (tmp_path / "b" / "sanity_cascading.csv").read_text() == text
    assert not list((tmp_path / "b").glob("*.png"))
    ends = evaluate_explanations(model, x[:2], labels[:2], cascading=False, **kw).to_dict()
    assert [r["layer"] for r in ends["sanity_cascading"][:2]] == ["", layers[0]]
    assert {r["n_layers_randomized"] for r in ends["sanity_cascading"]} == {0, len(layers)}
    assert ([r for r in ends["sanity"] if r["method"] != "random"]
            == [r for r in summary["sanity"] if r["method"] != "random"])


def test_evaluate_explanations_errors(tmp_path):
    x, labels, _ = _data(1)
    with pytest.raises(Exception, match="methods="):
        evaluate_explanations(BandModel(), x, labels, class_names=["a", "b", "c"], config=CONFIG,
                              methods=["magic"])
    with pytest.raises(Exception, match="cue_masks has 1"):
        evaluate_explanations(BandModel(), x, labels, class_names=["a", "b", "c"], config=CONFIG,
                              cue_masks=[None])


def test_global_analysis_finds_each_class_band(tmp_path):
    x, labels, _ = _data(per_class=6, seed=1)
    result = global_analysis(
        BandModel().eval(), x, labels, class_names=["a", "b", "c"], config=CONFIG,
        kinds=("frequency", "time"), per_class=2, n_samples=64, n_bands=5, top_k=2,
        descriptors=["loudness"], n_bins=4, n_bootstrap=10, batch_size=64,
        fill="min",  # the cues last a third of the clip: a median infill would keep part of them
    )
    assert not any(tmp_path.iterdir())  # the compute function writes nothing
    write_global(result, tmp_path)
    assert GlobalResult.from_dir(tmp_path) == result  # write -> read round trip
    summary = result.to_dict()
    for c, genre in enumerate(["a", "b", "c"]):
        top = summary["findings"][genre][0]
        extent = BANDS.extents[BAND_OF_CLASS[c]]
        assert top["descriptor"] == f"band_energy[{extent.low_hz:.0f}-{extent.high_hz:.0f} Hz]"
        assert top["change"] > 0  # more energy in its band raises the class probability
    rows = json.loads((tmp_path / "aggregate.json").read_text())
    assert {r["method"] for r in rows} == {"lime", "kernel_shap"}
    assert {r["kind"] for r in rows} == {"frequency", "time"}
    band_rows = [r for r in rows if r["method"] == "kernel_shap" and r["kind"] == "frequency"
                 and r["genre"] == "b"]
    best = max(band_rows, key=lambda r: r["mean_abs"])
    assert best["index"] == BAND_OF_CLASS[1] and best["n"] == 2
    res = ALEResult.load(tmp_path / "ale" / "loudness.json")
    assert res.average.shape == (3, len(res.grid_values[0]))
    assert (tmp_path / "genres" / "a.png").stat().st_size > 0
    assert (tmp_path / "aggregate_kernel_shap_frequency.png").is_file()
    ranking = (tmp_path / "descriptor_ranking.csv").read_text().splitlines()
    assert ranking[0] == "genre,rank,descriptor,importance"
    assert summary["cost"]["ale_evaluations"] > 0
    with pytest.raises(Exception, match="kinds="):
        global_analysis(BandModel(), x, labels, class_names=["a", "b", "c"], config=CONFIG,
                        kinds=("time",))
