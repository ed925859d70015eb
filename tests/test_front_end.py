"""A front end per model: FeatureConfig's compression, the musicnn preset, and "off" in each
compression (fills, descriptors, listenable audio, stems, cache keys, training, explaining)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from genrelens import cli
from genrelens.cli import _options
from genrelens.config import FeatureConfig, preset
from genrelens.errors import ParameterError
from genrelens.features import compress, decompress, from_db, log_mel, to_db

#: A small non-default front end: 16 kHz, 32 mels, log10(10000 S + 1), 1-s segments.
SMALL = FeatureConfig(sr=16000, n_fft=512, hop_length=256, n_mels=32, segment_seconds=1.0,
                      segment_hop_seconds=1.0, compression="log10")


def _tones(seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    y = 0.3 * np.sin(2 * np.pi * 300 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)
    return (y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


# ----------------------------------------------------------------------------- the config


def test_digests_of_earlier_configurations_are_unchanged():
    # values computed before compression existed: their caches keep their folder names
    assert FeatureConfig().digest() == "dd4ad24458849a1c"
    assert FeatureConfig(n_mels=64).digest() == "a1a7403ce7150544"
    old = dataclasses.replace(SMALL, compression="db")
    assert old.digest() == "c8902daf36870b8e"
    # a dict written before the fields existed loads as the same configuration
    legacy = {k: v for k, v in FeatureConfig(n_mels=64).to_dict().items()
              if k not in ("compression", "log10_scale")}
    assert FeatureConfig.from_dict(legacy) == FeatureConfig(n_mels=64)


def test_compression_changes_the_digest_and_the_cache_folder(tmp_path):
    from genrelens.cache import config_dir

    db = dataclasses.replace(SMALL, compression="db")
    assert len({db.digest(), SMALL.digest(),
                dataclasses.replace(SMALL, log10_scale=100.0).digest()}) == 3
    assert config_dir(tmp_path, SMALL) != config_dir(tmp_path, db)
    assert FeatureConfig.from_dict(json.loads(json.dumps(SMALL.to_dict()))) == SMALL


@pytest.mark.parametrize("kwargs, name", [({"compression": "ln"}, "compression"),
                                          ({"log10_scale": 0.0}, "log10_scale"),
                                          ({"log10_scale": float("inf")}, "log10_scale")])
def test_invalid_compression_names_the_parameter(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        FeatureConfig(**kwargs)


def test_silence_and_unit_follow_the_compression():
    assert FeatureConfig().silence == pytest.approx(-100.0) and FeatureConfig().unit == "dB"
    assert SMALL.silence == 0.0 and SMALL.unit == "log10(10000·S+1)"
    assert log_mel(np.zeros(16000, np.float32), config=SMALL).max() == 0.0


def test_musicnn_preset():
    c = preset("musicnn")
    assert (c.sr, c.n_fft, c.hop_length, c.n_mels, c.compression, c.log10_scale) == (
        16000, 512, 256, 96, "log10", 10000.0)
    assert c.n_frames == 187 and c.segment_samples == 47616
    with pytest.raises(ParameterError, match="'nope'.*musicnn"):
        preset("nope")


def test_musicnn_preset_reproduces_the_reference_input(shared_dir):
    """x.npy (frames, mels) is musicnn's input for y.npy, computed with librosa."""
    ref = shared_dir / "reference" / "musicnn"
    y, x = np.load(ref / "y.npy"), np.load(ref / "x.npy")
    c = preset("musicnn")
    got = log_mel(y, config=c)  # (2, 96, 188) of the whole 3 s
    np.testing.assert_allclose(got[:, :, :187].transpose(0, 2, 1), x, atol=1e-5)
    segment = log_mel(y[:, : c.segment_samples], config=c)  # one preset segment: 187 frames
    assert segment.shape == (2, 96, 187)
    # every frame but the last (centred on the segment's end, half padding) is musicnn's
    np.testing.assert_allclose(segment[:, :, :186].transpose(0, 2, 1), x[:, :186], atol=1e-5)


