"""Anipose 3D csv.

SYNTHETIC data: no real Anipose csv exists in ``shared/data``, so the file is built here
from Anipose's documented columns (``<kp>_x/_y/_z/_error/_ncams/_score``, ``M_00..M_22``,
``center_0..2``, ``fnum``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_vqmap.io import anipose, detect_format, load_poses

KEYPOINTS = ["nose", "ear_left", "tail_base"]


@pytest.fixture
def anipose_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 6
    cols: dict[str, np.ndarray] = {}
    for k, kp in enumerate(KEYPOINTS):
        for a, axis in enumerate("xyz"):
            cols[f"{kp}_{axis}"] = 100.0 * k + 10.0 * a + np.arange(n)
        cols[f"{kp}_error"] = rng.random(n)
        cols[f"{kp}_ncams"] = np.full(n, 3)
        cols[f"{kp}_score"] = np.linspace(0.5, 1.0, n)
    cols["nose_x"][2] = np.nan  # a point anipose could not triangulate
    for i in range(3):
        for j in range(3):
            cols[f"M_{i}{j}"] = np.full(n, float(i == j))
        cols[f"center_{i}"] = np.zeros(n)
    cols["fnum"] = np.arange(10, 10 + n)
    path = tmp_path / "session_pose3d.csv"
    pd.DataFrame(cols).to_csv(path, index=False)
    return path


def test_anipose_csv(anipose_csv):
    assert detect_format(anipose_csv) == "Anipose"
    ds = load_poses(anipose_csv, fps=100)
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds["position"].shape == (6, 3, 3, 1)
    assert list(ds["space"].values) == ["x", "y", "z"]
    assert list(ds["keypoint"].values) == KEYPOINTS
    assert ds.attrs["source_software"] == "Anipose"
    assert list(ds["frame"].values) == list(range(10, 16))
    np.testing.assert_allclose(
        ds["position"].sel(keypoint="ear_left").isel(time=1, individual=0), [101, 111, 121]
    )
    assert ds["position"].sel(keypoint="nose").isel(time=2).isnull().all()
    assert np.isnan(ds["confidence"].sel(keypoint="nose").isel(time=2, individual=0))
    assert float(ds["confidence"].isel(time=5, keypoint=0, individual=0)) == pytest.approx(1.0)
    assert ds.attrs["fps"] == 100


def test_dlc_csv_is_not_anipose(data_dir):
    assert not anipose.sniff(data_dir / "vame-tests" / "cropped_video.csv")


def test_cut_last_line_is_left_out(anipose_csv):
    text = anipose_csv.read_bytes()
    anipose_csv.write_bytes(text[: text.rstrip(b"\n").rfind(b"\n") + 40])
    with pytest.warns(UserWarning, match="looks truncated; that line is left out"):
        ds = load_poses(anipose_csv)
    assert ds.sizes["time"] == 5
