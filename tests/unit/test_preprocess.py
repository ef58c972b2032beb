"""Egocentric alignment, masks, resampling and windowing."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vqmap.preprocess import (
    PreprocessConfig,
    get_motion,
    get_window,
    make_windows,
    preprocess,
    window_provenance,
    window_starts,
)
from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import make_poses

KEYPOINTS = ("nose", "neck", "tailbase", "lpaw", "rpaw")
SKELETON = Skeleton(
    name="toy",
    keypoints=KEYPOINTS,
    regions={"nose": "head", "neck": "trunk", "tailbase": "tail"},
    centre=("neck",),
    anterior=("nose",),
    posterior=("tailbase",),
)


def _body(n_frames: int, n_dims: int, angles: np.ndarray, length: float = 4.0) -> np.ndarray:
    """A rigid body (time, space, keypoint) facing ``angles`` and drifting around the arena."""
    local = np.array([[0.5, 0], [0.0, 0], [-0.5, 0], [0.1, 0.2], [0.1, -0.2]]) * length
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    x = cos * local[:, 0] - sin * local[:, 1] + np.linspace(-3, 3, n_frames)[:, None]
    y = sin * local[:, 0] + cos * local[:, 1] + 2.0
    coords = [x, y]
    if n_dims == 3:
        coords.append(np.tile(np.array([0.5, 1.5, 0.5, 0.0, 0.0]), (n_frames, 1)))
    return np.stack(coords, axis=1)


WORLD = PreprocessConfig(flip_2d_y=False)  # _body draws 2D bodies with y up, not as images


def _poses(pos: np.ndarray, fps: float | None = 20.0, **kw):
    return make_poses(pos[..., None] if pos.ndim == 3 else pos, KEYPOINTS, fps=fps, **kw)


@pytest.mark.parametrize("n_dims", [2, 3])
def test_heading_points_to_plus_x_and_scale_is_body_length(n_dims: int) -> None:
    angles = np.linspace(-np.pi, np.pi, 50)  # includes exactly backwards (pi and -pi)
    rec = preprocess(_poses(_body(50, n_dims, angles)), SKELETON, WORLD)
    nose, neck, tail = rec.x[0, :, 0], rec.x[0, :, 1], rec.x[0, :, 2]
    np.testing.assert_allclose(neck, 0.0, atol=1e-6)
    np.testing.assert_allclose(nose[:, 0], 0.5, atol=1e-5)
    np.testing.assert_allclose(nose[:, 1], 0.0, atol=1e-5)
    np.testing.assert_allclose(tail[:, 0], -0.5, atol=1e-5)
    np.testing.assert_allclose(rec.x[0, :, 3, 1], 0.2, atol=1e-5)  # lpaw on the left (+y)
    assert rec.body_length == pytest.approx(4.0)
    assert rec.mask.all()


def test_2d_image_coordinates_are_flipped_to_y_up() -> None:
    """2D data are image coordinates by default (y down): the same body drawn as an image
    aligns as the y-up body does without the flip (left paw on +y, turning left > 0)."""
    n = 40
    angles = np.linspace(0, 1, n)
    world = _body(n, 2, angles)
    image = world * np.array([1.0, -1.0])[None, :, None]
    flipped = preprocess(_poses(image), SKELETON)
    plain = preprocess(_poses(world), SKELETON, WORLD)
    np.testing.assert_allclose(flipped.x, plain.x, atol=1e-5)
    np.testing.assert_allclose(flipped.motion, plain.motion, atol=1e-4)
    assert (flipped.x[0, :, 3, 1] > 0).all() and (flipped.motion[0, :, 2] > 0).all()
    # 3D data are never flipped.
    body3 = _body(n, 3, angles)
    np.testing.assert_array_equal(
        preprocess(_poses(body3), SKELETON).x, preprocess(_poses(body3), SKELETON, WORLD).x
    )


def test_3d_height_is_not_rotated() -> None:
    rec = preprocess(_poses(_body(30, 3, np.full(30, 2.0))), SKELETON)
    # z is only centred on the neck (1.5) and scaled by the body length (4)
    np.testing.assert_allclose(
        rec.x[0, :, :, 2], np.tile((np.array([0.5, 1.5, 0.5, 0, 0]) - 1.5) / 4, (30, 1)), atol=1e-6
    )


def test_missing_anchor_gaps_are_filled_fitted_or_masked_and_never_nan() -> None:
    """Short anchor gaps are interpolated; longer ones take the centre and heading that
    place the body's typical pose on the keypoints seen (exact for this rigid body);
    frames with fewer than two keypoints seen are masked whole."""
    angles = np.linspace(0.3, 2.0, 100)
    pos = _body(100, 3, angles)
    whole = preprocess(_poses(pos.copy()), SKELETON, PreprocessConfig(max_anchor_gap=5))
    pos[10:13, :, 0] = np.nan  # nose (anterior) missing 3 frames: heading interpolated
    pos[40:80, :, 1] = np.nan  # neck (centre) missing 40 frames: placed by the others
    pos[85:95, :, 1:] = np.nan  # only the nose seen: masked
    pos[:, :, 4] = np.nan  # rpaw never seen
    rec = preprocess(_poses(pos), SKELETON, PreprocessConfig(max_anchor_gap=5))
    assert np.isfinite(rec.x).all()
    assert rec.mask[0, 10:13, 1:4].all() and not rec.mask[0, 10:13, 0].any()
    np.testing.assert_allclose(rec.x[0, 10:13, 2], [[-0.5, 0, -0.25]] * 3, atol=1e-2)
    assert rec.mask[0, 40:80, [0, 2, 3]].all() and not rec.mask[0, 40:80, 1].any()
    seen = rec.mask[0, 40:80]
    np.testing.assert_allclose(rec.x[0, 40:80][seen], whole.x[0, 40:80][seen], atol=1e-5)
    np.testing.assert_allclose(rec.motion[0, 41:80], whole.motion[0, 41:80], atol=1e-4)
    assert rec.motion_mask[0, 40:80].all()
    assert not rec.mask[0, 85:95].any() and (rec.x[0, 85:95] == 0).all()
    assert not rec.mask[0, :, 4].any()


def test_all_nan_and_low_confidence() -> None:
    pos = _body(20, 2, np.zeros(20))
    conf = np.ones((20, 5, 1), np.float32)
    conf[:, 3] = 0.1
    ds = make_poses(np.full_like(pos, np.nan)[..., None], KEYPOINTS, fps=20)
    rec = preprocess(ds, SKELETON)
    assert not rec.mask.any() and np.isfinite(rec.x).all() and rec.body_length == 1.0
    rec = preprocess(_poses(pos, confidence=conf), SKELETON, PreprocessConfig(conf_threshold=0.5))
    assert not rec.mask[0, :, 3].any() and rec.mask[0, :, [0, 1, 2, 4]].all()


def test_several_individuals_without_anchors() -> None:
    pos = np.stack([_body(20, 2, np.zeros(20)), _body(20, 2, np.ones(20), length=2)], -1)
    bare = Skeleton(name="bare", keypoints=KEYPOINTS)
    rec = preprocess(make_poses(pos, KEYPOINTS, fps=30), bare)
    assert rec.x.shape == (2, 20, 5, 2)
    np.testing.assert_allclose(rec.x.mean(axis=2), 0.0, atol=1e-5)  # centred on the mean
    assert np.isfinite(rec.body_length) and rec.body_length > 0


def test_resampling_100_to_20_fps() -> None:
    pos = _body(1000, 3, np.linspace(0, 6, 1000))
    pos[500, :, 0] = np.nan
    rec = preprocess(_poses(pos, fps=100), SKELETON, PreprocessConfig(target_fps=20))
    assert rec.x.shape[1] == 200 and rec.fps == 20
    np.testing.assert_array_equal(rec.frames, np.arange(0, 1000, 5))
    assert not rec.mask[0, 100, 0] and np.isfinite(rec.x).all()
    np.testing.assert_allclose(rec.x[0, rec.mask[0, :, 0], 0, 0], 0.5, atol=1e-4)


def test_windows_keep_provenance_and_cover_the_tail() -> None:
    np.testing.assert_array_equal(window_starts(100, 32, 16), [0, 16, 32, 48, 64, 68])
    np.testing.assert_array_equal(window_starts(10, 32, 16), [0])
    pos = np.stack([_body(100, 2, np.zeros(100))] * 2, -1)
    ds = make_poses(pos, KEYPOINTS, fps=20, frames=np.arange(100) + 1000, source_file="a.csv")
    rec = preprocess(ds, SKELETON)
    rec.mask[1] = False  # second individual never visible: no windows
    windows = make_windows([rec], window=32, stride=16)
    assert len(windows) == 6 and (windows[:, 1] == 0).all()
    prov = window_provenance([rec], windows)
    assert prov[1] == ("a.csv", "individual_0", 1016) and prov[-1][2] == 1068
    x, mask = get_window(rec, 0, 90, 32)
    assert x.shape == (32, 5, 2) and mask[:10].all() and not mask[10:].any()


def test_points_far_from_the_body_are_masked() -> None:
    pos = _body(50, 2, np.zeros(50))
    pos[10, :, 3] += 40.0  # lpaw jumps 10 body lengths away in frame 10
    ds = _poses(pos)
    rec = preprocess(ds, SKELETON, PreprocessConfig())
    assert not rec.mask[0, 10, 3] and rec.mask[0, 9, 3] and rec.mask[0, 10].sum() == 4
    assert (rec.x[0, 10, 3] == 0).all()
    # The body fitted to the keypoints is fitted again without the jump: the others stay put.
    clean = preprocess(_poses(_body(50, 2, np.zeros(50))), SKELETON)
    np.testing.assert_allclose(rec.x[0, 10, [0, 1, 2, 4]], clean.x[0, 10, [0, 1, 2, 4]], atol=1e-5)
    assert preprocess(ds, SKELETON, PreprocessConfig(max_reach=None)).mask[0, 10, 3]
    with pytest.raises(ValueError, match="max_reach"):
        PreprocessConfig(max_reach=0)


def test_body_alignment_shrugs_off_a_jittery_anchor() -> None:
    """Aligned by the fitted body, noise on the nose (the anterior anchor) turns the frame
    far less than aligned by the anchors; a rigid body aligns the same either way, and
    model folders from before the option read "anchors"."""
    from napari_vqmap.checkpoint import saved_preprocess_config

    n = 200
    pos = _body(n, 3, np.linspace(0, 3, n))
    rigid = [preprocess(_poses(pos), SKELETON, PreprocessConfig(alignment=a)) for a in ALIGNS]
    np.testing.assert_allclose(rigid[0].x, rigid[1].x, atol=1e-5)
    noisy = pos.copy()
    noisy[:, :2, 0] += np.random.default_rng(0).normal(0, 0.4, (n, 2))  # 0.1 body length
    body, anchors = (
        preprocess(_poses(noisy), SKELETON, PreprocessConfig(alignment=a)) for a in ALIGNS
    )
    tail_y = [rec.x[0, :, 2, 1].std() for rec in (body, anchors)]
    assert tail_y[0] < 0.5 * tail_y[1]
    assert saved_preprocess_config({}).alignment == "anchors"
    assert PreprocessConfig().alignment == "body"


ALIGNS = ("body", "anchors")


def test_config_round_trip() -> None:
    cfg = PreprocessConfig(target_fps=20, window=32)
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="bogus"):
        PreprocessConfig.from_dict({"bogus": 1})


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("target_fps", 0, "target_fps must be a number > 0 or None"),
        ("window", 2.5, "window must be an integer >= 1 or None"),
        ("stride", 0, "stride must be an integer >= 1"),
        ("max_anchor_gap", -1, "max_anchor_gap must be an integer >= 0"),
        ("conf_threshold", float("nan"), "conf_threshold must be a number >= 0"),
        ("min_visible_fraction", 1.5, r"min_visible_fraction must be a number in \[0, 1\]"),
        ("alignment", "nose", "alignment must be one of"),
    ],
)
def test_config_rejects_out_of_range_options(option: str, value: object, says: str) -> None:
    with pytest.raises(ValueError, match=f"PreprocessConfig.{says}"):
        PreprocessConfig(**{option: value})


def test_body_motion_in_the_heading_frame_per_second() -> None:
    n, fps = 61, 20.0  # _body drifts 6 units along +x over the recording; body length 4
    speed = 6 / (n - 1) / 4 * fps  # body lengths per second
    rec = preprocess(_poses(_body(n, 3, np.zeros(n)), fps=fps), SKELETON)
    assert rec.motion.shape == (1, n, 3) and rec.motion_mask.all()
    np.testing.assert_allclose(rec.motion[0], [[speed, 0.0, 0.0]] * n, atol=1e-4)
    # Facing +y while drifting along +x: moving to the animal's right (-y), no forward part.
    rec = preprocess(_poses(_body(n, 2, np.full(n, np.pi / 2)), fps=fps), SKELETON, WORLD)
    np.testing.assert_allclose(rec.motion[0], [[0.0, -speed, 0.0]] * n, atol=1e-4)
    # Turning at a constant rate across the +-pi seam (the heading is unwrapped).
    angles = np.pi - 0.05 + 0.01 * np.arange(n)
    rec = preprocess(_poses(_body(n, 2, angles), fps=fps), SKELETON, WORLD)
    np.testing.assert_allclose(rec.motion[0, :, 2], 0.01 * fps, atol=1e-4)
    # Resampled to another frame rate, the units stay per second.
    rec = preprocess(_poses(_body(n, 3, np.zeros(n)), fps=fps), SKELETON, target_fps=10.0)
    np.testing.assert_allclose(rec.motion[0, :, 0], speed, atol=1e-4)


def test_body_motion_masked_where_the_body_cannot_be_placed() -> None:
    pos = _body(100, 3, np.full(100, 0.3))
    pos[40:80, :, 1:] = np.nan  # only the nose seen for 40 frames
    rec = preprocess(_poses(pos), SKELETON, PreprocessConfig(max_anchor_gap=5))
    assert np.isfinite(rec.motion).all()
    assert not rec.motion_mask[0, 40:81].any() and rec.motion_mask[0, 81:].all()
    assert (rec.motion[0, 40:81] == 0).all()
    x, mask = get_window(rec, 0, 90, 32)
    motion, motion_mask = get_motion(rec, 0, 90, 32)
    assert motion.shape == (32, 3) and motion_mask.shape == (32,)
    assert motion_mask[:10].all() and not motion_mask[10:].any()  # padded past the end
