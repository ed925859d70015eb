"""The training loop: learning, files, resume after a kill, augmentation, early stopping."""

import csv
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError
from genrelens.models import load_checkpoint
from genrelens.training import TrainConfig, fit
from genrelens.training.augment import mixup, spec_augment
from genrelens.training.distributed import DistContext, shard
from genrelens.training.early_stopping import EarlyStopping
from genrelens.training.loop import HISTORY_COLUMNS, _batches, class_weights

CLASSES = ("a", "b", "c")
TINY = {"channels": [4, 4, 8, 8]}


def make_arrays(n, *, seed, n_mels=24, n_frames=20):
    """Separable toy log-mels: class k is loud in mel bands 8k..8k+5."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(-50.0, 8.0, (n, n_mels, n_frames)).astype(np.float32)
    for i, c in enumerate(y):
        x[i, 8 * c : 8 * c + 6] += 30.0
    return x, y


def run_fit(run_dir, config, **kwargs):
    xt, yt = make_arrays(96, seed=0)
    xv, yv = make_arrays(24, seed=1)
    return fit(x_train=xt, y_train=yt, x_valid=xv, y_valid=yv, class_names=CLASSES,
               feature_config=FeatureConfig(), config=config, run_dir=run_dir, progress=False,
               **kwargs)


def history_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_fit_learns_and_writes_run_files(tmp_path):
    config = TrainConfig(model_args=TINY, epochs=4, batch_size=16, threads=1)
    result = run_fit(tmp_path, config)
    assert result.epochs_run == 4 and result.resumed_from == 0
    assert result.best_valid_accuracy == 1.0
    assert result.history[-1]["valid_loss"] < result.history[0]["valid_loss"]
    rows = history_rows(tmp_path / "history.csv")
    assert tuple(rows[0]) == HISTORY_COLUMNS and [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    loaded = load_checkpoint(tmp_path / "checkpoint.pt")
    assert loaded.extra["epoch"] == result.best_epoch
    assert loaded.model_args == {"n_classes": 3, **TINY}
    assert loaded.class_names == CLASSES
    xt, _ = make_arrays(96, seed=0)  # the input affine was fitted on the training segments
    assert float(loaded.model.input_norm.mean) == pytest.approx(xt.mean(dtype=np.float64), abs=1e-3)
    assert float(loaded.model.input_norm.std) == pytest.approx(xt.std(dtype=np.float64), rel=1e-4)
    resume = torch.load(tmp_path / "last.pt", weights_only=True)
    assert resume["epoch"] == 4 and resume["finished"]


def test_same_seed_same_weights_with_augmentation(tmp_path):
    config = TrainConfig(model_args=TINY, epochs=2, batch_size=16, threads=1,
                         spec_augment=True, mixup_alpha=0.4, seed=3)
    first = run_fit(tmp_path / "one", config)
    run_fit(tmp_path / "two", config)
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["model"]
    two = torch.load(tmp_path / "two" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(one[k], two[k]) for k in one)
    other = TrainConfig(**{**config.to_dict(), "seed": 4})
    assert run_fit(tmp_path / "three", other).history[0]["train_loss"] != first.history[0][
        "train_loss"
    ]


def test_early_stopping_ends_the_run(tmp_path):
    config = TrainConfig(model_args=TINY, epochs=50, batch_size=32, threads=1, lr=0.05,
                         patience=1, lr_patience=0)
    result = run_fit(tmp_path, config)
    assert result.stopped_early and result.epochs_run < 50
    assert result.epochs_run == result.best_epoch + 1  # one epoch without improvement
    again = run_fit(tmp_path, config)  # a finished run is not trained further
    assert again.epochs_run == result.epochs_run and again.resumed_from == result.epochs_run


_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_fit import TINY, run_fit
    from genrelens.training import TrainConfig
    run_fit(sys.argv[1], TrainConfig(**{config!r}))
    """
)


