"""Bad input for the DLC, Lightning Pose, SLEAP, NWB and Anipose readers.

Every failure is a :class:`PoseFileError` whose message names the file.
"""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from napari_vqmap.io import load_poses
from napari_vqmap.validators import PoseFileError

REAL_HDF5 = {
    "DeepLabCut": "deepof-tests/testDLC_square_arena.h5",
    "SLEAP": "sleap-tests/centered_pair_predictions.slp",
    "NWB": "vame-tests/cropped_video.nwb",
}
DLC_HEADER = "scorer,net,net,net\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n"


def _raises(path, match: str | None = None, **kwargs) -> PoseFileError:
    with pytest.raises(PoseFileError) as info:
        load_poses(path, **kwargs)
    assert str(path) in str(info.value)
    if match:
        assert match in str(info.value)
    return info.value


@pytest.mark.parametrize("name", ["missing.h5", "missing.csv", "missing.slp", "missing.nwb"])
def test_missing_file(tmp_path, name):
    _raises(tmp_path / name, "file not found")


@pytest.mark.parametrize("name", ["empty.h5", "empty.csv", "empty.slp", "empty.nwb"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.touch()
    _raises(path, "file is empty")


@pytest.mark.parametrize("software", sorted(REAL_HDF5))
def test_truncated_hdf5(data_dir, tmp_path, software):
    source = data_dir / REAL_HDF5[software]
    path = tmp_path / f"truncated{source.suffix}"
    blob = source.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    _raises(path, "not a readable HDF5 file (truncated or corrupt?)")
    _raises(path, "HDF5", source_software=software)  # forced: the same


def test_truncated_sleap_analysis(data_dir, tmp_path):
    source = data_dir / "deepof-tests" / "testDLC_sleap.analysis.h5"
    path = tmp_path / "truncated.analysis.h5"
    blob = source.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    _raises(path, "truncated or corrupt")
    _raises(path, "HDF5", source_software="SLEAP")


@pytest.mark.parametrize(
    ("source", "kwargs"),
    [
        ("vame-tests/cropped_video.csv", {}),  # DeepLabCut
        ("subtle-avatar-3d/y5a5/coords/young_8301.csv", {"skeleton": "subtle"}),
    ],
)
def test_csv_cut_mid_line_drops_that_line_with_a_warning(data_dir, tmp_path, source, kwargs):
    """A csv cut in the middle of a row (a copy or a tracker that stopped mid-write): the
    cut row is left out, with a warning naming the file, never read with cut values."""
    source = data_dir / source
    whole = load_poses(source, **kwargs)
    text = source.read_bytes()
    lines = text.splitlines(keepends=True)
    head = 3 if "vame" in str(source) else 0  # DLC header rows
    keep = b"".join(lines[: head + 10])
    cut = lines[head + 10][: len(lines[head + 10]) // 2].rstrip(b"0123456789.-e")
    path = tmp_path / source.name
    path.write_bytes(keep + cut)
    with pytest.warns(UserWarning, match=f"{path}: the last line has .* looks truncated"):
        ds = load_poses(path, **kwargs)
    assert ds.sizes["time"] == 10
    np.testing.assert_array_equal(ds["position"].values, whole["position"].values[:10])
    path.write_bytes(keep)  # complete lines, no line end issue: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_poses(path, **kwargs).sizes["time"] == 10


def test_csv_without_keypoint_columns(tmp_path):
    path = tmp_path / "no_keypoints.csv"
    path.write_text("scorer,net\nbodyparts,nose\ncoords,likelihood\n0,0.9\n")
    _raises(path, "no x/y coordinate columns")
    _raises(path, "no x/y coordinate columns", source_software="LightningPose")


def test_header_only_csv(tmp_path):
    path = tmp_path / "header_only.csv"
    path.write_text("scorer\nbodyparts\ncoords\n")
    _raises(path)


def test_unknown_csv(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n")
    _raises(path, "not a pose file")
    _raises(path, "not a DeepLabCut csv", source_software="DeepLabCut")
    _raises(path, "not an Anipose 3D csv", source_software="Anipose")


def test_garbled_csv(tmp_path):
    path = tmp_path / "garbled.csv"
    path.write_bytes(np.random.default_rng(1).bytes(4000))
    _raises(path)
    _raises(path, source_software="DeepLabCut")


def test_non_numeric_dlc_values(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text(DLC_HEADER + "0,1.0,2.0,0.9\n1,oops,2.0,0.9\n")
    _raises(path, "non-numeric")


def test_plain_hdf5_is_not_a_pose_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["values"] = np.zeros(3)
    _raises(path, "not a pose file")
    _raises(path, "no pandas table", source_software="DeepLabCut")
    _raises(path, "not a SLEAP analysis file", source_software="SLEAP")
    _raises(path, "no ndx-pose", source_software="NWB")


def test_sleap_analysis_with_wrong_shape(tmp_path):
    path = tmp_path / "bad.analysis.h5"
    with h5py.File(path, "w") as f:
        f["tracks"] = np.zeros((1, 2, 4, 10))
        f["node_names"] = np.array([b"a", b"b", b"c"])
    _raises(path, "does not match 3 node names")


def test_keypoint_missing_in_every_frame(tmp_path):
    path = tmp_path / "empty_keypoint.csv"
    header = (
        "scorer,net,net,net,net,net,net\nbodyparts,nose,nose,nose,tail,tail,tail\n"
        "coords,x,y,likelihood,x,y,likelihood\n"
    )
    path.write_text(header + "0,1.0,2.0,0.9,,,\n1,1.5,2.5,0.8,,,\n")
    with pytest.warns(UserWarning, match="tail"):
        ds = load_poses(path)
    assert ds.attrs["empty_keypoints"] == ["tail"]
    assert ds["position"].shape == (2, 2, 2, 1)
    assert ds["position"].sel(keypoint="tail").isnull().all()
