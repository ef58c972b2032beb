"""Our own readers (DANNCE, Label3D, sleap-anipose points3d, SUBTLE csv, numpy) on real files."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from napari_vqmap.io import arrays, dannce, detect_format, label3d, load_poses, points3d, subtle
from napari_vqmap.skeletons import get_skeleton

MOUSE22 = list(get_skeleton("dannce_mouse22").keypoints)


@pytest.fixture(scope="module")
def dannce_dir(data_dir):
    return data_dir / "dannce-markerless-mouse"


@pytest.fixture(scope="module")
def avg(dannce_dir):
    return load_poses(dannce_dir / "save_data_AVG_torch_nearest.mat")


def test_dannce_avg(avg):
    assert avg["position"].shape == (1000, 3, 22, 1)
    assert list(avg["keypoint"].values) == MOUSE22
    assert avg.attrs["source_software"] == "DANNCE"
    assert avg.attrs["fps"] == 100.0  # sampleID step of 10 ms
    np.testing.assert_array_equal(avg["frame"].values, np.arange(1000))
    assert not avg["position"].isnull().any()
    assert float(avg["confidence"].mean()) == pytest.approx(0.07, abs=0.01)
    assert len(avg.attrs["skeleton"]) == 24
    assert ("EarL", "EarR") in avg.attrs["skeleton"]


def test_dannce_max_plus_com_matches_avg(dannce_dir, avg):
    ds = load_poses(dannce_dir / "save_data_MAX_tf.mat")
    assert ds.attrs["com_source"].endswith("label3d_dannce.mat")
    diff = float(np.abs(ds["position"] - avg["position"]).mean())
    assert diff == pytest.approx(1.4, abs=0.1)


def test_dannce_max_without_com_warns(dannce_dir, tmp_path):
    path = shutil.copy(dannce_dir / "save_data_MAX_tf.mat", tmp_path)
    with pytest.warns(UserWarning, match="centre of mass"):
        ds = load_poses(path)
    assert float(np.abs(ds["position"]).max()) < 60  # still COM-relative
    assert list(ds["keypoint"].values) == MOUSE22  # the preset names 22 joints


def test_dannce_names_from_skeleton_mat(dannce_dir, avg):
    sk = dannce.names_beside(dannce_dir / "save_data_AVG_torch_nearest.mat", 22)
    assert sk is not None and list(sk.keypoints) == MOUSE22
    assert set(sk.edges) == set(get_skeleton("dannce_mouse22").edges)


def test_label3d(dannce_dir, avg):
    ds = load_poses(dannce_dir / "label3d_dannce.mat")
    assert ds["position"].shape == (81, 3, 22, 1)
    assert ds.attrs["source_software"] == "Label3D"
    assert ds.attrs["fps"] == 100.0
    frames = ds["frame"].values
    assert frames[:3].tolist() == [27, 72, 168] and np.all(np.diff(frames) > 0)
    # manual labels vs the network: within a few mm on the frames both cover
    both = frames[frames < 1000]
    labelled = ds["position"].sel(time=ds["frame"] < 1000).values
    predicted = avg["position"].values[both]
    assert np.nanmean(np.abs(labelled - predicted)) < 2.0


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("save_data_AVG_torch_nearest.mat", "DANNCE"),
        ("save_data_MAX_tf.mat", "DANNCE"),
        ("label3d_dannce.mat", "Label3D"),
        ("com3d.mat", None),
        ("mouse22_skeleton.mat", None),
    ],
)
def test_mat_detection(dannce_dir, name, fmt):
    assert detect_format(dannce_dir / name) == fmt
    assert dannce.sniff(dannce_dir / name) == (fmt == "DANNCE")
    assert label3d.sniff(dannce_dir / name) == (fmt == "Label3D")


def test_points3d(data_dir):
    session = data_dir / "sleap-anipose-minimal-session"
    ds = load_poses(session / "points3d.h5")
    assert ds["position"].shape == (120, 3, 15, 1)
    assert ds.attrs["source_software"] == "sleap-anipose"
    assert list(ds["keypoint"].values) == list(get_skeleton("sleap_anipose_mouse").keypoints)
    assert list(ds["individual"].values) == ["track_0"]
    assert ds.attrs["skeleton_name"] == "sleap_anipose_mouse"
    assert len(ds.attrs["skeleton"]) == 14
    assert not ds["position"].isnull().any()
    assert not points3d.sniff(session / "back" / "minimal_back_proofread.analysis.h5")


def test_points3d_alone_uses_preset(data_dir, tmp_path):
    path = shutil.copy(data_dir / "sleap-anipose-minimal-session" / "points3d.h5", tmp_path)
    ds = load_poses(path, fps=30)
    assert ds["keypoint"].values[0] == "Nose" and ds.attrs["fps"] == 30.0


def test_subtle_csv(data_dir):
    path = data_dir / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
    ds = load_poses(path, fps=20)
    assert ds["position"].shape == (11986, 3, 9, 1)
    names = ["nose", "neck", "anus", "chest", "rfoot", "lfoot", "rhand", "lhand", "tip"]
    assert list(ds["keypoint"].values) == names
    assert ds.attrs["source_software"] == "SUBTLE" and ds.attrs["skeleton_name"] == "subtle"
    first = pd.read_csv(path, header=None, nrows=1).to_numpy().reshape(9, 3)
    np.testing.assert_allclose(ds["position"].values[0, :, :, 0].T, first, rtol=1e-6)
    assert float(ds["time"].values[-1]) == pytest.approx(11985 / 20)


def test_subtle_sniff_rejects_other_csvs(data_dir):
    assert not subtle.sniff(data_dir / "subtle-avatar-3d" / "y5a5" / "annots" / "young_8301.csv")
    assert not subtle.sniff(data_dir / "vame-tests" / "cropped_video.csv")
    assert subtle.sniff(data_dir / "subtle-avatar-3d" / "y3a6" / "coords" / "adult_8294.csv")


def test_subtle_csv_2d_with_skeleton(tmp_path):
    path = tmp_path / "xy.csv"
    np.savetxt(path, np.arange(40.0).reshape(5, 8), delimiter=",")
    ds = load_poses(path, source_software="SUBTLE", skeleton="dlc_openfield")
    assert ds["position"].shape == (5, 2, 4, 1)
    assert ds["position"].values[1, 1, 0, 0] == 9.0  # row 1: x0=8, y0=9


def test_deepof_npy(data_dir):
    ds = load_poses(data_dir / "deepof-tests" / "testDLC_sleap_table.npy", skeleton="deepof14")
    assert ds["position"].shape == (100, 2, 14, 1)
    assert list(ds["keypoint"].values) == list(get_skeleton("deepof14").keypoints)
    assert ds.attrs["source_software"] == "numpy"
    raw = np.load(data_dir / "deepof-tests" / "testDLC_sleap_table.npy")
    np.testing.assert_allclose(ds["position"].values[7, :, 3, 0], raw[7, 0, 3], rtol=1e-6)


def test_rat7m_npz(data_dir):
    path = data_dir / "gimbal-rat7m-mock" / "mock_data.npz"
    ds = load_poses(path)
    assert ds["position"].shape == (100, 3, 18, 1)
    assert ds.attrs["skeleton_name"] == "rat7m"
    assert float(ds["position"].isnull().mean()) == pytest.approx(0.22, abs=0.01)
    assert ("SpineF", "HeadB") in ds.attrs["skeleton"] and len(ds.attrs["skeleton"]) == 17
    tri = arrays.load(path, key="triangulated_pos_3d")
    assert not tri["position"].isnull().any()
    assert list(tri["keypoint"].values) == list(ds["keypoint"].values)


def test_npy_with_individuals(tmp_path):
    path = tmp_path / "two.npy"
    arr = np.random.default_rng(0).normal(size=(20, 2, 4, 2))
    np.save(path, arr)
    ds = load_poses(path, skeleton="dlc_openfield", fps=30)
    assert ds["position"].shape == (20, 2, 4, 2)
    np.testing.assert_allclose(ds["position"].values[5, :, 2, 1], arr[5, 1, 2], rtol=1e-6)