def test_resume_after_kill_gives_the_same_weights(tmp_path):
    config = TrainConfig(model_args={"channels": [8, 8, 16, 16]}, epochs=5, batch_size=8,
                         threads=1, spec_augment=True, mixup_alpha=0.2, seed=7)
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT.format(tests=str(__import__("pathlib").Path(__file__).parent),
                                     config=config.to_dict()))
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (run / "last.pt").exists():
        assert proc.poll() is None, "training ended before writing last.pt"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    killed_at = torch.load(run / "last.pt", weights_only=True)["epoch"]
    assert 1 <= killed_at < config.epochs  # really interrupted mid-run
    resumed = run_fit(run, config)
    assert resumed.resumed_from == killed_at and resumed.epochs_run == config.epochs
    straight = run_fit(tmp_path / "straight", config)
    a = torch.load(run / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])
    ca = load_checkpoint(run / "checkpoint.pt").model.state_dict()
    cb = load_checkpoint(tmp_path / "straight" / "checkpoint.pt").model.state_dict()
    assert all(torch.equal(ca[k], cb[k]) for k in cb)
    timing = {"seconds", "train_segments_per_second"}
    rows = [
        [{k: v for k, v in r.items() if k not in timing} for r in history_rows(d / "history.csv")]
        for d in (run, tmp_path / "straight")
    ]
    assert rows[0] == rows[1]


def test_resume_with_other_settings_is_refused(tmp_path):
    run_fit(tmp_path, TrainConfig(model_args=TINY, epochs=1, threads=1))
    with pytest.raises(ParameterError, match=r"different \['train_config'\].*--restart"):
        run_fit(tmp_path, TrainConfig(model_args=TINY, epochs=1, threads=1, lr=0.01))


def test_fit_rejects_inconsistent_arrays(tmp_path):
    x, y = make_arrays(8, seed=0)
    common = dict(class_names=CLASSES, feature_config=FeatureConfig(),
                  config=TrainConfig(epochs=1), run_dir=tmp_path, progress=False)
    with pytest.raises(ParameterError, match="y_train has shape"):
        fit(x_train=x, y_train=y[:5], x_valid=x, y_valid=y, **common)
    with pytest.raises(ParameterError, match=r"y_valid holds labels in \[5, 5\]: expected 0..2"):
        fit(x_train=x, y_train=y, x_valid=x, y_valid=np.full(8, 5), **common)
    with pytest.raises(ParameterError, match="x_valid has shape"):
        fit(x_train=x, y_train=y, x_valid=x[:0], y_valid=y[:0], **common)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"epochs": 0}, "epochs=0"),
        ({"lr": -1.0}, "lr=-1.0"),
        ({"class_weight": "x"}, "class_weight"),
        ({"model_args": {"n_classes": 3}}, "without n_classes"),
        ({"lr_factor": 1.0}, "lr_factor"),
        ({"pretrained": "w.pth"}, "only available for model 'vgg16'"),
        ({"mixup_alpha": -1}, "mixup"),
        ({"model": "nope"}, "model='nope' is unknown"),
        ({"model_args": {"width": 2}}, "invalid for model 'cnn'"),
    ],
)
def test_train_config_validation(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        TrainConfig(**kwargs)


def test_train_config_round_trip():
    config = TrainConfig(model="shortchunk", model_args={"n_channels": 8}, spec_augment=True)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ParameterError, match="unknown keys"):
        TrainConfig.from_dict({"epoch": 3})


def test_class_weights():
    labels = np.array([0, 0, 0, 1, 2, 2])
    torch.testing.assert_close(class_weights(labels, n_classes=4, mode="balanced"),
                               torch.tensor([6 / 9, 6 / 3, 6 / 6, 0.0]))
    torch.testing.assert_close(class_weights(labels, n_classes=4, mode="none"), torch.ones(4))


def test_batches_merge_a_trailing_single_item():
    assert [b.tolist() for b in _batches(np.arange(9), 4)] == [[0, 1, 2, 3], [4, 5, 6, 7, 8]]
    assert [b.tolist() for b in _batches(np.arange(6), 4)] == [[0, 1, 2, 3], [4, 5]]
    assert [b.tolist() for b in _batches(np.arange(1), 4)] == [[0]]


