"""Pose dataset -> napari layer data (no viewer needed)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vqmap.colours import body_size, palette
from napari_vqmap.napari.convert import pose_layers
from napari_vqmap.validators import make_poses

KEYPOINTS = ["nose", "neck", "tail"]
EDGES = [("nose", "neck"), ("neck", "tail")]


def _poses(n_space: int = 2, n_ind: int = 1, frames=None):
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 100, size=(4, n_space, 3, n_ind)).astype(np.float32)
    return pos, make_poses(pos, KEYPOINTS, frames=frames, edges=EDGES, source_file="m.csv")


def test_points_swap_xy_and_use_frame_index():
    pos, ds = _poses(frames=[10, 11, 20, 30])
    (_, _, vtype), (data, meta, ptype) = pose_layers(ds)
    assert (vtype, ptype) == ("vectors", "points")
    assert data.shape == (12, 3)
    np.testing.assert_array_equal(np.unique(data[:, 0]), [10, 11, 20, 30])
    first = data[0]  # frame 10, nose: napari row = y, column = x
    np.testing.assert_allclose(first[1:], [pos[0, 1, 0, 0], pos[0, 0, 0, 0]])
    assert list(meta["features"]["keypoint"][:3]) == KEYPOINTS
    assert meta["name"] == "m keypoints"
    # one animal: coloured by keypoint
    np.testing.assert_allclose(meta["face_color"][:3], palette(3))


def test_nan_keypoints_and_their_edges_are_dropped():
    pos, ds = _poses()
    pos[1, :, 1, 0] = np.nan  # neck missing in frame 1: both edges go
    pos[2, 0, 2, 0] = np.nan  # tail x missing in frame 2: the neck-tail edge goes
    ds = make_poses(pos, KEYPOINTS, edges=EDGES)
    (vectors, _, _), (points, meta, _) = pose_layers(ds)
    assert points.shape == (12 - 2, 3)
    assert not np.isnan(points).any()
    frame1 = meta["features"]["keypoint"][points[:, 0] == 1]
    assert "neck" not in set(frame1)
    assert vectors.shape == (8 - 2 - 1, 2, 3)
    assert not np.isnan(vectors).any()
    np.testing.assert_array_equal(vectors[:, 1, 0], 0)  # no step along the frame axis


def test_vectors_join_the_edge_ends():
    pos, ds = _poses()
    (vectors, meta, _), _ = pose_layers(ds)
    start, step = vectors[0, 0], vectors[0, 1]
    np.testing.assert_allclose(start[1:], pos[0, ::-1, 0, 0])  # nose
    np.testing.assert_allclose((start + step)[1:], pos[0, ::-1, 1, 0], rtol=1e-5)  # neck
    assert meta["vector_style"] == "line"
    assert list(meta["features"]["edge"][:2]) == ["nose-neck", "neck-tail"]


def test_3d_layers_are_frame_z_y_x_and_ask_for_3d():
    pos, ds = _poses(n_space=3)
    (vectors, vmeta, _), (points, pmeta, _) = pose_layers(ds)
    assert points.shape == (12, 4) and vectors.shape == (8, 2, 4)
    np.testing.assert_allclose(points[0, 1:], pos[0, ::-1, 0, 0])
    assert pmeta["metadata"]["ndisplay"] == vmeta["metadata"]["ndisplay"] == 3


def test_several_individuals_coloured_by_individual():
    _, ds = _poses(n_ind=2)
    (_, vmeta, _), (points, meta, _) = pose_layers(ds)
    individual = meta["features"]["individual"].cat.codes.to_numpy()
    np.testing.assert_allclose(meta["face_color"], palette(2)[individual])
    edge_ind = vmeta["features"]["individual"].cat.codes.to_numpy()
    np.testing.assert_allclose(vmeta["edge_color"], palette(2)[edge_ind])


def test_no_edges_gives_points_only():
    pos, _ = _poses()
    ds = make_poses(pos[:, :, :1], ["centroid"])
    assert [t for _, _, t in pose_layers(ds)] == ["points"]


@pytest.mark.parametrize(("scale", "expected"), [(1.0, 5.0), (10.0, 50.0)])
def test_body_size_scales_with_data(scale, expected):
    coords = np.zeros((2, 2, 1, 2), dtype=np.float32)
    coords[:, 1, 0] = [3 * scale, 4 * scale]
    assert body_size(coords) == pytest.approx(expected)


def test_body_size_of_single_keypoints_and_empty_data():
    coords = np.full((3, 1, 1, 2), np.nan, dtype=np.float32)
    assert body_size(coords) == 1.0
    coords[:, 0, 0] = [[0, 0], [30, 40], [0, 0]]
    assert body_size(coords) == pytest.approx(2.5)
