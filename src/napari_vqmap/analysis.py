"""Motif statistics from per-frame motif tables: usage, bouts and durations, transitions.

A per-frame table has the columns of ``<stem>_motifs.csv`` (frame, individual, motif, type,
subtype, name, ...), optionally with a ``file`` column when several recordings are stacked.
Motif -1 means "not encoded"; usage is a fraction of encoded frames. Bouts are runs of one
motif (or type) within one (file, individual), broken by unencoded frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from napari_vqmap.names import MotifNames

LEVELS = ("motif", "type")


def _keys(table: pd.DataFrame) -> list[str]:
    """The columns that identify one continuous track: file and/or individual."""
    return [k for k in ("file", "individual") if k in table.columns]


def apply_names(table: pd.DataFrame, names: MotifNames | None) -> pd.DataFrame:
    """``table`` with the merges of ``names`` applied and its type/subtype/name recomputed."""
    if names is None:
        return table
    motif = names.apply(table["motif"].to_numpy())
    n_sub = names.n_subtypes
    return table.assign(
        motif=motif,
        type=np.where(motif >= 0, motif // n_sub, -1),
        subtype=np.where(motif >= 0, motif % n_sub, -1),
        name=names.names(motif),
    )


def _level_ids(table: pd.DataFrame, level: str) -> np.ndarray:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    return table[level].to_numpy(dtype=np.int64)


def bouts(table: pd.DataFrame, level: str = "motif") -> pd.DataFrame:
    """Runs of one motif (``level="motif"``) or one type per (file, individual).

    Columns: the track keys (file, individual), start, stop (exclusive frame), duration
    (frames), the id column (``motif`` or ``type``) and ``gap_before`` (True when unencoded
    frames or the track start precede the bout, so it does not follow the previous bout).
    """
    keys = _keys(table)
    ids_all = _level_ids(table, level)
    frames_all = table["frame"].to_numpy(dtype=np.int64)
    parts = []
    groups = table.groupby(keys, sort=False).indices if keys else {(): np.arange(len(table))}
    for key, idx in groups.items():
        ids, frames = ids_all[idx], frames_all[idx]
        # a new run where the id changes or frames are not consecutive
        new = np.r_[True, (np.diff(ids) != 0) | (np.diff(frames) != 1)]
        starts = np.flatnonzero(new)
        stops = np.r_[starts[1:], len(ids)]
        run_ids = ids[starts]
        # a run follows the previous one directly when that one is encoded and adjacent
        prev_ok = np.r_[
            False, (run_ids[:-1] >= 0) & (frames[starts[1:]] == frames[stops[:-1] - 1] + 1)
        ]
        keep = run_ids >= 0
        part = pd.DataFrame(
            {
                "start": frames[starts][keep],
                "stop": frames[stops - 1][keep] + 1,
                level: run_ids[keep],
                "gap_before": ~prev_ok[keep],
            }
        )
        part.insert(2, "duration", part["stop"] - part["start"])
        key = key if isinstance(key, tuple) else (key,)
        for k, v in zip(keys, key, strict=True):
            part.insert(keys.index(k), k, v)
        parts.append(part)
    columns = [*keys, "start", "stop", "duration", level, "gap_before"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _stats(
    table: pd.DataFrame, level: str, all_ids: Sequence[int] | None, fps: float | None
) -> pd.DataFrame:
    ids = _level_ids(table, level)
    encoded = ids[ids >= 0]
    b = bouts(table, level)
    frames = pd.Series(encoded).value_counts()
    dur = b.groupby(level)["duration"]
    index = pd.Index(sorted(all_ids) if all_ids is not None else sorted(frames.index), name=level)
    out = pd.DataFrame(index=index)
    out["frames"] = frames.reindex(index, fill_value=0).astype(np.int64)
    out["usage"] = out["frames"] / max(len(encoded), 1)
    out["n_bouts"] = dur.size().reindex(index, fill_value=0).astype(np.int64)
    out["mean_duration"] = dur.mean().reindex(index)
    out["median_duration"] = dur.median().reindex(index)
    if fps:
        out["time_s"] = out["frames"] / fps
        out["mean_duration_s"] = out["mean_duration"] / fps
        out["median_duration_s"] = out["median_duration"] / fps
    return out.reset_index()


def motif_stats(
    table: pd.DataFrame, names: MotifNames | None = None, fps: float | None = None
) -> pd.DataFrame:
    """One row per motif: motif, type, subtype, name, frames, usage (fraction of encoded
    frames), n_bouts, mean_duration, median_duration (frames), and with ``fps`` also
    time_s, mean_duration_s, median_duration_s.

    With ``names`` its merges are applied first and every motif of the codebook is listed
    (unused ones with zeros; merged-away ones are dropped); without, only motifs that occur.
    """
    table = apply_names(table, names)
    all_ids = None
    if names is not None:
        all_ids = sorted({names.resolve(m) for m in range(names.n_motifs)})
    out = _stats(table, "motif", all_ids, fps)
    if names is not None:
        t, s = np.divmod(out["motif"].to_numpy(), names.n_subtypes)
        label = names.names(out["motif"].to_numpy())
    else:
        lut = table.drop_duplicates("motif").set_index("motif")
        t, s = (out["motif"].map(lut[c]).to_numpy(dtype=np.int64) for c in ("type", "subtype"))
        label = out["motif"].map(lut["name"]).astype(str).to_numpy()
    out.insert(1, "type", t)
    out.insert(2, "subtype", s)
    out.insert(3, "name", label)
    return out


def type_usage(
    table: pd.DataFrame, names: MotifNames | None = None, fps: float | None = None
) -> pd.DataFrame:
    """One row per motif type: type, name, frames, usage, n_bouts, mean_duration,
    median_duration (type-level bouts: runs of one type), and ``*_s`` columns with ``fps``.
    With ``names`` merges are applied first and every type is listed."""
    table = apply_names(table, names)
    all_ids = range(names.n_types) if names is not None else None
    out = _stats(table, "type", all_ids, fps)
    if names is not None:
        type_names = [names.type_name(t) for t in out["type"]]
    else:
        type_names = [f"T{t}" for t in out["type"]]
    out.insert(1, "name", type_names)
    return out


def transition_counts(table: pd.DataFrame, n: int, level: str = "motif") -> np.ndarray:
    """``(n, n)`` counts of bout-to-bout transitions (row: from, column: to).

    Only bouts that follow each other directly in one (file, individual) count: a run of
    unencoded frames between two bouts is not a transition. Self-transitions cannot occur
    between bouts (a bout ends where the id changes), so the diagonal is zero.
    """
    b = bouts(table, level)
    counts = np.zeros((n, n), dtype=np.int64)
    if b.empty:
        return counts
    ids = b[level].to_numpy(dtype=np.int64)
    if ids.max() >= n:
        raise ValueError(f"{level} id {ids.max()} does not fit a {n} x {n} matrix")
    follows = ~b["gap_before"].to_numpy()[1:]
    np.add.at(counts, (ids[:-1][follows], ids[1:][follows]), 1)
    return counts


def transition_matrix(table: pd.DataFrame, n_motifs: int, level: str = "motif") -> np.ndarray:
    """Row-normalised ``(n, n)`` transition probabilities between bouts (see
    :func:`transition_counts`); ``n_motifs`` is the number of motifs, or of types with
    ``level="type"``. Rows of motifs never left stay zero."""
    counts = transition_counts(table, n_motifs, level).astype(float)
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
