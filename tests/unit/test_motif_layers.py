"""Motif colours, features and labels on pose layers (real multi-animal DLC poses; the motif
arrays are made up here so every (frame, individual) has a known motif)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from napari.layers import Points, Vectors

from napari_vqmap.colours import motif_colours
from napari_vqmap.io import load_poses
from napari_vqmap.names import MotifNames
from napari_vqmap.napari import motif_layers as ml
from napari_vqmap.napari.convert import pose_layers

MADLC = "deepof-tests/testDLC_h5_table_madlc.h5"
N_TYPES, N_SUB = 3, 4


@pytest.fixture(scope="module")
def poses(data_dir: Path) -> xr.Dataset:
    return load_poses(data_dir / MADLC)


def fake_result(poses: xr.Dataset, unencoded: slice = slice(0, 5)) -> xr.Dataset:
    """Motif ``(t + 5 * i) % 12`` per frame t and individual i; -1 on ``unencoded`` frames."""
    n_time, n_ind = poses.sizes["time"], poses.sizes["individual"]
    motif = (np.arange(n_time)[:, None] + 5 * np.arange(n_ind)[None]) % (N_TYPES * N_SUB)
    motif[unencoded] = -1
    dims = ("time", "individual")
    return xr.Dataset(
        {
            "motif": (dims, motif),
            "motif_type": (dims, np.where(motif >= 0, motif // N_SUB, -1)),
            "motif_subtype": (dims, np.where(motif >= 0, motif % N_SUB, -1)),
            "confidence": (dims, np.full(motif.shape, 0.5, np.float32)),
        },
        coords={"time": poses["time"].values, "individual": poses["individual"].values},
        attrs={"n_types": N_TYPES, "n_subtypes": N_SUB},
    )


def make_layers(poses: xr.Dataset) -> tuple[Vectors, Points]:
    (sd, sm, _), (pd_, pm, _) = pose_layers(poses)
    return Vectors(sd, **sm), Points(pd_, **pm)


def expected(layer, result: xr.Dataset, frame_col: np.ndarray) -> np.ndarray:
    inds = [str(i) for i in result["individual"].values]
    i = np.array([inds.index(str(v)) for v in layer.features["individual"]])
    return result["motif"].values[frame_col.astype(int), i]


def test_apply_colours_and_features_per_frame_and_individual(poses: xr.Dataset) -> None:
    skeleton, points = make_layers(poses)
    result = fake_result(poses)
    names = MotifNames(N_TYPES, N_SUB, types={1: "groom"})
    ml.apply_motifs([skeleton, points], result, names, results_dir="/tmp/r")
    want_p = expected(points, result, points.data[:, 0])
    want_s = expected(skeleton, result, skeleton.data[:, 0, 0])
    np.testing.assert_array_equal(points.features["motif"], want_p)
    np.testing.assert_array_equal(skeleton.features["motif"], want_s)
    np.testing.assert_allclose(points.face_color, motif_colours(want_p, N_TYPES, N_SUB))
    np.testing.assert_allclose(skeleton.edge_color, motif_colours(want_s, N_TYPES, N_SUB))
    assert (points.features["motif_type"] == np.where(want_p >= 0, want_p // N_SUB, -1)).all()
    assert set(points.features["motif_name"][want_p == 5]) == {"groom.1"}
    assert set(points.features["motif_name"][want_p == -1]) == {""}
    assert {"keypoint", "individual", "confidence"} <= set(points.features.columns)
    for layer in (skeleton, points):
        assert layer.metadata["motifs"] is result and layer.metadata["motif_names"] is names
        assert layer.metadata["results_dir"] == "/tmp/r"
    # one label per (frame, individual) with motif; the top-most keypoint carries it
    label = points.features[ml.LABEL].astype(str).to_numpy()
    on = label != ""
    keys = set(zip(points.data[on, 0].astype(int), points.features["individual"][on], strict=True))
    assert len(keys) == on.sum()
    assert points.text.values[on][0] == label[on][0]


def test_label_rows_top_most_keypoint_in_any_row_order(poses: xr.Dataset) -> None:
    """The label goes to the smallest-y row of each (frame, animal) whose label is not
    nearer another animal's centre (else the smallest-y row), the first on ties; rows in the
    layer's order or shuffled."""
    _, points = make_layers(poses)
    t_idx, i_idx = ml.row_index(
        points.data[:, 0], points.features["individual"], None, fake_result(poses)
    )
    data = points.data.copy()
    t_idx[:3] = -1  # rows without a motif never carry the label
    same = np.flatnonzero((t_idx == t_idx[3]) & (i_idx == i_idx[3]))
    data[same[1:], -2] = data[same, -2].min()  # a tie for the top-most in that group

    def direct(data, t_idx, i_idx) -> np.ndarray:
        mask = np.zeros(len(t_idx), bool)
        for key in {(t, i) for t, i in zip(t_idx, i_idx, strict=True) if t >= 0 and i >= 0}:
            rows = np.flatnonzero((t_idx == key[0]) & (i_idx == key[1]))
            centres = {
                j: data[(t_idx == key[0]) & (i_idx == j), 1:].mean(axis=0)
                for j in set(i_idx[(t_idx == key[0]) & (i_idx >= 0)])
            }
            dist = {j: np.linalg.norm(data[rows, 1:] - c, axis=1) for j, c in centres.items()}
            fine = np.all([dist[key[1]] <= d for d in dist.values()], axis=0)
            pick = rows[fine] if fine.any() else rows
            mask[pick[np.argmin(data[pick, -2])]] = True
        return mask

    grouped = ml.label_rows(data, t_idx, i_idx)
    np.testing.assert_array_equal(grouped, direct(data, t_idx, i_idx))
    assert not grouped[:3].any()
    order = np.random.default_rng(0).permutation(len(t_idx))
    shuffled = ml.label_rows(data[order], t_idx[order], i_idx[order])
    np.testing.assert_array_equal(shuffled, direct(data[order], t_idx[order], i_idx[order]))
    assert grouped.sum() == shuffled.sum() == len(set(zip(t_idx[3:], i_idx[3:], strict=True)))


