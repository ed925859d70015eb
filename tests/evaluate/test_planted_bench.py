"""The planted-cue benchmark: scoring on an analytic model, and a small end-to-end run."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from genrelens.config import FeatureConfig, preset
from genrelens.data.planted import PlantedCue
from genrelens.errors import ParameterError
from genrelens.evaluate.planted_bench import (
    RANDOM_DRAWS,
    _choose_test,
    _embeddings,
    _score_views,
    _train,
    bench_xai,
    summarise_rows,
)
from genrelens.explain import components as C
from genrelens.explain import registry
from genrelens.explain.api import explain
from genrelens.training.transfer import model_front_end

CFG = FeatureConfig()


def _box_model(mask: np.ndarray):
    """Class 1's logit is the mean dB inside the box (minus a constant); class 0's is 0."""
    weights = torch.from_numpy(mask.astype(np.float32) / mask.sum())

    def model(x: torch.Tensor) -> torch.Tensor:
        inside = (x[:, 0] * weights).sum(dim=(1, 2)) / 10.0 + 4.0
        return torch.stack([torch.zeros_like(inside), inside], dim=1)

    return model


@pytest.mark.parametrize("fill", ["min", "band_median"])
def test_scores_of_a_model_that_reads_only_the_box(fill):
    cue = PlantedCue(kind="tonal", level="loud", level_db=6.0, start=1.0, end=1.6, fmin=1500,
                     fmax=3000)
    mask = cue.mask(config=CFG, n_frames=130)
    rng = np.random.default_rng(0)
    x = rng.normal(-50, 5, (128, 130)).astype(np.float32)
    x[mask] += 25.0  # the sound
    model = _box_model(mask)
    comps = C.tf_grid(n_mels=128, n_frames=130, config=CFG)
    views = {m: explain(model, x, method=m, components=comps, fill=fill, output="logits",
                        config=CFG, class_names=("none", "tonal"),
                        **registry.settings_for(m, n_samples=300))
             for m in ("kernel_shap", "lime", "occlusion")}
    rows = _score_views(views, model, x, comps, mask, target=1, fill=fill, rng=rng,
                        batch_size=64, base={"cue_kind": "tonal", "level": "loud",
                                             "kind": "tf_grid", "fill": fill})
    by = {r["method"]: r for r in rows}
    assert set(by) == {"kernel_shap", "lime", "occlusion", "random"}
    hits = by["random"]["chance_component"]
    assert 0 < hits < 0.15  # a few of 80 patches touch the box
    for method in ("kernel_shap", "lime", "occlusion"):
        r = by[method]
        assert r["point_component"] == 1.0 and r["rank"] == 1.0, method
        assert r["point_cell"] == 1.0 and r["mass_ratio"] > 5, method
        assert r["deletion_auc"] < r["insertion_auc"]
        assert r["edge_share"] < 0.2  # the box is far from the borders (40% of the area)
    assert by["random"]["mass_ratio"] < by["kernel_shap"]["mass_ratio"]
    table = summarise_rows(rows)
    assert {r["level"] for r in table} == {"loud", "all"}
    assert all(r["n"] == 1 for r in table)
    pooled = next(r for r in table if r["method"] == "occlusion" and r["cue_kind"] == "all")
    assert pooled["random_point_component"] == by["random"]["point_component"]


def test_random_baseline_is_the_mean_over_draws_of_an_analytic_chance():
    # 4 equal components and a box that is exactly the first: a random explanation points
    # at it, puts its positive mass in it and ranks it with probability / share 1/4 and
    # mean rank 2.5 = (M + 1) / (H + 1)
    config = FeatureConfig(n_mels=16)
    comps = C.tf_grid(n_mels=16, n_frames=20, n_time=2, n_freq=2, config=config)
    mask = np.asarray(comps.map) == 0
    x = np.random.default_rng(0).normal(-50, 5, (16, 20)).astype(np.float32)
    model = _box_model(mask)
    views = {"occlusion": explain(model, x, method="occlusion", components=comps, fill="min",
                                  output="logits", config=config, class_names=("none", "tonal"))}
    base = {"cue_kind": "tonal", "level": "loud", "kind": "tf_grid", "fill": "min"}

    def random_row(n_random, seed):
        rows = _score_views(views, model, x, comps, mask, target=1, fill="min",
                            rng=np.random.default_rng(seed), batch_size=8, base=base,
                            n_random=n_random)
        return next(r for r in rows if r["method"] == "random")

    many = random_row(1000, 0)  # standard errors 0.014 (shares), 0.035 (rank)
    assert many["chance_component"] == 0.25 and many["chance_rank"] == 2.5
    for key, expected, tol in (("point_component", 0.25, 0.05), ("point_cell", 0.25, 0.05),
                               ("mass", 0.25, 0.05), ("mass_ratio", 1.0, 0.2),
                               ("rank", 2.5, 0.12)):
        assert many[key] == pytest.approx(expected, abs=tol), key
    # one draw is all or nothing; the default averages RANDOM_DRAWS of them
    assert {random_row(1, s)["point_component"] for s in range(12)} == {0.0, 1.0}
    default = _score_views(views, model, x, comps, mask, target=1, fill="min",
                           rng=np.random.default_rng(5), batch_size=8, base=base)[-1]
    assert default["point_component"] * RANDOM_DRAWS == pytest.approx(
        round(default["point_component"] * RANDOM_DRAWS))
    again = random_row(RANDOM_DRAWS, 5)
    assert all(again[k] == default[k] for k in ("point_component", "mass", "rank"))


def test_hybrid_gives_rows_for_its_kernel_shap_and_its_lime_view():
    """One hybrid run, two explanations from the same evaluations, each scored."""
    from types import SimpleNamespace

    from genrelens.evaluate.planted_bench import _explain_excerpt

    cue = PlantedCue(kind="tonal", level="loud", level_db=6.0, start=1.0, end=1.6, fmin=1500,
                     fmax=3000)
    mask = cue.mask(config=CFG, n_frames=130)
    x = np.random.default_rng(0).normal(-50, 5, (128, 130)).astype(np.float32)
    x[mask] += 25.0
    model = _box_model(mask)
    loaded = SimpleNamespace(model=model, feature_config=CFG, class_names=("none", "tonal"))
    rows = _explain_excerpt(loaded, model, {"logmel": x[None], "cue": [cue]}, 0,
                            methods=("hybrid",), kinds=("tf_grid",), fills=("min",),
                            n_samples=300, seed=0, state={"batch_size": "auto"})
    by = {r["method"]: r for r in rows}
    assert set(by) == {"hybrid", "hybrid_lime", "random"}
    for method in ("hybrid", "hybrid_lime"):
        assert by[method]["point_component"] == 1.0 and by[method]["mass_ratio"] > 5, method
    assert by["hybrid_lime"]["n_evaluations"] == by["hybrid"]["n_evaluations"]  # shared
    assert by["hybrid_lime"]["mass"] != by["hybrid"]["mass"]  # two fits, two explanations


@pytest.mark.slow
def test_bench_runs_end_to_end_and_resumes(tmp_path, make_music_folder):
    folder = make_music_folder(tmp_path / "music")
    out = tmp_path / "bench"
    kw = dict(out=out, methods=("lime", "occlusion", "gradcam"), kinds=("tf_grid", "time"),
              fills=("min", "band_median"), per_level=1, per_file=4, n_samples=100, epochs=1,
              only_correct=False, progress=False)
    summary = bench_xai(folder, **kw)
    for name in ("excerpts.json", "rows.csv", "table.csv", "summary.json", "bench.png",
                 "model/tonal/checkpoint.pt", "model/percussive/checkpoint.pt",
                 "model/timbral/checkpoint.pt"):
        assert (out / name).is_file(), name
    # one binary model per cue kind
    from genrelens.models import load_checkpoint
    assert load_checkpoint(out / "model/timbral/checkpoint.pt").class_names == ("none",
                                                                               "timbral")
    assert summary["n_files"] == 4 and len(summary["files"][0]["sha256"]) == 64
    assert summary["sources"][0]["licence"] == "CC0"
    assert summary["n_excerpts"]["test"] > 0 and set(summary["accuracy"]) == {"tonal", "percussive", "timbral"}
    assert all(0 <= a["test"] <= 1 and "none" in a for a in summary["accuracy"].values())
    # 3 cue kinds x 3 levels, one excerpt each where the test files have one
    assert 1 <= summary["n_explained"] <= 9
    excerpts = json.loads((out / "excerpts.json").read_text())["excerpts"]
    test_music = [e for e in excerpts if e["set"] == "test"]
    assert sum(e["cue"] is None for e in test_music) * 4 == len(test_music)  # paired versions
    results = sorted((out / "results").glob("*.json"))
    assert len(results) == summary["n_explained"]
    stamps = [p.stat().st_mtime_ns for p in results]
    again = bench_xai(folder, **kw)  # resumes: nothing explained again
    assert [p.stat().st_mtime_ns for p in results] == stamps
    assert again["headline"] == summary["headline"]
    methods = {r["method"] for r in summary["headline"]}
    assert methods == {"lime", "occlusion", "gradcam"}


def test_bench_rejects_bad_settings_before_working(tmp_path, make_music_folder):
    folder = make_music_folder(tmp_path / "music", n_files=3, seconds=4)
    with pytest.raises(ParameterError, match="methods"):
        bench_xai(folder, out=tmp_path / "o", methods=("shapley",))
    with pytest.raises(ParameterError, match="fill"):
        bench_xai(folder, out=tmp_path / "o", fills=("loud",))
    with pytest.raises(ParameterError, match="per_level"):
        bench_xai(folder, out=tmp_path / "o", per_level=0)
    with pytest.raises(ParameterError, match="not a directory"):
        bench_xai(tmp_path / "nothing", out=tmp_path / "o")
    (tmp_path / "two").mkdir()
    with pytest.raises(ParameterError, match="at least 3"):
        bench_xai(tmp_path / "two", out=tmp_path / "o")


# ----------------------------------------------------------------------------- pretrained models

needs_wheel = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                 reason="musicnn wheel absent (pip install --no-deps "
                                 "musicnn==0.1.0)")


def test_front_end_follows_the_model():
    assert model_front_end("cnn", model_args={"pooling": "max"}) == FeatureConfig()
    assert model_front_end("MSD_musicnn", model_args={}) == preset("musicnn")
    assert model_front_end("MSD_vgg", model_args={"hidden": 8},
                           config=preset("musicnn")) == preset("musicnn")
    small = FeatureConfig(n_mels=64)
    assert model_front_end("cnn", model_args={}, config=small) is small
    with pytest.raises(ParameterError, match="'musicnn' front end"):
        model_front_end("MSD_musicnn", model_args={}, config=FeatureConfig())
    with pytest.raises(ParameterError, match="unknown"):
        model_front_end("resnet", model_args={})
    with pytest.raises(ParameterError, match="invalid for model 'transfer'"):
        model_front_end("MSD_musicnn", model_args={"depth": 3})


def _cues(kind: str, n: int) -> list[PlantedCue]:
    levels = ("loud", "medium", "subtle")
    return [PlantedCue(kind=kind, level=levels[i % 3], level_db=3.0, start=1.0, end=1.5,
                       fmin=500.0, fmax=900.0) for i in range(n)]


def test_explained_excerpts_alternate_cue_kinds_and_levels():
    cues = _cues("tonal", 9) + _cues("timbral", 9) + [None] * 3
    data = {"split": ["test"] * len(cues), "cue": cues}
    chosen = _choose_test(data, None, per_level=2, seed=0)
    assert len(chosen) == 12 and len(set(chosen)) == 12
    # every group (kind x level) once before any twice: a run stopped early is balanced
    first = [(cues[i].kind, cues[i].level) for i in chosen[:6]]
    assert len(set(first)) == 6
    correct = set(range(0, 18, 2))
    assert set(_choose_test(data, correct, per_level=5, seed=0)) == correct


def _planted_data(n: int = 24) -> dict:
    """``n`` music excerpts, plain and with a tonal cue, split train/valid/test."""
    cues: list = []
    split: list = []
    for i in range(n):
        name = ("train", "train", "valid", "test")[i % 4]
        cues += [None, _cues("tonal", 3)[i % 3]]
        split += [name, name]
    return {"logmel": np.zeros((2 * n, 96, 187), np.float32), "split": split, "cue": cues}


@needs_wheel
def test_frozen_backbone_head_learns_the_cue_and_is_self_describing(tmp_path):
    from genrelens.models import get_model
    from genrelens.models.transfer import state_digest

    data = _planted_data()
    rng = np.random.default_rng(0)
    planted = np.asarray([c is not None for c in data["cue"]])
    embeddings = {"penultimate": rng.normal(size=(planted.size, 200)).astype(np.float32),
                  "pooled": rng.normal(size=(planted.size, 1506)).astype(np.float32)}
    embeddings["pooled"][planted, :300] += 1.0  # the cue moves the embeddings
    loaded, accuracy = _train(data, kind="tonal", out=tmp_path / "model" / "tonal",
                              config=preset("musicnn"), model="MSD_musicnn", model_args={},
                              epochs=30, seed=0, progress=False, embeddings=embeddings)
    assert accuracy["test"] == 1.0 and accuracy["none"] == 1.0
    assert accuracy["correct"] == set(np.flatnonzero(np.asarray(data["split"]) == "test"))
    assert loaded.model_name == "transfer" and loaded.class_names == ("none", "tonal")
    assert loaded.feature_config == preset("musicnn")
    assert loaded.extra["backbone"] == "MSD_musicnn" and loaded.extra["frozen"] is True
    assert loaded.extra["backbone_sha256"] == state_digest(get_model("MSD_musicnn"))
    assert (tmp_path / "model" / "tonal" / "history.csv").is_file()


@needs_wheel
def test_backbone_embeddings_are_computed_once_per_excerpt_set(tmp_path, monkeypatch):
    from genrelens.models import get_model
    from genrelens.training import transfer

    rng = np.random.default_rng(1)
    data = {"logmel": rng.uniform(0, 2, (3, 96, 187)).astype(np.float32)}
    found = _embeddings(data, backbone="MSD_musicnn", out=tmp_path, progress=False)
    assert found["penultimate"].shape == (3, 200) and found["pooled"].shape == (3, 1506)
    backbone = get_model("MSD_musicnn").eval()
    with torch.no_grad():
        own = backbone.embed(torch.from_numpy(data["logmel"][1:2]).unsqueeze(1))
    np.testing.assert_allclose(found["penultimate"][1], own[0][0], atol=1e-5)
    np.testing.assert_allclose(found["pooled"][1], own[1][0], atol=1e-5)
    calls = []
    monkeypatch.setattr(transfer, "embed_patches", lambda net, x, **kw: calls.append(len(x)))
    again = _embeddings(data, backbone="MSD_musicnn", out=tmp_path, progress=False)
    assert calls == [] and np.array_equal(again["pooled"], found["pooled"])  # from the file
    monkeypatch.undo()
    data["logmel"][0, 0, 0] += 1.0  # other excerpts: computed again
    changed = _embeddings(data, backbone="MSD_musicnn", out=tmp_path, progress=False)
    assert not np.array_equal(changed["pooled"][0], found["pooled"][0])
    np.testing.assert_allclose(changed["pooled"][1:], found["pooled"][1:], atol=1e-6)
