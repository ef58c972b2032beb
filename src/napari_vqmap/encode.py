"""Per-frame motif encoding of pose recordings with a trained VQ-MAP model.

Overlapping windows (a quarter-window stride) are encoded; each latent step covers
``2**n_down`` frames, and every frame takes the motif with the largest summed confidence
over the windows that cover it. Frames with too few visible keypoints (or missing
anchors) get motif -1 and ``status`` 1.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

from napari_vqmap.checkpoint import head_for
from napari_vqmap.model import VQMAP
from napari_vqmap.preprocess import (
    PreprocessConfig,
    _anchor,
    keypoint_mask,
    preprocess,
    resampled_start,
    window_starts,
)
from napari_vqmap.skeletons import REGIONS, Skeleton
from napari_vqmap.validators import PoseFileError

STATUS = {0: "ok", 1: "too few visible keypoints or anchors missing"}


CHUNK_FRAMES = 32768  # (model-rate) frames owned by each chunk of a long recording


def check_skeleton(poses: xr.Dataset, skeleton: Skeleton, meta: dict[str, Any]) -> None:
    """Warn when the model has never seen ``skeleton`` but its keypoints map to body regions
    and it has heading anchors; raise :class:`PoseFileError` naming what is missing if not."""
    if head_for(meta, skeleton.keypoints, poses.sizes["space"]) is not None:
        return
    source = poses.attrs.get("source_file") or None
    mapped = {k: skeleton.region_of(k) for k in skeleton.keypoints}
    missing = [role for role in ("anterior", "posterior") if not getattr(skeleton, role)]
    if all(r == "other" for r in mapped.values()) or missing:
        what = f"no {' or '.join(missing)} anchor" if missing else "no keypoint with a body region"
        raise PoseFileError(
            source,
            f"the model has never seen skeleton {skeleton.name!r} and it has {what} "
            f"(keypoints: {', '.join(skeleton.keypoints)}); pass --skeleton with a YAML "
            "skeleton giving regions and anterior/posterior anchors",
        )
    other = [k for k, r in mapped.items() if r == "other"]
    warnings.warn(
        f"the model has no head for skeleton {skeleton.name!r}; encoding with its keypoints "
        f"mapped to body regions ({len(mapped) - len(other)} of {len(mapped)} mapped"
        + (f"; 'other': {', '.join(other)}" if other else "")
        + "; decoding poses needs a head)",
        stacklevel=3,
    )


def _positions(ds: xr.Dataset, conf: float) -> tuple[np.ndarray, np.ndarray]:
    pos = ds["position"].transpose("individual", "time", "keypoint", "space").values
    return pos.astype(np.float64), keypoint_mask(ds, conf)


def recording_body_length(
    poses: xr.Dataset, skeleton: Skeleton, config: PreprocessConfig, chunk: int = CHUNK_FRAMES
) -> float:
    """The whole recording's body length, as :func:`~napari_vqmap.preprocess.body_length`
    computes it, read chunk by chunk: the median anterior-posterior distance, else twice the
    median keypoint spread, else 1."""
    index = {k: i for i, k in enumerate(skeleton.keypoints)}
    chunks = [poses.isel(time=slice(a, a + chunk)) for a in range(0, poses.sizes["time"], chunk)]
    dists = []
    if skeleton.anterior and skeleton.posterior:
        for ds in chunks:
            pos, mask = _positions(ds, config.conf_threshold)
            ant = _anchor(pos, mask, [index[k] for k in skeleton.anterior])
            post = _anchor(pos, mask, [index[k] for k in skeleton.posterior])
            dist = np.linalg.norm(ant - post, axis=-1)
            dists.append(dist[np.isfinite(dist) & (dist > 0)])
    if sum(map(len, dists)):
        return float(np.median(np.concatenate(dists)))
    spreads = []
    for ds in chunks:
        pos, mask = _positions(ds, config.conf_threshold)
        spread = np.linalg.norm(pos - _anchor(pos, mask, [])[:, :, None], axis=-1)[mask]
        spreads.append(spread[np.isfinite(spread) & (spread > 0)])
    spread = np.concatenate(spreads)
    return float(2 * np.median(spread)) if spread.size else 1.0


def _encode_windows(
    model: VQMAP,
    x: np.ndarray,
    mask: np.ndarray,
    regions: torch.Tensor,
    starts: np.ndarray,
    window: int,
    frames: tuple[int, int],
    batch_size: int,
    motion: tuple[np.ndarray, np.ndarray] | None = None,
    tick: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (motif, confidence, embedding) of frames ``[f0, f1)`` of one individual's
    aligned track ``x`` (zero-padded so every window fits) from the windows at ``starts``.

    Votes are summed in window order, so a frame gets the same result whichever chunk of
    windows covers it. ``motion`` is the track's body motion and its mask (see
    :func:`~napari_vqmap.preprocess.body_motion`), padded like ``x``. After each batch,
    ``tick(n)`` gets the number of its windows that start in ``[f0, f1)``.
    """
    f0, f1 = frames
    factor = 2**model.config.n_down
    n_motifs = model.config.n_types * model.config.n_subtypes
    keys, weights = [], []  # sparse votes: key = frame * n_motifs + motif
    emb = np.zeros((f1 - f0, model.config.latent_dim), np.float64)
    count = np.zeros(f1 - f0, np.int64)
    for b in range(0, len(starts), batch_size):
        batch = starts[b : b + batch_size]
        xb = torch.from_numpy(np.stack([x[s : s + window] for s in batch]))
        mb = torch.from_numpy(np.stack([mask[s : s + window] for s in batch]))
        extra = {}
        if motion is not None:
            extra = {
                "motion": torch.from_numpy(np.stack([motion[0][s : s + window] for s in batch])),
                "motion_mask": torch.from_numpy(
                    np.stack([motion[1][s : s + window] for s in batch])
                ),
            }
        out = model.encode(xb, mb, regions, **extra)
        motif = out["motif_idx"].repeat_interleave(factor, dim=1).numpy()
        conf = out["confidence"].repeat_interleave(factor, dim=1).double().numpy()
        z = out["z"].repeat_interleave(factor, dim=1).double().numpy()
        for s, m, c, zz in zip(batch, motif, conf, z, strict=True):
            lo, hi = max(s, f0), min(s + window, f1)
            if lo >= hi:
                continue
            keys.append(np.arange(lo, hi) * n_motifs + m[lo - s : hi - s])
            weights.append(c[lo - s : hi - s] + 1e-9)
            emb[lo - f0 : hi - f0] += zz[lo - s : hi - s]
            count[lo - f0 : hi - f0] += 1
        if tick is not None:
            tick(int(((batch >= f0) & (batch < f1)).sum()))
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    votes = np.bincount(inverse, weights=np.concatenate(weights))
    frame, motif = unique // n_motifs, unique % n_motifs
    order = np.lexsort((motif, -votes, frame))  # per frame: most votes, then lowest motif
    best = order[np.r_[True, np.diff(frame[order]) != 0]]
    confidence = votes[best] / np.maximum(count, 1)
    return motif[best], confidence, emb / np.maximum(count, 1)[:, None]


