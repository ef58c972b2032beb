"""The Motifs dock widget on real recordings: ethogram, seeking, bouts, prototypes, names.

A SUBTLE 3D session (one mouse) is encoded with the bundled model (or, when this
installation has none, a tiny model trained here for a few steps), then browsed, renamed and
merged; the two-fly SLEAP clip checks one ethogram row per animal.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from napari.layers import Layer
from qtpy.QtCore import QPoint, Qt

from napari_vqmap.checkpoint import head_for, load_model
from napari_vqmap.colours import motif_palette
from napari_vqmap.encode import encode
from napari_vqmap.io import load_poses
from napari_vqmap.names import NAMES_FILE, MotifNames
from napari_vqmap.napari.convert import pose_layers
from napari_vqmap.napari.motif_layers import apply_motifs
from napari_vqmap.results import write_results
from tests.screenshots import save_screenshot

pytestmark = pytest.mark.gui
torch.set_num_threads(2)

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"
CLIP = "sleap-tests/clip.slp"
N = 4000


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The bundled model (its motifs spread over many codes, unlike a tiny test model's)."""
    from napari_vqmap.sample_data import bundled_model_dir

    return bundled_model_dir()


def _encoded(viewer, ds, model_dir: Path, results: Path | None) -> tuple:
    """Add ``ds``'s pose layers, encode, (write the results) and apply the motifs."""
    layers = [viewer.add_layer(Layer.create(*data)) for data in pose_layers(ds)]
    model, meta = load_model(model_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a skeleton the model has no head for
        result = encode(model, ds, meta)
    names = MotifNames(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))
    if results is not None:
        source = Path(ds.attrs["source_file"])
        write_results(result, ds, results, source, model_dir, {})
    apply_motifs(layers, result, names, results_dir=str(results) if results else None)
    points = next(la for la in layers if la._type_string == "points")
    return points, result


def _widget(viewer):
    dock, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Motifs")
    widget.dock = dock
    return widget


