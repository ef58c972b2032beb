"""Egocentric alignment, scaling, masks, resampling and windowing of pose recordings.

A pose dataset becomes a :class:`Recording`: positions (individual, time, keypoint, space)
centred on the skeleton's ``centre`` anchor, rotated so that the posterior -> anterior
heading points to +x (about the vertical z axis only in 3D), divided by the recording's
body length, with a boolean mask of usable keypoints. Masked entries are 0, never NaN.
A point further than ``max_reach`` body lengths from the centre is a tracking jump (a
tracker that lost a paw marks it across the arena) and is masked too. Where an anchor is
missing for more than ``max_anchor_gap`` frames, the centre and heading are those that
place the animal's typical pose (:func:`body_template`) best on the keypoints still seen,
so such frames stay encodable.

Per-frame alignment removes the animal's own movement through the arena (walking and
standing still look alike), so a recording also carries the body centre's ``motion``:
its forward and lateral velocity in the heading frame (body lengths per second) and the
heading's angular velocity (radians per second), from frame t-1 to t. The model reads it
as one extra "root" token.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import check_option

ALIGNMENTS = ("body", "anchors")


@dataclass
class PreprocessConfig:
    """How recordings are cleaned, aligned and cut into windows.

    ``window=None`` takes the model's window; ``stride=None`` is a quarter window.
    ``target_fps=None`` resamples only when the recordings' frame rates differ (to the lowest).
    ``flip_2d_y`` negates y in 2D data before alignment: trackers of video (DeepLabCut,
    SLEAP, Lightning Pose) write image coordinates, whose y axis points down, so a camera
    above the animal sees it mirrored; flipped, its left side stays on its left and a left
    turn stays a left turn, as in 3D data (z up). Turn it off for 2D data with y up.
    ``alignment`` is where each frame's centre and heading come from: ``"body"`` fits the
    animal's typical pose to all the keypoints seen (a missing or jittery anchor moves it
    little; the anchors where no fit can be made), ``"anchors"`` takes the skeleton's
    centre, anterior and posterior keypoints (the fit only where they are missing).
    """

    target_fps: float | None = None
    conf_threshold: float = 0.0
    max_reach: float | None = 4.0  # body lengths from the centre beyond which a point is a
    # tracking error (masked); None keeps every point
    max_anchor_gap: int = 10
    window: int | None = None
    stride: int | None = None
    min_visible_fraction: float = 0.5
    flip_2d_y: bool = True
    alignment: str = "body"

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON/YAML-serialisable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PreprocessConfig:
        """Build from :meth:`to_dict` output; unknown keys are an error."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown preprocess option(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def __post_init__(self) -> None:
        for name in ("target_fps", "max_reach"):
            check_option(
                "PreprocessConfig", name, getattr(self, name), 0, above=True, none_ok=True
            )
        for name in ("window", "stride"):
            check_option(
                "PreprocessConfig", name, getattr(self, name), 1, integer=True, none_ok=True
            )
        check_option("PreprocessConfig", "max_anchor_gap", self.max_anchor_gap, 0, integer=True)
        check_option("PreprocessConfig", "conf_threshold", self.conf_threshold, 0)
        check_option("PreprocessConfig", "min_visible_fraction", self.min_visible_fraction, 0, 1)
        if self.alignment not in ALIGNMENTS:
            raise ValueError(
                f"PreprocessConfig.alignment must be one of {ALIGNMENTS}, got {self.alignment!r}"
            )


@dataclass
class Recording:
    """One aligned recording: ``x`` (individual, time, keypoint, space), ``mask`` (i, t, k)."""

    x: np.ndarray
    mask: np.ndarray
    frames: np.ndarray
    individuals: list[str]
    source: str
    skeleton: Skeleton
    fps: float | None
    body_length: float
    motion: np.ndarray  # (individual, time, 3): forward, lateral velocity, angular velocity
    motion_mask: np.ndarray  # (individual, time) bool
    placed: np.ndarray  # (individual, time) bool: anchors missing, body placed by a fit

    @property
    def n_frames(self) -> int:
        """Number of (resampled) frames."""
        return self.x.shape[1]


