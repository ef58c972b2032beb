"""Shared fixtures: the real recordings in ``../shared/data`` (or ``$NAPARI_VQMAP_DATA``)."""

from __future__ import annotations

import os
import sys
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


QT_FIXTURES = {"qapp", "qtbot", "make_napari_viewer"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without an X display Qt aborts the whole run at the first viewer: skip the tests
    that need one, with the reason (on CI, stop with it)."""
    if sys.platform != "linux" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return  # pytest-xvfb has set DISPLAY by now when it started Xvfb
    reason = (
        "no X display for napari: install Xvfb (scripts/test.sh does, as root) "
        "or run the tests under a desktop session"
    )
    if os.environ.get("CI"):
        raise pytest.UsageError(reason)
    for item in items:
        if QT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.skip(reason=reason))


SUBTLE_SESSION = "subtle-avatar-3d/y5a5/coords/young_8301.csv"


@pytest.fixture(scope="session")
def tiny_subtle_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained for a few steps on the first 1500 frames of a SUBTLE session."""
    from napari_vqmap.io import load_poses
    from napari_vqmap.training import train
    from tests.tiny import tiny_train_config

    ds = load_poses(data_dir / SUBTLE_SESSION, skeleton="subtle", fps=20)
    return train(
        [ds.isel(time=slice(0, 1500))], tmp_path_factory.mktemp("tiny") / "m", tiny_train_config()
    )
