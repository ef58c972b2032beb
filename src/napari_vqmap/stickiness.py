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
from napari_vqmap.validators import check_stickiness as check_stickiness  # re-exported

DEFAULT_STICKINESS = 1.0  # median motif bout on the labelled SUBTLE mice: 8 frames (0.4 s)


BLOCK = 512  # latent steps per block of a long sequence (blocks are solved side by side)
OVERLAP = 128  # steps of context on either side of a block


def viterbi(cost: np.ndarray, penalty: float, free: np.ndarray | None = None) -> np.ndarray:
    """(T,) path of states minimising ``cost[t, path[t]]`` summed plus ``penalty`` per change.

    ``cost`` is (T, S); a change into step t costs nothing where ``free[t]`` (T,) is True.
    Ties keep the current state. A long sequence is solved in blocks of
    :data:`BLOCK` steps, each with :data:`OVERLAP` steps of context on either side, side by
    side (a Python loop over a block's steps, not the whole sequence): the best path's
    choices at a step are settled by its neighbourhood (the paths through distant steps
    merge well within the overlap), so the blocks' middles join into the whole path (tests
    compare it with one pass on real encodings).
    """
    n = len(cost)
    step_penalty = np.full(n, float(penalty))
    if free is not None:
        step_penalty[free] = 0.0
    if n <= BLOCK + 2 * OVERLAP:
        return _viterbi_blocks(cost[None], step_penalty[None])[0]
    starts = np.arange(0, n, BLOCK)
    length = BLOCK + 2 * OVERLAP
    padded = np.zeros((n + 2 * OVERLAP + BLOCK, cost.shape[1]))  # 0 cost: no preference
    padded[OVERLAP : OVERLAP + n] = cost
    pen = np.full(len(padded), float(penalty))
    pen[OVERLAP : OVERLAP + n] = step_penalty
    blocks = np.stack([padded[s : s + length] for s in starts])
    pens = np.stack([pen[s : s + length] for s in starts])
    paths = _viterbi_blocks(blocks, pens)[:, OVERLAP : OVERLAP + BLOCK]
    return paths.reshape(-1)[:n]


def _viterbi_blocks(cost: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Exact Viterbi for each of the (C, T, S) cost sequences at once, with a change into
    step t costing ``penalty[:, t]``; (C, T) paths."""
    c, n, s = cost.shape
    back = np.empty((c, n, s), np.int16)
    states = np.arange(s, dtype=np.int16)
    rows = np.arange(c)
    total = cost[:, 0].astype(np.float64)
    for t in range(1, n):
        best = total.argmin(1)
        switch = total[rows, best][:, None] + penalty[:, t, None]
        stay = total <= switch
        back[:, t] = np.where(stay, states, best[:, None])
        total = np.where(stay, total, switch) + cost[:, t]
    path = np.empty((c, n), np.int64)
    path[:, -1] = total.argmin(1)
    for t in range(n - 1, 0, -1):
        path[:, t - 1] = back[rows, t, path[:, t]]
    return path


def _sq_dist(z: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(T, S) squared distances of latents (T, dim) to codes (S, dim)."""
    cross = z @ codes.T
    return np.maximum((z**2).sum(1)[:, None] - 2 * cross + (codes**2).sum(1), 0.0)


def _spread(codes: np.ndarray) -> float:
    """Median squared distance between two distinct codes (rows)."""
    d = ((codes[:, None] - codes[None]) ** 2).sum(-1)
    return float(np.median(d[~np.eye(len(codes), dtype=bool)])) if len(codes) > 1 else 1.0


def sticky_motifs(
    model: VQMAP, z: np.ndarray, weight: np.ndarray, stickiness: float
) -> np.ndarray:
    """Motif ids (T,) for a sequence of latent steps ``z`` (T, latent_dim), each counting
    ``weight`` (T,) times (the frames it covers), with the given stickiness (>= 0).

    As the model assigns codes: with residual subtypes the subtype codes quantise the
    latent minus its type code; in model folders from before those, the latent's two
    halves are quantised separately."""
    cfg = model.config
    types = model.type_q.codebook.detach().cpu().double().numpy()
    subs = model.subtype_q.codebook.detach().cpu().double().numpy()
    z = np.asarray(z, np.float64)
    w = np.asarray(weight, np.float64)[:, None]
    z_type, z_sub = (z, None) if cfg.residual else np.split(z, 2, axis=1)
    cost = _sq_dist(z_type, types) * w
    type_path = viterbi(cost, stickiness * _spread(types))
    per_type = subs.shape[0] > cfg.n_subtypes
    by_type = subs.reshape(cfg.n_types, cfg.n_subtypes, -1) if per_type else None
    sub_spread = float(np.median([_spread(g) for g in by_type])) if per_type else _spread(subs)
    residual = z - types[type_path] if cfg.residual else z_sub
    if per_type:  # each step against its own type's subtype codes
        cost = np.empty((len(z), cfg.n_subtypes))
        for t in np.unique(type_path):
            rows = type_path == t
            cost[rows] = _sq_dist(residual[rows], by_type[t])
    else:
        cost = _sq_dist(residual, subs)
    cost *= w
    new_type = np.r_[True, type_path[1:] != type_path[:-1]]  # a new type: any subtype, free
    sub_path = viterbi(cost, stickiness * sub_spread, free=new_type)
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
