"""SLEAP ``.slp`` and analysis ``.h5`` files, read through ``load_poses``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_vqmap.io import detect_format, load_poses

SESSION = "sleap-anipose-minimal-session"
SESSION_NODES = [
    "Nose",
    "Ear_R",
    "Ear_L",
    "TTI",
    "TailTip",
    "Head",
    "Trunk",
    "Tail_0",
    "Tail_1",
    "Tail_2",
    "Shoulder_left",
    "Shoulder_right",
    "Haunch_left",
    "Haunch_right",
    "Neck",
]


def _check(ds, shape):
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds["position"].shape == shape
    assert ds["confidence"].shape == (shape[0], shape[2], shape[3])
    assert ds.attrs["source_software"] == "SLEAP"


def _n_instances(ds) -> int:
    return int((~ds["position"].isnull().all(("space", "keypoint"))).sum())


def test_user_instances_with_tracks(data_dir):
    path = data_dir / "sleap-tests" / "clip.slp"
    assert detect_format(path) == "SLEAP"
    ds = load_poses(path)
    _check(ds, (1500, 2, 13, 2))
    assert list(ds["individual"].values) == ["female", "male"]
    assert list(ds["keypoint"].values[:3]) == ["head", "thorax", "abdomen"]
    assert list(ds["keypoint"].values[-2:]) == ["eyeL", "eyeR"]
    np.testing.assert_array_equal(ds["frame"].values, np.arange(1500))
    assert _n_instances(ds) == 3000
    male = ds["position"].sel(individual="male").isel(time=0)
    np.testing.assert_allclose(male.sel(keypoint="head").values, [335.25, 444.75])
    np.testing.assert_allclose(male.sel(keypoint="thorax").values, [301.75, 457.75])
    assert float(ds["confidence"].max()) == 1.0  # user points
    assert ("head", "eyeL") in ds.attrs["skeleton"]


def test_predictions_with_track_fragments(data_dir):
    ds = load_poses(data_dir / "sleap-tests" / "centered_pair_predictions.slp")
    _check(ds, (1100, 2, 24, 27))
    assert list(ds["keypoint"].values[:4]) == ["head", "neck", "thorax", "abdomen"]
    assert _n_instances(ds) == 2274
    first = ds.isel(time=0)
    np.testing.assert_allclose(
        first["position"].sel(individual="1", keypoint="head").values, [201.0, 186.0]
    )
    assert float(first["confidence"].sel(individual="1", keypoint="head")) == pytest.approx(
        0.8258838
    )
    conf = ds["confidence"].values
    assert np.nanmax(conf) <= 1.5 and np.nanmin(conf) >= 0


def test_clip_predictions(data_dir):
    ds = load_poses(data_dir / "sleap-tests" / "clip.predictions.slp")
    _check(ds, (1500, 2, 2, 2))
    assert list(ds["keypoint"].values) == ["head", "thorax"]
    assert list(ds["individual"].values) == ["female", "male"]
    assert _n_instances(ds) == 2948
    assert ds.attrs["skeleton"] == [("thorax", "head")]


def test_untracked_instances(data_dir):
    ds = load_poses(data_dir / "sleap-tests" / "minimal_instance.slp")
    _check(ds, (1, 2, 2, 2))
    assert list(ds["individual"].values) == ["untracked_0", "untracked_1"]
    assert list(ds["keypoint"].values) == ["A", "B"]
    assert not ds["position"].isnull().any()


def test_deepof_slp_and_analysis_agree(data_dir):
    slp = load_poses(data_dir / "deepof-tests" / "testDLC_sleap.slp")
    h5 = load_poses(data_dir / "deepof-tests" / "testDLC_sleap.analysis.h5")
    for ds in (slp, h5):
        _check(ds, (101, 2, 14, 1))
        assert list(ds["individual"].values) == ["track_0"]
        assert list(ds["keypoint"].values[:3]) == ["Nose", "Left_ear", "Right_ear"]
    np.testing.assert_allclose(
        h5["position"].isel(time=0, keypoint=0, individual=0).values, [319.1416626, 277.00744629]
    )
    assert float(h5["confidence"][0, 0, 0]) == pytest.approx(0.9878464)
    assert list(slp["keypoint"].values) == list(h5["keypoint"].values)
    np.testing.assert_allclose(slp["position"].values, h5["position"].values, equal_nan=True)


def test_small_robot_analysis(data_dir):
    path = data_dir / "sleap-tests" / "small_robot.000_small_robot_3_frame.analysis.h5"
    assert detect_format(path) == "SLEAP"
    ds = load_poses(path)
    _check(ds, (3, 2, 3, 1))
    assert list(ds["keypoint"].values) == ["top", "front", "rear"]
    assert list(ds["individual"].values) == ["track_0"]  # the file has no track names
    np.testing.assert_allclose(
        ds["position"].isel(time=1, individual=0).values,
        [[320.97375488, 384.70135498, 145.28433228], [59.24647141, 244.34580994, 180.34460449]],
    )
    # frames 0 and 2 are user-labelled (NaN scores in the file): confidence 1
    np.testing.assert_allclose(ds["confidence"].isel(time=0, individual=0).values, 1.0)
    assert ds.attrs["skeleton"] == [("top", "front"), ("top", "rear"), ("front", "rear")]


@pytest.mark.parametrize("view", ["back", "mid", "side", "top"])
def test_sleap_anipose_views(data_dir, view):
    folder = data_dir / SESSION / view
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h5 = load_poses(folder / f"minimal_{view}_proofread.analysis.h5")
        slp = load_poses(folder / f"minimal_{view}_proofread.slp")
    for ds in (h5, slp):
        _check(ds, (120, 2, 15, 1))
        assert list(ds["keypoint"].values) == SESSION_NODES
        assert ("TTI", "Head") in ds.attrs["skeleton"]
    np.testing.assert_allclose(slp["position"].values, h5["position"].values, equal_nan=True)
    if view == "back":  # two nodes were never labelled in this view
        assert slp.attrs["empty_keypoints"] == ["TailTip", "Shoulder_right"]
        assert any("TailTip" in str(w.message) for w in caught)


def test_points3d_is_not_sleap(data_dir):
    from napari_vqmap.io import sleap

    assert not sleap.sniff(data_dir / SESSION / "points3d.h5")
    assert not sleap.sniff(data_dir / "deepof-tests" / "testDLC_h5_table.h5")


def test_user_instance_beats_prediction(tmp_path):
    sio = pytest.importorskip("sleap_io")
    skel = sio.Skeleton(["a", "b"], edges=[("a", "b")])
    track = sio.Track("mouse")
    video = sio.Video(filename="video.mp4", open_backend=False)
    pred = sio.PredictedInstance.from_numpy(
        np.array([[1.0, 1.0], [2.0, 2.0]]), skeleton=skel, point_scores=[0.5, 0.5], track=track
    )
    user = sio.Instance.from_numpy(np.array([[10.0, 10.0], [20.0, 20.0]]), skeleton=skel)
    user.track, user.from_predicted = track, pred
    other = sio.PredictedInstance.from_numpy(
        np.array([[5.0, 5.0], [6.0, 6.0]]), skeleton=skel, point_scores=[0.9, 0.8]
    )
    frames = [
        sio.LabeledFrame(video=video, frame_idx=7, instances=[pred, user]),
        sio.LabeledFrame(video=video, frame_idx=3, instances=[other]),
    ]
    path = tmp_path / "mixed.slp"
    sio.save_slp(sio.Labels(frames, videos=[video], skeletons=[skel], tracks=[track]), path)
    ds = load_poses(path)
    _check(ds, (2, 2, 2, 2))
    assert list(ds["frame"].values) == [3, 7]
    assert list(ds["individual"].values) == ["mouse", "untracked_0"]
    np.testing.assert_allclose(ds["position"].sel(individual="mouse").isel(time=1), [[10, 20]] * 2)
    np.testing.assert_allclose(ds["confidence"].sel(individual="mouse").isel(time=1), [1, 1])
    np.testing.assert_allclose(ds["confidence"].sel(individual="untracked_0")[0], [0.9, 0.8])


def test_untransposed_analysis_layout(data_dir, tmp_path):
    """Synthetic: the real deepof file rewritten as (frames, nodes, xy, tracks), no scores."""
    import h5py

    source = data_dir / "deepof-tests" / "testDLC_sleap.analysis.h5"
    path = tmp_path / "untransposed.analysis.h5"
    with h5py.File(source, "r") as src, h5py.File(path, "w") as dst:
        dst["tracks"] = src["tracks"][()].transpose(3, 2, 1, 0)
        dst["node_names"] = src["node_names"][()]
    ds = load_poses(path)
    ref = load_poses(source)
    _check(ds, (101, 2, 14, 1))
    np.testing.assert_allclose(ds["position"].values, ref["position"].values, equal_nan=True)
    assert float(ds["confidence"].max()) == 1.0
