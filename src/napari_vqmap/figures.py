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

from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.names import MotifNames
from napari_vqmap.napari.layer_styles import motif_palette, palette

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


def _codebook(stats: pd.DataFrame) -> tuple[int, int]:
    """(n_types, n_subtypes) implied by a motif stats table."""
    n_sub = int(stats["subtype"].max()) + 1
    rows = stats[stats["type"] > 0]
    if len(rows):
        r = rows.iloc[0]
        n_sub = max(n_sub, int((r["motif"] - r["subtype"]) // r["type"]))
    return int(stats["type"].max()) + 1, n_sub


def motif_rgba(stats: pd.DataFrame) -> np.ndarray:
    """Overlay colours for the motifs of a motif stats table."""
    n_types, n_sub = _codebook(stats)
    return motif_palette(n_types, n_sub)[stats["motif"].to_numpy()]


def _label_step(n: int) -> int:
    return 1 if n <= 64 else int(np.ceil(n / 64))


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
    step = _label_step(n)
    ax.set_xticks(x[::step], stats["name"].to_numpy()[::step], rotation=90, fontsize=7)
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
    side = min(max(4.5, 0.09 * n + 3), 14)
    fig, ax = _axes(ax, (side + 1, side))
    im = ax.imshow(matrix, cmap="magma_r", vmin=0, vmax=max(matrix.max(), 1e-9))
    fig.colorbar(im, ax=ax, label="P(next | current)", shrink=0.8)
    step = _label_step(n)
    ticks = np.arange(n)[::step]
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90, fontsize=7)
    ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=7)
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
    ``names`` to find the type), in seconds with ``fps``, else frames; log scale."""
    if "type" in bouts.columns:
        types = bouts["type"].to_numpy()
    elif names is not None:
        types = bouts["motif"].to_numpy() // names.n_subtypes
    else:
        raise ValueError("bouts need a 'type' column, or pass names to derive it from 'motif'")
    dur = bouts["duration"].to_numpy(dtype=float) / (fps or 1.0)
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
    ax.set_ylabel("bout duration (s)" if fps else "bout duration (frames)")
    ax.set_title("Bout durations")
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
    """Grid of decoded motifs (``poses``: ``(n_motifs, T, K, D)``), one small panel each:
    the middle-frame pose with skeleton edges in the motif's colour over faint keypoint
    trajectories. Rows are types when ``names`` is a :class:`MotifNames`. Motifs with zero
    ``usage`` (per motif) are drawn grey and marked "unused". ``view`` picks the two axes
    shown (x-y, a top view for 3D)."""
    poses = np.asarray(poses)
    n = len(poses)
    if isinstance(names, MotifNames):
        n_cols, labels = names.n_subtypes, [names.name(m) for m in range(n)]
        colours = motif_palette(names.n_types, names.n_subtypes)
    else:
        labels = list(names)
        n_cols = int(np.ceil(np.sqrt(n)))
        colours = np.tile(palette(1), (n + 1, 1))
    n_rows = int(np.ceil(n / n_cols))
    if fig is None:
        fig = Figure(figsize=(1.25 * n_cols + 0.5, 1.3 * n_rows + 0.6), layout="constrained")
    _, edges = _edges(skeleton)
    a, b = view
    xy = poses[..., [a, b]]
    lim = np.nanmax(np.abs(xy)) * 1.05 if np.isfinite(xy).any() else 1.0
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    mid = poses.shape[1] // 2
    for m, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
        if m >= n:
            ax.axis("off")
            continue
        unused = usage is not None and usage[m] <= 0
        colour = (0.6, 0.6, 0.6, 1.0) if unused else colours[m]
        traj = xy[m]
        ax.plot(traj[:, :, 0], traj[:, :, 1], color=colour, alpha=0.25, linewidth=0.6)
        for i, j in edges:
            ax.plot(traj[mid, [i, j], 0], traj[mid, [i, j], 1], color=colour, linewidth=1.4)
        ax.scatter(traj[mid, :, 0], traj[mid, :, 1], s=4, color="black", zorder=3)
        ax.set_title(labels[m] + (" (unused)" if unused else ""), fontsize=6, pad=2)
        if unused:
            ax.set_facecolor("0.93")
    axes[0, 0].set_xlim(-lim, lim)
    axes[0, 0].set_ylim(-lim, lim)
    axis = "xyz"
    fig.suptitle(title or f"Motif prototypes ({axis[a]}-{axis[b]} view, body lengths)")
    return _finish(fig, path)