# ----------------------------------------------------------------------- compress/decompress


@pytest.mark.parametrize("config", [FeatureConfig(), SMALL], ids=["db", "log10"])
def test_compress_and_decompress_are_inverse(config):
    power = np.array([0.0, 1e-6, 0.01, 1.0, 30.0])
    values = compress(power, config=config)
    assert values[0] == pytest.approx(config.silence)
    np.testing.assert_allclose(decompress(values, config=config), power, rtol=1e-9)
    # the torch path is the same and differentiable
    t = torch.tensor(power[1:], requires_grad=True)
    out = compress(t, config=config)
    out.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), values[1:])
    assert torch.all(t.grad > 0)


def test_log10_is_musicnn_formula_and_its_db_view_is_exact():
    power = np.array([0.0, 1e-4, 0.5, 2.0])
    np.testing.assert_allclose(compress(power, config=SMALL), np.log10(10000 * power + 1))
    db = to_db(compress(power, config=SMALL), config=SMALL)
    np.testing.assert_allclose(db, [-100.0, -40.0, 10 * np.log10(0.5), 10 * np.log10(2.0)],
                               atol=1e-9)
    np.testing.assert_allclose(from_db(db, config=SMALL), compress(power, config=SMALL),
                               atol=1e-12)
    x = np.array([-100.0, -3.0])  # the dB view is the identity for dB input
    assert to_db(x, config=FeatureConfig()) is x and from_db(x, config=FeatureConfig()) is x


# ------------------------------------------------------------------------ "off" everywhere


def test_fills_are_in_the_input_values_of_the_compression():
    from genrelens.explain.fill import resolve_fill

    x = log_mel(_tones(), config=SMALL)
    rng = np.random.default_rng(0)
    fill = resolve_fill("min", x, config=SMALL, rng=rng)
    assert np.all(fill.array == 0.0) and fill.params == {"value": 0.0, "unit": SMALL.unit}
    assert resolve_fill("clip_min", x, config=SMALL, rng=rng).array.max() == x.min()
    with pytest.raises(ParameterError, match=r"log10\(10000"):
        resolve_fill(float("nan"), x, config=SMALL, rng=rng)
    db_fill = resolve_fill("min", x, config=FeatureConfig(), rng=rng)
    assert np.all(db_fill.array == np.float32(-100.0))


def test_stems_removed_give_silence_in_the_compression():
    from genrelens.explain import components as C
    from genrelens.explain.engine import mask_inputs
    from genrelens.explain.fill import resolve_fill

    y = _tones()
    comps = C.stems(y, config=SMALL, n_segments=2)
    x = log_mel(y, config=SMALL)
    fill = resolve_fill(None, x, config=SMALL, rng=np.random.default_rng(0), stems=True)
    z = np.ones((2, comps.n_components))
    z[1] = 0
    batch = mask_inputs(x, comps, z, fill)(0, 2).numpy()[:, 0]
    np.testing.assert_allclose(batch[0], x, atol=2e-3)  # all kept: the mixture's input
    assert np.all(batch[1] == 0.0)  # all removed: silence, 0 in log10


