"""Per-frame motif encoding of pose recordings with a trained VQ-MAP model.

The encoder is convolutional in time (its set attention mixes keypoints within a time
step), so a latent step depends only on the frames within the encoder's receptive field
(``ModelConfig.receptive_field``, 12 frames on each side for the defaults, less than half
a training window). When the model has a head for the skeleton, keypoints missing in a
frame where others are seen are filled in from the decoding of a first pass and the
window encoded again (``VQMAP.fill_missing``), which reaches twice as far plus the
decoder's reach (44 frames for the defaults). A recording is therefore encoded in blocks of
:data:`SPAN` frames, each in one window with that much context on either side
(:func:`encode_context`; the encoder's own where a chunk has no keypoint to fill in within
reach, which gives the same result in one pass), keeping the block's own latent steps:
every frame is encoded with its full context, and the result does not depend on where
blocks or chunks fall. Each latent step covers ``2**n_down`` frames. Frames with too few
visible keypoints get motif -1 and ``status`` 1; frames whose body was placed without its
anchors (:mod:`napari_vqmap.preprocess`) ``status`` 2.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from napari_vqmap.checkpoint import head_for, load_model, model_folder, saved_preprocess_config
from napari_vqmap.errors import ConfigError, PoseFileError
from napari_vqmap.io import load_poses, skeleton_of, without_arena
from napari_vqmap.io.files import check_writable, expand_inputs
from napari_vqmap.model import VQMAP, ModelConfig
from napari_vqmap.preprocess import (
    PreprocessConfig,
    _anchor,
    anchor_points,
    positions,
    preprocess,
    recording_template,
    resampled_start,
)
from napari_vqmap.results import write_results
from napari_vqmap.runtime import launched_rank_world, resolve_device
from napari_vqmap.skeletons import Skeleton
from napari_vqmap.stickiness import smooth_track
from napari_vqmap.validators import check_stickiness

STATUS = {
    0: "ok",
    1: "too few visible keypoints, or anchors missing and too few keypoints to place the body",
    2: "ok; anchors missing, the body placed from the keypoints seen",
}


CHUNK_FRAMES = 32768  # (model-rate) frames owned by each chunk of a long recording
SPAN = 1024  # (model-rate) frames whose latents one encoder window keeps
BATCH_BLOCKS = 8  # blocks (windows) per forward pass


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


def recording_body_length(
    poses: xr.Dataset, skeleton: Skeleton, config: PreprocessConfig, chunk: int = CHUNK_FRAMES
) -> float:
    """The whole recording's body length, as :func:`~napari_vqmap.preprocess.body_length`
    computes it, read chunk by chunk: the median anterior-posterior distance, else twice the
    median keypoint spread, else 1."""
    chunks = [poses.isel(time=slice(a, a + chunk)) for a in range(0, poses.sizes["time"], chunk)]
    dists = []
    if skeleton.anterior and skeleton.posterior:
        for ds in chunks:
            _, ant, post = anchor_points(*positions(ds, config), skeleton)
            dist = np.linalg.norm(ant - post, axis=-1)
            dists.append(dist[np.isfinite(dist) & (dist > 0)])
    if sum(map(len, dists)):
        return float(np.median(np.concatenate(dists)))
    spreads = []
    for ds in chunks:
        pos, mask = positions(ds, config)
        spread = np.linalg.norm(pos - _anchor(pos, mask, [])[:, :, None], axis=-1)[mask]
        spreads.append(spread[np.isfinite(spread) & (spread > 0)])
    spread = np.concatenate(spreads)
    return float(2 * np.median(spread)) if spread.size else 1.0


def encode_context(config: ModelConfig, fill: bool) -> int:
    """Frames of context a block needs on each side, a whole number of latent steps: the
    encoder's receptive field, or with missing keypoints filled in from the decoder
    (``fill``) twice that plus the decoder's reach (encode, decode, encode again)."""
    reach = config.receptive_field
    if fill:
        reach = 2 * reach + config.decoder_field
    factor = 2**config.n_down
    return -(-reach // factor) * factor


def _own_head(
    meta: dict[str, Any], skeleton: Skeleton, n_dims: int, device: torch.device
) -> tuple[str, torch.Tensor | None] | None:
    """The model's head for this skeleton and, if its keypoints are in another order, the
    place of each of the skeleton's keypoints in the head's order; None without a head."""
    name = head_for(meta, skeleton.keypoints, n_dims)
    if name is None:
        return None
    order = [str(k) for k in meta["heads"][name]["skeleton"]["keypoints"]]
    keypoints = [str(k) for k in skeleton.keypoints]
    if keypoints == order:
        return name, None
    return name, torch.tensor([order.index(k) for k in keypoints], device=device)


def _encode_track(
    model: VQMAP,
    x: np.ndarray,
    mask: np.ndarray,
    regions: torch.Tensor,
    n_blocks: int,
    span: int,
    context: int,
    batch_size: int,
    motion: tuple[np.ndarray, np.ndarray] | None = None,
    tick: Callable[[int], None] | None = None,
    pool: ThreadPoolExecutor | None = None,
    head: tuple[str, torch.Tensor | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (motif, confidence, embedding) of ``n_blocks`` blocks of ``span`` frames
    of one individual's aligned track.

    ``x`` and ``mask`` start ``context`` frames before the first block and end ``context``
    frames after the last (zero-padded, masked, past the recording's ends); ``motion`` is
    the track's body motion and its mask, laid out the same way (``None`` for a model
    without the motion token). Each block is encoded in one window with ``context`` frames
    on either side and keeps only its own latent steps: a frame's motif depends on the
    frames within reach (see :func:`encode_context`) and on nothing else, wherever the
    blocks fall. ``head`` (name, keypoint index) fills in missing keypoints from the
    skeleton's own head (:meth:`~napari_vqmap.model.VQMAP.fill_missing`).
    Batches of ``batch_size`` blocks run on ``pool``'s threads when given (in order of
    results, so the same as one after the other); ``tick(n)`` gets the number of blocks
    after each batch.
    """
    factor = 2**model.config.n_down
    length, keep = span + 2 * context, slice(context // factor, (context + span) // factor)
    device = regions.device  # the model's

    def run(starts: range) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xb, mb = _stack(x, starts, length, device), _stack(mask, starts, length, device)
        extra = {} if head is None else {"head": head[0], "head_index": head[1]}
        if motion is not None:
            extra |= {
                "motion": _stack(motion[0], starts, length, device),
                "motion_mask": _stack(motion[1], starts, length, device),
            }
        out = model.encode(xb, mb, regions, **extra)
        return (
            out["motif_idx"][:, keep].flatten().cpu(),
            out["confidence"][:, keep].flatten().float().cpu(),
            out["z"][:, keep].flatten(0, 1).float().cpu(),
        )

    batches = [
        range(b * span, min(b + batch_size, n_blocks) * span, span)
        for b in range(0, n_blocks, batch_size)
    ]
    parts = []
    done = pool.map(run, batches) if pool is not None else map(run, batches)
    for starts, part in zip(batches, done, strict=True):
        parts.append(part)
        if tick is not None:
            tick(len(starts))
    return tuple(
        torch.cat(p).repeat_interleave(factor, dim=0).numpy() for p in zip(*parts, strict=True)
    )


@contextmanager
def _batch_threads(device: torch.device) -> Iterator[tuple[ThreadPoolExecutor | None, int]]:
    """On the CPU with more than one torch thread, a pool of that many threads that each
    run a batch with one torch thread (the encoder's small operations keep one thread
    busier than they split over several: 1.3x the frames/s on 2 cores), and torch's
    thread count restored after; otherwise ``None`` (batches one after the other).
    Yields the pool and its number of threads (1 without a pool)."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads < 2:
        yield None, 1
        return
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="vqmap-encode")
    try:
        yield pool, threads
    finally:  # on a cancel or an error, drop the batches not yet started
        pool.shutdown(cancel_futures=True)
        torch.set_num_threads(threads)


def _stack(a: np.ndarray, starts: range, length: int, device: torch.device) -> torch.Tensor:
    """Windows ``a[s : s + length]`` for each start, stacked: (len(starts), length, ...),
    on ``device``."""
    return torch.from_numpy(np.stack([a[s : s + length] for s in starts])).to(device)


def _padded(a: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``a[lo:hi]`` along the first axis, zero-padded before 0 and past the end."""
    part = a[max(lo, 0) : max(hi, 0)]
    before = min(max(-lo, 0), hi - lo)
    after = hi - lo - before - part.shape[0]
    if not before and not after:
        return part
    pad = [(before, after)] + [(0, 0)] * (a.ndim - 1)
    return np.pad(part, pad)


def encode(
    model: VQMAP,
    poses: xr.Dataset,
    meta: dict[str, Any] | None = None,
    batch_size: int = BATCH_BLOCKS,
    progress: Callable[[int, int], None] | None = None,
    chunk_frames: int = CHUNK_FRAMES,
    flip_2d_y: bool | None = None,
    stickiness: float | None = None,
) -> xr.Dataset:
    """Encode every frame of ``poses`` into motifs; returns a (time, individual) dataset.

    ``meta`` is the model's config dict (from :func:`~napari_vqmap.checkpoint.load_model`);
    its preprocessing and frame rate are used. ``flip_2d_y`` overrides the model's
    :attr:`~napari_vqmap.preprocess.PreprocessConfig.flip_2d_y` for this recording
    (``False`` for 2D data with y up, or filmed from below). ``stickiness`` (>= 0; default
    the model's ``stickiness`` entry, else 0) is the cost of changing motif: 0 gives every
    latent step its nearest code, more gives longer motifs (:mod:`napari_vqmap.stickiness`).
    ``progress(done, total)``
    counts blocks of up to :data:`SPAN` frames (fewer when ``chunk_frames`` is smaller).
    The recording is preprocessed and encoded ``chunk_frames`` (model-rate) frames at a
    time, each chunk with enough context that the result equals an unchunked encoding;
    memory is bounded by the chunk size plus the outputs.
    Variables: ``motif``, ``motif_type``, ``motif_subtype`` (-1 where not encodable),
    ``confidence``, ``embedding`` (time, individual, latent) and ``status`` (0 ok).
    """
    meta = meta or {}
    stickiness = check_stickiness(
        meta.get("stickiness", 0.0) if stickiness is None else stickiness
    )
    config = saved_preprocess_config(meta)
    if flip_2d_y is not None:
        config = replace(config, flip_2d_y=flip_2d_y)
    window = config.window or meta.get("window") or model.config.window
    factor = 2**model.config.n_down
    poses = without_arena(poses)
    skeleton = skeleton_of(poses)
    check_skeleton(poses, skeleton, meta)
    device = next(model.parameters()).device
    regions = torch.tensor(skeleton.region_ids(), device=device)
    head = _own_head(meta, skeleton, poses.sizes["space"], device)
    context = encode_context(model.config, head is not None)
    plain = encode_context(model.config, False)
    n_time, n_ind = poses.sizes["time"], poses.sizes["individual"]
    fps = poses.attrs.get("fps") or None
    target = meta.get("fps") or config.target_fps
    if not fps and target:
        warnings.warn(
            f"{poses.attrs.get('source_file') or 'poses'}: no frame rate, so encoded as if "
            f"recorded at the model's {float(target):g} fps; if it was not, give its rate "
            "(--fps, or fps= in load_poses): a motif spans a fixed time",
            stacklevel=2,
        )
    resampled = bool(fps and target and not np.isclose(fps, target))
    ratio = fps / target if resampled else 1.0  # file frames per model frame
    n_res = max(1, int(np.floor((n_time - 1) * target / fps)) + 1) if resampled else n_time
    model_fps = float(target) if resampled else (float(fps) if fps else 0.0)
    # blocks of up to SPAN frames, whole blocks per chunk
    span = max(factor, min(SPAN, int(chunk_frames)) // factor * factor)
    chunk_frames = max(span, int(chunk_frames) // span * span)
    total, done = n_ind * -(-n_res // span), 0

    def tick(n: int) -> None:  # progress after every batch of blocks
        nonlocal done
        done += n
        if progress is not None and n:
            progress(done, total)

    scale = recording_body_length(poses, skeleton, config)
    template = recording_template(poses, skeleton, config, scale)
    # each file frame takes the nearest resampled frame
    per_file_frame = target / fps if resampled else 1.0
    near = np.clip(np.rint(np.arange(n_time) * per_file_frame).astype(np.int64), 0, n_res - 1)
    shape = (n_time, n_ind)
    motif = np.full(shape, -1, np.int64)
    confidence = np.zeros(shape, np.float32)
    embedding = np.full((*shape, model.config.latent_dim), np.nan, np.float32)
    status = np.ones(shape, np.int8)
    margin = 2 * config.max_anchor_gap + 8 + int(np.ceil(ratio))  # file frames of context
    with torch.no_grad(), _batch_threads(regions.device) as (pool, threads):
        for lo in range(0, n_res, chunk_frames):
            hi = min(lo + chunk_frames, n_res)
            n_blocks = -(-(hi - lo) // span)
            # batches shared evenly between the threads (results do not depend on batches)
            batch = min(batch_size, -(-n_blocks // threads))
            r0, r1 = lo - context, lo + n_blocks * span + context  # model frames needed
            a = max(0, int(np.floor(max(r0, 0) * ratio)) - margin)
            a -= a % 2  # even, so resampling rounds as over the whole recording
            b = min(n_time, int(np.ceil(r1 * ratio)) + 2 + margin)
            rec = preprocess(
                poses.isel(time=slice(a, b)),
                skeleton,
                config,
                target_fps=target,
                body_length=scale,
                first_frame=a,
                template=template,
            )
            j0 = resampled_start(a, fps, target) if resampled else a
            fa, fb = np.searchsorted(near, [lo, hi])
            rows = near[fa:fb] - lo
            for i in range(n_ind):
                mask = _padded(rec.mask[i], r0 - j0, r1 - j0)
                # with no keypoint to fill in within reach, one pass with the encoder's
                # own context gives the same result, faster
                fill = head is not None and bool((mask.any(-1) & ~mask.all(-1)).any())
                cut = 0 if fill else context - plain
                part = slice(r0 - j0 + cut, r1 - j0 - cut)
                m, c, z = _encode_track(
                    model,
                    _padded(rec.x[i], part.start, part.stop),
                    mask[cut : len(mask) - cut],
                    regions,
                    n_blocks,
                    span,
                    context - cut,
                    batch,
                    (
                        _padded(rec.motion[i], part.start, part.stop),
                        _padded(rec.motion_mask[i], part.start, part.stop),
                    )
                    if model.config.use_motion
                    else None,
                    tick,
                    pool,
                    head if fill else None,
                )
                own = mask[context : context + hi - lo]
                ok = (own.mean(axis=-1) >= config.min_visible_fraction)[rows]
                motif[fa:fb, i] = np.where(ok, m[rows], -1)
                confidence[fa:fb, i] = np.where(ok, c[rows], 0.0)
                embedding[fa:fb, i] = np.where(ok[:, None], z[rows], np.nan)
                placed = _padded(rec.placed[i], lo - j0, hi - j0)
                status[fa:fb, i] = np.where(ok, np.where(placed[rows], 2, 0), 1)
    if stickiness:
        for i in range(n_ind):
            motif[:, i] = smooth_track(model, motif[:, i], embedding[:, i], stickiness)
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
            "context": int(context),
            "fps": float(fps) if fps else 0.0,
            "model_fps": model_fps,
            "n_types": int(model.config.n_types),
            "n_subtypes": int(n_sub),
            "skeleton": skeleton.name,
            "stickiness": stickiness,
        },
    )


class Cancelled(Exception):
    """Raised by :func:`encode_files` when ``should_stop()`` turns true (between batches)."""


@dataclass
class Encoded:
    """One recording encoded by :func:`encode_files`: its name (the input path, or the key
    it was given under), poses, result (:func:`encode`) and the result files written."""

    name: str
    poses: xr.Dataset
    result: xr.Dataset
    files: list[Path] = field(default_factory=list)


def encode_files(
    inputs: Sequence[str | Path] | Mapping[str, xr.Dataset],
    model: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    skeleton: str | Path | Skeleton | None = None,
    fps: float | None = None,
    batch_size: int = BATCH_BLOCKS,
    chunk_frames: int = CHUNK_FRAMES,
    device: str = "cpu",
    y_up: bool = False,
    stickiness: float | None = None,
    nwb: bool = False,
    shard: tuple[int, int] | None = None,
    settings: dict[str, Any] | None = None,
    progress: Callable[[int, str, int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[Encoded]:
    """Encode pose files (paths, folders, globs) or named pose datasets with the model in
    ``model`` (``None``: the bundled one), one at a time, and with ``out_dir`` write each
    one's results there (:func:`~napari_vqmap.results.write_results`); yields an
    :class:`Encoded` per input as it is done.

    ``shard=(i, n)`` keeps every n-th input from the i-th, for n parallel jobs (default for
    files under torchrun: ``RANK``/``WORLD_SIZE``). ``y_up``: 2D coordinates with y up, or
    filmed from below; ``stickiness``: how long motifs last (``None``: the model's).
    ``settings`` are recorded in each ``_encode.json`` (default: these options).
    ``progress(item, name, done, total)`` counts the blocks of input number ``item``;
    :class:`Cancelled` is raised when ``should_stop()`` turns true, checked before each
    input and after each batch. ``log`` gets one-line notes (the shard's share).
    """
    if nwb:
        from napari_vqmap.nwb_export import require_nwb

        try:
            require_nwb()
        except ImportError as err:
            raise ConfigError(None, str(err)) from err
    stickiness = None if stickiness is None else check_stickiness(stickiness)
    model = model_folder(model)
    net, meta = load_model(model, resolve_device(device))
    if stickiness is None:  # the model's, recorded as used
        stickiness = check_stickiness(meta.get("stickiness", 0.0))
    # xarray imports its optional array backends (dask) when it first builds a dataset:
    # pay that before any output exists, so Ctrl-C then never lands inside an import
    xr.Dataset({"warm_up": ("time", np.zeros(1))})
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        check_writable(out)
    if settings is None:
        settings = {
            "skeleton": getattr(skeleton, "name", None if skeleton is None else str(skeleton)),
            "fps": fps,
            "batch_size": batch_size,
            "device": device,
            "y_up": y_up,
            "stickiness": stickiness,
        }
    named = isinstance(inputs, Mapping)
    items: list = list(inputs.items()) if named else expand_inputs(inputs)
    index, count = shard or ((0, 1) if named else launched_rank_world())
    items = items[index::count]  # each parallel job its own files
    if count > 1 and log is not None:
        log(f"shard {index}/{count}: {len(items)} file(s)")
    for k, item in enumerate(items):
        if should_stop is not None and should_stop():
            raise Cancelled
        if isinstance(item, tuple):
            name, poses = item
            source = Path(poses.attrs.get("source_file") or f"{name.split(' ')[0]}.nc")
        else:
            name, source = str(item), Path(item)
            poses = load_poses(item, fps=fps, skeleton=skeleton)

        def tick(done: int, total: int, k: int = k, name: str = name) -> None:
            if progress is not None:
                progress(k, name, done, total)
            if should_stop is not None and should_stop():
                raise Cancelled

        result = encode(
            net,
            poses,
            meta,
            batch_size,
            tick,
            chunk_frames,
            flip_2d_y=False if y_up else None,
            stickiness=stickiness,
        )
        files = []
        if out is not None:
            files = write_results(result, poses, out, source, model, settings, nwb)
        yield Encoded(name, poses, result, files)
