"""Playing a recording through the plugin route (issue 26): the two flies of ``clip.slp``
with ``clip.mp4``, opened with the plugin's reader, encoded by the Encode widget docked
from the manifest, then stepped frame by frame as napari's play button does. The pose
layers then take :mod:`napari_vqmap.napari.frame_steps`' path, which must draw what
napari's own refresh draws: each fly's skeleton in its motif's colour at the current frame,
the motif names, the selection highlight; the layer list and thumbnails catch up when
the frames stop."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from qtpy.QtWidgets import QApplication

from napari_vqmap.colours import motif_palette
from napari_vqmap.napari import frame_steps
from napari_vqmap.napari.motif_layers import find_motif_layers

pytestmark = pytest.mark.gui
torch.set_num_threads(1)

CLIP = "sleap-tests/clip"
FIRST = 700
PER_STEP = ("set_data", "thumbnail", "highlight", "_extent_augmented")


def _encoded_fly(make_napari_viewer, qtbot, data_dir: Path):
    """A shown viewer with the fly video and poses, encoded through the docked Encode
    widget; returns (viewer, points, skeleton)."""
    from napari_vqmap.sample_data import bundled_model_dir

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1200, 800)
    viewer.open(str(data_dir / f"{CLIP}.mp4"), plugin="napari-vqmap")
    viewer.open(str(data_dir / f"{CLIP}.slp"), plugin="napari-vqmap")
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Encode")
    widget.model_dir.setText(str(bundled_model_dir()))
    widget.save.setChecked(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no head for the fly skeleton
        widget.start()
        qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    ((points, skeleton),) = find_motif_layers(viewer)
    qtbot.waitUntil(lambda: points.text.visible, timeout=10_000)  # names shown last
    return viewer, points, skeleton


def _play(viewer, frames) -> None:
    for frame in frames:
        viewer.dims.set_point(0, frame)
        QApplication.processEvents()


def _zoom_on(viewer, points, frame: int) -> None:
    xy = points.data[points.data[:, 0] == frame, 1:]
    viewer.camera.center = tuple((xy.min(axis=0) + xy.max(axis=0)) / 2)
    viewer.camera.zoom = 0.7 * min(viewer.window._qt_viewer.canvas.size) / np.ptp(xy, axis=0).max()


def _source(viewer, event) -> tuple[str | None, str]:
    """(layer name, event type) of a layer event the layer list re-emits."""
    index = getattr(event, "index", None)
    return (viewer.layers[index].name if isinstance(index, int) else None), event.type


def _selected(vispy_layer) -> int:
    """How many points the vispy layer highlights as selected."""
    data = vispy_layer.node.selection_markers._data
    return 0 if data is None else len(data)


def _shot(viewer) -> np.ndarray:
    return viewer.screenshot(canvas_only=True, flash=False)


def test_frame_steps_draw_what_napari_draws(make_napari_viewer, qtbot, data_dir: Path) -> None:
    viewer, points, skeleton = _encoded_fly(make_napari_viewer, qtbot, data_dir)
    video = viewer.layers["clip"]
    result = points.metadata["motifs"]
    kind = result["motif_type"].values[FIRST:]  # a frame where the flies' motif types differ
    last = FIRST + int(np.argmax((kind[:, 0] != kind[:, 1]) & (kind >= 0).all(1)))
    _play(viewer, [last - 12])
    _zoom_on(viewer, points, last)
    QApplication.processEvents()
    seen: list[tuple[str, str]] = []
    viewer.layers.events.connect(lambda e: seen.append(_source(viewer, e)))
    thumbnail = skeleton.thumbnail.copy()

    _play(viewer, range(last - 11, last + 1))
    # the pose layers' per-step events reached the canvas only; the video's went as usual
    ours = [(name, kind) for name, kind in seen if name != video.name and kind in PER_STEP]
    assert ours == [], ours
    assert (video.name, "set_data") in seen
    assert np.array_equal(skeleton.thumbnail, thumbnail)  # not yet: playing
    # the canvas shows the current frame as napari's own full refresh draws it
    stepped = _shot(viewer)
    for layer in (skeleton, points):
        layer.refresh()
    np.testing.assert_array_equal(stepped, _shot(viewer))
    # each fly's skeleton in its motif's colour (RGB), at this frame
    here = skeleton.data[:, 0, 0] == last
    colours = np.unique((skeleton.edge_color[here, :3] * 255).astype(int), axis=0)
    lut = motif_palette(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))
    frames = points.metadata["poses"]["frame"].values
    motifs = result["motif"].values[np.flatnonzero(frames == last)[0]]
    np.testing.assert_array_equal(colours, np.unique((lut[motifs, :3] * 255).astype(int), axis=0))
    for colour in colours:
        near = np.abs(stepped[..., :3].astype(int) - colour).sum(axis=-1) < 60
        assert near.sum() > 10, f"no skeleton pixel in motif colour {colour}"
    # the names in view are the flies' motif names at this frame
    node = viewer.window._qt_viewer.canvas.layer_to_visual[points].node.text
    names = points.metadata["motif_names"]
    assert sorted(node.text) == sorted(names.name(int(m)) for m in names.apply(motifs))

    # when the frames stop, the thumbnails catch up, once per layer
    seen.clear()
    qtbot.waitUntil(lambda: (skeleton.name, "thumbnail") in seen, timeout=5_000)
    qtbot.wait(2 * frame_steps.THUMBNAIL_DELAY_MS)
    assert seen.count((skeleton.name, "thumbnail")) == 1
    assert seen.count((points.name, "thumbnail")) == 1
    expected = skeleton.thumbnail.copy()
    skeleton._update_thumbnail()
    np.testing.assert_array_equal(skeleton.thumbnail, expected)


def test_selection_and_names_follow_the_frames(make_napari_viewer, qtbot, data_dir: Path) -> None:
    viewer, points, _ = _encoded_fly(make_napari_viewer, qtbot, data_dir)
    vispy_points = viewer.window._qt_viewer.canvas.layer_to_visual[points]
    _play(viewer, [FIRST])
    # a selected point is highlighted at its frame only, as napari does
    index = int(np.flatnonzero(points.data[:, 0] == FIRST)[0])
    points.mode = "select"
    points.selected_data = {index}
    QApplication.processEvents()
    assert _selected(vispy_points) == 1
    _play(viewer, [FIRST + 1])
    assert _selected(vispy_points) == 0
    _play(viewer, [FIRST + 2, FIRST])
    assert _selected(vispy_points) == 1
    assert points.selected_data == {index}
    # moving the selected point still works and is drawn there
    points.data[index, 1:] += 5.0
    points.data = points.data
    QApplication.processEvents()
    np.testing.assert_allclose(
        vispy_points.node.selection_markers._data["a_position"][0, :2],
        points.data[index, :0:-1],
    )
    points.selected_data = set()

    # the names' glyphs are laid out again only when the names change
    result, names = points.metadata["motifs"], points.metadata["motif_names"]
    motif = names.apply(result["motif"].values)
    same = np.flatnonzero((motif[1:] == motif[:-1]).all(1) & (motif[1:] >= 0).all(1))
    changes = np.flatnonzero((motif[1:] != motif[:-1]).any(1) & (motif[1:] >= 0).all(1))
    frames = points.metadata["poses"]["frame"].values
    text = vispy_points.node.text
    for t in (same[same > 100][0], changes[changes > 100][0]):
        _play(viewer, [frames[t]])
        glyphs = text._vertices
        _play(viewer, [frames[t + 1]])
        assert sorted(text.text) == sorted(names.name(int(m)) for m in motif[t + 1])
        assert (text._vertices is glyphs) == (t in same)


def test_3d_frame_steps_draw_what_napari_draws(make_napari_viewer, data_dir: Path) -> None:
    from napari_vqmap.sample_data import subtle_paths

    viewer = make_napari_viewer(show=True)
    skeleton, points = viewer.open(subtle_paths()[0], plugin="napari-vqmap")
    assert viewer.dims.ndisplay == 3
    _play(viewer, range(100, 106))
    stepped = _shot(viewer)
    for layer in (skeleton, points):
        layer.refresh()
    np.testing.assert_array_equal(stepped, _shot(viewer))
    # back to 2D: napari's own slicing, then steps again
    viewer.dims.ndisplay = 2
    _play(viewer, range(106, 110))
    stepped = _shot(viewer)
    for layer in (skeleton, points):
        layer.refresh()
    np.testing.assert_array_equal(stepped, _shot(viewer))