def test_descriptors_measure_and_edit_in_db_for_log10_input():
    from genrelens.inspection.descriptors import BandEnergy, Loudness, SpectralTilt

    y = np.stack([_tones(), 0.5 * _tones()])
    db_config = dataclasses.replace(SMALL, compression="db")
    x_log, x_db = log_mel(y, config=SMALL), log_mel(y, config=db_config)
    for make in (lambda c: BandEnergy("b", c, low_bin=2, high_bin=9),
                 lambda c: Loudness("l", c), lambda c: SpectralTilt("t", c)):
        d_log, d_db = make(SMALL), make(db_config)
        cur = d_log.measure(x_log)
        # the same audio measures the same in either front end
        np.testing.assert_allclose(cur, d_db.measure(x_db), atol=1e-3)
        target = cur + np.array([-6.0, 4.0])
        out = d_log.apply(torch.from_numpy(x_log), torch.from_numpy(cur),
                          torch.from_numpy(target)).numpy()
        assert out.min() >= 0.0  # never below silence
        np.testing.assert_allclose(d_log.measure(out), target, atol=1e-3)
    # a loudness cut of 3 dB halves the power of every cell: log10(C S / 2 + 1)
    cur = Loudness("l", SMALL).measure(x_log)
    out = Loudness("l", SMALL).apply(torch.from_numpy(x_log), torch.from_numpy(cur),
                                     torch.from_numpy(cur - 10 * np.log10(2))).numpy()
    power = decompress(x_log.astype(np.float64), config=SMALL)
    np.testing.assert_allclose(out, compress(power / 2, config=SMALL), atol=1e-4)


def test_listen_round_trips_for_a_log10_front_end():
    from genrelens.explain import components as C
    from genrelens.explain.listen import resynthesize

    y = _tones()
    bands = C.frequency_bands(config=SMALL, n_bands=4)
    everything = resynthesize(bands, np.ones(bands.n_components), y=y)
    np.testing.assert_allclose(everything, y, atol=1e-5)
    keep = np.ones(bands.n_components)
    high = int(np.flatnonzero([e.low_hz <= 3000 <= e.high_hz for e in bands.extents])[0])
    keep[high] = 0.0
    cut = resynthesize(bands, keep, y=y)
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    spectrum_cut = np.abs(np.fft.rfft(cut)) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / SMALL.sr)
    near = lambda f: np.abs(freqs - f) < 20  # noqa: E731
    assert spectrum_cut[near(3000)].sum() < 1e-3 * spectrum[near(3000)].sum()
    assert spectrum_cut[near(300)].sum() == pytest.approx(spectrum[near(300)].sum(), rel=1e-2)
    # the log10 input of the cut audio: the band's cells fall to (near) silence
    rows = np.asarray(bands.map)[:, 0] == high
    cut_mel = log_mel(cut, config=SMALL)
    assert cut_mel[rows][:, 4:-4].mean() < 0.05 * log_mel(y, config=SMALL)[rows][:, 4:-4].mean()


