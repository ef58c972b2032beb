"""DeepLabCut and Lightning Pose tables, read through ``load_poses`` (detection included)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vqmap.io import detect_format, load_poses

DEEPOF_KEYPOINTS = {
    "Nose",
    "Left_ear",
    "Right_ear",
    "Spine_1",
    "Center",
    "Spine_2",
    "Tail_base",
    "Tail_1",
    "Tail_2",
    "Tail_tip",
    "Left_bhip",
    "Right_bhip",
    "Left_fhip",
    "Right_fhip",
}
LP_KEYPOINTS = [
    "paw1LH_top",
    "paw2LF_top",
    "paw3RF_top",
    "paw4RH_top",
    "tailBase_top",
    "tailMid_top",
    "nose_top",
    "obs_top",
    "paw1LH_bot",
    "paw2LF_bot",
    "paw3RF_bot",
    "paw4RH_bot",
    "tailBase_bot",
    "tailMid_bot",
    "nose_bot",
    "obsHigh_bot",
    "obsLow_bot",
]


def _check(ds, shape, source="DeepLabCut"):
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds["position"].shape == shape
    assert ds["confidence"].shape == (shape[0], shape[2], shape[3])
    assert list(ds["space"].values) == ["x", "y", "z"][: shape[1]]
    assert ds.attrs["source_software"] == source


@pytest.mark.parametrize(
    ("name", "n_time"),
    [
        ("testDLC_h5_table.h5", 100),
        ("testDLC_csv_table.csv", 97),
        ("testDLC_square_arena.h5", 451),
    ],
)
def test_deepof_single_animal(data_dir, name, n_time):
    path = data_dir / "deepof-tests" / name
    assert detect_format(path) == "DeepLabCut"
    ds = load_poses(path)
    _check(ds, (n_time, 2, 14, 1))
    assert set(ds["keypoint"].values) == DEEPOF_KEYPOINTS
    np.testing.assert_array_equal(ds["frame"].values, np.arange(n_time))
    conf = ds["confidence"].values
    assert np.nanmin(conf) >= 0 and np.nanmax(conf) <= 1
    assert not ds["position"].isnull().all()


def test_deepof_csv_values(data_dir):
    ds = load_poses(data_dir / "deepof-tests" / "testDLC_csv_table.csv")
    nose = ds["position"].sel(keypoint="Nose", individual="individual_0")
    np.testing.assert_allclose(nose.isel(time=0).values, [280.4508361816406, 328.9118347167969])
    assert float(
        ds["confidence"].sel(keypoint="Nose").isel(time=0, individual=0)
    ) == pytest.approx(0.999996)


@pytest.mark.parametrize(
    ("name", "n_time"), [("testDLC_h5_table_madlc.h5", 100), ("testDLC_csv_table_madlc.csv", 97)]
)
def test_multi_animal(data_dir, name, n_time):
    ds = load_poses(data_dir / "deepof-tests" / name)
    _check(ds, (n_time, 2, 14, 2))
    assert list(ds["individual"].values) == ["mouse_black_tail", "mouse_white_tail"]
    assert set(ds["keypoint"].values) == DEEPOF_KEYPOINTS
    # undetected points, stored as x == y == 0 in the file, are NaN
    assert not (ds["position"] == 0).all("space").any()
    assert ds["position"].isnull().any()


def test_multi_animal_csv_values(data_dir):
    ds = load_poses(data_dir / "deepof-tests" / "testDLC_csv_table_madlc.csv")
    first = ds["position"].sel(individual="mouse_black_tail").isel(time=0)
    np.testing.assert_allclose(first.sel(keypoint="Nose").values, [188.547, 379.996], rtol=1e-6)
    assert first.sel(keypoint="Left_ear").isnull().all()  # (0, 0) with likelihood 0
    assert np.isnan(ds["confidence"].sel(individual="mouse_black_tail", keypoint="Left_ear")[0])


def test_legacy_prefixed_individuals_are_split(data_dir):
    ds = load_poses(data_dir / "deepof-tests" / "testDLC_h5_table_multi.h5")
    _check(ds, (100, 2, 14, 2))
    assert list(ds["individual"].values) == ["B", "W"]
    assert set(ds["keypoint"].values) == DEEPOF_KEYPOINTS


def test_left_right_prefixes_are_not_individuals(tmp_path):
    path = tmp_path / "lr.csv"
    names = ["L_ear", "R_ear", "L_paw", "R_paw"]
    lines = [
        "scorer," + ",".join(["DLC_net"] * 12),
        "bodyparts," + ",".join(n for n in names for _ in range(3)),
        "coords," + ",".join(["x", "y", "likelihood"] * 4),
        "0," + ",".join(["1.0", "2.0", "0.9"] * 4),
    ]
    path.write_text("\n".join(lines) + "\n")
    ds = load_poses(path)
    assert list(ds["keypoint"].values) == names
    assert ds.sizes["individual"] == 1


def test_deepcut_era_csv(data_dir):
    path = data_dir / "dlcanalyzer-epm" / "EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv"
    ds = load_poses(path)
    _check(ds, (962, 2, 25, 1))
    assert list(ds["keypoint"].values[:4]) == ["tl", "tr", "bl", "br"]
    assert "tailtip" in ds["keypoint"].values
    assert not ds["position"].isnull().any()
    np.testing.assert_allclose(
        ds["position"].sel(keypoint="tl").isel(time=0, individual=0).values,
        [571.6292436122894, 128.82243990898132],
    )


def test_vame_csv(data_dir):
    ds = load_poses(data_dir / "vame-tests" / "cropped_video.csv")
    _check(ds, (750, 2, 6, 1))
    assert list(ds["keypoint"].values) == [
        "Nose",
        "Forehand-Left",
        "Forehand-Right",
        "Hindhand-Left",
        "Hindhand-Right",
        "Tailroot",
    ]
    np.testing.assert_allclose(
        ds["position"].sel(keypoint="Nose").isel(time=0, individual=0).values,
        [379.3179750442505, 911.2349543571472],
    )


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_labelled_frames_openfield(data_dir, suffix):
    folder = data_dir / "deeplabcut-examples" / "openfield-Pranav-2018-10-30" / "labeled-data"
    ds = load_poses(folder / "m4s1" / f"CollectedData_Pranav{suffix}")
    _check(ds, (116, 2, 4, 1))
    assert list(ds["keypoint"].values) == ["snout", "leftear", "rightear", "tailbase"]
    assert ds["frame"].values[0] == 0  # from img0000.png
    first = ds["position"].isel(time=0, individual=0)
    np.testing.assert_allclose(first.sel(keypoint="snout").values, [21.521, 265.428], rtol=1e-6)
    present = ~ds["position"].isnull().any("space")
    assert (ds["confidence"].where(present) == 1).sum() == present.sum()


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_labelled_frames_sparse_with_gaps(data_dir, suffix):
    folder = data_dir / "deeplabcut-examples" / "Reaching-Mackenzie-2018-08-30" / "labeled-data"
    ds = load_poses(folder / "reachingvideo1" / f"CollectedData_Mackenzie{suffix}")
    _check(ds, (55, 2, 5, 1))
    assert list(ds["keypoint"].values) == ["Hand", "Finger1", "Tongue", "Joystick1", "Joystick2"]
    assert list(ds["frame"].values[:3]) == [5, 20, 23]  # img005.png, img020.png, img023.png
    assert np.all(np.diff(ds["frame"].values) > 0)
    missing = float(ds["position"].isnull().mean())
    assert 0.10 < missing < 0.20  # about 15% unlabelled
    tongue = ds["confidence"].sel(keypoint="Tongue").isel(time=0, individual=0)
    assert np.isnan(tongue)  # not labelled in img005


def test_lightning_pose_csv_is_dlc_by_default(data_dir):
    path = data_dir / "lightning-pose-mirror-mouse" / "CollectedData.csv"
    assert detect_format(path) == "DeepLabCut"
    ds = load_poses(path)
    _check(ds, (90, 2, 17, 1))
    assert list(ds["keypoint"].values) == LP_KEYPOINTS


def test_lightning_pose_forced(data_dir):
    path = data_dir / "lightning-pose-mirror-mouse" / "CollectedData.csv"
    ds = load_poses(path, source_software="LightningPose")
    _check(ds, (90, 2, 17, 1), source="LightningPose")
    assert list(ds["keypoint"].values) == LP_KEYPOINTS
    assert list(ds["frame"].values[:2]) == [1, 2]  # img01.png, img02.png
    np.testing.assert_allclose(
        ds["position"].sel(keypoint="paw1LH_top").isel(time=0, individual=0).values, [77.25, 36.25]
    )
    assert ds["position"].sel(keypoint="tailBase_top").isel(time=0).isnull().all()


def test_lightning_pose_predictions_detected(tmp_path):
    path = tmp_path / "predictions.csv"
    lines = [
        "scorer," + ",".join(["heatmap_tracker"] * 6),
        "bodyparts,nose,nose,nose,tail,tail,tail",
        "coords,x,y,likelihood,x,y,likelihood",
        "0,10.0,20.0,0.9,30.0,40.0,0.8",
        "1,11.0,21.0,0.7,31.0,41.0,0.6",
    ]
    path.write_text("\n".join(lines) + "\n")
    assert detect_format(path) == "LightningPose"
    ds = load_poses(path, fps=250)
    _check(ds, (2, 2, 2, 1), source="LightningPose")
    np.testing.assert_allclose(ds["confidence"].values[:, :, 0], [[0.9, 0.8], [0.7, 0.6]])
    assert ds.attrs["fps"] == 250
