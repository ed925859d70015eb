import pytest

from genrelens import FeatureConfig, ParameterError


def test_defaults_give_130_frames_per_3s_segment():
    cfg = FeatureConfig()
    assert cfg.segment_samples == 66150
    assert cfg.n_frames == 130
    assert cfg.fmax_hz == 11025.0
    assert cfg.floor_db == pytest.approx(-100.0)


def test_round_trip_and_digest_stable():
    cfg = FeatureConfig(n_mels=64)
    again = FeatureConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert again.digest() == cfg.digest()
    assert FeatureConfig().digest() != cfg.digest()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_mels": 0}, "n_mels"),
        ({"sr": 22050.5}, "sr"),
        ({"hop_length": 4096}, "hop_length"),
        ({"fmax": 20000.0}, "fmax"),
        ({"fmin": 500.0, "fmax": 100.0}, "fmin"),
        ({"segment_seconds": -1.0}, "segment_seconds"),
        ({"segment_seconds": 0.01}, "segment_seconds"),
        ({"amin": 0.0}, "amin"),
    ],
)
def test_invalid_values_name_the_parameter(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        FeatureConfig(**kwargs)


def test_unknown_keys_are_refused():
    with pytest.raises(ParameterError, match="bogus"):
        FeatureConfig.from_dict({"bogus": 1})
