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


def usage_table(
    table: pd.DataFrame,
    by: Sequence[str] = ("file", "individual"),
    level: str = "motif",
    names: MotifNames | None = None,
) -> pd.DataFrame:
    """Tidy usage per group of rows (e.g. per file, per individual, per group of files):
    the ``by`` columns, the id (``motif`` or ``type``), name, frames, encoded (the group's
    encoded frames) and usage (frames / encoded).

    With ``names`` every motif (type) is listed for every group, zeros included; a group
    only exists where it has rows, so an individual missing from a file gets no rows there
    (missing is not zero usage).
    """
    by = list(by)
    missing = [c for c in by if c not in table.columns]
    if missing:
        raise ValueError(f"the motif table has no column(s) {missing}")
    table = apply_names(table, names)
    ids = _level_ids(table, level)
    enc = table.loc[ids >= 0, [*by, level]]
    counts = enc.groupby([*by, level], sort=True).size().rename("frames")
    if names is not None:
        all_ids = (
            sorted({names.resolve(m) for m in range(names.n_motifs)})
            if level == "motif"
            else list(range(names.n_types))
        )
    else:
        all_ids = sorted(set(enc[level].tolist()))
    groups = table[by].drop_duplicates().sort_values(by)
    grid = groups.merge(pd.DataFrame({level: all_ids}), how="cross")
    out = grid.merge(counts.reset_index(), on=[*by, level], how="left")
    out["frames"] = out["frames"].fillna(0).astype(np.int64)
    out["encoded"] = out.groupby(by)["frames"].transform("sum")
    out["usage"] = np.where(out["encoded"] > 0, out["frames"] / out["encoded"].clip(lower=1), 0.0)
    out.insert(len(by) + 1, "name", _id_names(out[level].to_numpy(), level, names, table))
    return out.reset_index(drop=True)


def _id_names(
    ids: np.ndarray, level: str, names: MotifNames | None, table: pd.DataFrame
) -> np.ndarray:
    if level == "type":
        return np.array([names.type_name(t) if names else f"T{t}" for t in ids], dtype=object)
    if names is not None:
        return names.names(ids)
    lut = table.drop_duplicates("motif").set_index("motif")["name"]
    return pd.Series(ids).map(lut).astype(str).to_numpy()


MIN_GROUP_FILES = 3


def compare_groups(
    usage: pd.DataFrame,
    group: str = "group",
    level: str = "motif",
    min_files: int = MIN_GROUP_FILES,
) -> pd.DataFrame:
    """Test per motif (type) whether usage differs between groups of files.

    ``usage`` is a tidy :func:`usage_table` with one row per (file, ``group``, id) (every id
    for every file, as with ``names``). Two groups: two-sided Mann-Whitney U, effect size
    the rank-biserial correlation (positive: the first group uses it more) and the
    difference of medians; more groups: Kruskal-Wallis H, effect size epsilon squared.
    p values are corrected over motifs with Benjamini-Hochberg (``q``). Groups with fewer
    than ``min_files`` files are left out of the test (their medians are still listed); a
    motif with the same usage in every file is not tested. The ``note`` column says so.
    """
    from scipy import stats as st

    if group not in usage.columns:
        raise ValueError(f"the usage table has no column {group!r}")
    groups = sorted(usage[group].unique().tolist(), key=str)
    if len(groups) < 2:
        raise ValueError(f"need at least two groups to compare, got {groups}")
    sizes = usage.groupby(group)["file"].nunique()
    small = [k for k in groups if sizes[k] < min_files]
    tested = [k for k in groups if k not in small]
    base_note = "; ".join(f"{k} not tested ({sizes[k]} < {min_files} files)" for k in small)
    rows = []
    for key, g in usage.groupby(level, sort=True):
        row: dict = {level: key, "name": g["name"].iloc[0]}
        values = {}
        for k in groups:
            values[k] = g.loc[g[group] == k, "usage"].to_numpy()
            row[f"n_{k}"] = len(values[k])
            row[f"median_{k}"] = float(np.median(values[k])) if len(values[k]) else np.nan
        row |= _test([values[k] for k in tested], st)
        if len(tested) == 2:
            row["median_difference"] = row[f"median_{tested[0]}"] - row[f"median_{tested[1]}"]
        notes = [base_note] if base_note else []
        if len(tested) < 2:
            notes.append("fewer than two groups with enough files: no test")
        elif not row["test"]:
            notes.append("same usage in every tested file: no test")
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.insert(out.columns.get_loc("p") + 1, "q", benjamini_hochberg(out["p"].to_numpy()))
    return out


def _test(values: list[np.ndarray], st) -> dict:
    """Mann-Whitney U (two groups) or Kruskal-Wallis (more) with its effect size."""
    row = {"test": "", "statistic": np.nan, "p": np.nan, "effect": np.nan}
    if len(values) < 2 or np.ptp(np.concatenate(values)) == 0:
        return row
    if len(values) == 2:
        res = st.mannwhitneyu(values[0], values[1], alternative="two-sided")
        n1, n2 = len(values[0]), len(values[1])
        effect = 2 * float(res.statistic) / (n1 * n2) - 1  # rank-biserial
        name = "mann-whitney-u"
    else:
        res = st.kruskal(*values)
        effect = float(res.statistic) / (sum(len(v) for v in values) - 1)  # epsilon squared
        name = "kruskal-wallis"
    return {
        "test": name,
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
        "effect": effect,
    }


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p values (q); NaN (untested) stay NaN and do not count."""
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = false_discovery_control(p[ok], method="bh")
    return q