def keypoint_mask(ds: xr.Dataset, conf_threshold: float = 0.0) -> np.ndarray:
    """(individual, time, keypoint) True where a keypoint is present and confident enough.

    A NaN confidence with a finite position counts as present (formats without scores).
    """
    pos = ds["position"].transpose("individual", "time", "keypoint", "space").values
    present = np.isfinite(pos).all(axis=-1)
    if "confidence" not in ds:
        return present
    conf = ds["confidence"].transpose("individual", "time", "keypoint").values
    with np.errstate(invalid="ignore"):
        low = conf < conf_threshold
    return present & ~low


def _anchor(pos: np.ndarray, mask: np.ndarray, idx: list[int]) -> np.ndarray:
    """Mean of the visible anchor keypoints per (individual, time); NaN where none is."""
    if not idx:
        idx = list(range(pos.shape[2]))
    m = mask[:, :, idx, None]
    count = m.sum(axis=2)
    total = np.where(m, pos[:, :, idx], 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def anchor_points(
    pos: np.ndarray, mask: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The skeleton's centre, anterior and posterior anchors per (individual, time), NaN
    where none of their keypoints is seen; anterior and posterior None if it has none."""
    index = {k: i for i, k in enumerate(skeleton.keypoints)}
    centre = _anchor(pos, mask, [index[k] for k in skeleton.centre])
    if not (skeleton.anterior and skeleton.posterior):
        return centre, None, None
    ant = _anchor(pos, mask, [index[k] for k in skeleton.anterior])
    return centre, ant, _anchor(pos, mask, [index[k] for k in skeleton.posterior])


def _fill_short_gaps(values: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate NaN runs of at most ``max_gap`` frames in a (time,) series.

    Runs touching the start or end are filled with the nearest value when short enough.
    """
    out = values.copy()
    bad = ~np.isfinite(values)
    if not bad.any() or bad.all():
        return out
    t = np.arange(len(values))
    filled = np.interp(t, t[~bad], values[~bad])
    edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if stop - start <= max_gap:
            out[start:stop] = filled[start:stop]
    return out


def _heading(ant: np.ndarray, post: np.ndarray, max_gap: int) -> np.ndarray:
    """Heading angle (individual, time) of posterior -> anterior in the x-y plane, gaps filled."""
    vec = ant[..., :2] - post[..., :2]
    angle = np.arctan2(vec[..., 1], vec[..., 0])
    angle[np.hypot(vec[..., 0], vec[..., 1]) == 0] = np.nan
    out = np.empty_like(angle)
    for i, a in enumerate(angle):
        ok = np.isfinite(a)
        unwrapped = a.copy()
        unwrapped[ok] = np.unwrap(a[ok])
        out[i] = _fill_short_gaps(unwrapped, max_gap)
    return out


def body_length(ant: np.ndarray, post: np.ndarray, pos: np.ndarray, mask: np.ndarray) -> float:
    """Robust body length: median posterior-anterior distance; falls back to the keypoint
    spread (twice the median distance from the keypoints' mean), then to 1."""
    dist = np.linalg.norm(ant - post, axis=-1)
    dist = dist[np.isfinite(dist) & (dist > 0)]
    if dist.size:
        return float(np.median(dist))
    centre = _anchor(pos, mask, [])
    spread = np.linalg.norm(pos - centre[:, :, None], axis=-1)[mask]
    spread = spread[np.isfinite(spread) & (spread > 0)]
    return float(2 * np.median(spread)) if spread.size else 1.0


TEMPLATE_FRAMES = 20_000  # evenly spaced frames a body template is taken from
FIT_OUTLIER = 1.0  # body lengths between a keypoint and its fitted place: a tracking jump


def template_frames(n_frames: int) -> np.ndarray:
    """The frames :func:`body_template` reads: at most :data:`TEMPLATE_FRAMES`, evenly
    spaced over the recording."""
    return np.unique(np.linspace(0, n_frames - 1, min(n_frames, TEMPLATE_FRAMES)).round()).astype(
        np.int64
    )


class BodyTemplate(NamedTuple):
    """An animal's typical pose, for placing its body when anchors are missing."""

    pose: np.ndarray  # (individual, keypoint, space) in body lengths, NaN if never seen
    weight: np.ndarray  # (individual, keypoint): 1 / (median squared x-y spread + 0.05^2)


def body_template(
    pos: np.ndarray, mask: np.ndarray, skeleton: Skeleton, scale: float
) -> BodyTemplate:
    """Each individual's typical pose in body lengths: the median of every keypoint's
    position seen from its frame's anchors (where they are seen, no gaps filled) over
    :func:`template_frames`, and how steady each keypoint is there (the median squared x-y
    distance from that pose): paws and tail tips count less than the trunk in a fit."""
    idx = template_frames(pos.shape[1])
    pos, mask = pos[:, idx], mask[:, idx]
    centre, ant, post = anchor_points(pos, mask, skeleton)
    valid = np.isfinite(centre).all(-1)
    angle = np.zeros(valid.shape)
    if ant is not None:
        angle = np.arctan2(ant[..., 1] - post[..., 1], ant[..., 0] - post[..., 0])
        valid &= np.isfinite(angle)
    seen = mask & valid[:, :, None]
    x = np.where(seen[..., None], _rotated(pos, seen, centre, angle, scale), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: a keypoint never seen
        pose = np.nanmedian(x, axis=1)
        spread = np.nanmedian(((x - pose[:, None])[..., :2] ** 2).sum(-1), axis=1)
    return BodyTemplate(pose, 1.0 / (np.nan_to_num(spread, nan=np.inf) + 0.05**2))


def recording_template(
    ds: xr.Dataset, skeleton: Skeleton, config: PreprocessConfig, scale: float
) -> BodyTemplate:
    """:func:`body_template` of a whole recording read from ``ds`` (only its template
    frames are loaded), as :func:`preprocess` computes it for ``ds`` itself."""
    pos, mask = positions(ds.isel(time=template_frames(ds.sizes["time"])), config)
    return body_template(pos, mask, skeleton, scale)


def positions(ds: xr.Dataset, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """(individual, time, keypoint, space) float64 positions, 2D y flipped as configured,
    and their :func:`keypoint_mask`."""
    pos = ds["position"].transpose("individual", "time", "keypoint", "space").values
    pos = pos.astype(np.float64)
    if config.flip_2d_y and pos.shape[-1] == 2:
        pos[..., 1] *= -1
    return pos, keypoint_mask(ds, config.conf_threshold)


def _fit_body(
    pos: np.ndarray, mask: np.ndarray, template: BodyTemplate, scale: float, rotate: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Centre (individual, time, space) and heading (individual, time) that place the
    ``template`` (scaled by ``scale`` to the units of ``pos``) best on the seen keypoints:
    a weighted least-squares rotation about z (``rotate``) and translation in x-y, the
    weighted mean offset in z, fitted again without any keypoint that lies more than
    :data:`FIT_OUTLIER` body lengths (x-y) from its place (tracking jumps). NaN where
    fewer than two keypoints with a template pose are seen, or where they lie within a
    tenth of a body length of their centre."""
    pose = template.pose * scale
    known = np.isfinite(pose).all(-1)  # (i, k)
    mask = mask & known[:, None]
    centre, angle = _weighted_fit(pos, mask, template.weight, pose, scale, rotate)
    cos, sin = np.cos(angle)[..., None], np.sin(angle)[..., None]
    a = np.nan_to_num(pose)[:, None]
    placed_x = centre[..., None, 0] + cos * a[..., 0] - sin * a[..., 1]
    placed_y = centre[..., None, 1] + sin * a[..., 0] + cos * a[..., 1]
    with np.errstate(invalid="ignore"):
        off = (pos[..., 0] - placed_x) ** 2 + (pos[..., 1] - placed_y) ** 2
        outlier = mask & (off > (FIT_OUTLIER * scale) ** 2)
    if not outlier.any():
        return centre, angle
    bad = outlier.any(-1)  # (individual, time): refit these without their outliers
    cols = bad.any(0)
    refit_centre, refit_angle = _weighted_fit(
        pos[:, cols], (mask & ~outlier)[:, cols], template.weight, pose, scale, rotate
    )
    sub = bad[:, cols]
    centre[:, cols] = np.where(sub[..., None], refit_centre, centre[:, cols])
    angle[:, cols] = np.where(sub, refit_angle, angle[:, cols])
    return centre, angle


def _weighted_fit(
    pos: np.ndarray,
    mask: np.ndarray,
    weight: np.ndarray,
    pose: np.ndarray,
    scale: float,
    rotate: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One weighted least-squares placement of ``pose`` (see :func:`_fit_body`), from
    weighted sums over the keypoints (no per-coordinate temporaries: it runs on every
    frame)."""
    w = np.where(mask, weight[:, None], 0.0)  # (i, t, k)
    total = w.sum(2)  # (i, t)
    p = np.where(mask[..., None], pos, 0.0)  # (i, t, k, d), NaN-free
    a = np.nan_to_num(pose)  # (i, k, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        a_mean = np.einsum("itk,ikd->itd", w, a) / total[..., None]
        p_mean = np.einsum("itk,itkd->itd", w, p) / total[..., None]
    if rotate:
        wp = w[..., None] * p[..., :2]  # (i, t, k, 2)
        sxx, sxy = (np.einsum("itk,ik->it", wp[..., j], a[..., 0]) for j in (0, 1))
        syx, syy = (np.einsum("itk,ik->it", wp[..., j], a[..., 1]) for j in (0, 1))
        ax, ay, px, py = a_mean[..., 0], a_mean[..., 1], p_mean[..., 0], p_mean[..., 1]
        cross = sxy - syx - total * (ax * py - ay * px)
        dot = sxx + syy - total * (ax * px + ay * py)
        angle = np.arctan2(cross, dot)
    else:
        angle = np.zeros(total.shape)
    cos, sin = np.cos(angle), np.sin(angle)
    centre = p_mean.copy()
    centre[..., 0] -= cos * a_mean[..., 0] - sin * a_mean[..., 1]
    centre[..., 1] -= sin * a_mean[..., 0] + cos * a_mean[..., 1]
    centre[..., 2:] -= a_mean[..., 2:]
    spread = ((a[:, None, :, :2] - a_mean[:, :, None, :2]) ** 2).sum(-1)  # (i, t, k)
    reach = np.where(mask, spread, 0.0).max(2, initial=0.0)
    bad = (mask.sum(2) < 2) | ~(reach > (0.1 * scale) ** 2)
    centre[bad], angle[bad] = np.nan, np.nan
    return centre, angle


def align(
    pos: np.ndarray,
    mask: np.ndarray,
    skeleton: Skeleton,
    max_anchor_gap: int = 10,
    scale: float | None = None,
    fps: float | None = None,
    template: BodyTemplate | None = None,
    alignment: str = "body",
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]:
    """Egocentric alignment of ``pos`` (individual, time, keypoint, space).

    Returns aligned positions (0 where masked), the mask, the body length used (``scale``
    when given, e.g. the whole recording's for a chunk of it), and the body motion
    (individual, time, 3) with its mask (see :func:`body_motion`), and where the body was
    placed by a fit for want of anchors (individual, time). With ``alignment="body"`` each
    frame's centre and heading are those that place the body's typical pose best on the
    keypoints seen (``template``, see :func:`body_template`; by default this recording's
    own), the anchors' only where no fit can be made; with ``"anchors"`` they come from
    the skeleton's anchors, the fit only where those are missing for longer than
    ``max_anchor_gap`` frames (shorter gaps are interpolated). Frames with neither (fewer
    than two keypoints seen) are masked whole. Without anterior/posterior anchors the
    heading is left as it is and only the anchors are used.
    """
    centre, ant, post = anchor_points(pos, mask, skeleton)
    centre = np.stack(
        [np.stack([_fill_short_gaps(c, max_anchor_gap) for c in ind.T], -1) for ind in centre]
    )
    valid = np.isfinite(centre).all(axis=-1)
    has_heading = ant is not None
    if has_heading:
        angle = _heading(ant, post, max_anchor_gap)
        valid &= np.isfinite(angle)
        scale = scale or body_length(ant, post, pos, mask)
    else:
        angle = np.zeros(valid.shape)
        scale = scale or body_length(centre, centre, pos, mask)
    placed = np.zeros(valid.shape, bool)
    fit_all = alignment == "body" and has_heading
    if fit_all or (not valid.all() and (mask & ~valid[:, :, None]).any()):
        if template is None:
            template = body_template(pos, mask, skeleton, scale)
        seen = mask if fit_all else mask & ~valid[:, :, None]
        fit_centre, fit_angle = _fit_body(pos, seen, template, scale, has_heading)
        fitted = np.isfinite(fit_angle)
        placed = ~valid & fitted
        use = fitted if fit_all else placed
        centre = np.where(use[..., None], fit_centre, centre)
        angle = np.where(use, fit_angle, angle)  # in (-pi, pi]: see body_motion
        valid |= placed
    out = _rotated(pos, mask & valid[:, :, None], centre, angle, scale)
    motion, motion_mask = body_motion(centre, angle, valid, scale, fps)
    return out, mask & valid[:, :, None], scale, motion, motion_mask, placed


def _rotated(
    pos: np.ndarray, mask: np.ndarray, centre: np.ndarray, angle: np.ndarray, scale: float
) -> np.ndarray:
    """Positions relative to ``centre``, turned by -``angle`` about z, in body lengths;
    0 where ``mask`` is False (float32)."""
    rel = np.where(mask[..., None], pos - np.nan_to_num(centre)[:, :, None], 0.0)
    cos, sin = np.cos(np.nan_to_num(angle))[..., None], np.sin(np.nan_to_num(angle))[..., None]
    out = rel.copy()
    out[..., 0] = cos * rel[..., 0] + sin * rel[..., 1]
    out[..., 1] = -sin * rel[..., 0] + cos * rel[..., 1]
    return np.where(mask[..., None], out / scale, 0.0).astype(np.float32)


def body_motion(
    centre: np.ndarray, angle: np.ndarray, valid: np.ndarray, scale: float, fps: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Centre velocity in the heading frame (body lengths/s) and angular velocity (rad/s).

    ``centre`` (individual, time, space), ``angle`` (individual, time) (a turn of more
    than pi between frames is taken the short way round),
    ``valid`` (individual, time). Frame t uses t-1 -> t (frame 0 copies frame 1); a frame
    is valid when both ends are. Without a frame rate, 30 fps is assumed.
    Returns (individual, time, 3) float32, 0 where invalid, and the (individual, time) mask.
    """
    rate = float(fps) if fps else 30.0
    step = np.diff(np.nan_to_num(centre[..., :2]), axis=1)
    turn = np.diff(np.nan_to_num(angle), axis=1)
    wrapped = np.abs(turn) > np.pi  # a fitted heading is not unwrapped with the others
    turn[wrapped] = (turn[wrapped] + np.pi) % (2 * np.pi) - np.pi
    ok = valid[:, 1:] & valid[:, :-1]
    cos, sin = np.cos(np.nan_to_num(angle[:, 1:])), np.sin(np.nan_to_num(angle[:, 1:]))
    forward = cos * step[..., 0] + sin * step[..., 1]
    lateral = -sin * step[..., 0] + cos * step[..., 1]
    motion = np.stack([forward / scale * rate, lateral / scale * rate, turn * rate], -1)
    if motion.shape[1] == 0:  # a single frame: no motion
        return np.zeros((*valid.shape, 3), np.float32), np.zeros(valid.shape, bool)
    motion = np.concatenate([motion[:, :1], motion], axis=1)
    ok = np.concatenate([ok[:, :1], ok], axis=1)
    return np.where(ok[..., None], motion, 0.0).astype(np.float32), ok


def top_down_ratio(rec: Recording) -> float | None:
    """How long the body looks from above, relative to its length in 3D: the median
    posterior-anterior distance in x, y over that in x, y, z, for an aligned 3D recording
    (``None`` without heading anchors or visible frames). Seen from above, a 2D recording
    is scaled by this shorter length."""
    sk, index = rec.skeleton, {k: i for i, k in enumerate(rec.skeleton.keypoints)}
    if not (sk.anterior and sk.posterior) or rec.x.shape[-1] != 3:
        return None
    ant = _anchor(rec.x, rec.mask, [index[k] for k in sk.anterior])
    post = _anchor(rec.x, rec.mask, [index[k] for k in sk.posterior])
    full = np.linalg.norm(ant - post, axis=-1)
    flat = np.linalg.norm(ant[..., :2] - post[..., :2], axis=-1)
    ok = np.isfinite(full) & (full > 0)
    return float(np.median(flat[ok]) / np.median(full[ok])) if ok.any() else None


def resampled_start(first_frame: int, fps: float, target_fps: float) -> int:
    """Index, on the whole recording's resampled grid, of the first resampled frame of a
    chunk that starts at frame ``first_frame``."""
    return int(np.ceil(first_frame * target_fps / fps)) if first_frame else 0


def resample(
    x: np.ndarray,
    mask: np.ndarray,
    frames: np.ndarray,
    fps: float,
    target_fps: float,
    first_frame: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample aligned data along time: linear on positions (where both neighbours are
    visible, otherwise the nearest frame), nearest on the mask and the frame numbers.

    ``first_frame`` (even) places a chunk of a recording on the whole recording's grid."""
    n = x.shape[1]
    j0 = resampled_start(first_frame, fps, target_fps)
    n_new = max(1, int(np.floor((first_frame + n - 1) * target_fps / fps)) + 1 - j0)
    src = np.arange(j0, j0 + n_new) * (fps / target_fps) - first_frame
    i0 = np.clip(np.floor(src).astype(int), 0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    near = np.clip(np.rint(src).astype(int), 0, n - 1)
    w = (src - i0)[None, :, None, None]
    both = (mask[:, i0] & mask[:, i1])[..., None]
    lerp = (1 - w) * x[:, i0] + w * x[:, i1]
    new_mask = mask[:, near]
    new_x = np.where(both, lerp, x[:, near])
    new_x = np.where(new_mask[..., None], new_x, 0.0).astype(np.float32)
    return new_x, new_mask, frames[near]


def preprocess(
    ds: xr.Dataset,
    skeleton: Skeleton,
    config: PreprocessConfig | None = None,
    target_fps: float | None = None,
    body_length: float | None = None,
    first_frame: int = 0,
    template: BodyTemplate | None = None,
) -> Recording:
    """Align, scale, mask and (when ``target_fps`` and the data's fps differ) resample ``ds``.

    ``target_fps`` overrides ``config.target_fps``. ``skeleton`` must name the dataset's
    keypoints in order (e.g. :func:`napari_vqmap.io.skeleton_of`). For a chunk of a long
    recording, ``body_length`` and ``template`` (the whole recording's, see
    :func:`recording_template`) and ``first_frame`` (the chunk's start, even) make the
    result equal that part of the whole recording's.
    """
    config = config or PreprocessConfig()
    keypoints = [str(k) for k in ds["keypoint"].values]
    if list(skeleton.keypoints) != keypoints:
        raise ValueError(
            f"{ds.attrs.get('source_file', 'poses')}: skeleton {skeleton.name!r} keypoints "
            f"{list(skeleton.keypoints)} do not match the data's {keypoints}"
        )
    pos, mask = positions(ds, config)
    fps = ds.attrs.get("fps") or None
    x, mask, scale, motion, motion_mask, placed = align(
        pos, mask, skeleton, config.max_anchor_gap, body_length, fps, template, config.alignment
    )
    if config.max_reach is not None:  # tracking jumps: points far outside the body
        far = np.linalg.norm(x, axis=-1) > config.max_reach
        mask &= ~far
        x[far] = 0.0
    frames = np.asarray(ds["frame"].values if "frame" in ds.coords else np.arange(x.shape[1]))
    target = target_fps or config.target_fps
    if fps and target and not np.isclose(fps, target):
        resampled = resample(
            motion[:, :, None], motion_mask[:, :, None], frames, fps, target, first_frame
        )
        motion, motion_mask = resampled[0][:, :, 0], resampled[1][:, :, 0]
        flags = placed.astype(np.float32)[:, :, None, None]
        resampled = resample(
            flags, np.ones(flags.shape[:3], bool), frames, fps, target, first_frame
        )
        placed = resampled[0][:, :, 0, 0] > 0  # placed if a neighbour was
        x, mask, frames = resample(x, mask, frames, float(fps), float(target), first_frame)
        fps = float(target)
    return Recording(
        x=x,
        mask=mask,
        frames=frames.astype(np.int64),
        individuals=[str(i) for i in ds["individual"].values],
        source=str(ds.attrs.get("source_file", "")),
        skeleton=skeleton,
        fps=fps,
        body_length=scale,
        motion=motion,
        motion_mask=motion_mask,
        placed=placed,
    )


def window_starts(n_frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of windows every ``stride`` frames, plus one ending at the last frame so
    no tail is left out. A recording shorter than ``window`` gives one (padded) window at 0."""
    if n_frames <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_frames - window + 1, stride, dtype=np.int64)
    if starts[-1] != n_frames - window:
        starts = np.append(starts, n_frames - window)
    return starts


def make_windows(
    recordings: list[Recording], window: int, stride: int, min_visible_fraction: float = 0.5
) -> np.ndarray:
    """(N, 3) int64 rows of (recording index, individual index, start) for training windows.

    Windows where fewer than ``min_visible_fraction`` of the frames show any keypoint are
    dropped.
    """
    rows = []
    for r, rec in enumerate(recordings):
        visible = rec.mask.any(axis=-1)
        for i in range(len(rec.individuals)):
            for s in window_starts(rec.n_frames, window, stride):
                if visible[i, s : s + window].sum() >= min_visible_fraction * window:
                    rows.append((r, i, s))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def window_provenance(
    recordings: list[Recording], windows: np.ndarray
) -> list[tuple[str, str, int]]:
    """(source file, individual name, original start frame) of each window row."""
    return [
        (recordings[r].source, recordings[r].individuals[i], int(recordings[r].frames[s]))
        for r, i, s in windows
    ]


def get_window(
    rec: Recording, individual: int, start: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, mask)`` of one window, (window, K, D) and (window, K); padded past the end."""
    x = rec.x[individual, start : start + window]
    mask = rec.mask[individual, start : start + window]
    return _pad(x, window), _pad(mask, window)


def get_motion(
    rec: Recording, individual: int, start: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(motion, motion_mask)`` of one window, (window, 3) and (window,); padded past the end."""
    motion = rec.motion[individual, start : start + window]
    return _pad(motion, window), _pad(rec.motion_mask[individual, start : start + window], window)


def _pad(a: np.ndarray, length: int) -> np.ndarray:
    """``a`` zero-padded (False for bool) along its first axis to ``length``."""
    pad = length - a.shape[0]
    return np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)]) if pad > 0 else a
