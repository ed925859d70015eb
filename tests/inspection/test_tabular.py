import csv
import json

import numpy as np
import pytest

from genrelens.cli import main
from genrelens.data.splits import Split
from genrelens.errors import GenrelensError, ParameterError
from genrelens.inspection.ale import ALEResult
from genrelens.inspection.tabular import load_tabular_model, train_tabular

GENRES = ("blues", "jazz", "metal")


def _write_table(path, *, pieces=False, seed=0):
    """A Kaggle-style table: 'tempo' decides the genre, 'noise' is irrelevant."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, genre in enumerate(GENRES):
        for i in range(40):
            for piece in (range(3) if pieces else [None]):
                name = f"{genre}.{i:05d}" + ("" if piece is None else f".{piece}") + ".wav"
                tempo = 60 + 60 * g + rng.uniform(0, 40)
                rows.append([name, 661794, f"{tempo:.3f}", f"{rng.normal():.4f}",
                             f"{rng.uniform():.4f}", genre])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "length", "tempo", "noise", "rms_mean", "label"])
        w.writerows(rows)
    return path


def _split():
    ids = {s: [] for s in ("train", "valid", "test")}
    for genre in GENRES:
        for i in range(40):
            ids["test" if i < 10 else "valid" if i < 14 else "train"].append(f"{genre}.{i:05d}")
    return Split(name="custom", **ids)


def test_train_tabular_writes_model_metrics_and_ale(tmp_path):
    csv_path = _write_table(tmp_path / "features_30_sec.csv")
    out = tmp_path / "tab"
    metrics = train_tabular(csv_path, out=out, split=_split(), n_top=2, n_bins=5,
                            n_bootstrap=10, max_iter=30, plots=True)
    assert metrics["test_accuracy"] == 1.0
    assert metrics["n_rows"] == {"train": 78, "valid": 12, "test": 30}
    assert metrics["ale"]["top"][0]["feature"] == "tempo"
    assert metrics["ale"]["top"][0]["importance"] > 10 * metrics["ale"]["top"][1]["importance"]
    res = ALEResult.load(out / "ale" / "tempo.json")
    assert res.output_names == GENRES and res.average.shape[0] == 3
    # P(metal) rises with tempo, P(blues) falls
    assert res.average[2, -1] > res.average[2, 0] + 0.5
    assert res.average[0, -1] < res.average[0, 0] - 0.5
    assert (out / "ale" / "tempo.png").stat().st_size > 1000
    ranking = (out / "feature_ranking.csv").read_text().splitlines()
    assert ranking[0] == "rank,feature,ale_importance" and ranking[1].startswith("1,tempo,")
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] == 1.0
    model = load_tabular_model(out)
    assert model.predict(np.array([[70.0, 0, 0.5], [190.0, 0, 0.5]])).tolist() == [0, 2]
    # deterministic refit
    again = train_tabular(csv_path, out=tmp_path / "tab2", split=_split(), n_top=1, n_bins=5,
                          n_bootstrap=0, max_iter=30, plots=False)
    assert again["ale"]["top"][0] == metrics["ale"]["top"][0]


def test_three_second_table_keeps_tracks_together_and_reports_track_accuracy(tmp_path):
    csv_path = _write_table(tmp_path / "features_3_sec.csv", pieces=True)
    metrics = train_tabular(csv_path, out=tmp_path / "t3", split=_split(), n_top=1, n_bins=4,
                            n_bootstrap=0, max_iter=20, plots=False)
    assert metrics["n_rows"]["test"] == 90 and metrics["n_tracks"]["test"] == 30
    assert metrics["test_track_accuracy"] == 1.0


def test_tampered_model_is_refused(tmp_path):
    csv_path = _write_table(tmp_path / "features_30_sec.csv")
    out = tmp_path / "tab"
    train_tabular(csv_path, out=out, split=_split(), n_top=1, n_bins=3, n_bootstrap=0,
                  max_iter=5, plots=False)
    (out / "model.joblib").write_bytes(b"not the model")
    with pytest.raises(GenrelensError, match="SHA-256 differs"):
        load_tabular_model(out / "model.joblib")


def test_cli_tabular_train(tmp_path, capsys):
    csv_path = _write_table(tmp_path / "features_30_sec.csv")
    split_path = _split().save(tmp_path / "split.json")
    out = tmp_path / "cli"
    code = main(["tabular", "train", "--features", str(csv_path), "--out", str(out),
                 "--split", str(split_path), "--top", "1", "--bins", "4", "--bootstrap", "0",
                 "--max-iter", "10", "--no-plots"])
    assert code == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "tempo" in text
    assert (out / "ale" / "tempo.json").is_file()
    assert main(["tabular", "train", "--features", str(tmp_path / "nope.csv"), "--out",
                 str(out)]) == 3
    assert "no such feature table" in capsys.readouterr().err



def test_cli_passes_no_verify_to_training(monkeypatch, tmp_path):
    import genrelens.inspection.tabular as tabular
    from genrelens import cli

    seen = {}

    def fake_train(features, **kwargs):
        seen.update(kwargs)
        raise ParameterError("stop here")

    monkeypatch.setattr(tabular, "train_tabular", fake_train)
    code = cli.main(["tabular", "train", "--features", str(tmp_path / "f.csv"), "--out",
                     str(tmp_path / "o"), "--split-dir", str(tmp_path), "--no-verify"])
    assert code == 3
    assert seen["verify"] is False and seen["split_dir"] == str(tmp_path)