def test_subtle_session_seek_bouts_prototype_names(
    make_napari_viewer, data_dir, model_dir, qtbot, tmp_path
) -> None:
    viewer = make_napari_viewer(show=True)
    widget = _widget(viewer)
    assert widget.recording.count() == 0 and "Encode" in widget.status.text()
    assert widget.jump(1) is None and "Select" in widget.status.text()

    ds = load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20).isel(time=slice(0, N))
    points, result = _encoded(viewer, ds, model_dir, tmp_path)
    # the widget notices the encoding (feature change on an existing layer) by itself
    qtbot.waitUntil(lambda: widget.result is result, timeout=5000)
    assert widget.recording.currentText() == points.name
    assert widget.strip.n_time == N and widget.strip.labels == [str(result.individual[0].values)]
    assert widget.motif.shape == (N, 1)

    # clicking the strip seeks the viewer
    strip = widget.strip
    x = int(strip.x_at_index(2500))
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    expected = strip.index_at_x(x)
    assert abs(expected - 2500) <= N / strip.strip_width() + 1
    assert viewer.dims.current_step[0] == expected
    assert strip.index == expected

    # following the viewer only moves the marker (the cached image is not rebuilt)
    renders = strip.n_renders
    viewer.dims.set_point(0, 1234)
    assert strip.index == 1234 and strip.n_renders == renders
    assert "frame 1234" in widget.now.text()

    # the table lists used motifs under their types, most used first
    motif = widget.motif[:, 0]
    ids, counts = np.unique(motif[motif >= 0], return_counts=True)
    by_use = np.argsort(counts, kind="stable")  # two motifs may tie
    top = int(ids[by_use[-1]])
    assert widget.tree.topLevelItemCount() == len(np.unique(ids // widget.n_subtypes))
    row = widget.item_for("motif", top)
    assert row is not None and float(row.text(1)) == pytest.approx(
        100 * counts.max() / counts.sum(), abs=0.06
    )

    # next / previous bout of the selected motif
    widget.select("motif", top)
    assert widget.selected == ("motif", top)
    for _ in range(3):
        before = viewer.dims.current_step[0]
        widget.next_button.click()
        frame = viewer.dims.current_step[0]
        assert frame > before and motif[frame] == top and motif[frame - 1] != top
    widget.prev_button.click()
    back = viewer.dims.current_step[0]
    assert back < frame and motif[back] == top

    # the prototype of the selected motif is decoded in a worker and animated
    qtbot.waitUntil(lambda: widget.prototype.animating, timeout=20000)
    assert widget.protos is not None and widget.protos.poses.shape[2:] == (9, 3)

    # rename a motif and a type: saved to the names file, shown in the table and then, once
    # recoloured off the GUI thread, in the layers' features and motif-name text
    widget.item_for("motif", top).setText(0, "rear up")
    saved = MotifNames.load(tmp_path / NAMES_FILE)
    assert saved.motifs == {top: "rear up"}
    assert widget.item_for("motif", top).text(0) == "rear up"
    assert widget.recolouring
    qtbot.waitUntil(lambda: not widget.recolouring, timeout=20000)
    assert "rear up" in set(points.features["motif_name"].astype(str))
    assert "rear up" in set(points.text.values)
    assert points.metadata["motif_names"] is widget.names
    top_type = top // widget.n_subtypes
    widget.item_for("type", top_type).setText(0, "rearing")
    assert MotifNames.load(tmp_path / NAMES_FILE).types == {top_type: "rearing"}

    # merge the second most used motif into the top one while the rename above is still
    # being applied: recoloured with both, gone from the table
    second = int(ids[by_use[-2]])
    widget.merge(second, top)
    qtbot.waitUntil(lambda: not widget.recolouring, timeout=20000)
    shown = set(points.features["motif_name"].astype(str))
    assert any(name.startswith("rearing.") for name in shown)  # the type's other motifs
    assert MotifNames.load(tmp_path / NAMES_FILE).merge == {second: top}
    assert widget.item_for("motif", second) is None
    assert not (widget.motif == second).any()
    lut = motif_palette(widget.names.n_types, widget.n_subtypes)
    was_second = points.features["motif"].to_numpy() == top
    np.testing.assert_allclose(points.face_color[was_second], lut[[top] * was_second.sum()])
    assert (points.features["motif"] != second).all()

    # screenshot of the widget in use: the mouse in 3D, coloured by its current motif
    window = viewer.window._qt_window
    window.resize(1500, 900)
    window.resizeDocks([widget.dock], [430], Qt.Orientation.Horizontal)
    viewer.dims.ndisplay = 3
    widget.select("motif", top)
    widget.jump(1)
    here = points.data[points.data[:, 0] == viewer.dims.current_step[0]][:, 1:]
    viewer.camera.center = tuple(here.mean(axis=0))
    viewer.camera.angles = (0, -60, 60)
    viewer.camera.zoom = (
        0.5 * min(viewer.window._qt_viewer.canvas.size) / np.ptp(here, axis=0).max()
    )
    qtbot.waitUntil(lambda: widget.prototype.animating, timeout=20000)
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    save_screenshot(shot, "motifs_widget.png")


def test_two_flies_one_row_each_and_prototype_on_the_nearest_head(
    make_napari_viewer, data_dir, model_dir, qtbot
) -> None:
    viewer = make_napari_viewer(show=True)
    ds = load_poses(data_dir / CLIP)
    points, result = _encoded(viewer, ds, model_dir, None)
    widget = _widget(viewer)
    assert widget.result is result
    assert widget.strip.labels == [str(i) for i in ds["individual"].values]
    assert len(widget.strip.labels) == 2 and widget.strip.height() > 2 * 22
    assert widget.individual.count() == 3  # any + each fly

    # bouts of the chosen fly land on that fly's motif: its most used motif of those with
    # a bout after the current frame
    motif = widget.motif
    fly = 1
    seq = motif[:, fly]
    starts = np.flatnonzero((seq >= 0) & np.r_[True, seq[1:] != seq[:-1]])
    later = seq[starts[starts > widget.current_index()]]
    ids, counts = np.unique(seq[np.isin(seq, later)], return_counts=True)
    target = int(ids[counts.argmax()])
    widget.individual.setCurrentIndex(1 + fly)
    widget.select("motif", target)
    t = widget.jump(1)
    assert t is not None and motif[t, fly] == target
    assert viewer.dims.current_step[0] == widget.frames[t]

    # the model has no head for the fly skeleton: the prototype is decoded on the nearest
    # 2D head by body regions, and the title says so
    qtbot.waitUntil(lambda: widget.proto_worker is None, timeout=20000)
    assert widget.prototype.animating
    if head_for(load_model(model_dir)[1], ds["keypoint"].values, ds.sizes["space"]) is None:
        title = widget.proto_title.text()
        assert "head deepof14" in title and "nearest to fly13" in title, title
