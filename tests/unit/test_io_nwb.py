"""NWB files with ndx-pose data (0.1.1 and 0.3.0 schemas), read through ``load_poses``."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from napari_vqmap.io import detect_format, load_poses

PAWS = ["front_left_paw", "front_right_paw"]


def _check(ds, shape):
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds["position"].shape == shape
    assert ds["confidence"].shape == (shape[0], shape[2], shape[3])
    assert list(ds["space"].values) == ["x", "y", "z"][: shape[1]]
    assert ds.attrs["source_software"] == "NWB"


def test_vame_nwb_matches_its_csv(data_dir):
    path = data_dir / "vame-tests" / "cropped_video.nwb"
    assert detect_format(path) == "NWB"
    with pytest.warns(UserWarning, match="cropped_video.nwb: the timestamps run 0, 1, 2"):
        ds = load_poses(path)
    _check(ds, (750, 2, 6, 1))
    csv = load_poses(data_dir / "vame-tests" / "cropped_video.csv")
    assert set(ds["keypoint"].values) == set(csv["keypoint"].values)
    order = list(csv["keypoint"].values)
    np.testing.assert_allclose(
        ds["position"].sel(keypoint=order).values, csv["position"].values, rtol=1e-6
    )
    np.testing.assert_allclose(
        ds["confidence"].sel(keypoint=order).values, csv["confidence"].values, rtol=1e-6
    )
    # the file's timestamps are 0, 1, 2, ... seconds: frame numbers, read as 1 fps
    assert ds.attrs["fps"] == pytest.approx(1.0)
    np.testing.assert_array_equal(ds["frame"].values, np.arange(750))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a given frame rate: no warning
        assert load_poses(path, fps=30).attrs["fps"] == 30


def test_a_link_that_leads_nowhere_is_skipped(data_dir, tmp_path):
    """A soft link to a missing object inside a PoseEstimation group (h5py gives None for
    it; the fuzz test met one in a damaged file) is passed over, not an AttributeError."""
    import shutil

    path = tmp_path / "linked.nwb"
    shutil.copy(data_dir / "vame-tests" / "cropped_video.nwb", path)
    with h5py.File(path, "r+") as f:
        groups = []
        f.visititems(lambda name, obj: groups.append(name) if _is_pose(obj) else None)
        f[groups[0]]["dangling"] = h5py.SoftLink("/no/such/object")
    with pytest.warns(UserWarning, match="timestamps run"):
        ds = load_poses(path)
    _check(ds, (750, 2, 6, 1))


def _is_pose(obj) -> bool:
    value = obj.attrs.get("neurodata_type", b"")
    return (value.decode() if isinstance(value, bytes) else str(value)) == "PoseEstimation"


def test_ndx_pose_011_mixed_dims_padded(data_dir):
    path = data_dir / "ndx-pose-backcompat" / "0.1.1_poseestimation_nodes_edges.nwb"
    with pytest.warns(UserWarning, match="front_right_paw are 2D"):
        ds = load_poses(path)
    _check(ds, (100, 3, 2, 1))
    assert list(ds["keypoint"].values) == PAWS
    assert ds.attrs["skeleton"] == [("front_left_paw", "front_right_paw")]
    first = ds["position"].isel(time=0, individual=0)
    np.testing.assert_allclose(
        first.sel(keypoint="front_left_paw").values, [0.31871107, 0.98087013, 0.88495572]
    )
    np.testing.assert_allclose(first.sel(keypoint="front_right_paw").values[2], 0.0)
    assert not ds["position"].isnull().any()
    assert float(ds["confidence"][0, 0, 0]) == pytest.approx(0.73781782)
    assert ds.attrs["fps"] == pytest.approx(9.9)  # 100 timestamps over 0..10 s


def test_ndx_pose_030_skeletons(data_dir):
    path = data_dir / "ndx-pose-backcompat" / "0.3.0_poseestimation_two_cameras.nwb"
    ds = load_poses(path)
    _check(ds, (10, 2, 2, 1))
    assert list(ds["keypoint"].values) == PAWS
    assert ds.attrs["skeleton"] == [("front_left_paw", "front_right_paw")]
    np.testing.assert_allclose(
        ds["position"].isel(time=0, individual=0).values,
        [[0.63696169, 0.68844673], [0.26978671, 0.38892142]],
    )
    np.testing.assert_allclose(ds["confidence"][0, :, 0], [0.02831967, 0.78709831], rtol=1e-6)


def _write_pose_group(module, name: str, offset: float) -> None:
    group = module.create_group(name)
    group.attrs["neurodata_type"] = "PoseEstimation"
    for k, kp in enumerate(["nose", "tail"]):
        series = group.create_group(kp)
        series.attrs["neurodata_type"] = "PoseEstimationSeries"
        series["data"] = np.full((5, 2), offset + k)
        start = series.create_dataset("starting_time", data=0.0)
        start.attrs["rate"] = 30.0


def test_several_pose_estimations_are_individuals(tmp_path):
    """Synthetic: two PoseEstimation groups (one per animal), a rate instead of timestamps."""
    path = tmp_path / "two_mice.nwb"
    with h5py.File(path, "w") as f:
        module = f.create_group("processing/behavior")
        _write_pose_group(module, "mouse_a", 0.0)
        _write_pose_group(module, "mouse_b", 10.0)
    ds = load_poses(path)
    _check(ds, (5, 2, 2, 2))
    assert list(ds["individual"].values) == ["mouse_a", "mouse_b"]
    assert ds.attrs["fps"] == 30.0
    np.testing.assert_allclose(ds["position"].sel(individual="mouse_b", keypoint="tail"), 11.0)
    np.testing.assert_allclose(ds["confidence"], 1.0)  # no confidence stored
