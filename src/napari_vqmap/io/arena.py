"""Arena points: keypoints fixed in the scene (maze corners, objects), not on the animal.

Trackers are often trained to mark landmarks of the arena along with the body (the
DLCAnalyzer elevated plus maze labels its 12 arm ends and centre corners). In the animal's
egocentric frame such a point swings around it, far outside the body, and would swamp the
motifs. A skeleton marks them with region :data:`~napari_vqmap.skeletons.ARENA`; they stay
in the pose file and on the napari layers, and :func:`without_arena` leaves them out of
what the model reads (training and encoding). :func:`static_keypoints` finds unmapped
keypoints that stay put while the animal moves, so that files with unlisted landmarks are
handled too.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from napari_vqmap.skeletons import ARENA, Skeleton
from napari_vqmap.validators import PoseFileError

STILL_BODY_LENGTHS = 0.25  # an arena point's typical distance from its median place ...
MOVING_BODY_LENGTHS = 1.0  # ... while the animal's centre typically strays over this far
MIN_FRAMES = 10  # frames a keypoint must be seen in to be judged
MAX_FRAMES_JUDGED = 100_000  # longer files are judged on evenly spaced frames (memory)


def _spread(points: np.ndarray) -> float:
    """Median distance of (n, space) points from their median point (NaN rows ignored):
    robust to the frames where a tracker loses an occluded landmark."""
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < MIN_FRAMES:
        return np.nan
    return float(np.median(np.linalg.norm(points - np.median(points, axis=0), axis=1)))


def static_keypoints(ds: xr.Dataset, skeleton: Skeleton) -> tuple[str, ...]:
    """Unmapped keypoints (region ``other``, not anchors) that stay within
    :data:`STILL_BODY_LENGTHS` body lengths of one place (median distance) while the body
    centre strays :data:`MOVING_BODY_LENGTHS` or more. Empty when the skeleton has no
    heading anchors (no body length to judge by) or the animal does not move enough."""
    anchors = {*skeleton.centre, *skeleton.anterior, *skeleton.posterior}
    candidates = [
        k for k in skeleton.keypoints if skeleton.region_of(k) == "other" and k not in anchors
    ]
    body = [k for k in skeleton.keypoints if skeleton.region_of(k) not in ("other", ARENA)]
    if not candidates or not body or not (skeleton.anterior and skeleton.posterior):
        return ()
    pos = ds["position"].transpose("individual", "time", "keypoint", "space")
    step = -(-ds.sizes["time"] // MAX_FRAMES_JUDGED)  # evenly spaced frames of a long file
    pos = pos.values[:, ::step].astype(np.float64)
    names = [str(k) for k in ds["keypoint"].values]

    def mean_of(keys) -> np.ndarray:  # (individual * time, space), NaN where none is seen
        sel = pos[:, :, [names.index(k) for k in keys]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(sel, axis=2).reshape(-1, pos.shape[-1])

    length = np.linalg.norm(mean_of(skeleton.anterior) - mean_of(skeleton.posterior), axis=1)
    length = length[np.isfinite(length) & (length > 0)]
    if not len(length):
        return ()
    body_length = float(np.median(length))
    if not _spread(mean_of(body)) >= MOVING_BODY_LENGTHS * body_length:
        return ()
    flat = pos.reshape(-1, len(names), pos.shape[-1])
    return tuple(
        k
        for k in candidates
        if _spread(flat[:, names.index(k)]) < STILL_BODY_LENGTHS * body_length
    )


def mark_static_as_arena(ds: xr.Dataset, skeleton: Skeleton) -> Skeleton:
    """``skeleton`` with :func:`static_keypoints` given region ``arena``, with a warning."""
    static = static_keypoints(ds, skeleton)
    if not static:
        return skeleton
    source = ds.attrs.get("source_file") or "poses"
    warnings.warn(
        f"{source}: keypoint(s) {', '.join(static)} stay within {STILL_BODY_LENGTHS} body "
        "lengths of one place while the animal moves: taken as arena points (region "
        f"{ARENA!r}), shown but not given to the model; give them a body region in a "
        "skeleton YAML if they are on the animal",
        UserWarning,
        stacklevel=3,
    )
    regions = {**skeleton.regions, **dict.fromkeys(static, ARENA)}
    return Skeleton(**{**skeleton.__dict__, "regions": regions})


def without_arena(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without its skeleton's arena points (``ds`` itself when it has none)."""
    from napari_vqmap.io import attach_skeleton, skeleton_of

    skeleton = skeleton_of(ds)
    if not skeleton.arena:
        return ds
    body = list(skeleton.body_keypoints)
    if not body:
        raise PoseFileError(
            ds.attrs.get("source_file") or None,
            f"every keypoint of skeleton {skeleton.name!r} is an arena point; none is on the "
            "animal",
        )
    out = ds.sel(keypoint=body)
    out.attrs = dict(ds.attrs)
    return attach_skeleton(out, skeleton.subset(body))
