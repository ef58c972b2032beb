"""Shared fixtures: the real recordings in ``../shared/data`` (or ``$NAPARI_VQMAP_DATA``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA_DIR = Path(
    os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder; tests that need it skip (with the reason) when it is absent."""
    if not DATA_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data folder {DATA_DIR} is missing on CI")
        pytest.skip(f"shared data folder {DATA_DIR} not found (set NAPARI_VQMAP_DATA)")
    return DATA_DIR
