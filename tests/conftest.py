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
