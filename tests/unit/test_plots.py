"""The dock-widget plots: drawn off the GUI thread, shown once drawn, resized with the dock."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_vqmap.napari.plots import ConfusionPlot, LossPlot, UsagePlot


def _image(qtbot, plot) -> np.ndarray:
    """The RGBA image the plot paints, once every change has been drawn."""
    qtbot.waitUntil(plot.is_drawn, timeout=10000)
    image = plot._image
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).reshape(image.height(), image.width(), 4)


def test_loss_plot_draws_off_the_gui_thread(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(400, 240)
    plot.show()
    threads = []
    plot._change(lambda: threads.append(threading.current_thread()))
    steps = np.arange(1, 51)
    plot.set_data(steps, 0.3 * np.exp(-steps / 10) + 0.01, np.minimum(steps * 2, 90))
    assert plot.has_data()
    rgba = _image(qtbot, plot)
    assert threads and threads[0] is not threading.main_thread()
    assert rgba.shape[:2] == (240, 400)
    drawn = rgba[..., 3] > 0  # the figure is transparent: only ink is opaque
    assert 0.01 < drawn.mean() < 0.5
    rgb = rgba[drawn][:, :3].astype(int)
    orange = (rgb[:, 0] > 200) & (rgb[:, 2] < 100)  # the perplexity curve
    blue = (rgb[:, 2] > 200) & (rgb[:, 0] < 100)  # the loss curve
    assert orange.sum() > 50 and blue.sum() > 50

    plot.resize(300, 200)
    assert _image(qtbot, plot).shape[:2] == (200, 300)


def test_usage_plot_bars(qtbot):
    plot = UsagePlot()
    qtbot.addWidget(plot)
    plot.resize(400, 180)
    plot.show()
    usage = np.r_[np.full(7, 1 / 7), 0.0]
    plot.set_stats({"type": {"usage": usage, "n_dead": 1}, "subtype": {"usage": np.ones(4) / 4}})
    assert plot.usage["type"] == pytest.approx(usage.tolist()) and plot.has_data()
    rgba = _image(qtbot, plot)
    assert plot.axes["type"].get_title() == "types: 1 unused"
    rgb = rgba[rgba[..., 3] > 200][:, :3].astype(int)
    assert ((rgb[:, 2] > 200) & (rgb[:, 0] < 100)).sum() > 500  # blue bars


def test_usage_plot_during_the_codebook_warm_up_draws_no_bars(qtbot):
    plot = UsagePlot()
    qtbot.addWidget(plot)
    plot.resize(400, 180)
    plot.show()
    warm = {"usage": np.ones(8) / 8, "n_dead": 0, "initialised": False, "warmup": 100}
    plot.set_stats({"type": warm, "subtype": {**warm, "warmup": 200}})
    rgba = _image(qtbot, plot)
    assert not plot.has_data()
    assert plot.axes["type"].get_title() == "types: set at step 100"
    assert plot.axes["subtype"].get_title() == "subtypes: set at step 200"
    rgb = rgba[rgba[..., 3] > 200][:, :3].astype(int)
    assert ((rgb[:, 2] > 200) & (rgb[:, 0] < 100)).sum() == 0  # no blue bars


def test_a_failing_change_is_logged_and_later_changes_draw(qtbot, caplog):
    plot = ConfusionPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    plot.show()
    _image(qtbot, plot)

    def broken() -> None:
        raise ValueError("broken change")

    plot._change(broken)
    qtbot.waitUntil(lambda: "could not draw ConfusionPlot" in caplog.text, timeout=10000)
    plot.set_table(np.array([[3, 1], [0, 4]]), ["walk", "rest"], ["m0", "m1"])
    np.testing.assert_allclose(plot.table, [[0.75, 0.25], [0, 1]])
    rgba = _image(qtbot, plot)
    assert (rgba[..., 3] > 200).mean() > 0.2  # the matrix and its colour bar
    plot.clear()
    assert not plot.has_data()
    assert (_image(qtbot, plot)[..., 3] > 200).mean() < 0.1
