"""Small matplotlib canvases for dock widgets, readable on napari's dark and light themes.

The figure is transparent and drawn in mid-grey and saturated colours, so the same plot
reads on either theme without listening to theme changes. Figures are drawn off the GUI
thread (:class:`_Canvas`), so live plots never stall the viewer.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from qtpy.QtCore import QSize, Signal
from qtpy.QtGui import QImage, QPainter
from qtpy.QtWidgets import QWidget

from napari_vqmap.napari.background import short_gil_turns

INK = "#909090"  # text, ticks and spines: legible on dark and light backgrounds
LOSS_COLOUR = "#1f9bde"
PERPLEXITY_COLOUR = "#f28e2b"
USAGE_COLOUR = "#1f9bde"
_log = logging.getLogger(__name__)
_RGBA_USED, _RGBA_UNUSED = np.array(to_rgba(USAGE_COLOUR)), np.array(to_rgba(INK))


def _style(axes: Axes) -> None:
    """Transparent axes with mid-grey text, ticks and spines."""
    axes.patch.set_alpha(0.0)
    axes.tick_params(which="both", colors=INK, labelsize=8)
    axes.xaxis.label.set_color(INK)
    axes.yaxis.label.set_color(INK)
    axes.title.set_color(INK)
    for spine in axes.spines.values():
        spine.set_color(INK)


class _Canvas(QWidget):
    """A matplotlib figure drawn in a background thread and shown as an image.

    A redraw takes tens of milliseconds (more while training shares the CPU), so drawing
    on the GUI thread would stall the viewer; here the GUI thread only paints the last
    image. Every change to the figure is queued as a function and run, in order, on the
    one drawing thread shared by all canvases; changes that queue up are drawn once.
    """

    _drawn = Signal(QImage, int)

    def __init__(self, width: float, height: float, dpi: int) -> None:
        super().__init__()
        self.figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
        self.figure.patch.set_alpha(0.0)
        self._agg = FigureCanvasAgg(self.figure)
        self._dpi = dpi
        self._size_hint = QSize(int(width * dpi), int(height * dpi))
        self._image: QImage | None = None
        self._lock = threading.Lock()
        self._changes: list[Callable[[], None]] = []
        self._requested = self._shown = 0
        self._scheduled = False
        self._drawn.connect(self._show)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt)
        return self._size_hint

    def is_drawn(self) -> bool:
        """Whether the image on screen shows every change made so far."""
        return self._shown == self._requested

    def _change(self, change: Callable[[], None] | None = None) -> None:
        """Queue ``change`` (run on the drawing thread) and a redraw."""
        with self._lock:
            if change is not None:
                self._changes.append(change)
            self._requested += 1
            if self._scheduled:
                return
            self._scheduled = True
        _DRAWING_THREAD.submit(self._draw)

    def _draw(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, []
            self._scheduled = False
            version = self._requested
        try:
            with short_gil_turns():
                for change in changes:
                    change()
                self._agg.draw()
        except Exception:  # the plot stays as it was; say why rather than fail silently
            _log.exception("could not draw %s", type(self).__name__)
            return
        rgba = self._agg.buffer_rgba()
        height, width = rgba.shape[:2]
        data = bytes(rgba)
        image = QImage(data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
        image.setDevicePixelRatio(self.figure.dpi / self._dpi)
        with contextlib.suppress(RuntimeError):  # the widget was deleted while drawing
            self._drawn.emit(image, version)

    def _show(self, image: QImage, version: int) -> None:
        self._image, self._shown = image, version
        self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        if self._image is not None:
            QPainter(self).drawImage(0, 0, self._image)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        ratio = self.devicePixelRatioF()
        width, height = event.size().width() / self._dpi, event.size().height() / self._dpi

        def resize() -> None:
            self.figure.set_dpi(self._dpi * ratio)
            self.figure.set_size_inches(max(width, 0.1), max(height, 0.1))

        self._change(resize)


_DRAWING_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vqmap-plots")


class LossPlot(_Canvas):
    """Training loss (left axis, log scale) and codebook perplexity (right axis) by step."""

    def __init__(self, width: float = 4.0, height: float = 2.4, dpi: int = 100) -> None:
        super().__init__(width, height, dpi)
        self.loss_axes = self.figure.add_subplot()
        self.ppl_axes = self.loss_axes.twinx()
        (self._loss_line,) = self.loss_axes.plot([], [], color=LOSS_COLOUR, lw=1.5)
        (self._ppl_line,) = self.ppl_axes.plot([], [], color=PERPLEXITY_COLOUR, lw=1.5)
        self.loss_axes.set_yscale("log")
        self.loss_axes.set_xlabel("step")
        for axes in (self.loss_axes, self.ppl_axes):
            _style(axes)
        self.loss_axes.set_ylabel("loss", color=LOSS_COLOUR)
        self.ppl_axes.set_ylabel("perplexity", color=PERPLEXITY_COLOUR)
        self.n_points = 0
        self._change()

    def set_data(
        self, steps: Sequence[float], loss: Sequence[float], perplexity: Sequence[float]
    ) -> None:
        """Replace the curves and rescale both axes."""
        steps, loss, perplexity = (np.array(v, float) for v in (steps, loss, perplexity))
        self.n_points = len(steps)

        def change() -> None:
            self._loss_line.set_data(steps, loss)
            self._ppl_line.set_data(steps, perplexity)
            for axes in (self.loss_axes, self.ppl_axes):
                axes.relim()
                axes.autoscale_view()

        self._change(change)

    def has_data(self) -> bool:
        """Whether any point has been plotted."""
        return self.n_points > 0


class UsagePlot(_Canvas):
    """Codebook usage: one bar per code of the type and of the subtype codebook, with the
    uniform share (every code used equally) as a dashed line."""

    CODEBOOKS = ("type", "subtype")

    def __init__(self, width: float = 4.0, height: float = 1.8, dpi: int = 100) -> None:
        super().__init__(width, height, dpi)
        self.axes = dict(zip(self.CODEBOOKS, self.figure.subplots(1, 2), strict=True))
        self.usage: dict[str, list[float]] = {}
        self._bars: dict[str, PolyCollection] = {}
        self._uniform: dict[str, Line2D] = {}
        for name, axes in self.axes.items():
            axes.set_title(f"{name}s", fontsize=8)
            axes.set_xlabel("code")
            _style(axes)
            self._bars[name] = axes.add_collection(PolyCollection([], linewidths=0))
            self._uniform[name] = axes.axhline(np.nan, color=INK, lw=1, ls="--")
            axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        self.axes["type"].set_ylabel("usage")
        self._change()

    def set_stats(self, stats: dict[str, dict[str, Any]]) -> None:
        """Show :meth:`~napari_vqmap.model.VQMAP.codebook_stats` (``{"type": {"usage":
        [...], "n_dead": n, ...}, "subtype": {...}}``).

        During the codebook warm-up (``initialised`` False) there are no codes yet: the
        titles say so and no bars are drawn."""
        usage = {n: np.asarray(stats.get(n, {}).get("usage", []), float) for n in self.axes}
        dead = {n: int(stats.get(n, {}).get("n_dead", 0)) for n in self.axes}
        titles = {n: f"{n}s: {dead[n]} unused" for n in self.axes}
        for n, s in stats.items():
            if n in self.axes and not s.get("initialised", True):
                usage[n] = np.zeros(0)
                titles[n] = f"{n}s: set at step {s.get('warmup', '?')}"
        self.usage = {n: u.tolist() for n, u in usage.items()}

        def change() -> None:
            for name, axes in self.axes.items():
                u, n = usage[name], len(usage[name])
                axes.set_title(titles[name], fontsize=8)
                left = np.arange(n) - 0.425
                right, zero = left + 0.85, np.zeros(n)
                corners = [(left, zero), (left, u), (right, u), (right, zero)]
                self._bars[name].set_verts(np.stack([np.stack(c, -1) for c in corners], 1))
                used = (u > 0.1 / max(n, 1))[:, None]
                self._bars[name].set_facecolors(np.where(used, _RGBA_USED, _RGBA_UNUSED))
                if n:
                    self._uniform[name].set_ydata([1 / n, 1 / n])
                    axes.set_xlim(-0.6, n - 0.4)
                    axes.set_ylim(0, max(float(u.max()), 1.5 / n) * 1.05)

        self._change(change)

    def has_data(self) -> bool:
        """Whether usage has been plotted."""
        return any(len(u) for u in self.usage.values())


class ConfusionPlot(_Canvas):
    """Row-normalised label x motif (or motif type) confusion matrix."""

    def __init__(self, width: float = 4.0, height: float = 3.0, dpi: int = 100) -> None:
        super().__init__(width, height, dpi)
        self.table = np.zeros((0, 0))
        self.clear()

    def set_table(
        self,
        counts: np.ndarray,
        rows: Sequence[str],
        columns: Sequence[str],
        xlabel: str = "motif",
    ) -> None:
        """Show ``counts`` (labels x columns) as the fraction of each label's frames."""
        counts = np.asarray(counts, float)
        table = self.table = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        rows, columns = list(rows), list(columns)

        def change() -> None:
            axes = self._fresh_axes()
            image = axes.imshow(
                table, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest"
            )
            small = 7 if len(columns) <= 24 else 5
            axes.set_yticks(range(len(rows)), rows, fontsize=8)
            axes.set_xticks(range(len(columns)), columns, rotation=90, fontsize=small)
            axes.set_xlabel(xlabel)
            bar = self.figure.colorbar(image, ax=axes, fraction=0.05, pad=0.02)
            bar.ax.tick_params(colors=INK, labelsize=7)
            bar.outline.set_edgecolor(INK)
            bar.set_label("fraction of label", color=INK, fontsize=8)

        self._change(change)

    def clear(self) -> None:
        """Remove the matrix."""
        self.table = np.zeros((0, 0))
        self._change(self._fresh_axes)

    def _fresh_axes(self) -> Axes:
        self.figure.clear()
        axes = self.figure.add_subplot()
        _style(axes)
        return axes

    def has_data(self) -> bool:
        """Whether a matrix is shown."""
        return self.table.size > 0
