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


def prototype_head(meta: dict, skeleton: dict) -> tuple[str | None, bool]:
    """The model head to decode a recording's motifs on, and whether it is the recording's
    own skeleton's head.

    ``skeleton`` is the recording's skeleton dict (``name``, ``keypoints``, ``regions``,
    ``dims``; :meth:`~napari_vqmap.skeletons.Skeleton.to_dict`). A skeleton the model has
    no head for was encoded with its keypoints mapped to body regions; its motifs are shown
    on the head of the same dimensionality whose body regions overlap its own most
    (Jaccard index of the region sets; ties: the first head). ``(None, False)`` when the
    model has no head of that dimensionality.
    """
    from napari_vqmap.checkpoint import head_for

    dims = int(skeleton.get("dims") or 0)
    keypoints = [str(k) for k in skeleton.get("keypoints", [])]
    own = head_for(meta, keypoints, dims) if keypoints else None
    if own is None:
        own = next(
            (
                h
                for h, info in meta.get("heads", {}).items()
                if info["skeleton"].get("name") == skeleton.get("name")
                and int(info["n_dims"]) == dims
            ),
            None,
        )
    if own is not None:
        return own, True
    regions = {r for r in skeleton.get("regions", {}).values() if r != "other"}
    best, score = None, -1.0
    for head, info in meta.get("heads", {}).items():
        if int(info["n_dims"]) != dims:
            continue
        theirs = {r for r in info["skeleton"].get("regions", {}).values() if r != "other"}
        jaccard = len(regions & theirs) / max(len(regions | theirs), 1)
        if jaccard > score:
            best, score = head, jaccard
    return best, False