def test_apply_again_after_merge_and_rename_refreshes(poses: xr.Dataset) -> None:
    skeleton, points = make_layers(poses)
    result = fake_result(poses)
    names = MotifNames(N_TYPES, N_SUB)
    ml.apply_motifs([skeleton, points], result, names)
    names.merge_into(7, 2)
    names.rename(2, "walk")
    ml.apply_motifs([skeleton, points], result)  # names taken from the layers
    raw = expected(points, result, points.data[:, 0])
    assert not (points.features["motif"] == 7).any()
    assert set(points.features["motif_name"][(raw == 7) | (raw == 2)]) == {"walk"}
    np.testing.assert_allclose(
        points.face_color[raw == 7], motif_colours(np.full((raw == 7).sum(), 2), N_TYPES, N_SUB)
    )
    assert list(points.features.columns).count("motif") == 1


def test_frames_missing_from_result_and_unknown_individuals_are_grey(poses: xr.Dataset) -> None:
    skeleton, points = make_layers(poses)
    result = fake_result(poses).isel(individual=[0])
    ml.apply_motifs([skeleton, points], result, MotifNames(N_TYPES, N_SUB))
    other = (points.features["individual"] == str(poses["individual"].values[1])).to_numpy()
    assert (points.features["motif"][other] == -1).all()
    grey = motif_colours(np.array([-1]), N_TYPES, N_SUB)[0]
    np.testing.assert_allclose(points.face_color[other], np.broadcast_to(grey, (other.sum(), 4)))


def test_layer_data_tuples_match_apply(poses: xr.Dataset) -> None:
    result = fake_result(poses)
    names = MotifNames(N_TYPES, N_SUB)
    tuples = ml.layer_data_with_motifs(pose_layers(poses), result, names, "/r")
    skeleton, points = make_layers(poses)
    ml.apply_motifs([skeleton, points], result, names)
    (_, sm, _), (_, pm, _) = tuples
    np.testing.assert_allclose(sm["edge_color"], skeleton.edge_color)
    np.testing.assert_allclose(pm["face_color"], points.face_color)
    assert pm["metadata"]["results_dir"] == "/r" and pm["metadata"]["motifs"] is result


