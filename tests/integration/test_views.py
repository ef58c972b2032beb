"""2D views of real 3D recordings: image coordinates and the model's reading of 2D."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_vqmap.io import load_poses, skeleton_of
from napari_vqmap.preprocess import PreprocessConfig, preprocess

SESSION = "subtle-avatar-3d/y5a5/coords/young_8301.csv"


@pytest.fixture(scope="module")
def session(data_dir: Path):
    return load_poses(data_dir / SESSION, skeleton="subtle", fps=20).isel(time=slice(0, 2000))


def _camera_above(ds):
    """What a camera above the arena records: x and y, with y pointing down the image."""
    view = ds.isel(space=[0, 1]).copy(deep=True)
    view["position"].loc[{"space": "y"}] *= -1
    return view


def test_a_camera_above_sees_the_3d_pose_from_above(session) -> None:
    """Image y points down; flipped back, the 2D alignment is the 3D one seen from above
    (left paws on the left), up to the shorter top-down body length: exactly with the
    anchors, closely with the fitted body (its keypoint weights and outlier distance are
    in each recording's own body lengths, which differ from above)."""
    image = _camera_above(session)
    anchors = PreprocessConfig(alignment="anchors")
    rec3 = preprocess(session, skeleton_of(session), anchors)
    rec2 = preprocess(image, skeleton_of(image), anchors)
    both = rec3.mask & rec2.mask
    assert both.mean() > 0.9
    scale = rec3.body_length / rec2.body_length
    assert 1.0 < scale < 1.5  # the neck-anus line tilts, so it looks shorter from above
    np.testing.assert_allclose(
        rec2.x[both] / scale, rec3.x[..., :2][both], atol=1e-4 * rec3.body_length
    )
    rec3 = preprocess(session, skeleton_of(session))
    rec2 = preprocess(image, skeleton_of(image))
    both = rec3.mask & rec2.mask
    off = np.abs(rec2.x[both] / scale - rec3.x[..., :2][both])
    assert np.median(off) < 0.01 and np.percentile(off, 99) < 0.1  # body lengths
    feet = [skeleton_of(session).keypoints.index(k) for k in ("lfoot", "rfoot")]

    def side(rec):  # median lateral position of the left and right foot
        return [np.median(rec.x[0, :, k, 1][rec.mask[0, :, k]]) for k in feet]

    assert side(rec3)[0] > 0.1 and side(rec3)[1] < -0.1  # 3D: left is +y (z up)
    assert side(rec2)[0] > 0.1 and side(rec2)[1] < -0.1
    mirrored = preprocess(image, skeleton_of(image), PreprocessConfig(flip_2d_y=False))
    assert side(mirrored)[0] < -0.1 and side(mirrored)[1] > 0.1


def test_region_heights_from_real_3d_data(session) -> None:
    """How 2D input is lifted: SUBTLE's feet lie lowest, its head highest; regions no 3D
    keypoint is in sit at the centre's height (0); 2D is rescaled by the body's top-down
    over 3D length."""
    from napari_vqmap.skeletons import REGIONS
    from napari_vqmap.training import TrainConfig
    from napari_vqmap.training.data import build_skeleton_data, region_heights, top_down_scale

    by_skeleton, _, _ = build_skeleton_data([session], TrainConfig())
    heights = dict(zip(REGIONS, region_heights(by_skeleton), strict=True))
    assert heights["hindlimb_left"] < heights["forelimb_left"] < heights["head"]
    assert heights["hindlimb_right"] < -0.2 and heights["head"] > 0.05
    assert heights["other"] == 0.0
    flat = _camera_above(session)
    flat_data = build_skeleton_data([flat], TrainConfig())[0]
    assert region_heights(flat_data).tolist() == [0.0] * len(REGIONS)
    # Seen from above the body looks shorter: the session's own 2D/3D body-length ratio.
    rec3 = preprocess(session, skeleton_of(session))
    own = preprocess(flat, skeleton_of(flat)).body_length / rec3.body_length
    assert top_down_scale(by_skeleton) == pytest.approx(own, rel=0.02) and 0.7 < own < 0.95
    assert top_down_scale(flat_data) == 1.0
