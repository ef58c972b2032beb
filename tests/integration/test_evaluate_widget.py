"""The Evaluate dock widget on a real SUBTLE session encoded by a tiny model, scored against
its real annotation csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from napari_vqmap.analysis.metrics import read_labels, scores
from napari_vqmap.checkpoint import load_model
from napari_vqmap.encode import encode
from napari_vqmap.io import load_poses
from napari_vqmap.names import MotifNames
from napari_vqmap.napari._evaluate_widget import (
    COLUMNS,
    METRICS,
    EvaluateWidget,
    confusion_view,
    encoded_layers,
)
from napari_vqmap.napari.motif_layers import apply_motifs
from napari_vqmap.sample_data import bundled_model_dir
from tests.screenshots import save_screenshot

pytestmark = pytest.mark.gui
torch.set_num_threads(2)

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"
LABELS = "subtle-avatar-3d/y5a5/annots/young_8301.csv"


@pytest.fixture(scope="module")
def encoded(data_dir: Path):
    """(poses, encode result) of the whole session, by the bundled (small) model."""
    poses = load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20)
    model, meta = load_model(bundled_model_dir())
    return poses, encode(model, poses, meta)


def _viewer_with(make_napari_viewer, data_dir: Path, result):
    """A viewer with the session's pose layers carrying the encoding (the motif contract)."""
    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / SUBTLE, plugin="napari-vqmap")
    apply_motifs(list(viewer.layers), result)
    return viewer


def _evaluate(qtbot, widget: EvaluateWidget, labels: Path) -> None:
    widget.labels_path.setText(str(labels))
    widget.run_button.click()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30000)


def test_scores_shown_equal_evaluate_scores(make_napari_viewer, data_dir, qtbot, encoded) -> None:
    """Real annotation csv: every number in the table is evaluate.scores on the same frames
    (label 'na' and unencoded frames left out); the confusion matrix is drawn."""
    poses, result = encoded
    viewer = _viewer_with(make_napari_viewer, data_dir, result)
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Evaluate")
    assert list(encoded_layers(viewer)) == [viewer.layers[-1].name]
    assert widget.layer_combo.count() == 1
    _evaluate(qtbot, widget, data_dir / LABELS)

    labels = read_labels(data_dir / LABELS)
    motif = result["motif"].values[:, 0]
    keep = (labels != "na") & (motif >= 0)
    n_sub = int(result.attrs["n_subtypes"])
    for level, clusters in (("motif", motif), ("type", motif // n_sub)):
        expected = scores(labels[keep], clusters[keep])
        for key, _ in METRICS:
            assert widget.metric(key, level) == pytest.approx(expected[key], abs=5e-4)
            assert widget.report[level][key] == expected[key]
    assert widget.report["scored_frames"] == keep.sum() > 6000
    assert f"{keep.sum()} of {len(labels)} frames scored" in widget.status.text()

    assert widget.plot.has_data()
    table = widget.plot.table  # row-normalised: labels x motif types
    assert table.shape == (4, len(np.unique(motif[keep] // n_sub)))
    np.testing.assert_allclose(table.sum(1), 1)
    widget.columns.setCurrentText(COLUMNS[1])  # labels x top motifs
    assert widget.plot.table.shape[0] == 4 and widget.plot.table.shape[1] <= 20

    viewer.window._qt_window.resize(1400, 950)
    viewer.dims.ndisplay = 3
    viewer.dims.set_point(0, 4000)
    points = viewer.layers[-1].data
    pose = points[points[:, 0] == 4000, 1:]  # the mouse at frame 4000: centre the camera on it
    viewer.camera.center = tuple(np.nanmean(pose, axis=0))
    viewer.camera.angles = (0, 35, 70)
    viewer.camera.zoom = 300 / np.nanmax(np.ptp(pose, axis=0))
    qtbot.wait(50)  # the resize reaches the plot, which redraws in its thread
    qtbot.waitUntil(widget.plot.is_drawn, timeout=10000)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    save_screenshot(shot, "evaluate_widget.png")


def test_labels_of_another_length_give_a_message(
    make_napari_viewer, data_dir, qtbot, encoded, tmp_path
) -> None:
    """A labels file of the wrong length (the real csv cut to 500 frames) -> message, no crash;
    a good file afterwards still works."""
    _, result = encoded
    viewer = _viewer_with(make_napari_viewer, data_dir, result)
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Evaluate")
    short = tmp_path / "short.csv"
    short.write_text("\n".join((data_dir / LABELS).read_text().splitlines()[:501]) + "\n")
    _evaluate(qtbot, widget, short)
    text = widget.status.text()
    assert "Cannot evaluate" in text and "500 labelled frames" in text and "11986" in text
    assert widget.report is None and not widget.plot.has_data()
    assert widget.run_button.isEnabled()

    _evaluate(qtbot, widget, tmp_path / "missing.csv")
    assert "Cannot evaluate" in widget.status.text()

    _evaluate(qtbot, widget, data_dir / LABELS)
    assert widget.report is not None and widget.plot.has_data()


def test_no_encoded_layer_or_no_file_is_explained(make_napari_viewer, data_dir, qtbot) -> None:
    viewer = make_napari_viewer(show=True)
    viewer.open(data_dir / SUBTLE, plugin="napari-vqmap")
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Evaluate")
    widget.run_button.click()
    assert widget.worker is None and "No encoded pose layer" in widget.status.text()


def test_plain_per_frame_csv_and_top_motif_columns(encoded, data_dir, tmp_path) -> None:
    """The real labels rewritten as a plain csv (frame, behaviour; shuffled rows) score like
    the SUBTLE file; the top-motif view keeps the motifs with most frames."""
    import pandas as pd

    from napari_vqmap.analysis.metrics import evaluate_result, read_label_table

    _, result = encoded
    labels = read_labels(data_dir / LABELS)
    plain = tmp_path / "plain.csv"
    table = pd.DataFrame({"frame": np.arange(len(labels)), "behaviour": labels})
    table.sample(frac=1, random_state=0).to_csv(plain, index=False)
    report = evaluate_result(result, read_label_table(plain), ["na"])
    subtle = evaluate_result(result, read_label_table(data_dir / LABELS), ["na"])
    assert report["motif"] == subtle["motif"] and report["type"] == subtle["type"]
    names = MotifNames(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))
    counts, rows, cols, _ = confusion_view(report, COLUMNS[1], names, top=3)
    assert rows == ["grooming", "rearing", "standing", "walking"]
    assert len(cols) == 3 == counts.shape[1]
    assert counts.sum() == np.sort(report["motif_confusion"][2].sum(0))[-3:].sum()
