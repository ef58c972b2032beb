"""Matplotlib figures of motif statistics: usage, prototypes, transitions, bout durations.

Plain ``Figure`` objects (no pyplot), so no GUI backend or Qt is ever loaded. Colours match
the napari overlay (a hue per type, shades per subtype). Each ``plot_*`` returns the Figure
and, given ``path``, writes it atomically in the format its suffix names (png, svg, pdf)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from napari_vqmap.colours import motif_palette, palette
from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.names import MotifNames, codebook_from_ids

FORMATS = ("png", "svg", "pdf")


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``fig`` atomically as PNG, SVG or PDF (from the suffix)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: figure format must be one of {FORMATS}")
    return atomic_write(path, lambda p: fig.savefig(p, format=fmt, dpi=dpi, bbox_inches="tight"))


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def motif_rgba(stats: pd.DataFrame) -> np.ndarray:
    """Overlay colours for the motifs of a motif stats table."""
    n_types, n_sub = codebook_from_ids(stats["motif"], stats["type"], stats["subtype"])
    return motif_palette(n_types, n_sub)[stats["motif"].to_numpy()]


def _label_size(n: int) -> float:
    """Tick label font size that fits one label per motif (every motif is labelled)."""
    return 7.0 if n <= 64 else 5.5


def plot_usage(
    stats: pd.DataFrame,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str = "Motif usage",
) -> Figure:
    """Bar chart of ``usage`` per motif (a :func:`~napari_vqmap.analysis.motif_stats` table)
    or per type (a :func:`~napari_vqmap.analysis.type_usage` table), in overlay colours."""
    n = len(stats)
    fig, ax = _axes(ax, (max(6.0, 0.12 * n + 2), 3.6))
    x = np.arange(n)
    if "motif" in stats.columns:
        colours = motif_rgba(stats) if n else np.zeros((0, 4))
        ax.set_xlabel("motif")
    else:
        colours = palette(int(stats["type"].max()) + 1 if n else 0)[stats["type"].to_numpy()]
        ax.set_xlabel("motif type")
    ax.bar(x, stats["usage"].to_numpy() * 100, color=colours, edgecolor="0.3", linewidth=0.3)
    ax.set_xticks(x, stats["name"].to_numpy(), rotation=90, fontsize=_label_size(n))
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel("usage (% of encoded frames)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _finish(fig, path)


def plot_transitions(
    matrix: np.ndarray,
    path: str | Path | None = None,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    title: str = "Transitions between bouts",
) -> Figure:
    """Heat map of a row-normalised transition matrix (row: from, column: to)."""
    matrix = np.asarray(matrix, dtype=float)
    n = len(matrix)
    side = min(max(4.5, 0.1 * n + 3), 16)
    fig, ax = _axes(ax, (side + 1, side))
    im = ax.imshow(matrix, cmap="magma_r", vmin=0, vmax=max(matrix.max(), 1e-9))
    fig.colorbar(im, ax=ax, label="P(next | current)", shrink=0.8)
    ticks = np.arange(n)
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    ax.set_xticks(ticks, labels, rotation=90, fontsize=_label_size(n))
    ax.set_yticks(ticks, labels, fontsize=_label_size(n))
    ax.set_xlabel("next")
    ax.set_ylabel("current")
    ax.set_title(title)
    if n <= 12:
        for (i, j), v in np.ndenumerate(matrix):
            if v > 0:
                colour = "white" if v > 0.5 * matrix.max() else "black"
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color=colour)
    return _finish(fig, path)


def plot_durations(
    bouts: pd.DataFrame,
    path: str | Path | None = None,
    ax: Axes | None = None,
    fps: float | None = None,
    names: MotifNames | None = None,
) -> Figure:
    """Box plots of bout durations per motif type (a ``type`` column, or ``motif`` with
    ``names`` to find the type); in seconds with ``fps`` or a ``duration_s`` column (as in
    ``bouts.csv`` of ``analyze``), else frames; log scale."""
    if "type" in bouts.columns:
        types = bouts["type"].to_numpy()
    elif names is not None:
        types = bouts["motif"].to_numpy() // names.n_subtypes
    else:
        raise ValueError("bouts need a 'type' column, or pass names to derive it from 'motif'")
    seconds = bool(fps) or ("duration_s" in bouts and bouts["duration_s"].notna().all())
    if fps:
        dur = bouts["duration"].to_numpy(dtype=float) / fps
    else:
        dur = bouts["duration_s" if seconds else "duration"].to_numpy(dtype=float)
    present = sorted(set(types.tolist()))
    fig, ax = _axes(ax, (max(5.0, 0.6 * len(present) + 2), 3.6))
    data = [dur[types == t] for t in present]
    if present:
        box = ax.boxplot(data, patch_artist=True, widths=0.6, flierprops={"markersize": 2})
        colours = palette(max(present) + 1)
        for patch, t in zip(box["boxes"], present, strict=True):
            patch.set_facecolor(colours[t])
        for line in box["medians"]:
            line.set_color("black")
        labels = [names.type_name(t) if names else f"T{t}" for t in present]
        ax.set_xticks(np.arange(1, len(present) + 1), labels, rotation=45, ha="right")
        ax.set_yscale("log")
    ax.set_xlabel("motif type")
    ax.set_ylabel("bout duration (s)" if seconds else "bout duration (frames)")
    ax.set_title("Bout durations by type")
    ax.grid(axis="y", alpha=0.3, which="both")
    return _finish(fig, path)


def _edges(skeleton) -> tuple[list[str], list[tuple[int, int]]]:
    """Keypoint names and edge index pairs of a Skeleton or its dict form."""
    if isinstance(skeleton, dict):
        kps, edges = list(skeleton["keypoints"]), skeleton.get("edges", [])
    else:
        kps, edges = list(skeleton.keypoints), skeleton.edges
    index = {k: i for i, k in enumerate(kps)}
    return kps, [(index[a], index[b]) for a, b in edges if a in index and b in index]


def plot_prototypes(
    poses: np.ndarray,
    skeleton,
    names: MotifNames | Sequence[str],
    path: str | Path | None = None,
    fig: Figure | None = None,
    usage: np.ndarray | None = None,
    view: tuple[int, int] = (0, 1),
    title: str | None = None,
) -> Figure:
    """Grid of decoded motifs (``poses``: ``(n_motifs, T, K, D)``), one cell each: the
    middle-frame pose with skeleton edges in the motif's colour over faint keypoint
    trajectories. Rows are types when ``names`` is a :class:`MotifNames`. Motifs with zero
    ``usage`` (per motif) are drawn grey on a grey cell and marked "unused". ``view`` picks
    the two axes shown (x-y, a top view for 3D). All cells share one Axes (fast to draw)."""
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Rectangle

    poses = np.asarray(poses, dtype=float)
    n, n_t = poses.shape[:2]
    if isinstance(names, MotifNames):
        n_cols, labels = names.n_subtypes, [names.name(m) for m in range(n)]
        colours = motif_palette(names.n_types, names.n_subtypes)[:n]
    else:
        labels = list(names)
        n_cols = int(np.ceil(np.sqrt(n)))
        colours = np.tile(palette(1), (n, 1))
    n_rows = int(np.ceil(n / n_cols))
    unused = np.zeros(n, bool) if usage is None else np.asarray(usage)[:n] <= 0
    colours = np.where(unused[:, None], [0.6, 0.6, 0.6, 1.0], colours)
    a, b = view
    xy = poses[..., [a, b]]
    finite = np.isfinite(xy)
    half = float(np.nanmax(np.abs(xy))) * 1.1 if finite.any() else 1.0
    cell = 2 * half
    gap = 0.35 * cell  # room for the label above each cell
    col, row = np.arange(n) % n_cols, np.arange(n) // n_cols
    offset = np.stack([col * cell, -row * (cell + gap)], axis=1)  # cell centres
    xy = xy + offset[:, None, None, :]
    if fig is None:
        fig = Figure(figsize=(1.1 * n_cols + 0.4, 1.35 * n_rows + 0.6), layout="constrained")
    ax = fig.add_subplot()
    for m in np.flatnonzero(unused):
        x0, y0 = offset[m] - half
        ax.add_patch(Rectangle((x0, y0), cell, cell, color="0.93", zorder=0))
    for m in range(n):
        x0, y0 = offset[m] - half
        ax.add_patch(Rectangle((x0, y0), cell, cell, fill=False, lw=0.4, ec="0.6", zorder=0))
        ax.text(
            offset[m, 0], y0 + cell + 0.05 * cell, labels[m] + (" (unused)" if unused[m] else ""),
            ha="center", va="bottom", fontsize=5.5,
        )  # fmt: skip
    traj = xy.transpose(0, 2, 1, 3).reshape(n * xy.shape[2], n_t, 2)
    traj_colours = np.repeat(colours, xy.shape[2], axis=0)
    ax.add_collection(LineCollection(traj, colors=traj_colours, alpha=0.25, linewidths=0.5))
    _, edges = _edges(skeleton)
    mid = xy[:, n_t // 2]  # (n, K, 2)
    if edges:
        segs = mid[:, np.array(edges)].reshape(-1, 2, 2)
        ax.add_collection(
            LineCollection(segs, colors=np.repeat(colours, len(edges), axis=0), linewidths=1.2)
        )
    ax.scatter(mid[..., 0].ravel(), mid[..., 1].ravel(), s=2, color="black", zorder=3)
    ax.set_xlim(-half - 0.02 * cell, (n_cols - 1) * cell + half + 0.02 * cell)
    ax.set_ylim(-(n_rows - 1) * (cell + gap) - half - 0.02 * cell, half + gap)
    ax.set_aspect("equal")
    ax.axis("off")
    axis = "xyz"
    fig.suptitle(title or f"Motif prototypes ({axis[a]}-{axis[b]} view, body lengths)")
    return _finish(fig, path)


def plot_usage_by(
    usage: pd.DataFrame,
    by: str,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    tests: pd.DataFrame | None = None,
) -> Figure:
    """Usage side by side for the values of column ``by`` (groups, skeletons, datasets).

    ``usage`` is a tidy :func:`~napari_vqmap.analysis.usage_table`. With one row per
    (``by``, id) the bars are that usage; with several (e.g. per file) the bars are the
    mean and each file is a dot. Ids unused everywhere are left out. With ``tests``
    (:func:`~napari_vqmap.analysis.compare_groups`) ids with q < 0.05 get a star."""
    level = "motif" if "motif" in usage.columns else "type"
    used = usage.groupby(level)["usage"].max()
    ids = sorted(used.index[used > 0]) if (used > 0).any() else sorted(used.index)
    usage = usage[usage[level].isin(ids)]
    keys = sorted(usage[by].unique(), key=str)
    n, k = len(ids), len(keys)
    fig, ax = _axes(ax, (min(max(6.0, n * (0.1 + 0.08 * k) + 2), 24.0), 3.8))
    width = 0.8 / max(k, 1)
    colours = palette(k + 2)[2:] if k else []
    pos = {m: i for i, m in enumerate(ids)}
    for j, key in enumerate(keys):
        rows = usage[usage[by] == key]
        mean = rows.groupby(level)["usage"].mean().reindex(ids, fill_value=0)
        x = np.arange(n) + (j - (k - 1) / 2) * width
        ax.bar(x, mean.to_numpy() * 100, width, color=colours[j], label=str(key), alpha=0.85)
        if rows.groupby(level).size().max() > 1:
            xs = rows[level].map(pos).to_numpy() + (j - (k - 1) / 2) * width
            ax.scatter(xs, rows["usage"] * 100, s=4, color="black", zorder=3, linewidths=0)
    labels = usage.drop_duplicates(level).set_index(level)["name"].reindex(ids)
    ax.set_xticks(np.arange(n), labels.to_numpy(), rotation=90, fontsize=_label_size(n))
    ax.set_xlim(-0.6, n - 0.4)
    if tests is not None and "q" in tests:
        top = ax.get_ylim()[1]
        for m in tests.loc[tests["q"] < 0.05, level]:
            if m in pos:
                ax.text(pos[m], top * 0.97, "*", ha="center", va="top", fontsize=10)
    ax.set_xlabel("motif" if level == "motif" else "motif type")
    ax.set_ylabel("usage (% of encoded frames)")
    ax.set_title(title or f"Usage by {by}")
    ax.legend(fontsize=7, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _finish(fig, path)