def test_checkpoints_written_before_the_new_fields_load(tmp_path):
    from genrelens.models import get_model, load_checkpoint, save_checkpoint

    config = FeatureConfig(n_mels=16)
    save_checkpoint(tmp_path / "c.pt", model=get_model("cnn", n_classes=2, channels=[2, 2, 2, 2]),
                    model_name="cnn", model_args={"n_classes": 2, "channels": [2, 2, 2, 2]},
                    feature_config=config, class_names=["a", "b"])
    data = torch.load(tmp_path / "c.pt", weights_only=True)
    for key in ("compression", "log10_scale"):  # as an earlier genrelens wrote it
        del data["feature_config"][key]
    torch.save(data, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.feature_config == config and loaded.feature_config.compression == "db"
    assert loaded.feature_config.digest() == config.digest()


def test_old_training_settings_resume_with_the_new_fields(tmp_path):
    from genrelens.training.config import TrainConfig
    from genrelens.training.run import RESUME_FILE, TRAIN_CONFIG_FILE, _check_same_settings

    settings = {"data": "d", "feature_config": FeatureConfig().to_dict(),
                "train": TrainConfig().to_dict()}
    legacy = dict(settings, feature_config={
        k: v for k, v in settings["feature_config"].items()
        if k not in ("compression", "log10_scale")},
        train={k: v for k, v in settings["train"].items() if k != "backbone_lr"})
    (tmp_path / TRAIN_CONFIG_FILE).write_text(json.dumps(legacy))
    (tmp_path / RESUME_FILE).write_text("")
    _check_same_settings(tmp_path, settings)  # the same training: no error
    with pytest.raises(ParameterError, match="feature_config"):
        _check_same_settings(tmp_path, dict(settings, feature_config=SMALL.to_dict()))
    with pytest.raises(ParameterError, match="train"):
        _check_same_settings(tmp_path, dict(settings, train=TrainConfig(lr=0.1).to_dict()))


def test_train_and_explain_with_a_log10_front_end(tmp_path, make_wav, capsys):
    from genrelens.explain.explanation import Explanation
    from genrelens.models import load_checkpoint

    data = tmp_path / "data"
    for i in range(5):
        make_wav(data / "tone" / f"t{i}.wav", seconds=2.1, sr=16000, freq=300.0 * (1 + i / 4),
                 noise=0.01, seed=i)
        make_wav(data / "noise" / f"n{i}.wav", seconds=2.1, sr=16000, amplitude=0.02,
                 noise=0.3, seed=i)
    run = tmp_path / "run"
    front_end = ["--sr", "16000", "--n-fft", "512", "--hop-length", "256", "--n-mels", "32",
                 "--segment-seconds", "1.0", "--compression", "log10"]
    argv = ["train", "--data", str(data), "--out", str(run), "--epochs", "2", "--batch-size",
            "4", "--model-args", '{"channels": [4, 4, 8, 8]}', "--threads", "1",
            "--no-progress", "--no-evaluate", "--device", "cpu", *front_end]
    assert cli.main(argv) == 0
    loaded = load_checkpoint(run / "checkpoint.pt")
    assert loaded.feature_config == SMALL
    cached = json.loads((tmp_path / "cache" / SMALL.digest() / "feature_config.json").read_text())
    assert cached["compression"] == "log10"
    # the model learnt on log10 inputs (0 = silence .. about 5), normalised by its InputNorm
    assert 0.0 < float(loaded.model.input_norm.mean) < 5.0
    out = tmp_path / "explained"
    code = cli.main(["explain", str(run / "checkpoint.pt"), str(data / "tone" / "t0.wav"),
                     "--methods", "occlusion", "--components", "freq", "--segments", "0",
                     "--fill", "min", "--out", str(out), "--no-progress", "--device", "cpu"])
    assert code == 0
    capsys.readouterr()
    exp = Explanation.load(out / "segments" / "000" / "occlusion_frequency")
    assert exp.components.config == SMALL and exp.fill.kind == "min"
    assert np.all(exp.fill.array == 0.0)
    x = log_mel(_load(data / "tone" / "t0.wav")[:16000], config=SMALL)
    np.testing.assert_allclose(exp.logmel, x, atol=1e-4)
    assert np.isfinite(exp.scores).all() and exp.scores.shape[1] == exp.components.n_components


def _load(path):
    import soundfile as sf

    return sf.read(path, dtype="float32")[0]


def test_cli_front_end_preset_and_field_flags():
    parser = cli.build_parser()
    args = parser.parse_args(["prepare", "--data", "D", "--cache", "C", "--front-end", "musicnn",
                              "--n-mels", "48"])
    config = _options.feature_config_from_args(args)
    assert config == dataclasses.replace(preset("musicnn"), n_mels=48)
    args = parser.parse_args(["train", "--data", "D", "--out", "R", "--compression", "log10",
                              "--log10-scale", "100"])
    config = _options.feature_config_from_args(args)
    assert (config.compression, config.log10_scale, config.sr) == ("log10", 100.0, 22050)
    args = parser.parse_args(["prepare", "--data", "D", "--cache", "C"])
    assert _options.feature_config_from_args(args) == FeatureConfig()
    with pytest.raises(ParameterError, match="compression='ln'"):
        _options.feature_config_from_args(parser.parse_args(
            ["prepare", "--data", "D", "--cache", "C", "--compression", "ln"]))
