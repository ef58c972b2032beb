"""Motif prototypes: each (type, subtype) code decoded to a pose sequence on a skeleton head."""

from __future__ import annotations

import numpy as np
import torch

from napari_vqmap.model import VQMAP


def prototypes(model: VQMAP, head: str, n_steps: int | None = None) -> np.ndarray:
    """``(n_motifs, T, K, D)`` poses, in the model's aligned frame (body lengths, heading +x).

    Each motif's code is held for ``n_steps`` latent steps (default: one training window) and
    decoded with the skeleton head ``head``; ``T = n_steps * 2**n_down`` frames.
    """
    cfg = model.config
    if head not in model.heads:
        raise KeyError(f"the model has no head {head!r}; its heads: {sorted(model.heads)}")
    n_steps = n_steps or cfg.window // 2**cfg.n_down
    motif = torch.arange(cfg.n_motifs)
    types = (motif // cfg.n_subtypes)[:, None].expand(-1, n_steps)
    subtypes = (motif % cfg.n_subtypes)[:, None].expand(-1, n_steps)
    model.eval()
    with torch.no_grad():
        poses = model.decode_codes(types, subtypes, head)
    return poses.float().numpy()
