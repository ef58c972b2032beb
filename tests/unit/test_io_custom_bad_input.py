"""Bad input to our own readers: clear PoseFileErrors naming the file, never raw tracebacks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from napari_vqmap.io import arrays, load_poses
from napari_vqmap.skeletons import get_skeleton
from napari_vqmap.validators import PoseFileError


@pytest.mark.parametrize("suffix", [".mat", ".csv", ".npy", ".npz", ".h5"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.touch()
    with pytest.raises(PoseFileError, match="empty") as err:
        load_poses(path)
    assert str(path) in str(err.value)


def test_npy_wrong_rank(tmp_path):
    path = tmp_path / "flat.npy"
    np.save(path, np.arange(10.0))
    with pytest.raises(PoseFileError, match=r"shape \(10,\).*3 or 4 dimensions"):
        load_poses(path, skeleton="subtle")


def test_npy_last_axis_not_coordinates(tmp_path):
    path = tmp_path / "xyzw.npy"
    np.save(path, np.zeros((5, 9, 4)))
    with pytest.raises(PoseFileError, match="last axis must be x, y"):
        load_poses(path, skeleton="subtle")


def test_npy_without_skeleton(tmp_path):
    path = tmp_path / "poses.npy"
    np.save(path, np.zeros((5, 9, 3)))
    with pytest.raises(PoseFileError, match="no keypoint names.*skeleton="):
        load_poses(path)


def test_npy_skeleton_size_mismatch(tmp_path):
    path = tmp_path / "poses.npy"
    np.save(path, np.zeros((5, 9, 3)))
    with pytest.raises(PoseFileError, match="9 keypoints but skeleton 'dannce_mouse22' has 22"):
        load_poses(path, skeleton="dannce_mouse22")


def test_npy_pickled_objects_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(PoseFileError, match="not a readable .npy"):
        load_poses(path, skeleton="subtle")


def test_npz_ambiguous_arrays(tmp_path):
    path = tmp_path / "two.npz"
    np.savez(path, a=np.zeros((5, 4, 2)), b=np.ones((5, 4, 2)))
    with pytest.raises(PoseFileError, match="several arrays.*key="):
        load_poses(path, skeleton="dlc_openfield")
    ds = arrays.load(path, key="b", skeleton=get_skeleton("dlc_openfield"))
    assert float(ds["position"].mean()) == 1.0


def test_npz_unknown_key(data_dir):
    with pytest.raises(PoseFileError, match="no array 'nope'"):
        arrays.load(data_dir / "gimbal-rat7m-mock" / "mock_data.npz", key="nope")


def test_mat_without_poses(data_dir):
    path = data_dir / "dannce-markerless-mouse" / "com3d.mat"
    with pytest.raises(PoseFileError, match="not a pose file"):
        load_poses(path)
    for fmt in ("DANNCE", "Label3D"):
        with pytest.raises(PoseFileError, match=r"no pose array \('pred' or 'labelData'\) found"):
            load_poses(path, source_software=fmt)


def test_mat_garbage(tmp_path):
    path = tmp_path / "junk.mat"
    path.write_bytes(b"this is not a MATLAB file at all" * 10)
    with pytest.raises(PoseFileError, match="not a readable MATLAB"):
        load_poses(path, source_software="DANNCE")


def test_points3d_truncated(data_dir, tmp_path):
    data = (data_dir / "sleap-anipose-minimal-session" / "points3d.h5").read_bytes()
    path = tmp_path / "points3d.h5"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(PoseFileError, match="HDF5"):
        load_poses(path, source_software="sleap-anipose")


def test_subtle_with_wrong_skeleton(data_dir):
    path = data_dir / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
    with pytest.raises(PoseFileError, match="27 columns do not fit skeleton 'dannce_mouse22'"):
        load_poses(path, skeleton="dannce_mouse22")


def test_subtle_unknown_width_needs_skeleton(tmp_path):
    path = tmp_path / "wide.csv"
    np.savetxt(path, np.zeros((4, 12)), delimiter=",")
    with pytest.raises(PoseFileError, match="12 columns and no keypoint names"):
        load_poses(path)


def test_subtle_text_cells(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("1,2,3,4,5,6\n1,2,3,x,5,6\n")
    with pytest.raises(PoseFileError, match="hold text"):
        load_poses(path, source_software="SUBTLE", skeleton="fly2")


def test_nan_only_keypoint_is_flagged(data_dir, tmp_path):
    src = data_dir / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
    values = np.loadtxt(src, delimiter=",", max_rows=50)
    values[:, 6:9] = np.nan  # keypoint 2, "anus"
    path = tmp_path / "nan_anus.csv"
    np.savetxt(path, values, delimiter=",")
    with pytest.warns(UserWarning, match="anus"):
        ds = load_poses(path)
    assert ds.attrs["empty_keypoints"] == ["anus"]
    assert ds["confidence"].sel(keypoint="anus").isnull().all()


def test_label3d_alone_without_names(data_dir, tmp_path):
    """Without the skeleton .mat beside it, 22 joints still get the preset names."""
    path = shutil.copy(data_dir / "dannce-markerless-mouse" / "label3d_dannce.mat", tmp_path)
    ds = load_poses(path, skeleton="dannce_mouse22")
    assert ds["keypoint"].values[2] == "Snout"
    with pytest.raises(PoseFileError, match="22 keypoints but skeleton 'subtle' has 9"):
        load_poses(path, skeleton="subtle")
