"""Training data: recordings grouped by skeleton (one decoder head each), the weights
that balance the skeletons, and the augmented batch of each step.

Each batch holds windows of one skeleton; skeletons, then recordings, are drawn
uniformly. Batches are a pure function of (seed, step, rank), so a resumed run draws
exactly the batches the uninterrupted run would have drawn.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from napari_vqmap.io import load_poses, skeleton_of, without_arena
from napari_vqmap.io.files import expand_inputs, file_sha256
from napari_vqmap.model.vqmap import anchored
from napari_vqmap.preprocess import (
    PreprocessConfig,
    Recording,
    get_motion,
    get_window,
    make_windows,
    preprocess,
    top_down_ratio,
)
from napari_vqmap.skeletons import REGIONS, Skeleton, get_skeleton
from napari_vqmap.training.config import TrainConfig
from napari_vqmap.training.mirror import mirror_permutation


@dataclass
class SkeletonData:
    """The recordings of one skeleton (one decoder head) and their windows."""

    head: str
    skeleton: Skeleton
    n_dims: int
    recordings: list[Recording]
    windows: list[np.ndarray]  # per recording: (N, 3) rows (recording, individual, start)
    regions: torch.Tensor
    mirror: np.ndarray | None

    @property
    def n_windows(self) -> int:
        """Training windows over all the skeleton's recordings."""
        return sum(len(w) for w in self.windows)


def _load(item: Path | xr.Dataset, skeleton: Skeleton | None, fps: float | None) -> xr.Dataset:
    if isinstance(item, xr.Dataset):
        return item
    return load_poses(item, skeleton=skeleton, fps=fps)


def common_fps(datasets: list[xr.Dataset], config: PreprocessConfig) -> float | None:
    """``config.target_fps``, else the lowest frame rate when the datasets' rates differ."""
    if config.target_fps:
        return config.target_fps
    rates = {float(ds.attrs["fps"]) for ds in datasets if ds.attrs.get("fps")}
    return min(rates) if len(rates) > 1 else None


def _warn_missing_fps(datasets: list[xr.Dataset], target: float | None) -> None:
    """Warn, as ``encode`` does, for each recording without a frame rate."""
    for ds in datasets:
        if not ds.attrs.get("fps"):
            rate = f"at {float(target):g} fps" if target else "at the others' rate"
            warnings.warn(
                f"{ds.attrs.get('source_file') or 'poses'}: no frame rate, so trained as if "
                f"recorded {rate}; if it was not, give its rate (--fps, or fps= in "
                "load_poses): a motif spans a fixed time",
                stacklevel=3,
            )