@pytest.mark.parametrize("n", [10, 11])
def test_shard_matches_distributed_sampler(n):
    dataset = list(range(n))
    for rank in range(2):
        sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=2, rank=rank,
                                                      shuffle=False)
        mine = shard(np.arange(n), context=DistContext(rank=rank, world_size=2, active=True))
        assert mine.tolist() == list(sampler)
    assert shard(np.arange(n), context=DistContext()).tolist() == dataset


def test_spec_augment_masks_bands_with_the_fill():
    x = torch.zeros(64, 1, 32, 50)
    out = spec_augment(x, rng=np.random.default_rng(0), fill=-7.0, n_freq_masks=1, freq_width=5,
                       n_time_masks=1, time_width=8)
    assert torch.equal(x, torch.zeros_like(x))  # input untouched
    masked = out[:, 0] == -7.0
    assert set(out.unique().tolist()) <= {0.0, -7.0}
    rows = masked.all(dim=2).sum(dim=1)  # fully masked mel bands per example
    cols = masked.all(dim=1).sum(dim=1)  # fully masked frames per example
    assert rows.max() <= 5 and cols.max() <= 8 and rows.max() > 0 and cols.max() > 0
    # every masked cell lies in a masked band or a masked frame range
    assert torch.equal(masked, masked.all(dim=2, keepdim=True) | masked.all(dim=1, keepdim=True))
    again = spec_augment(x, rng=np.random.default_rng(0), fill=-7.0, n_freq_masks=1,
                         freq_width=5, n_time_masks=1, time_width=8)
    assert torch.equal(out, again)


def test_mixup_combines_pairs():
    x = torch.arange(4.0).reshape(4, 1, 1, 1)
    y = torch.tensor([0, 1, 2, 3])
    mixed, ya, yb, lam = mixup(x, y, alpha=0.4, rng=np.random.default_rng(1))
    assert 0.5 <= lam <= 1.0 and torch.equal(ya, y)
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[yb])
    with pytest.raises(ParameterError, match="alpha=0"):
        mixup(x, y, alpha=0, rng=np.random.default_rng(1))


def test_early_stopping_state():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    assert stopper.step(1.0, epoch=1) and stopper.best_epoch == 1
    assert not stopper.step(0.95, epoch=2)  # improvement smaller than min_delta
    assert not stopper.should_stop
    assert not stopper.step(float("nan"), epoch=3)
    assert stopper.should_stop
    clone = EarlyStopping(patience=9)
    clone.load_state_dict(stopper.state_dict())
    assert clone.state_dict() == stopper.state_dict()
    with pytest.raises(ParameterError, match="patience=0"):
        EarlyStopping(patience=0)


class RecordingLogger:
    """A logger double: keeps every call (the :class:`genrelens.loggers.Logger` protocol)."""

    def __init__(self):
        self.scalars, self.figures, self.closed = [], [], False

    def log_scalars(self, values, *, step):
        self.scalars.append((step, dict(values)))

    def log_figure(self, name, figure, *, step):
        self.figures.append((name, figure, step))

    def close(self):
        self.closed = True


def test_fit_sends_every_epoch_to_the_logger(tmp_path):
    from genrelens.loggers import Logger

    logger = RecordingLogger()
    assert isinstance(logger, Logger)
    result = run_fit(tmp_path, TrainConfig(model_args=TINY, epochs=2, batch_size=32, threads=1),
                     logger=logger)
    assert [step for step, _ in logger.scalars] == [1, 2]
    for (step, values), row in zip(logger.scalars, result.history, strict=True):
        assert values == {k: v for k, v in row.items() if k not in ("epoch", "best")}
        assert set(values) >= {"train_loss", "valid_loss", "valid_accuracy", "lr"}
    logged = [float(r["valid_loss"]) for r in history_rows(tmp_path / "history.csv")]
    assert logged == pytest.approx([v["valid_loss"] for _, v in logger.scalars])
    assert not logger.closed and logger.figures == []  # the caller owns the logger
