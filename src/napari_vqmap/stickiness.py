"""Motif stickiness: how readily the motif sequence changes, applied at encode time.

With stickiness 0 every latent step takes its nearest code. With stickiness ``s`` > 0 the
sequence of codes is the one that minimises the summed squared distances of the latents
to their codes plus a cost for every change (Viterbi): ``s`` times the median squared
distance between two codes of the codebook. A brief excursion to another code is then kept
only when the latents sit clearly closer to it for long enough, so motifs last longer and
flicker less (keypoint-MoSeq's "stickiness" plays the same role for its syllables). Types
are smoothed first; then, within each run of one type, its subtypes.

Models trained since 2026-12-07 record :data:`DEFAULT_STICKINESS` in their
``config.json`` (``"stickiness"``), which ``encode`` uses unless told otherwise; older
model folders encode with 0, as before.
"""

from __future__ import annotations

import numpy as np

from napari_vqmap.model import VQMAP

DEFAULT_STICKINESS = 1.0  # median motif bout on the labelled SUBTLE mice: 8 frames (0.4 s)


def viterbi(cost: np.ndarray, penalty: float) -> np.ndarray:
    """(T,) path of states minimising ``cost[t, path[t]]`` summed plus ``penalty`` per change.

    ``cost`` is (T, S). Ties keep the current state.
    """
    n, s = cost.shape
    back = np.empty((n, s), np.int32)
    states = np.arange(s, dtype=np.int32)
    total = cost[0].astype(np.float64)
    for t in range(1, n):
        best = int(total.argmin())
        switch = total[best] + penalty
        stay = total <= switch
        back[t] = np.where(stay, states, best)
        total = np.where(stay, total, switch) + cost[t]
    path = np.empty(n, np.int64)
    path[-1] = int(total.argmin())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _spread(codes: np.ndarray) -> float:
    """Median squared distance between two distinct codes (rows)."""
    d = ((codes[:, None] - codes[None]) ** 2).sum(-1)
    return float(np.median(d[~np.eye(len(codes), dtype=bool)])) if len(codes) > 1 else 1.0


def sticky_motifs(
    model: VQMAP, z: np.ndarray, weight: np.ndarray, stickiness: float
) -> np.ndarray:
    """Motif ids (T,) for a sequence of latent steps ``z`` (T, latent_dim), each counting
    ``weight`` (T,) times (the frames it covers), with the given stickiness (>= 0).

    Needs a model with residual subtypes (the default since 2026-11)."""
    cfg = model.config
    types = model.type_q.codebook.detach().cpu().double().numpy()
    subs = model.subtype_q.codebook.detach().cpu().double().numpy()
    z = np.asarray(z, np.float64)
    w = np.asarray(weight, np.float64)[:, None]
    cost = ((z[:, None] - types[None]) ** 2).sum(-1) * w
    type_path = viterbi(cost, stickiness * _spread(types))
    per_type = subs.shape[0] > cfg.n_subtypes
    groups = subs.reshape(cfg.n_types, cfg.n_subtypes, -1) if per_type else None
    sub_spread = float(np.median([_spread(g) for g in groups])) if per_type else _spread(subs)
    residual = z - types[type_path]
    sub_path = np.empty(len(z), np.int64)
    edges = np.flatnonzero(np.diff(type_path)) + 1
    for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(z)], strict=True):
        codes = groups[type_path[lo]] if per_type else subs
        cost = ((residual[lo:hi, None] - codes[None]) ** 2).sum(-1) * w[lo:hi]
        sub_path[lo:hi] = viterbi(cost, stickiness * sub_spread)
    return type_path * cfg.n_subtypes + sub_path


def smooth_track(
    model: VQMAP, motif: np.ndarray, embedding: np.ndarray, stickiness: float
) -> np.ndarray:
    """One individual's per-frame motifs (T,) re-chosen with ``stickiness`` from their
    per-frame latents (T, latent_dim). Frames with motif -1 stay -1 and split the sequence;
    consecutive frames with the same latent (one latent step) count as one step."""
    out = motif.copy()
    ok = motif >= 0
    edges = np.flatnonzero(np.diff(ok.astype(np.int8))) + 1
    for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(motif)], strict=True):
        if not ok[lo]:
            continue
        z = embedding[lo:hi]
        new = np.r_[True, (z[1:] != z[:-1]).any(-1)]
        starts = np.flatnonzero(new)
        lengths = np.diff(np.r_[starts, hi - lo])
        steps = sticky_motifs(model, z[starts], lengths, stickiness)
        out[lo:hi] = np.repeat(steps, lengths)
    return out


def check_stickiness(value: float) -> float:
    """``value`` as a float, or a ValueError unless it is a finite number >= 0."""
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"stickiness must be a finite number >= 0, got {value}")
    return value
