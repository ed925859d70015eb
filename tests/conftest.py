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
