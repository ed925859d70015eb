"""Training streamed from memory-mapped features: same weights and metrics, no copies in RAM."""

import json
import mmap
import tracemalloc

import numpy as np
import pytest
import torch

from genrelens import cli
from genrelens.config import FeatureConfig
from genrelens.data import open_dataset
from genrelens.errors import ParameterError
from genrelens.models import load_checkpoint
from genrelens.models.inference import predict_proba
from genrelens.models.layers import InputNorm
from genrelens.training import TrainConfig, fit
from genrelens.training import run as run_mod

TINY = '{"channels": [4, 4, 8, 8]}'
# torch warns when it wraps a read-only (memory-mapped) array: genrelens copies batches instead.
pytestmark = pytest.mark.filterwarnings("error:The given NumPy array is not writable")


def _mapped(array: np.ndarray) -> bool:
    """Whether ``array``'s memory is a file mapping (its base chain ends at an mmap)."""
    while isinstance(array, np.ndarray):
        if array.flags.owndata:
            return False
        array = array.base
    return isinstance(array, mmap.mmap)


@pytest.fixture(scope="module")
def dataset(tone_noise_data, make_wav):
    root = tone_noise_data
    make_wav(root / "data" / "noise" / "short.wav", seconds=1.0)  # one unusable file
    return root


def test_stream_trains_the_same_weights_and_metrics_without_copies(dataset, monkeypatch):
    seen = {}
    real_fit, real_evaluate = run_mod.fit, run_mod.evaluate_run

    def spy_fit(**kwargs):
        seen.setdefault("fit", []).append((kwargs["x_train"], kwargs["x_valid"]))
        return real_fit(**kwargs)

    def spy_evaluate(run_dir, *, features, **kwargs):
        seen.setdefault("test", []).append(features.logmel)
        return real_evaluate(run_dir, features=features, **kwargs)

    monkeypatch.setattr(run_mod, "fit", spy_fit)
    monkeypatch.setattr(run_mod, "evaluate_run", spy_evaluate)
    args = ["--data", str(dataset / "data"), "--epochs", "2", "--batch-size", "4",
            "--model-args", TINY, "--threads", "1", "--no-progress", "--seed", "2",
            "--spec-augment"]
    runs = {}
    for name, extra in (("ram", []), ("stream", ["--stream"])):
        runs[name] = dataset / "runs" / name
        assert cli.main(["train", "--out", str(runs[name]), *args, *extra]) == 0

    (ram_train, ram_valid), (map_train, map_valid) = seen["fit"]
    assert not any(_mapped(x) for x in (ram_train, ram_valid, seen["test"][0]))
    assert all(_mapped(x) for x in (map_train, map_valid, seen["test"][1]))
    np.testing.assert_array_equal(map_train, ram_train)
    np.testing.assert_array_equal(map_valid, ram_valid)
    assert len(list((dataset / "runs" / "cache").glob("*/assembled/*.npy"))) == 3  # one per set

    ram, stream = (load_checkpoint(runs[n] / "checkpoint.pt") for n in ("ram", "stream"))
    assert ram.extra == stream.extra
    for key, value in ram.model.state_dict().items():
        assert torch.equal(value, stream.model.state_dict()[key]), key
    metrics = {n: json.loads((runs[n] / "metrics.json").read_text()) for n in runs}
    assert metrics["ram"] == metrics["stream"]
    assert (runs["ram"] / "predictions.csv").read_text() == (
        runs["stream"] / "predictions.csv").read_text()
    history = {n: (runs[n] / "history.csv").read_text().splitlines() for n in runs}
    drop = lambda line: line.split(",")[:6]  # noqa: E731 (timing columns differ)
    assert [drop(r) for r in history["ram"]] == [drop(r) for r in history["stream"]]

    # `genrelens evaluate --stream` maps the test set and writes the same metrics.
    monkeypatch.undo()
    assert cli.main(["evaluate", str(runs["stream"]), "--stream", "--no-progress"]) == 0
    assert json.loads((runs["stream"] / "metrics.json").read_text()) == metrics["ram"]


def test_a_streamed_set_without_usable_tracks_is_refused(dataset, tmp_path):
    from genrelens.cache import prepare

    data = open_dataset(dataset / "data")
    config = FeatureConfig()
    prepare(data, cache_dir=tmp_path / "cache", config=config, progress=False)
    with pytest.raises(ParameterError, match="the validation set has no usable tracks"):
        run_mod._load_set(data, ("noise/short",), "validation", cache_dir=tmp_path / "cache",
                          config=config, memmap=True)


@pytest.fixture
def mapped_segments(tmp_path):
    """4000 toy segments (24 x 20, 7.7 MB) and labels, saved and memory-mapped read-only."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    x = rng.normal(-50.0, 8.0, (4000, 24, 20)).astype(np.float32)
    x[y == 1, :6] += 30.0
    np.save(tmp_path / "x.npy", x)
    return np.load(tmp_path / "x.npy", mmap_mode="r"), y


def test_input_norm_reduces_a_memmap_in_chunks_to_the_in_ram_result(mapped_segments):
    x, _ = mapped_segments
    in_ram, mapped = InputNorm(), InputNorm()
    in_ram.fit(np.array(x))
    tracemalloc.start()
    try:
        mapped.fit(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert float(mapped.mean) == float(in_ram.mean)
    assert float(mapped.std) == float(in_ram.std)  # buffers are float32: rounding below
    assert float(mapped.mean) == pytest.approx(np.mean(x, dtype=np.float64), rel=1e-7)
    assert float(mapped.std) == pytest.approx(np.std(x, dtype=np.float64), rel=1e-7)
    assert peak < x.nbytes / 3, (peak, x.nbytes)  # chunks of 256 segments, not the array


def test_fit_and_predict_read_a_memmap_one_batch_at_a_time(mapped_segments, tmp_path):
    """numpy reports its buffers to tracemalloc: a copy of the 7.7 MB array would show."""
    x, y = mapped_segments
    config = TrainConfig(model_args=json.loads(TINY), epochs=1, batch_size=64, threads=1)
    tracemalloc.start()
    try:
        result = fit(x_train=x[:3000], y_train=y[:3000], x_valid=x[3000:], y_valid=y[3000:],
                      class_names=("a", "b"), feature_config=FeatureConfig(), config=config,
                      run_dir=tmp_path / "run", progress=False)
        fit_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        model = load_checkpoint(tmp_path / "run" / "checkpoint.pt").model
        probs = predict_proba(model, x[3000:], batch_size=64)
        predict_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.best_valid_accuracy > 0.9
    assert fit_peak < x.nbytes / 3, (fit_peak, x.nbytes)
    assert predict_peak < x.nbytes / 3, (predict_peak, x.nbytes)
    np.testing.assert_allclose(probs, predict_proba(model, torch.from_numpy(np.array(x[3000:]))),
                               rtol=0, atol=1e-12)
