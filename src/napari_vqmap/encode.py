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
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

from napari_vqmap.model import VQMAP
from napari_vqmap.preprocess import PreprocessConfig, preprocess, window_starts
from napari_vqmap.skeletons import REGIONS
from napari_vqmap.validators import PoseFileError

STATUS = {0: "ok", 1: "too few visible keypoints or anchors missing"}


def _head_for(keypoints: tuple[str, ...], n_dims: int, meta: dict[str, Any]) -> str | None:
    for name, head in meta.get("heads", {}).items():
        if tuple(head["skeleton"]["keypoints"]) == keypoints and head["n_dims"] == n_dims:
            return name
    return None


def _encode_track(
    model: VQMAP,
    x: np.ndarray,
    mask: np.ndarray,
    regions: torch.Tensor,
    window: int,
    stride: int,
    batch_size: int,
    tick: Callable[[int], None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (motif, confidence, embedding) of one individual's aligned track."""
    n = x.shape[0]
    factor = 2**model.config.n_down
    n_motifs = model.config.n_types * model.config.n_subtypes
    keys, weights = [], []  # sparse votes: key = frame * n_motifs + motif
    emb = np.zeros((n, model.config.latent_dim), np.float64)
    count = np.zeros(n, np.int64)
    starts = window_starts(n, window, stride)
    pad = max(0, window - n)
    xp = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
    mp = np.concatenate([mask, np.zeros((pad, *mask.shape[1:]), bool)])
    for b in range(0, len(starts), batch_size):
        chunk = starts[b : b + batch_size]
        xb = torch.from_numpy(np.stack([xp[s : s + window] for s in chunk]))
        mb = torch.from_numpy(np.stack([mp[s : s + window] for s in chunk]))
        out = model.encode(xb, mb, regions)
        motif = out["motif_idx"].repeat_interleave(factor, dim=1).numpy()
        conf = out["confidence"].repeat_interleave(factor, dim=1).double().numpy()
        z = out["z"].repeat_interleave(factor, dim=1).double().numpy()
        for s, m, c, zz in zip(chunk, motif, conf, z, strict=True):
            stop = min(s + window, n)
            keys.append(np.arange(s, stop) * n_motifs + m[: stop - s])
            weights.append(c[: stop - s] + 1e-9)
            emb[s:stop] += zz[: stop - s]
            count[s:stop] += 1
        tick(len(chunk))
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    votes = np.bincount(inverse, weights=np.concatenate(weights))
    frame, motif = unique // n_motifs, unique % n_motifs
    order = np.lexsort((motif, -votes, frame))  # per frame: most votes, then lowest motif
    best = order[np.r_[True, np.diff(frame[order]) != 0]]
    confidence = votes[best] / np.maximum(count, 1)
    return motif[best], confidence, emb / np.maximum(count, 1)[:, None]


def encode(
    model: VQMAP,
    poses: xr.Dataset,
    meta: dict[str, Any] | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Encode every frame of ``poses`` into motifs; returns a (time, individual) dataset.

    ``meta`` is the model's config dict (from :func:`~napari_vqmap.checkpoint.load_model`);
    its preprocessing and frame rate are used. ``progress(done, total)`` counts windows.
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
    if _head_for(tuple(skeleton.keypoints), poses.sizes["space"], meta) is None:
        warnings.warn(
            f"the model has no head for skeleton {skeleton.name!r}; encoding with regions from "
            "the data's skeleton (the encoder is keypoint-agnostic; decoding needs a head)",
            stacklevel=2,
        )
    regions = torch.tensor([REGIONS.index(skeleton.region_of(k)) for k in skeleton.keypoints])
    rec = preprocess(poses, skeleton, config, target_fps=meta.get("fps"))
    n_ind, n_time = len(rec.individuals), poses.sizes["time"]
    total, done = n_ind * len(window_starts(rec.n_frames, window, stride)), 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(done, total)

    # each file frame takes the nearest resampled frame
    fps = poses.attrs.get("fps")
    scale = rec.fps / fps if fps and rec.fps else 1.0
    near = np.clip(np.rint(np.arange(n_time) * scale).astype(int), 0, rec.n_frames - 1)
    shape = (n_time, n_ind)
    motif = np.full(shape, -1, np.int64)
    confidence = np.zeros(shape, np.float32)
    embedding = np.zeros((*shape, model.config.latent_dim), np.float32)
    status = np.zeros(shape, np.int8)
    with torch.no_grad():
        for i in range(n_ind):
            m, c, z = _encode_track(
                model, rec.x[i], rec.mask[i], regions, window, stride, batch_size, tick
            )
            visible = rec.mask[i].mean(axis=-1) >= config.min_visible_fraction
            ok = visible[near]
            motif[:, i] = np.where(ok, m[near], -1)
            confidence[:, i] = np.where(ok, c[near], 0.0)
            embedding[:, i] = np.where(ok[:, None], z[near], np.nan)
            status[:, i] = np.where(ok, 0, 1)
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
            "model_fps": float(rec.fps) if rec.fps else 0.0,
            "n_types": int(model.config.n_types),
            "n_subtypes": int(n_sub),
            "skeleton": skeleton.name,
        },
    )


# ---------------------------------------------------------------- command line


def add_encode_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap encode``."""
    parser.add_argument("inputs", nargs="+", help="pose files, folders or glob patterns")
    parser.add_argument("--model", required=True, help="trained model folder")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--skeleton", help="skeleton preset name or YAML file")
    parser.add_argument("--fps", type=float, help="frame rate, for files that lack one")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per batch")


def run_encode(args: argparse.Namespace) -> int:
    """Encode each input and write its result files into ``--out``."""
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.io import load_poses
    from napari_vqmap.results import write_results
    from napari_vqmap.train import expand_inputs

    model, meta = load_model(args.model)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PoseFileError(out, f"cannot create the output folder: {err}") from err
    if not os.access(out, os.W_OK):
        raise PoseFileError(out, "output folder is not writable")
    settings = {"skeleton": args.skeleton, "fps": args.fps, "batch_size": args.batch_size}
    for path in expand_inputs(args.inputs):
        poses = load_poses(path, fps=args.fps, skeleton=args.skeleton)
        with tqdm(desc=Path(path).name, unit="window") as bar:

            def progress(done: int, total: int, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = encode(model, poses, meta, args.batch_size, progress)
        files = write_results(result, poses, out, Path(path), args.model, settings)
        print(f"{path}: wrote {', '.join(p.name for p in files)}")
    return 0
