"""The optimiser, its learning-rate schedule, and the per-skeleton loss balance."""

from __future__ import annotations

import math

import numpy as np
import torch

from napari_vqmap.adamw import AdamW
from napari_vqmap.training.config import TrainConfig


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
