"""Shared data of the training tests."""

import pytest


@pytest.fixture(scope="module")
def tone_noise_data(tmp_path_factory, make_wav):
    """``ROOT/data/{tone,noise}/*.wav``: 5 clear tones and 5 noisy ones of 6.2 s; returns ROOT."""
    root = tmp_path_factory.mktemp("tones")
    for i in range(5):
        freq = 220.0 * (1 + 0.3 * i)
        make_wav(root / "data" / "tone" / f"tone{i}.wav", seconds=6.2, freq=freq, noise=0.01,
                 seed=i)
        make_wav(root / "data" / "noise" / f"noise{i}.wav", seconds=6.2, freq=freq,
                 amplitude=0.05, noise=0.3, seed=i)
    return root
