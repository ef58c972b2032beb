"""Screenshots of the napari widgets in use, written to docs/images by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


def save_screenshot(shot: np.ndarray, name: str) -> Path:
    """Write ``shot`` to ``docs/images/<name>`` and check its RGB is not blank."""
    from imageio.v3 import imwrite

    assert shot[..., :3].std() > 10, f"{name} is blank"
    IMAGES.mkdir(parents=True, exist_ok=True)
    imwrite(IMAGES / name, shot)
    return IMAGES / name
