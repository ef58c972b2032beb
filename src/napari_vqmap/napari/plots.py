"""Small matplotlib canvases for dock widgets, readable on napari's dark and light themes.

The figure is transparent and drawn in mid-grey and saturated colours, so the same plot
reads on either theme without listening to theme changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

INK = "#909090"  # text, ticks and spines: legible on dark and light backgrounds
LOSS_COLOUR = "#1f9bde"
PERPLEXITY_COLOUR = "#f28e2b"
USAGE_COLOUR = "#1f9bde"


class LossPlot(FigureCanvasQTAgg):
    """Training loss (left axis, log scale) and codebook perplexity (right axis) by step."""

    def __init__(self, width: float = 4.0, height: float = 2.4, dpi: int = 100) -> None:
        figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
        figure.patch.set_alpha(0.0)
        super().__init__(figure)
        self.setStyleSheet("background: transparent;")
        self.loss_axes = figure.add_subplot()
        self.ppl_axes = self.loss_axes.twinx()
        (self.loss_line,) = self.loss_axes.plot([], [], color=LOSS_COLOUR, lw=1.5)
        (self.ppl_line,) = self.ppl_axes.plot([], [], color=PERPLEXITY_COLOUR, lw=1.5)
        self.loss_axes.set_yscale("log")
        self.loss_axes.set_xlabel("step")
        self.loss_axes.set_ylabel("loss", color=LOSS_COLOUR)
        self.ppl_axes.set_ylabel("perplexity", color=PERPLEXITY_COLOUR)
        for axes in (self.loss_axes, self.ppl_axes):
            axes.patch.set_alpha(0.0)
            axes.tick_params(which="both", colors=INK, labelsize=8)
            axes.xaxis.label.set_color(INK)
            for spine in axes.spines.values():
                spine.set_color(INK)
        self.draw_idle()

    def set_data(
        self, steps: Sequence[float], loss: Sequence[float], perplexity: Sequence[float]
    ) -> None:
        """Replace the curves and rescale both axes."""
        self.loss_line.set_data(steps, loss)
        self.ppl_line.set_data(steps, perplexity)
        for axes in (self.loss_axes, self.ppl_axes):
            axes.relim()
            axes.autoscale_view()
        self.draw_idle()

    def has_data(self) -> bool:
        """Whether any point has been plotted."""
        return len(self.loss_line.get_xdata()) > 0


def _style(axes: Axes) -> None:
    """Transparent axes with mid-grey text, ticks and spines."""
    axes.patch.set_alpha(0.0)
    axes.tick_params(which="both", colors=INK, labelsize=8)
    axes.xaxis.label.set_color(INK)
    axes.yaxis.label.set_color(INK)
    axes.title.set_color(INK)
    for spine in axes.spines.values():
        spine.set_color(INK)


def _transparent_figure(width: float, height: float, dpi: int) -> Figure:
    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    figure.patch.set_alpha(0.0)
    return figure


class UsagePlot(FigureCanvasQTAgg):
    """Codebook usage: one bar per code of the type and of the subtype codebook, with the
    uniform share (every code used equally) as a dashed line."""

    CODEBOOKS = ("type", "subtype")

    def __init__(self, width: float = 4.0, height: float = 1.8, dpi: int = 100) -> None:
        super().__init__(_transparent_figure(width, height, dpi))
        self.setStyleSheet("background: transparent;")
        self.axes = dict(zip(self.CODEBOOKS, self.figure.subplots(1, 2), strict=True))
        self.usage: dict[str, list[float]] = {}
        for name, axes in self.axes.items():
            axes.set_title(f"{name}s", fontsize=8)
            axes.set_xlabel("code")
            _style(axes)
        self.axes["type"].set_ylabel("usage")
        self.draw_idle()

    def set_stats(self, stats: dict[str, dict[str, Any]]) -> None:
        """Redraw from :meth:`~napari_vqmap.model.VQMAP.codebook_stats` (``{"type": {"usage":
        [...], "n_dead": n, ...}, "subtype": {...}}``)."""
        for name, axes in self.axes.items():
            usage = np.asarray(stats.get(name, {}).get("usage", []), float)
            self.usage[name] = usage.tolist()
            axes.clear()
            _style(axes)
            dead = int(stats.get(name, {}).get("n_dead", 0))
            axes.set_title(f"{name}s: {dead} unused", fontsize=8)
            axes.set_xlabel("code")
            if len(usage):
                colours = [USAGE_COLOUR if u > 0.1 / len(usage) else INK for u in usage]
                axes.bar(np.arange(len(usage)), usage, width=0.85, color=colours)
                axes.axhline(1 / len(usage), color=INK, lw=1, ls="--")
                axes.set_xlim(-0.6, len(usage) - 0.4)
                axes.set_ylim(0, max(float(usage.max()), 1.5 / len(usage)) * 1.05)
                axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        self.axes["type"].set_ylabel("usage")
        self.draw_idle()

    def has_data(self) -> bool:
        """Whether usage has been plotted."""
        return any(len(u) for u in self.usage.values())


class ConfusionPlot(FigureCanvasQTAgg):
    """Row-normalised label x motif (or motif type) confusion matrix."""

    def __init__(self, width: float = 4.0, height: float = 3.0, dpi: int = 100) -> None:
        super().__init__(_transparent_figure(width, height, dpi))
        self.setStyleSheet("background: transparent;")
        self.axes = self.figure.add_subplot()
        self.table = np.zeros((0, 0))
        _style(self.axes)
        self.draw_idle()

    def set_table(
        self,
        counts: np.ndarray,
        rows: Sequence[str],
        columns: Sequence[str],
        xlabel: str = "motif",
    ) -> None:
        """Show ``counts`` (labels x columns) as the fraction of each label's frames."""
        counts = np.asarray(counts, float)
        self.table = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        self.figure.clear()
        self.axes = self.figure.add_subplot()
        _style(self.axes)
        image = self.axes.imshow(
            self.table, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest"
        )
        small = 7 if len(columns) <= 24 else 5
        self.axes.set_yticks(range(len(rows)), list(rows), fontsize=8)
        self.axes.set_xticks(range(len(columns)), list(columns), rotation=90, fontsize=small)
        self.axes.set_xlabel(xlabel)
        bar = self.figure.colorbar(image, ax=self.axes, fraction=0.05, pad=0.02)
        bar.ax.tick_params(colors=INK, labelsize=7)
        bar.outline.set_edgecolor(INK)
        bar.set_label("fraction of label", color=INK, fontsize=8)
        self.draw_idle()

    def clear(self) -> None:
        """Remove the matrix."""
        self.table = np.zeros((0, 0))
        self.figure.clear()
        self.axes = self.figure.add_subplot()
        _style(self.axes)
        self.draw_idle()

    def has_data(self) -> bool:
        """Whether a matrix is shown."""
        return self.table.size > 0
