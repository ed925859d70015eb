"""Shared fixtures for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Reference data shipped beside the project (never committed to it); tests skip without it.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder, or skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference data folder {SHARED.name}/ beside the project is absent")
    return SHARED


def write_tone(
    path: Path,
    *,
    seconds: float = 3.5,
    sr: int = 22050,
    freq: float = 440.0,
    amplitude: float = 0.5,
    channels: int = 1,
    noise: float = 0.0,
    seed: int = 0,
    subtype: str | None = None,
) -> Path:
    """Write a sine tone (plus optional white noise) to ``path`` with soundfile; return the path.

    The format follows the extension (.wav .au .flac .ogg .mp3); parent folders are created.
    """
    import numpy as np
    import soundfile as sf

    n = int(round(seconds * sr))
    y = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / sr)
    if noise:
        y = y + noise * np.random.default_rng(seed).standard_normal(n)
    data = np.repeat(y[:, None], channels, axis=1) if channels > 1 else y
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data.astype(np.float32), sr, subtype=subtype)
    return path


@pytest.fixture(scope="session")
def make_wav():
    """The :func:`write_tone` helper: ``make_wav(tmp_path / "a.wav", seconds=4, freq=220)``."""
    return write_tone


def write_music_folder(folder: Path, *, n_files: int = 4, seconds: float = 13.0) -> Path:
    """A folder of ``n_files`` FLAC files of tones and noise ("music" for the planted-cue
    benchmark) with a ``SOURCES.tsv`` naming a CC0 package; returns the folder."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True)
    sr = 22050
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n_files):
        rng = np.random.default_rng(i)
        notes = sum(0.05 * np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 2000, 4))
        y = notes + 0.03 * rng.standard_normal(t.size)
        sf.write(folder / f"track{i}.flac", y.astype(np.float32), sr)
    (folder / "SOURCES.tsv").write_text(
        "package\tversion\tlicence\tfile\tsha256\ntest\t1\tCC0\ttrack0.flac\tabc\n")
    return folder


@pytest.fixture(scope="session")
def make_music_folder():
    """The :func:`write_music_folder` helper: ``make_music_folder(tmp_path / "music")``."""
    return write_music_folder


#: The front end of :func:`tiny_run`: 8 kHz, 32 mels, 1-s segments (fast to explain).
TINY_CONFIG_ARGS = dict(sr=8000, n_fft=512, hop_length=128, n_mels=32, segment_seconds=1.0,
                        segment_hop_seconds=1.0)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A run folder ``RUN/checkpoint.pt`` (a 4-block CNN, 3 classes, seeded weights, front end
    :data:`TINY_CONFIG_ARGS`) and ``RUN/clip.wav`` (2.4 s of a 440 Hz tone and noise)."""
    import numpy as np
    import torch

    from genrelens.config import FeatureConfig
    from genrelens.models import get_model, save_checkpoint

    run = tmp_path_factory.mktemp("tiny_run")
    torch.manual_seed(0)
    args = {"n_classes": 3, "channels": [4, 4, 8, 8]}
    save_checkpoint(run / "checkpoint.pt", model=get_model("cnn", **args).eval(),
                    model_name="cnn", model_args=args,
                    feature_config=FeatureConfig(**TINY_CONFIG_ARGS),
                    class_names=("blues", "jazz", "metal"))
    write_tone(run / "clip.wav", seconds=2.4, sr=8000, amplitude=0.3, noise=0.05)
    return run