def _padded(a: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``a[lo:hi]`` along the first axis, zero-padded past the end."""
    part = a[lo:hi]
    pad = hi - lo - part.shape[0]
    return np.concatenate([part, np.zeros((pad, *a.shape[1:]), a.dtype)]) if pad else part


def encode(
    model: VQMAP,
    poses: xr.Dataset,
    meta: dict[str, Any] | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    chunk_frames: int = CHUNK_FRAMES,
) -> xr.Dataset:
    """Encode every frame of ``poses`` into motifs; returns a (time, individual) dataset.

    ``meta`` is the model's config dict (from :func:`~napari_vqmap.checkpoint.load_model`);
    its preprocessing and frame rate are used. ``progress(done, total)`` counts windows.
    The recording is preprocessed and encoded ``chunk_frames`` (model-rate) frames at a
    time, each chunk with enough context that the result equals an unchunked encoding;
    memory is bounded by the chunk size plus the outputs.
    Variables: ``motif``, ``motif_type``, ``motif_subtype`` (-1 where not encodable),
    ``confidence``, ``embedding`` (time, individual, latent) and ``status`` (0 ok).
    """
    from napari_vqmap.io import skeleton_of

    meta = meta or {}
    config = PreprocessConfig.from_dict(meta.get("preprocess", {}))
    window = config.window or meta.get("window") or model.config.window
    factor = 2**model.config.n_down
    stride = max(factor, window // 4 // factor * factor)  # not the training stride
    skeleton = skeleton_of(poses)
    check_skeleton(poses, skeleton, meta)
    regions = torch.tensor([REGIONS.index(skeleton.region_of(k)) for k in skeleton.keypoints])
    n_time, n_ind = poses.sizes["time"], poses.sizes["individual"]
    fps = poses.attrs.get("fps") or None
    target = meta.get("fps") or config.target_fps
    resampled = bool(fps and target and not np.isclose(fps, target))
    ratio = fps / target if resampled else 1.0  # file frames per model frame
    n_res = max(1, int(np.floor((n_time - 1) * target / fps)) + 1) if resampled else n_time
    model_fps = float(target) if resampled else (float(fps) if fps else 0.0)
    starts = window_starts(n_res, window, stride)
    total, done = n_ind * len(starts), 0

    def tick(n: int) -> None:  # progress after every batch of windows
        nonlocal done
        done += n
        if progress is not None and n:
            progress(done, total)

    scale = recording_body_length(poses, skeleton, config)
    # each file frame takes the nearest resampled frame
    per_file_frame = target / fps if resampled else 1.0
    near = np.clip(np.rint(np.arange(n_time) * per_file_frame).astype(np.int64), 0, n_res - 1)
    shape = (n_time, n_ind)
    motif = np.full(shape, -1, np.int64)
    confidence = np.zeros(shape, np.float32)
    embedding = np.full((*shape, model.config.latent_dim), np.nan, np.float32)
    status = np.ones(shape, np.int8)
    margin = 2 * config.max_anchor_gap + 8 + int(np.ceil(ratio))  # file frames of context
    chunk_frames = max(int(chunk_frames), window)
    with torch.no_grad():
        for lo in range(0, n_res, chunk_frames):
            hi = min(lo + chunk_frames, n_res)
            own = starts[(starts + window > lo) & (starts < hi)]
            r0, r1 = int(own[0]), int(own[-1]) + window  # model frames this chunk needs
            a = max(0, int(np.floor(r0 * ratio)) - margin)
            a -= a % 2  # even, so resampling rounds as over the whole recording
            b = min(n_time, int(np.ceil(r1 * ratio)) + 2 + margin)
            rec = preprocess(
                poses.isel(time=slice(a, b)),
                skeleton,
                config,
                target_fps=target,
                body_length=scale,
                first_frame=a,
            )
            j0 = resampled_start(a, fps, target) if resampled else a
            fa, fb = np.searchsorted(near, [lo, hi])
            rows = near[fa:fb] - lo
            for i in range(n_ind):
                x = _padded(rec.x[i], r0 - j0, r1 - j0)
                mask = _padded(rec.mask[i], r0 - j0, r1 - j0)
                motion = (
                    _padded(rec.motion[i], r0 - j0, r1 - j0),
                    _padded(rec.motion_mask[i], r0 - j0, r1 - j0),
                )
                m, c, z = _encode_windows(
                    model,
                    x,
                    mask,
                    regions,
                    own - r0,
                    window,
                    (lo - r0, hi - r0),
                    batch_size,
                    motion,
                    tick,
                )
                visible = mask[lo - r0 : hi - r0].mean(axis=-1) >= config.min_visible_fraction
                ok = visible[rows]
                motif[fa:fb, i] = np.where(ok, m[rows], -1)
                confidence[fa:fb, i] = np.where(ok, c[rows], 0.0)
                embedding[fa:fb, i] = np.where(ok[:, None], z[rows], np.nan)
                status[fa:fb, i] = np.where(ok, 0, 1)
    n_sub = model.config.n_subtypes
    dims = ("time", "individual")
    coords = {"time": poses["time"].values, "individual": poses["individual"].values}
    return xr.Dataset(
        {
            "motif": (dims, motif),
            "motif_type": (dims, np.where(motif >= 0, motif // n_sub, -1)),
            "motif_subtype": (dims, np.where(motif >= 0, motif % n_sub, -1)),
            "confidence": (dims, confidence),
            "embedding": ((*dims, "latent"), embedding),
            "status": (dims, status, {"meanings": json.dumps(STATUS)}),
        },
        coords=coords,
        attrs={
            "window": int(window),
            "stride": int(stride),
            "fps": float(fps) if fps else 0.0,
            "model_fps": model_fps,
            "n_types": int(model.config.n_types),
            "n_subtypes": int(n_sub),
            "skeleton": skeleton.name,
        },
    )


# ---------------------------------------------------------------- command line


def add_encode_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap encode``."""
    parser.add_argument("inputs", nargs="+", help="pose files, folders or glob patterns")
    parser.add_argument("--model", help="trained model folder (default: the bundled model)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--skeleton", help="skeleton preset name or YAML file")
    parser.add_argument("--fps", type=float, help="frame rate, for files that lack one")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per batch")
    parser.add_argument(
        "--chunk-frames", type=int, default=CHUNK_FRAMES, help="frames per chunk (memory)"
    )
    parser.add_argument(
        "--nwb", action="store_true", help="also write NWB files (poses + motif bouts)"
    )


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PoseFileError(folder, f"cannot create the output folder: {err}") from err
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
    except OSError as err:
        raise PoseFileError(folder, f"output folder is not writable: {err}") from err
    os.close(fd)
    os.unlink(probe)


def run_encode(args: argparse.Namespace) -> int:
    """Encode each input and write its result files into ``--out``."""
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.io import load_poses
    from napari_vqmap.results import write_results
    from napari_vqmap.train import expand_inputs

    if args.nwb:
        from napari_vqmap.nwb_export import require_nwb

        try:
            require_nwb()
        except ImportError as err:
            raise PoseFileError(None, str(err)) from err
    if args.model is None:
        from napari_vqmap.sample_data import bundled_model_dir

        args.model = str(bundled_model_dir())
    model, meta = load_model(args.model)
    out = Path(args.out)
    check_writable(out)
    settings = {"skeleton": args.skeleton, "fps": args.fps, "batch_size": args.batch_size}
    for path in expand_inputs(args.inputs):
        poses = load_poses(path, fps=args.fps, skeleton=args.skeleton)
        with tqdm(desc=Path(path).name, unit="window") as bar:

            def progress(done: int, total: int, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = encode(model, poses, meta, args.batch_size, progress, args.chunk_frames)
        files = write_results(result, poses, out, Path(path), args.model, settings, args.nwb)
        print(f"{path}: wrote {', '.join(p.name for p in files)}")
    return 0
