"""The Train dock widget on real pose files: listing, training, cancel, errors, screenshot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_vqmap.napari._train_widget import TrainWidget
from napari_vqmap.training import quick_config
from tests.screenshots import save_screenshot

pytestmark = pytest.mark.gui
torch.set_num_threads(2)

VAME = "vame-tests/cropped_video.csv"
SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"


def _widget(viewer, out: Path, steps: int, window: int = 32) -> TrainWidget:
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Train")
    widget.window_spin.setValue(window)
    widget.steps.setValue(steps)
    widget.batch_size.setValue(8)
    widget.device.setCurrentText("cpu")
    widget.out_dir.setText(str(out))
    return widget


def _wait_done(qtbot, widget: TrainWidget, timeout: int = 60000) -> None:
    qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout)


def _ticking(ticks: list[int]):
    """A 20 ms QTimer that records each tick (evidence the GUI thread is free)."""
    from qtpy.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    return timer


def test_quick_config_keeps_choices() -> None:
    config = quick_config(32, 4, 6, 50, 16, "cpu", 3)
    assert (config.model.window, config.model.n_types, config.model.n_subtypes) == (32, 4, 6)
    assert (config.steps, config.batch_size, config.device, config.seed) == (50, 16, "cpu", 3)
    assert config.model.codebook_warmup == 10  # a short run still sets its codes
    assert quick_config(32, 4, 6, 5000, 16, "cpu", 3).model.codebook_warmup == 100
    with pytest.raises(ValueError, match="divisible"):
        quick_config(30, 4, 6, 50, 16, "cpu", 3)


def test_two_skeletons_train_and_screenshot(make_napari_viewer, data_dir, qtbot, tmp_path):
    """2D DLC + 3D SUBTLE layers: both listed with their skeletons; 5 steps write a model."""
    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / SUBTLE, plugin="napari-vqmap")
    viewer.open(data_dir / VAME.replace(".csv", ".mp4"), plugin="napari-vqmap")
    viewer.open(data_dir / VAME, plugin="napari-vqmap")
    out = tmp_path / "model"
    widget = _widget(viewer, out, steps=5)
    names = widget.layer_list.names()
    assert len(names) == 2 and names == widget.layer_list.selected()
    assert "young_8301" in names[0] and "cropped_video" in names[1]
    summary = widget.summary.text()
    assert "subtle" in summary and "3D" in summary and "2D" in summary and "centre:" in summary

    ticks = []
    timer = _ticking(ticks)
    widget.start_button.click()
    assert widget.worker is not None and not widget.start_button.isEnabled()
    _wait_done(qtbot, widget)
    timer.stop()
    assert (out / "model.safetensors").is_file()
    assert json.loads((out / "train_state.json").read_text())["completed"] is True
    assert widget.progress_bar.value() == widget.progress_bar.maximum() == 5
    assert widget.plot.has_data() and len(widget.history) == 5
    # a short run sets its codes early (codebook warm-up scaled to the steps)
    assert widget.history[-1]["codebook"]["subtype"]["initialised"]
    assert np.isfinite(widget.history[-1]["perplexity"]) and widget.usage_plot.has_data()
    assert str(out) in widget.status.text() and "saved" in widget.status.text()
    assert len(ticks) >= 3  # the event loop kept running while training
    assert widget.start_button.isEnabled() and not widget.cancel_button.isEnabled()

    viewer.window._qt_window.resize(1500, 1450)
    for layer in viewer.layers[:2]:  # the 3D SUBTLE layers: show the 2D video + poses
        layer.visible = False
    viewer.dims.ndisplay = 2
    viewer.layers.selection.active = viewer.layers[-1]
    viewer.reset_view()
    viewer.dims.set_point(0, 300)
    qtbot.wait(50)  # the resize reaches the plots, which redraw in their thread
    for plot in (widget.plot, widget.usage_plot):
        qtbot.waitUntil(plot.is_drawn, timeout=10000)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    save_screenshot(shot, "train_widget.png")
    # the last step's row says that the final codebook refit comes next (about 20 s at
    # batch 64 on 2 cores); the model's own status replaced it once saved
    widget._on_progress(widget.history[-1])
    assert widget.status.text() == "Last step done; refitting the codebooks…"


def test_cancel_leaves_resumable_checkpoint(make_napari_viewer, data_dir, qtbot, tmp_path):
    """Cancel on a 10,000-step run stops early and leaves train_state.json to resume from."""
    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / VAME, plugin="napari-vqmap")
    out = tmp_path / "model"
    widget = _widget(viewer, out, steps=10_000)
    ticks = []
    timer = _ticking(ticks)
    widget.start_button.click()
    qtbot.waitUntil(lambda: len(widget.history) >= 2, timeout=60000)
    widget.cancel_button.click()
    _wait_done(qtbot, widget)
    timer.stop()
    state = json.loads((out / "train_state.json").read_text())
    assert 0 < state["step"] < 1000 and state["completed"] is False
    assert (out / "model.safetensors").is_file()
    assert "Stopped" in widget.status.text() and str(out) in widget.status.text()
    assert widget.progress_bar.value() < widget.progress_bar.maximum() == 10_000
    assert len(ticks) >= 2


def test_training_error_shows_in_status(
    make_napari_viewer, data_dir, qtbot, tmp_path, monkeypatch
):
    """An output "folder" that is a file fails in the worker; status and notification say so."""
    seen: list[str] = []
    monkeypatch.setattr("napari_vqmap.napari._train_widget.show_error", seen.append)
    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / VAME, plugin="napari-vqmap")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    widget = _widget(viewer, blocker, steps=2)
    widget.start_button.click()
    _wait_done(qtbot, widget)
    assert "Training failed" in widget.status.text()
    assert seen == [widget.status.text()]  # also a napari notification
    assert widget.start_button.isEnabled()


def test_nothing_ticked_is_refused(make_napari_viewer, data_dir, qtbot, tmp_path):
    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / VAME, plugin="napari-vqmap")
    widget = _widget(viewer, tmp_path / "model", steps=5)
    widget.layer_list.set_selected([])
    assert widget.layer_list.selected() == []
    widget.start_button.click()
    assert widget.worker is None and "Tick at least one" in widget.status.text()


def test_edited_mapping_is_trained_saved_and_exported(
    make_napari_viewer, data_dir, qtbot, tmp_path
):
    """Edit a region and an anchor of the VAME skeleton: the dataset handed to training
    carries them (and so does the trained model's head), the YAML loads back, the usage
    plot shows both codebooks and Save model copies the folder."""
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.io import skeleton_of
    from napari_vqmap.skeletons import load_skeleton_yaml

    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / VAME, plugin="napari-vqmap")
    out = tmp_path / "model"
    widget = _widget(viewer, out, steps=4)
    widget.n_types.setValue(4)
    widget.n_subtypes.setValue(3)
    editor = widget.editor
    ds = viewer.layers[-1].metadata["poses"]
    assert editor.layer_combo.currentText() == widget.layer_list.selected()[0]
    assert editor.region_combo("Nose").currentText() == "head"
    assert editor.anchors["centre"].currentText() == "Nose, Tailroot"

    editor.region_combo("Nose").setCurrentText("trunk")
    editor.anchors["centre"].setCurrentText("Tailroot")
    sk = skeleton_of(ds)
    assert sk.region_of("Nose") == "trunk" and sk.centre == ("Tailroot",)
    assert sk.name == "vame6_edited" and "vame6_edited" in widget.summary.text()

    saved = editor.save(tmp_path / "vame_mine.yaml")
    assert load_skeleton_yaml(saved) == sk

    seen = []
    from napari_vqmap.napari import _train_widget

    real_train = _train_widget.train

    def spy(datasets, *args, **kwargs):
        seen.extend(skeleton_of(d) for d in datasets)
        return real_train(datasets, *args, **kwargs)

    _train_widget.train = spy
    try:
        widget.start_button.click()
        assert not editor.isEnabled()  # no edits while training reads the skeletons
        _wait_done(qtbot, widget)
    finally:
        _train_widget.train = real_train
    assert seen == [sk]
    _, meta = load_model(out)
    head = meta["heads"]["vame6_edited"]["skeleton"]
    assert head["regions"]["Nose"] == "trunk" and head["centre"] == ["Tailroot"]
    assert widget.usage_plot.has_data()
    # 4 types, each with its own 3 subtype codes
    assert [len(widget.usage_plot.usage[c]) for c in ("type", "subtype")] == [4, 12]
    assert sum(widget.usage_plot.usage["type"]) == pytest.approx(1, abs=1e-4)

    assert widget.save_model_button.isEnabled()
    copy = widget.save_model(tmp_path / "exported")
    assert load_model(copy)[1]["heads"].keys() == meta["heads"].keys()
    assert str(copy) in widget.status.text()

    editor.reset()
    assert skeleton_of(ds).name == "vame6" and skeleton_of(ds).centre == ("Nose", "Tailroot")
    assert editor.anchors["centre"].currentText() == "Nose, Tailroot"


def test_pose_files_train_without_layers(make_napari_viewer, data_dir, qtbot, tmp_path):
    """Add pose files: two SUBTLE sessions are listed (ticked) beside the open DLC layer and
    trained on together; a truncated file is named in the status line and not added; the
    same file is listed once."""
    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / VAME, plugin="napari-vqmap")
    out = tmp_path / "model"
    widget = _widget(viewer, out, steps=3)
    sessions = sorted((data_dir / "subtle-avatar-3d/y3a6/coords").glob("*.csv"))[:2]
    broken = tmp_path / "broken.h5"
    broken.write_bytes((data_dir / "deepof-tests/testDLC_h5_table_madlc.h5").read_bytes()[:5000])
    widget.add_files([*sessions, broken])
    qtbot.waitUntil(lambda: widget.files_worker is None, timeout=30000)
    labels = [f"coords/{p.name}" for p in sessions]
    assert widget.layer_list.names()[1:] == labels and widget.layer_list.selected()[1:] == labels
    assert "Added 2 pose file(s)" in widget.status.text() and "broken.h5" in widget.status.text()
    assert len(viewer.layers) == 2  # no layers were made for the files
    assert "coords/" in widget.summary.text() and "subtle" in widget.summary.text()
    widget.add_files(sessions[:1])  # already listed: nothing happens
    assert widget.files_worker is None and len(widget.layer_list.names()) == 3

    widget.start_button.click()
    _wait_done(qtbot, widget)
    from napari_vqmap.checkpoint import load_model

    _, meta = load_model(out)
    assert set(meta["heads"]) == {"subtle", "vame6"} and len(widget.history) == 3
    trained_on = {Path(i["path"]).name for i in meta["inputs"]}
    assert trained_on == {"cropped_video.csv", *(p.name for p in sessions)}