def test_find_and_sibling_layers(make_napari_viewer, poses: xr.Dataset) -> None:
    viewer = make_napari_viewer()
    skeleton, points = make_layers(poses)
    other = load_poses(Path(poses.attrs["source_file"])).isel(time=slice(0, 10))
    other.attrs["source_file"] = "/elsewhere/other.h5"
    s2, p2 = make_layers(other)
    for layer in (skeleton, points, s2, p2):
        viewer.add_layer(layer)
    assert ml.find_motif_layers(viewer) == []
    assert ml.layers_of(viewer, skeleton) == (points, skeleton)
    assert ml.layers_of(viewer, p2) == (p2, s2)
    ml.apply_motifs([skeleton, points], fake_result(poses), None)
    assert ml.find_motif_layers(viewer) == [(points, skeleton)]


def test_arena_points_stay_grey_and_unlabelled(data_dir: Path) -> None:
    """The elevated-plus-maze file: 12 maze corners among the mouse's 13 points."""
    from napari_vqmap.colours import ARENA_RGBA
    from napari_vqmap.io import skeleton_of

    epm = load_poses(
        data_dir / "dlcanalyzer-epm/EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv"
    )
    skeleton, points = make_layers(epm)
    arena = points.features["keypoint"].astype(str).isin(skeleton_of(epm).arena).to_numpy()
    assert arena.any() and (points.face_color[arena] == ARENA_RGBA).all()
    assert not (points.face_color[~arena] == ARENA_RGBA).all(axis=1).any()
    body_only = make_layers(epm.sel(keypoint=list(skeleton_of(epm).body_keypoints)))[1]
    assert points.size[0] == pytest.approx(body_only.size[0])  # sized by the mouse, not the maze
    ml.apply_motifs([skeleton, points], fake_result(epm), MotifNames(N_TYPES, N_SUB))
    np.testing.assert_array_equal(points.face_color[arena], np.tile(ARENA_RGBA, (arena.sum(), 1)))
    labelled = points.features[ml.LABEL].astype(str).to_numpy() != ""
    assert labelled.sum() > 0.9 * epm.sizes["time"] and not (labelled & arena).any()


def test_apply_steps_one_napari_property_each(poses: xr.Dataset) -> None:
    """apply_steps: the skeleton's features, its colours, the keypoints' features, their
    colours, their text (hidden), then showing it; nothing changes before a step runs, and
    all steps together equal apply_motifs."""
    skeleton, points = make_layers(poses)
    result = fake_result(poses)
    before = points.face_color.copy()
    steps = ml.apply_steps([skeleton, points], result)
    assert len(steps) == 6
    assert "motif" not in points.features and "motif" not in skeleton.features
    steps[0]()
    assert "motif" in skeleton.features and "motif" not in points.features
    steps[1]()
    steps[2]()
    assert "motif" in points.features
    np.testing.assert_array_equal(points.face_color, before)  # colours are the next step
    steps[3]()
    assert not np.array_equal(points.face_color, before)
    labelled = np.flatnonzero(points.features[ml.LABEL].astype(str) != "")[0]
    assert np.asarray(points.text.values).ndim == 0  # no text yet: one constant string
    steps[4]()
    assert points.text.values[labelled] == points.features[ml.LABEL][labelled] != ""
    assert not points.text.visible
    steps[5]()
    assert points.text.visible

    skeleton2, points2 = make_layers(poses)
    ml.apply_motifs([skeleton2, points2], result)
    skeleton3, points3 = make_layers(poses)
    np.testing.assert_allclose(points.face_color, points2.face_color)
    np.testing.assert_allclose(skeleton.edge_color, skeleton2.edge_color)
    assert points.metadata["motifs"] is skeleton.metadata["motifs"] is result
    assert len(ml.apply_steps([skeleton3, points3], result, text=False)) == 4
    # Without text, names already shown are updated (one more step), e.g. after a rename.
    names = MotifNames(N_TYPES, N_SUB)
    motif = int(points.features["motif"][labelled])
    names.rename(motif, "grooming bout")
    steps = ml.apply_steps([skeleton, points], result, names, text=False)
    assert len(steps) == 5
    for step in steps:
        step()
    assert points.text.values[labelled] == "grooming bout" and points.text.visible