def build_skeleton_data(
    items: Sequence[str | Path | xr.Dataset],
    config: TrainConfig,
    skeleton: str | Path | Skeleton | None = None,
    fps: float | None = None,
) -> tuple[list[SkeletonData], list[dict[str, Any]], float | None]:
    """Load, preprocess and window every input; one :class:`SkeletonData` per distinct skeleton.

    Returns them, a description of each input (path, sha256, head) and the frame
    rate everything was resampled to (``None``: left as recorded).
    """
    sk = None if skeleton is None else get_skeleton(skeleton)
    paths = expand_inputs(items)
    datasets = [without_arena(_load(p, sk, fps)) for p in paths]
    target = common_fps(datasets, config.preprocess)
    _warn_missing_fps(datasets, target)
    window = config.preprocess.window or config.model.window
    stride = config.preprocess.stride or max(1, window // 4)
    by_skeleton: dict[tuple, SkeletonData] = {}
    inputs = []
    for path, ds in zip(paths, datasets, strict=True):
        skel = skeleton_of(ds)
        rec = preprocess(ds, skel, config.preprocess, target_fps=target)
        key = (skel.name, skel.keypoints, ds.sizes["space"])
        if key not in by_skeleton:
            by_skeleton[key] = _new_skeleton_data(
                skel, ds.sizes["space"], {s.head for s in by_skeleton.values()}
            )
        skel_data = by_skeleton[key]
        rows = make_windows([rec], window, stride, config.preprocess.min_visible_fraction)
        source = rec.source if isinstance(path, xr.Dataset) else str(path)
        digest = file_sha256(source) if source and Path(source).is_file() else None
        inputs.append(
            {"path": source, "sha256": digest, "head": skel_data.head, "windows": len(rows)}
        )
        if len(rows):
            rows[:, 0] = len(skel_data.recordings)
            skel_data.recordings.append(rec)
            skel_data.windows.append(rows)
        else:
            warnings.warn(f"{source or 'dataset'}: no usable windows; skipped", stacklevel=2)
    kept = [s for s in by_skeleton.values() if s.recordings]
    if not kept:
        raise ValueError(f"no usable training windows of {window} frames in the inputs")
    return kept, inputs, target


def _new_skeleton_data(skeleton: Skeleton, n_dims: int, taken: set[str]) -> SkeletonData:
    head, n = skeleton.name.replace(".", "_") or "skeleton", 2
    while head in taken:
        head, n = f"{skeleton.name}_{n}", n + 1
    regions = skeleton.region_ids()
    return SkeletonData(
        head=head,
        skeleton=skeleton,
        n_dims=n_dims,
        recordings=[],
        windows=[],
        regions=torch.tensor(regions, dtype=torch.long),
        mirror=mirror_permutation(skeleton),
    )


def recon_weights(
    skel_data: SkeletonData, how: str = "coordinate", anchor_span: int = 0
) -> torch.Tensor:
    """Weights (K, D), of mean 1, of each keypoint coordinate's reconstruction error.

    ``"coordinate"``: the inverse of the coordinate's variance over the skeleton's visible
    aligned frames (with ``anchor_span``, over its spans of that many frames seen from their
    centre frame, as the loss measures them: :func:`~napari_vqmap.model.vqmap.anchored`);
    ``"keypoint"``: the same, pooled over a keypoint's coordinates; ``"none"``: all 1.
    Variances are floored at a quarter of their mean (the centre keypoint, always at 0,
    would get an infinite weight) and averaged over left/right partners, so a mirrored
    window is weighted as its original. With it, a tail tip that swings three times as far
    as a paw no longer dominates the loss.
    """
    k, d = len(skel_data.skeleton.keypoints), skel_data.n_dims
    if how == "none":
        return torch.ones(k, d)
    total, sq, count = np.zeros((k, d)), np.zeros((k, d)), np.zeros((k, 1))
    for rec in skel_data.recordings:
        x, m = rec.x, rec.mask
        if anchor_span:
            n = rec.n_frames // anchor_span * anchor_span
            x = anchored(
                torch.from_numpy(rec.x[:, :n]).double(),
                torch.from_numpy(rec.motion[:, :n]).double(),
                anchor_span,
                1 / (rec.fps or 30.0),  # as preprocess.body_motion assumes
            ).numpy()
            m = rec.mask[:, :n]
        m = m[..., None]
        total += (x * m).sum((0, 1))
        sq += (x**2 * m).sum((0, 1))
        count += m.sum((0, 1))
    mean = total / np.maximum(count, 1)
    var = np.maximum(sq / np.maximum(count, 1) - mean**2, 0.0)
    if how == "keypoint":
        var = np.repeat(var.mean(1, keepdims=True), d, axis=1)
    if skel_data.mirror is not None:
        var = (var + var[skel_data.mirror]) / 2
    var = np.maximum(var, 0.25 * var.mean()) if var.mean() > 0 else np.ones_like(var)
    weight = 1 / var
    return torch.tensor(weight / weight.mean(), dtype=torch.float32)


def region_heights(by_skeleton: list[SkeletonData]) -> np.ndarray:
    """Typical height of each body region (:data:`~napari_vqmap.skeletons.REGIONS`) in the
    3D skeletons' aligned frames (body lengths above the centre anchor): per skeleton the
    median over its keypoints in the region of their median height, then the mean over
    skeletons; 0 for a region no 3D keypoint is in. The model reads 2D input at these
    heights (``ModelConfig.lift_2d``)."""
    per_region: list[list[float]] = [[] for _ in REGIONS]
    for skel_data in (s for s in by_skeleton if s.n_dims == 3):
        heights = [[] for _ in REGIONS]
        for k, region in enumerate(skel_data.regions.tolist()):
            z = np.concatenate(
                [rec.x[..., k, 2][rec.mask[..., k]] for rec in skel_data.recordings]
            )
            if z.size:
                heights[region].append(float(np.median(z)))
        for region, values in enumerate(heights):
            if values:
                per_region[region].append(float(np.median(values)))
    return np.array([np.mean(v) if v else 0.0 for v in per_region], dtype=np.float32)


def top_down_scale(by_skeleton: list[SkeletonData]) -> float:
    """The median over the 3D recordings of :func:`~napari_vqmap.preprocess.top_down_ratio`
    (1 without 3D data): the model multiplies aligned 2D input by it, so a recording seen
    from above, scaled by its shorter top-down body length, gets the size of 3D data."""
    ratios = [top_down_ratio(rec) for s in by_skeleton if s.n_dims == 3 for rec in s.recordings]
    ratios = [r for r in ratios if r is not None]
    return float(np.median(ratios)) if ratios else 1.0


def skeleton_probabilities(by_skeleton: list[SkeletonData], config: TrainConfig) -> np.ndarray:
    """Chance that a batch comes from each skeleton: windows ** ``skeleton_weighting``."""
    windows = np.array([s.n_windows for s in by_skeleton], dtype=np.float64)
    weights = windows**config.skeleton_weighting
    return weights / weights.sum()


def codebook_weights(by_skeleton: list[SkeletonData], config: TrainConfig) -> np.ndarray:
    """How much each skeleton's batches move the shared codebook, in (0, 1].

    A skeleton's share of the training windows over its share of the batches, scaled so the
    least over-sampled skeleton has 1: the codebook then follows the pooled data, as if every
    window were drawn equally often, while small datasets still train the encoder and
    their heads often. (Ten windows of one file, drawn in 4 % of the batches, would
    otherwise pull codes to their few latents and leave the large datasets fewer.)
    """
    windows = np.array([s.n_windows for s in by_skeleton], dtype=np.float64)
    ratio = windows / windows.sum() / skeleton_probabilities(by_skeleton, config)
    return ratio / ratio.max()


def sample_batch(
    by_skeleton: list[SkeletonData], config: TrainConfig, step: int, rank: int = 0
) -> tuple[SkeletonData, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The augmented batch ``(skel_data, x, mask, motion, motion_mask, frame_time)`` of ``step``
    on ``rank``; ``frame_time`` (B,) is each window's seconds per frame.

    The skeleton depends on (seed, step) only, so all DDP ranks use the same head; the
    windows and augmentations also depend on the rank.
    """
    pick = np.random.default_rng([config.seed, step])
    skel_data = by_skeleton[
        pick.choice(len(by_skeleton), p=skeleton_probabilities(by_skeleton, config))
    ]
    rng = np.random.default_rng([config.seed, step, rank + 1])
    window = config.preprocess.window or config.model.window
    xs, masks, motions, motion_masks, frame_time = [], [], [], [], []
    for r in rng.integers(len(skel_data.recordings), size=config.batch_size):
        rows = skel_data.windows[r]
        _, individual, start = rows[rng.integers(len(rows))]
        x, mask = get_window(skel_data.recordings[r], individual, start, window)
        motion, motion_mask = get_motion(skel_data.recordings[r], individual, start, window)
        xs.append(x)
        masks.append(mask)
        motions.append(motion)
        motion_masks.append(motion_mask)
        frame_time.append(1 / (skel_data.recordings[r].fps or 30.0))  # as body_motion assumes
    x, mask, motion = np.stack(xs), np.stack(masks), np.stack(motions)
    augment(x, mask, rng, skel_data.mirror if config.mirror else None, config, motion)
    frame_time = np.asarray(frame_time, np.float32)
    return skel_data, x, mask, motion, np.stack(motion_masks), frame_time


def augment(
    x: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    mirror: np.ndarray | None,
    config: TrainConfig,
    motion: np.ndarray | None = None,
) -> None:
    """In place: mirror half the windows (if ``mirror``), then drop random keypoints.

    Mirroring also negates the lateral and angular velocity of ``motion`` (B, T, 3)."""
    n_batch, _, n_kp, _ = x.shape
    if mirror is not None:
        flip = rng.random(n_batch) < 0.5
        x[flip] = x[flip][:, :, mirror]
        mask[flip] = mask[flip][:, :, mirror]
        x[flip, ..., 1] *= -1
        if motion is not None:
            motion[flip, :, 1:] *= -1
    n_max = int(config.dropout_max_fraction * n_kp)
    if n_max < 1:
        return
    for b in np.flatnonzero(rng.random(n_batch) < config.keypoint_dropout):
        drop = rng.choice(n_kp, size=rng.integers(1, n_max + 1), replace=False)
        mask[b][:, drop] = False
        x[b][:, drop] = 0.0
