"""Train one VQ-MAP model on pose datasets with any mix of skeletons (CPU, GPU or DDP).

    napari-vqmap train DATA... --out MODEL_DIR             # one process
    torchrun --nproc_per_node=4 -m napari_vqmap.train DATA... --out MODEL_DIR   # DDP

Each batch holds windows of one skeleton (one decoder head); skeletons, then recordings,
are drawn uniformly. Batches are a pure function of (seed, step, rank), so a resumed run
draws exactly the batches the uninterrupted run would have drawn.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import glob
import hashlib
import io
import json
import math
import os
import platform
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
import yaml
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from napari_vqmap import __version__
from napari_vqmap.adamw import AdamW
from napari_vqmap.checkpoint import (
    read_config,
    save_model,
    saved_model_config,
    saved_preprocess_config,
    state_sha256,
)
from napari_vqmap.io import POSE_SUFFIXES, load_poses, skeleton_of, without_arena
from napari_vqmap.io.atomic import atomic_write, atomic_write_text
from napari_vqmap.model import VQMAP, ModelConfig
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
from napari_vqmap.stickiness import DEFAULT_STICKINESS
from napari_vqmap.validators import PoseFileError, check_option

STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"
HISTORY = "history.csv"
HISTORY_FIELDS = (
    "step",
    "head",
    "loss",
    "recon",
    "commit",
    "geometry",
    "perplexity",
    "n_dead",
    "lr",
    "seconds",
)
SECTIONS = ("model", "preprocess", "train")
RECON_WEIGHTINGS = ("none", "keypoint", "coordinate")
DEVICES = ("auto", "cpu", "cuda", "mps")
# Train options added after models were first saved, with the value an older folder meant
# (the model section's counterpart is ``checkpoint.LEGACY_MODEL_OPTIONS``).
LEGACY_TRAIN_OPTIONS = {"recon_weighting": "none"}


@dataclass
class TrainConfig:
    """Optimisation, augmentation and bookkeeping; ``model`` and ``preprocess`` ride along.

    ``batch_size`` is per process. A batch's skeleton is drawn with probability
    proportional to its number of training windows to the power ``skeleton_weighting``
    (0: every skeleton equally often; 1: in proportion to its data; 0.5, the default, gives
    a skeleton with 100 times the windows 10 times the batches). ``keypoint_dropout`` is
    the chance that a window loses 1..``dropout_max_fraction`` of its keypoints. ``mirror``
    swaps left/right keypoints and negates the lateral (y) axis in half of the windows of
    skeletons with left/right pairs. ``balance_losses`` scales each batch's loss by
    :class:`LossBalance` (no effect with one skeleton). ``recon_weighting`` weights the
    reconstruction error of each keypoint coordinate (:func:`recon_weights`).
    """

    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    keypoint_dropout: float = 0.5
    dropout_max_fraction: float = 0.3
    mirror: bool = True
    skeleton_weighting: float = 0.5
    balance_losses: bool = True
    recon_weighting: str = "coordinate"
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    checkpoint_every: int = 500
    model: ModelConfig = field(default_factory=ModelConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def __post_init__(self) -> None:
        if self.recon_weighting not in RECON_WEIGHTINGS:
            raise ValueError(
                f"recon_weighting must be one of {', '.join(RECON_WEIGHTINGS)}, "
                f"got {self.recon_weighting!r}"
            )
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            check_option("TrainConfig", name, getattr(self, name), 1, integer=True)
        for name in ("warmup_steps", "seed"):
            check_option("TrainConfig", name, getattr(self, name), 0, integer=True)
        for name in ("lr", "grad_clip"):
            check_option("TrainConfig", name, getattr(self, name), 0, above=True)
        check_option("TrainConfig", "weight_decay", self.weight_decay, 0)
        for name in ("min_lr_ratio", "keypoint_dropout", "dropout_max_fraction"):
            check_option("TrainConfig", name, getattr(self, name), 0, 1)
        check_option("TrainConfig", "skeleton_weighting", self.skeleton_weighting, 0, 1)
        if not is_device_name(self.device):
            raise ValueError(
                f"TrainConfig.device must be one of {', '.join(DEVICES)} (or cuda:N), "
                f"got {self.device!r}"
            )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{"model": ..., "preprocess": ..., "train": ...}``: the config-file layout."""
        train = {k: v for k, v in asdict(self).items() if k not in ("model", "preprocess")}
        return {
            "model": self.model.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "train": train,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from the config-file layout; missing sections or keys take defaults."""
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        train = dict(d.get("train") or {})
        names = {f.name for f in fields(cls)} - {"model", "preprocess"}
        bad = set(train) - names
        if bad:
            raise ValueError(f"unknown train option(s): {', '.join(sorted(bad))}")
        return cls(
            **train,
            model=ModelConfig.from_dict(d.get("model") or {}),
            preprocess=PreprocessConfig.from_dict(d.get("preprocess") or {}),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        """Read a YAML file with ``model:``, ``preprocess:`` and ``train:`` sections."""
        path = Path(path)
        if not path.is_file():
            raise PoseFileError(path, "config file not found")
        try:
            return cls.from_dict(yaml.safe_load(path.read_text()) or {})
        except (yaml.YAMLError, ValueError, TypeError) as err:
            raise PoseFileError(path, f"invalid training config: {err}") from err


@dataclass
class Group:
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
        """Training windows over all the group's recordings."""
        return sum(len(w) for w in self.windows)


# ---------------------------------------------------------------- data


def expand_inputs(items: Sequence[str | Path | xr.Dataset]) -> list[Path | xr.Dataset]:
    """Pose files from paths, folders (their pose files) and glob patterns; datasets pass."""
    out: list[Path | xr.Dataset] = []
    for item in items:
        if isinstance(item, xr.Dataset):
            out.append(item)
            continue
        text = str(item)
        if glob.has_magic(text):
            paths = [Path(p) for p in sorted(glob.glob(text))]
        elif Path(text).is_dir():
            paths = sorted(p for p in Path(text).iterdir() if p.suffix.lower() in POSE_SUFFIXES)
        else:
            paths = [Path(text)]
        if not paths:
            raise PoseFileError(text, "no pose files found")
        out.extend(paths)
    return out


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_permutation(skeleton: Skeleton) -> np.ndarray | None:
    """Keypoint order after a left/right swap, or ``None`` when a lateral keypoint has no
    partner. Partners are found by name (left/right, L/R prefix or suffix) or region."""
    names = list(skeleton.keypoints)
    perm = np.arange(len(names))
    for i, name in enumerate(names):
        partner = next((c for c in _swapped_names(name) if c in names and c != name), None)
        lateral = skeleton.region_of(name).endswith(("_left", "_right"))
        if partner is None and (lateral or re.search("left|right", name, re.IGNORECASE)):
            return None
        if partner is not None:
            perm[i] = names.index(partner)
    return perm if (perm[perm] == np.arange(len(names))).all() else None


def _swapped_names(name: str) -> Iterator[str]:
    swap = {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}
    swap |= {"LEFT": "RIGHT", "RIGHT": "LEFT"}
    yield re.sub("|".join(swap), lambda m: swap[m.group(0)], name)
    single = {"l": "r", "r": "l", "L": "R", "R": "L"}
    if name[-1] in "LR" or (len(name) > 1 and name[-2] in "_-." and name[-1] in single):
        yield name[:-1] + single[name[-1]]
    if name[0] in single:
        yield single[name[0]] + name[1:]


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


def build_groups(
    items: Sequence[str | Path | xr.Dataset],
    config: TrainConfig,
    skeleton: str | Path | Skeleton | None = None,
    fps: float | None = None,
) -> tuple[list[Group], list[dict[str, Any]], float | None]:
    """Load, preprocess and window every input; one group per distinct skeleton.

    Returns the groups, a description of each input (path, sha256, head) and the frame
    rate everything was resampled to (``None``: left as recorded).
    """
    sk = None if skeleton is None else get_skeleton(skeleton)
    paths = expand_inputs(items)
    datasets = [without_arena(_load(p, sk, fps)) for p in paths]
    target = common_fps(datasets, config.preprocess)
    _warn_missing_fps(datasets, target)
    window = config.preprocess.window or config.model.window
    stride = config.preprocess.stride or max(1, window // 4)
    groups: dict[tuple, Group] = {}
    inputs = []
    for path, ds in zip(paths, datasets, strict=True):
        skel = skeleton_of(ds)
        rec = preprocess(ds, skel, config.preprocess, target_fps=target)
        key = (skel.name, skel.keypoints, ds.sizes["space"])
        if key not in groups:
            groups[key] = _new_group(skel, ds.sizes["space"], {g.head for g in groups.values()})
        group = groups[key]
        rows = make_windows([rec], window, stride, config.preprocess.min_visible_fraction)
        source = rec.source if isinstance(path, xr.Dataset) else str(path)
        digest = file_sha256(source) if source and Path(source).is_file() else None
        inputs.append({"path": source, "sha256": digest, "head": group.head, "windows": len(rows)})
        if len(rows):
            rows[:, 0] = len(group.recordings)
            group.recordings.append(rec)
            group.windows.append(rows)
        else:
            warnings.warn(f"{source or 'dataset'}: no usable windows; skipped", stacklevel=2)
    kept = [g for g in groups.values() if g.recordings]
    if not kept:
        raise ValueError(f"no usable training windows of {window} frames in the inputs")
    return kept, inputs, target


def _new_group(skeleton: Skeleton, n_dims: int, taken: set[str]) -> Group:
    head, n = skeleton.name.replace(".", "_") or "skeleton", 2
    while head in taken:
        head, n = f"{skeleton.name}_{n}", n + 1
    regions = skeleton.region_ids()
    return Group(
        head=head,
        skeleton=skeleton,
        n_dims=n_dims,
        recordings=[],
        windows=[],
        regions=torch.tensor(regions, dtype=torch.long),
        mirror=mirror_permutation(skeleton),
    )


def recon_weights(group: Group, how: str = "coordinate", anchor_span: int = 0) -> torch.Tensor:
    """Weights (K, D), of mean 1, of each keypoint coordinate's reconstruction error.

    ``"coordinate"``: the inverse of the coordinate's variance over the group's visible
    aligned frames (with ``anchor_span``, over its spans of that many frames seen from their
    centre frame, as the loss measures them: :func:`~napari_vqmap.model.vqmap.anchored`);
    ``"keypoint"``: the same, pooled over a keypoint's coordinates; ``"none"``: all 1.
    Variances are floored at a quarter of their mean (the centre keypoint, always at 0,
    would get an infinite weight) and averaged over left/right partners, so a mirrored
    window is weighted as its original. With it, a tail tip that swings three times as far
    as a paw no longer dominates the loss.
    """
    k, d = len(group.skeleton.keypoints), group.n_dims
    if how == "none":
        return torch.ones(k, d)
    total, sq, count = np.zeros((k, d)), np.zeros((k, d)), np.zeros((k, 1))
    for rec in group.recordings:
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
    if group.mirror is not None:
        var = (var + var[group.mirror]) / 2
    var = np.maximum(var, 0.25 * var.mean()) if var.mean() > 0 else np.ones_like(var)
    weight = 1 / var
    return torch.tensor(weight / weight.mean(), dtype=torch.float32)


def region_heights(groups: list[Group]) -> np.ndarray:
    """Typical height of each body region (:data:`~napari_vqmap.skeletons.REGIONS`) in the
    3D groups' aligned frames (body lengths above the centre anchor): per skeleton the
    median over its keypoints in the region of their median height, then the mean over
    skeletons; 0 for a region no 3D keypoint is in. The model reads 2D input at these
    heights (``ModelConfig.lift_2d``)."""
    per_region: list[list[float]] = [[] for _ in REGIONS]
    for group in (g for g in groups if g.n_dims == 3):
        heights = [[] for _ in REGIONS]
        for k, region in enumerate(group.regions.tolist()):
            z = np.concatenate([rec.x[..., k, 2][rec.mask[..., k]] for rec in group.recordings])
            if z.size:
                heights[region].append(float(np.median(z)))
        for region, values in enumerate(heights):
            if values:
                per_region[region].append(float(np.median(values)))
    return np.array([np.mean(v) if v else 0.0 for v in per_region], dtype=np.float32)


def top_down_scale(groups: list[Group]) -> float:
    """The median over the 3D recordings of :func:`~napari_vqmap.preprocess.top_down_ratio`
    (1 without 3D data): the model multiplies aligned 2D input by it, so a recording seen
    from above, scaled by its shorter top-down body length, gets the size of 3D data."""
    ratios = [top_down_ratio(rec) for g in groups if g.n_dims == 3 for rec in g.recordings]
    ratios = [r for r in ratios if r is not None]
    return float(np.median(ratios)) if ratios else 1.0


def set_2d_lift(model: VQMAP, groups: list[Group]) -> dict[str, Any]:
    """Set how ``model`` reads 2D input (``ModelConfig.lift_2d``) from the 3D ``groups``:
    :func:`region_heights` and :func:`top_down_scale`. Returns them for ``config.json``
    (nothing when the model has no 2D lift)."""
    if not model.encoder.lift_2d:
        return {}
    heights = region_heights(groups)
    model.encoder.region_height.copy_(torch.from_numpy(heights))
    model.encoder.top_down_scale.fill_(top_down_scale(groups))
    return {
        "region_height": {r: round(float(h), 4) for r, h in zip(REGIONS, heights, strict=True)},
        "top_down_scale": round(float(model.encoder.top_down_scale), 4),
    }


def skeleton_probabilities(groups: list[Group], config: TrainConfig) -> np.ndarray:
    """Chance that a batch comes from each group: windows ** ``skeleton_weighting``."""
    windows = np.array([g.n_windows for g in groups], dtype=np.float64)
    weights = windows**config.skeleton_weighting
    return weights / weights.sum()


def codebook_weights(groups: list[Group], config: TrainConfig) -> np.ndarray:
    """How much each group's batches move the shared codebook, in (0, 1].

    A group's share of the training windows over its share of the batches, scaled so the
    least over-sampled group has 1: the codebook then follows the pooled data, as if every
    window were drawn equally often, while small datasets still train the encoder and
    their heads often. (Ten windows of one file, drawn in 4 % of the batches, would
    otherwise pull codes to their few latents and leave the large datasets fewer.)
    """
    windows = np.array([g.n_windows for g in groups], dtype=np.float64)
    ratio = windows / windows.sum() / skeleton_probabilities(groups, config)
    return ratio / ratio.max()


class LossBalance:
    """Per-skeleton running mean of the reconstruction loss, and the factor for a batch's
    loss: the mean of those running means over its own skeleton's.

    Skeletons' errors differ by an order of magnitude (noisy 2D tracks against clean 3D
    ones); unscaled, the noisiest dataset's gradients would steer the shared encoder and
    decoder. With one skeleton the factor is exactly 1. ``running`` is saved with the
    training state, so a resumed run continues exactly.
    """

    def __init__(self, running: dict[str, float] | None = None, decay: float = 0.9) -> None:
        self.running = dict(running or {})
        self.decay = decay

    def factor(self, head: str, recon: float) -> float:
        """Update ``head``'s running mean with this batch's ``recon``; the batch's factor."""
        mean = self.running.get(head, recon)
        self.running[head] = mean = self.decay * mean + (1 - self.decay) * recon
        return float(np.mean(list(self.running.values()))) / max(mean, 1e-12)


def sample_batch(
    groups: list[Group], config: TrainConfig, step: int, rank: int = 0
) -> tuple[Group, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The augmented batch ``(group, x, mask, motion, motion_mask, frame_time)`` of ``step``
    on ``rank``; ``frame_time`` (B,) is each window's seconds per frame.

    The skeleton depends on (seed, step) only, so all DDP ranks use the same head; the
    windows and augmentations also depend on the rank.
    """
    pick = np.random.default_rng([config.seed, step])
    group = groups[pick.choice(len(groups), p=skeleton_probabilities(groups, config))]
    rng = np.random.default_rng([config.seed, step, rank + 1])
    window = config.preprocess.window or config.model.window
    xs, masks, motions, motion_masks, frame_time = [], [], [], [], []
    for r in rng.integers(len(group.recordings), size=config.batch_size):
        rows = group.windows[r]
        _, individual, start = rows[rng.integers(len(rows))]
        x, mask = get_window(group.recordings[r], individual, start, window)
        motion, motion_mask = get_motion(group.recordings[r], individual, start, window)
        xs.append(x)
        masks.append(mask)
        motions.append(motion)
        motion_masks.append(motion_mask)
        frame_time.append(1 / (group.recordings[r].fps or 30.0))  # as body_motion assumes
    x, mask, motion = np.stack(xs), np.stack(masks), np.stack(motions)
    augment(x, mask, rng, group.mirror if config.mirror else None, config, motion)
    frame_time = np.asarray(frame_time, np.float32)
    return group, x, mask, motion, np.stack(motion_masks), frame_time


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


# ---------------------------------------------------------------- devices and DDP


def is_device_name(name: object) -> bool:
    """Whether ``name`` is one of :data:`DEVICES` or ``cuda:N``."""
    base, _, index = str(name).partition(":")
    return base in DEVICES and (not index or (base == "cuda" and index.isdigit()))


def device_arg(text: str) -> str:
    """An argparse type for ``--device``: a device name (see :func:`is_device_name`)."""
    if not is_device_name(text):
        raise argparse.ArgumentTypeError(
            f"must be one of {', '.join(DEVICES)} or cuda:N, got {text!r}"
        )
    return text


def available_devices() -> list[str]:
    """The device names that can run here: ``auto`` and ``cpu``, then ``cuda`` and ``mps``
    when present."""
    found = [torch.cuda.is_available(), torch.backends.mps.is_available()]
    return ["auto", "cpu", *(d for d, ok in zip(("cuda", "mps"), found, strict=True) if ok)]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU. Under torchrun on CUDA: this process's GPU
    (``LOCAL_RANK``).

    A device that this machine or this build of torch lacks is a clear error (not torch's
    assertion at the first tensor moved there)."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    device = torch.device(name)
    problem = ""
    if device.type == "cuda" and torch.version.cuda is None:
        problem = (
            f"this build of torch ({torch.__version__}) has no CUDA support; install a CUDA "
            'build (e.g. TORCH_SPEC="torch>=2.2" bash scripts/install.sh) or use cpu or auto'
        )
    elif device.type == "cuda" and not torch.cuda.is_available():
        problem = "no CUDA GPU is visible to torch (check the driver and CUDA_VISIBLE_DEVICES)"
    elif device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        problem = f"there is no GPU {device.index} ({torch.cuda.device_count()} visible)"
    elif device.type == "mps" and not torch.backends.mps.is_available():
        problem = "Apple MPS is not available on this machine; use cpu or auto"
    if problem:
        raise PoseFileError(None, f"device {name!r}: {problem}")
    if device.type == "cuda" and device.index is None and launched_rank_world()[1] > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision for training steps: bf16 autocast on CUDA; float32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def launched_rank_world() -> tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` set by a launcher such as torchrun, else ``(0, 1)``."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _rank_world() -> tuple[int, int]:
    if _distributed():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def setup_distributed(device: str = "auto") -> bool:
    """Join the process group torchrun describes (nccl on CUDA, gloo otherwise)."""
    if launched_rank_world()[1] <= 1 or _distributed():
        return _distributed()
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
    return True


# ---------------------------------------------------------------- optimisation


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr`` at ``steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    ratio = config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (
        1 + math.cos(math.pi * progress)
    )
    return config.lr * ratio


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or embeddings' rows);
    :mod:`napari_vqmap.adamw` says why not ``torch.optim``'s."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return AdamW(groups, lr=config.lr)


# ---------------------------------------------------------------- checkpoints


def _rng_state() -> dict[str, Any]:
    def b64(t: torch.Tensor) -> str:
        return base64.b64encode(t.numpy().tobytes()).decode()

    cuda = [b64(s) for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else []
    return {"torch": b64(torch.get_rng_state()), "cuda": cuda}


def _set_rng_state(state: dict[str, Any]) -> None:
    def tensor(s: str) -> torch.Tensor:
        return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)

    torch.set_rng_state(tensor(state["torch"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensor(s) for s in state["cuda"]])


def save_train_state(
    out: Path,
    optimizer: AdamW,
    step: int,
    elapsed: float,
    done: bool,
    loss_balance: dict[str, float] | None = None,
) -> None:
    """Optimizer tensors (safetensors) and step, RNG and sampler state (JSON), atomically.

    The JSON is written last and names the step the tensors belong to.
    """
    sd = optimizer.state_dict()
    tensors = {
        f"{idx}.{key}": value.detach().cpu().contiguous()
        for idx, state in sd["state"].items()
        for key, value in state.items()
    }
    meta = {"step": str(step)}
    atomic_write(out / STATE_TENSORS, lambda p: save_file(tensors, str(p), metadata=meta))
    state = {
        "step": step,
        "completed": done,
        "seconds": elapsed,
        "param_groups": sd["param_groups"],
        "rng": _rng_state(),
        "sampler": {"kind": "seeded by (seed, step, rank)", "next_step": step},
        "loss_balance": loss_balance or {},
    }
    atomic_write_text(out / STATE_JSON, json.dumps(state, indent=1))


def load_train_state(out: Path, optimizer: AdamW) -> dict[str, Any]:
    """Restore the optimizer and RNG from ``out``; returns the JSON state."""
    json_path, tensor_path = out / STATE_JSON, out / STATE_TENSORS
    for path in (json_path, tensor_path):
        if not path.is_file():
            raise PoseFileError(path, "training state not found; cannot resume")
    try:
        state = json.loads(json_path.read_text())
        tensors = load_file(str(tensor_path))
    except (ValueError, OSError) as err:
        raise PoseFileError(out, f"unreadable training state: {err}") from err
    with open(tensor_path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
    if header.get("__metadata__", {}).get("step") != str(state["step"]):
        raise PoseFileError(tensor_path, f"optimizer state is not from step {state['step']}")
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        per_param.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": state["param_groups"]})
    _set_rng_state(state["rng"])
    return state


def _read_history(out: Path, step: int) -> list[dict[str, Any]]:
    path = out / HISTORY
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["step"]) <= step]


def _write_history(out: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / HISTORY, buf.getvalue())


def _versions() -> dict[str, str]:
    return {
        "napari-vqmap": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------- training


def train(
    datasets: Sequence[str | Path | xr.Dataset],
    out_dir: str | Path,
    config: TrainConfig | None = None,
    skeleton: str | Path | Skeleton | None = None,
    resume: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    fps: float | None = None,
) -> Path:
    """Train a VQ-MAP model on ``datasets`` (paths, folders, globs or pose datasets).

    Writes ``model.safetensors``, ``config.json``, ``history.csv`` and a resumable
    training state to ``out_dir`` (rank 0 only under DDP), every ``checkpoint_every``
    steps, at the end, on ``should_stop()`` and on Ctrl-C (which is then re-raised).
    ``progress`` receives a dict (the history row plus ``steps`` and ``codebook``, the
    model's ``codebook_stats()``) every ``log_every`` steps. With ``resume``, training
    continues from the saved state; the model and
    preprocessing configs and the seed must then be the saved ones.
    """
    out = Path(out_dir)
    config = config or TrainConfig()
    rank, world = _rank_world()
    device = resolve_device(config.device)
    if resume:
        _check_resume(out, config)
    torch.manual_seed(config.seed)
    groups, inputs, target_fps = build_groups(datasets, config, skeleton, fps)
    model = VQMAP(config.model, {g.head: (len(g.skeleton.keypoints), g.n_dims) for g in groups})
    lift = set_2d_lift(model, groups)
    model.to(device)
    if config.steps < model.codes_set_at:
        warnings.warn(
            f"{out}: {config.steps} training steps end before the codebook is set (at step "
            f"{model.codes_set_at}, after model.codebook_warmup = "
            f"{config.model.codebook_warmup}): the motifs will mean nothing; train for more "
            "steps or lower model.codebook_warmup",
            stacklevel=2,
        )
    optimizer = make_optimizer(model, config)
    meta = {**_meta(config, groups, inputs, target_fps, world), **lift}
    step, elapsed, history, balance = 0, 0.0, [], LossBalance()
    if resume:
        step, elapsed, history, balance = _resume(out, model, optimizer, meta, device)
    net = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(
            model,
            device_ids=ids,
            find_unused_parameters=len(groups) > 1,  # other heads idle
            broadcast_buffers=False,  # the quantiser all-reduces its EMA statistics
        )
    autocast = autocast_for(device)
    weights = dict(zip((g.head for g in groups), codebook_weights(groups, config), strict=True))
    span = config.model.anchor_span if config.model.use_motion else 0
    recon_w = {g.head: recon_weights(g, config.recon_weighting, span) for g in groups}
    for head, w in recon_w.items():
        meta["heads"][head]["recon_weight"] = np.round(w.numpy().astype(float), 4).tolist()
        recon_w[head] = w.to(device)
    bar = tqdm(total=config.steps, initial=step, disable=rank != 0, desc="train", unit="step")
    start = time.perf_counter() - elapsed

    def save(done: bool) -> None:
        if world > 1:
            hashes: list[str | None] = [None] * world
            torch.distributed.all_gather_object(hashes, state_sha256(model))
            meta["distributed"] = {"world_size": world, "state_sha256": hashes}
        if rank == 0:
            save_model(out, model, {**meta, "step": step})
            _write_history(out, history)
            seconds = time.perf_counter() - start
            save_train_state(out, optimizer, step, seconds, done, balance.running)

    model.train()
    try:
        while step < config.steps:
            if should_stop is not None and should_stop():
                break
            group, x, mask, motion, motion_mask, frame_time = sample_batch(
                groups, config, step, rank
            )
            lr = lr_at(step, config)
            for pg in optimizer.param_groups:
                pg["lr"] = lr
            with autocast:
                result = net(
                    torch.from_numpy(x).to(device),
                    torch.from_numpy(mask).to(device),
                    group.regions.to(device),
                    head=group.head,
                    motion=torch.from_numpy(motion).to(device),
                    motion_mask=torch.from_numpy(motion_mask).to(device),
                    codebook_weight=float(weights[group.head]),
                    recon_weight=recon_w[group.head],
                    frame_time=torch.from_numpy(frame_time).to(device),
                )
            loss = result["loss"]
            if config.balance_losses:
                recon = result["recon_loss"].detach().float()
                if world > 1:  # the same factor on every rank
                    torch.distributed.all_reduce(recon)
                    recon = recon / world
                loss = loss * balance.factor(group.head, recon.item())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            if step % config.log_every == 0 or step == config.steps:
                row = _history_row(
                    step, group.head, result, model, lr, time.perf_counter() - start
                )
                history.append(row)
                ppl = row["perplexity"]
                bar.set_postfix(loss=f"{row['loss']:.4f}", ppl="warm-up" if ppl != ppl else ppl)
                if progress is not None:
                    codebook = model.codebook_stats()
                    progress({**row, "steps": config.steps, "codebook": codebook})
            bar.update(1)
            if step % config.checkpoint_every == 0 and step < config.steps:
                save(done=False)
    except KeyboardInterrupt:
        save(done=False)
        raise
    finally:
        bar.close()
    save(done=step >= config.steps)
    return out


def _history_row(
    step: int, head: str, result: dict[str, torch.Tensor], model: VQMAP, lr: float, seconds: float
) -> dict[str, Any]:
    stats = model.codebook_stats()
    coded = all(s["initialised"] for s in stats.values())  # nan during the codebook warm-up
    return {
        "step": step,
        "head": head,  # the skeleton of this step's batch (its loss is on that data only)
        "loss": result["loss"].item(),
        "recon": result["recon_loss"].item(),
        "commit": result["commit_loss"].item(),
        "geometry": result["geo_loss"].item(),
        "perplexity": result["perplexity"].item() if coded else float("nan"),
        "n_dead": sum(int(s["n_dead"]) for s in stats.values()),
        "lr": lr,
        "seconds": round(seconds, 3),
    }


def _meta(
    config: TrainConfig,
    groups: list[Group],
    inputs: list[dict[str, Any]],
    target_fps: float | None,
    world: int,
) -> dict[str, Any]:
    heads = {
        g.head: {
            "skeleton": g.skeleton.to_dict(),
            "n_keypoints": len(g.skeleton.keypoints),
            "n_dims": g.n_dims,
            "regions": g.regions.tolist(),
            "mirror": None if g.mirror is None else g.mirror.tolist(),
        }
        for g in groups
    }
    return {
        **config.to_dict(),
        "heads": heads,
        "fps": target_fps,
        "window": config.preprocess.window or config.model.window,
        "seed": config.seed,
        "stickiness": DEFAULT_STICKINESS,  # encode's default for this model
        "world_size": world,
        "inputs": inputs,
        "versions": _versions(),
    }


def _check_resume(out: Path, config: TrainConfig) -> None:
    raw = read_config(out)
    sections = {k: raw[k] for k in SECTIONS} | {
        "model": saved_model_config(raw),
        "preprocess": saved_preprocess_config(raw).to_dict(),
    }
    sections["train"] = {**LEGACY_TRAIN_OPTIONS, **sections["train"]}
    saved = TrainConfig.from_dict(sections)
    for what, a, b in [
        ("model", saved.model, config.model),
        ("preprocess", saved.preprocess, config.preprocess),
        ("seed", saved.seed, config.seed),
        ("recon_weighting", saved.recon_weighting, config.recon_weighting),
    ]:
        if a != b:
            raise ValueError(f"{out}: cannot resume with a different {what} config ({a} != {b})")


def _resume(
    out: Path, model: VQMAP, optimizer: AdamW, meta: dict, device: torch.device
) -> tuple[int, float, list[dict[str, Any]], LossBalance]:
    saved = read_config(out)
    if set(saved["heads"]) != set(meta["heads"]):
        raise ValueError(
            f"{out}: the data give heads {sorted(meta['heads'])}, the saved model has "
            f"{sorted(saved['heads'])}; resume with the same datasets"
        )
    tensors = load_file(str(out / "model.safetensors"), device=str(device))
    model.load_state_dict(tensors)
    state = load_train_state(out, optimizer)
    history = _read_history(out, state["step"])
    return state["step"], float(state["seconds"]), history, LossBalance(state.get("loss_balance"))


# ---------------------------------------------------------------- command line


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    return parse


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap train`` (and ``python -m napari_vqmap.train``)."""
    parser.add_argument("data", nargs="+", help="pose files, folders of pose files, or globs")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--skeleton", help="skeleton preset name or YAML file for the data")
    parser.add_argument("--config", help="YAML file with model:, preprocess:, train: sections")
    parser.add_argument("--steps", type=_at_least(1), help="number of optimisation steps")
    parser.add_argument(
        "--device", type=device_arg, help="auto (default), cpu, cuda, cuda:N or mps"
    )
    parser.add_argument("--seed", type=_at_least(0), help="random seed")
    parser.add_argument("--fps", type=float, help="frame rate, for files that lack one")
    parser.add_argument("--resume", action="store_true", help="continue a run in --out")


def run_train(args: argparse.Namespace) -> int:
    """Run ``train`` for parsed command-line arguments; returns the exit code."""
    if args.config:
        config = TrainConfig.from_yaml(args.config)
    elif args.resume:
        config = TrainConfig.from_dict({k: read_config(args.out)[k] for k in SECTIONS})
    else:
        config = TrainConfig()
    given = {k: getattr(args, k) for k in ("steps", "device", "seed")}
    config = replace(config, **{k: v for k, v in given.items() if v is not None})
    setup_distributed(config.device)
    rank = _rank_world()[0]
    try:
        out = train(
            args.data, args.out, config, skeleton=args.skeleton, resume=args.resume, fps=args.fps
        )
        if _distributed():  # rank 0 may still be writing: leave the group together
            torch.distributed.barrier()
    finally:
        if _distributed():
            torch.distributed.destroy_process_group()
    if rank == 0:
        print(f"model written to {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m napari_vqmap.train`` (the entry point for torchrun)."""
    parser = argparse.ArgumentParser(prog="python -m napari_vqmap.train", description=__doc__)
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_train(args)
    except PoseFileError as err:
        print(f"napari-vqmap: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    from napari_vqmap.cli import print_warnings_plainly

    print_warnings_plainly()
    sys.exit(main())
