"""The training loop: one VQ-MAP model on pose datasets with any mix of skeletons, on the
CPU, one GPU, or several processes under torchrun (DDP)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from napari_vqmap.checkpoint import save_model, state_sha256
from napari_vqmap.model import VQMAP
from napari_vqmap.model.vqmap import Output
from napari_vqmap.runtime import autocast_for, data_parallel, rank_world, resolve_device
from napari_vqmap.skeletons import REGIONS, Skeleton
from napari_vqmap.stickiness import DEFAULT_STICKINESS
from napari_vqmap.training.config import TrainConfig
from napari_vqmap.training.data import (
    SkeletonData,
    build_skeleton_data,
    codebook_weights,
    recon_weights,
    region_heights,
    sample_batch,
    top_down_scale,
)
from napari_vqmap.training.optim import LossBalance, lr_at, make_optimizer
from napari_vqmap.training.state import (
    check_resume,
    resume_state,
    save_train_state,
    versions,
    write_history,
)

REFIT_BATCHES = 32  # batches whose latents the part-way codebook refit clusters
FINAL_REFIT_BATCHES = 96  # and the final one (clean windows, inner latent steps only)
REFIT_STEPS = 10**9  # their batch numbers start here, apart from the training steps


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
    rank, world = rank_world()
    device = resolve_device(config.device)
    if resume:
        check_resume(out, config)
    torch.manual_seed(config.seed)
    by_skeleton, inputs, target_fps = build_skeleton_data(datasets, config, skeleton, fps)
    model = VQMAP(
        config.model, {s.head: (len(s.skeleton.keypoints), s.n_dims) for s in by_skeleton}
    )
    lift = set_2d_lift(model, by_skeleton)
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
    meta = {**_meta(config, by_skeleton, inputs, target_fps, world), **lift}
    step, elapsed, history, balance = 0, 0.0, [], LossBalance()
    if resume:
        step, elapsed, history, balance = resume_state(out, model, optimizer, meta, device)
    net = model
    if world > 1:  # other heads idle: unused parameters
        net = data_parallel(model, device, find_unused_parameters=len(by_skeleton) > 1)
    autocast = autocast_for(device)
    weights = dict(
        zip((s.head for s in by_skeleton), codebook_weights(by_skeleton, config), strict=True)
    )
    span = config.model.anchor_span if config.model.use_motion else 0
    recon_w = {s.head: recon_weights(s, config.recon_weighting, span) for s in by_skeleton}
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
            write_history(out, history)
            seconds = time.perf_counter() - start
            save_train_state(out, optimizer, step, seconds, done, balance.running)

    refit_at = round(config.codebook_refit * config.steps) if config.codebook_refit else -1
    model.train()
    try:
        while step < config.steps:
            if should_stop is not None and should_stop():
                break
            if step == refit_at and step >= model.codes_set_at:
                refit_codebooks(model, by_skeleton, config, device)
            skel_data, x, mask, motion, motion_mask, frame_time = sample_batch(
                by_skeleton, config, step, rank
            )
            lr = lr_at(step, config)
            for pg in optimizer.param_groups:
                pg["lr"] = lr
            with autocast:
                result = net(
                    torch.from_numpy(x).to(device),
                    torch.from_numpy(mask).to(device),
                    skel_data.regions.to(device),
                    head=skel_data.head,
                    motion=torch.from_numpy(motion).to(device),
                    motion_mask=torch.from_numpy(motion_mask).to(device),
                    codebook_weight=float(weights[skel_data.head]),
                    recon_weight=recon_w[skel_data.head],
                    frame_time=torch.from_numpy(frame_time).to(device),
                )
            loss = result.loss
            if config.balance_losses:
                recon = result.recon_loss.detach().float()
                if world > 1:  # the same factor on every rank
                    torch.distributed.all_reduce(recon)
                    recon = recon / world
                loss = loss * balance.factor(skel_data.head, recon.item())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            if step % config.log_every == 0 or step == config.steps:
                row = _history_row(
                    step, skel_data.head, result, model, lr, time.perf_counter() - start
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
        if config.final_refit and step >= config.steps and step >= model.codes_set_at:
            bar.set_postfix_str("refitting the codebooks")
            refit_codebooks(model, by_skeleton, config, device, final=True)
    except KeyboardInterrupt:
        save(done=False)
        raise
    finally:
        bar.close()
    save(done=step >= config.steps)
    return out


@torch.no_grad()
def refit_codebooks(
    model: VQMAP,
    by_skeleton: list[SkeletonData],
    config: TrainConfig,
    device: torch.device,
    final: bool = False,
) -> None:
    """Refit ``model``'s codebooks by k-means on the latents of :data:`REFIT_BATCHES`
    training batches (drawn apart from the training sequence, the same on every rank).

    Each batch contributes its skeleton's codebook weight of its latents (as its EMA
    update would: :func:`codebook_weights`), so the codes follow the pooled data. The
    ``final`` refit, after the last step, clusters the latents encoding will give:
    :data:`FINAL_REFIT_BATCHES` batches without mirroring or keypoint dropout, keeping
    only the latent steps whose receptive field lies inside their window."""
    heads = [s.head for s in by_skeleton]
    weights = dict(zip(heads, codebook_weights(by_skeleton, config), strict=True))
    n_batches, reach = REFIT_BATCHES, 0
    if final:
        config = replace(config, mirror=False, keypoint_dropout=0.0)
        n_batches = FINAL_REFIT_BATCHES
        reach = -(-model.config.receptive_field // 2**model.config.n_down)  # latent steps
    generator = torch.Generator().manual_seed(config.seed)
    zs = []
    for i in range(n_batches):
        skel_data, x, mask, motion, motion_mask, _ = sample_batch(
            by_skeleton, config, REFIT_STEPS + i
        )
        z = model.encode(
            *(torch.from_numpy(a).to(device) for a in (x, mask)),
            skel_data.regions.to(device),
            *(torch.from_numpy(a).to(device) for a in (motion, motion_mask)),
        )["z"]
        edge = min(reach, (z.shape[1] - 1) // 2)
        z = z[:, edge : z.shape[1] - edge].flatten(0, 1)
        share = float(weights[skel_data.head])
        keep = torch.randperm(len(z), generator=generator)[: max(1, round(share * len(z)))]
        zs.append(z[keep.to(z.device)].float())
    on_device = torch.Generator(device).manual_seed(config.seed)
    model.refit_codebooks(torch.cat(zs), n_batches, on_device)


def _history_row(
    step: int, head: str, result: Output, model: VQMAP, lr: float, seconds: float
) -> dict[str, Any]:
    stats = model.codebook_stats()
    coded = all(s["initialised"] for s in stats.values())  # nan during the codebook warm-up
    return {
        "step": step,
        "head": head,  # the skeleton of this step's batch (its loss is on that data only)
        "loss": result.loss.item(),
        "recon": result.recon_loss.item(),
        "commit": result.commit_loss.item(),
        "geometry": result.geo_loss.item(),
        "perplexity": result.perplexity.item() if coded else float("nan"),
        "n_dead": sum(int(s["n_dead"]) for s in stats.values()),
        "lr": lr,
        "seconds": round(seconds, 3),
    }


def _meta(
    config: TrainConfig,
    by_skeleton: list[SkeletonData],
    inputs: list[dict[str, Any]],
    target_fps: float | None,
    world: int,
) -> dict[str, Any]:
    heads = {
        s.head: {
            "skeleton": s.skeleton.to_dict(),
            "n_keypoints": len(s.skeleton.keypoints),
            "n_dims": s.n_dims,
            "regions": s.regions.tolist(),
            "mirror": None if s.mirror is None else s.mirror.tolist(),
        }
        for s in by_skeleton
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
        "versions": versions(),
    }


def set_2d_lift(model: VQMAP, by_skeleton: list[SkeletonData]) -> dict[str, Any]:
    """Set how ``model`` reads 2D input (``ModelConfig.lift_2d``) from the 3D skeletons:
    :func:`region_heights` and :func:`top_down_scale`. Returns them for ``config.json``
    (nothing when the model has no 2D lift)."""
    if not model.encoder.lift_2d:
        return {}
    heights = region_heights(by_skeleton)
    model.encoder.set_2d_lift(torch.from_numpy(heights), top_down_scale(by_skeleton))
    return {
        "region_height": {r: round(float(h), 4) for r, h in zip(REGIONS, heights, strict=True)},
        "top_down_scale": round(float(model.encoder.top_down_scale), 4),
    }
