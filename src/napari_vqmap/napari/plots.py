"""Small matplotlib canvases for dock widgets, readable on napari's dark and light themes.

The figure is transparent and drawn in mid-grey and saturated colours, so the same plot
reads on either theme without listening to theme changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

INK = "#909090"  # text, ticks and spines: legible on dark and light backgrounds
LOSS_COLOUR = "#1f9bde"
PERPLEXITY_COLOUR = "#f28e2b"


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
