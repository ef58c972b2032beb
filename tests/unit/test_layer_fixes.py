"""The skeleton extent cache: computed once per data, dropped when the data change, and
only for our pose layers."""

from __future__ import annotations

import numpy as np
import xarray as xr
from napari.layers import Vectors

from napari_vqmap.napari import layer_fixes


def _vectors(n: int, poses: bool) -> Vectors:
    data = np.zeros((n, 2, 3), np.float32)
    data[:, 0, 0] = np.arange(n)
    data[:, 0, 1:] = np.arange(2 * n).reshape(n, 2)
    data[:, 1, 1:] = 1.0
    return Vectors(data, metadata={"poses": xr.Dataset()} if poses else {})


def test_extent_is_cached_until_the_data_change(monkeypatch) -> None:
    assert layer_fixes.install()  # installed on import already; a second call is harmless
    layer = _vectors(100, poses=True)
    first = layer._extent_data
    np.testing.assert_allclose(first, [[0, 0, 1], [99, 199, 200]])
    calls = []
    original = np.max
    monkeypatch.setattr(np, "max", lambda *a, **k: calls.append(1) or original(*a, **k))
    for _ in range(3):
        np.testing.assert_allclose(layer._extent_data, first)  # no recomputation
    assert not calls
    first[:] = -1  # callers get copies
    assert layer._extent_data[1, 0] == 99
    monkeypatch.undo()
    layer.data = _vectors(10, poses=False).data  # new data: a new extent
    np.testing.assert_allclose(layer._extent_data, [[0, 0, 1], [9, 19, 20]])
    layer.length = 2.0
    np.testing.assert_allclose(layer._extent_data[1], [9, 20, 21])


def test_other_vectors_layers_are_left_to_napari() -> None:
    layer = _vectors(5, poses=False)
    assert layer._extent_data[1, 0] == 4
    assert "_napari_vqmap_extent" not in layer.__dict__


def test_only_the_names_reach_vispy() -> None:
    from vispy.scene.visuals import Text

    node = Text(
        ["", "walk", "", "groom"],
        pos=[[0, 0], [1, 1], [2, 2], [3, 3]],
        color=[[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 1, 1]],
    )
    layer_fixes.only_names(node)
    assert node.text == ["walk", "groom"]
    np.testing.assert_allclose(node.pos[:, :2], [[1, 1], [3, 3]])
    np.testing.assert_allclose(node.color.rgba, [[0, 1, 0, 1], [1, 1, 1, 1]])
    empty = Text(["", ""], pos=[[0, 0], [1, 1]], color="white")
    layer_fixes.only_names(empty)
    assert empty.text == [""] and len(empty.pos) == 1  # vispy needs one value


def test_motif_text_layers_draw_only_their_names(make_napari_viewer) -> None:
    """Through napari: a keypoints layer whose text is the motif name hands vispy only the
    non-empty strings; a layer without ``motif_text`` is left as napari draws it."""
    viewer = make_napari_viewer()
    data = np.array([[0, 1, 1], [0, 2, 2], [0, 3, 3]], np.float32)
    text = {"string": {"array": np.array(["", "rear", ""]), "default": ""}}
    ours = viewer.add_points(data, text=text, metadata={"motif_text": True, "poses": None})
    theirs = viewer.add_points(data, text=text)
    node_of = viewer.window._qt_viewer.canvas.layer_to_visual
    assert node_of[ours].node.text.text == ["rear"]
    assert list(node_of[theirs].node.text.text) == ["", "rear", ""]


def test_glyphs_are_kept_while_the_names_are_the_same() -> None:
    from vispy.scene.visuals import Text

    node = Text(["walk", "groom"], pos=[[0, 0], [1, 1]], color="white")
    node._vertices = glyphs = object()  # as after a draw
    before = layer_fixes.laid_out(node)
    node.text, node.pos = ["walk", "groom"], [[2, 2], [3, 3]]  # napari sets them each step
    node.color = "white"
    layer_fixes.keep_glyphs(node, before)
    assert node._vertices is glyphs and not node._color_changed and node._pos_changed
    before = layer_fixes.laid_out(node)
    node.text = ["walk", "rear"]  # a new name: laid out again
    layer_fixes.keep_glyphs(node, before)
    assert node._vertices is None
    assert layer_fixes.laid_out(node) is None  # nothing laid out yet


def test_frame_steps_leave_other_layers_to_napari(make_napari_viewer) -> None:
    """Only pose layers skip napari's per-step refresh; another Points layer still sends
    its events to the layer list on a frame step, and a pose layer does on a forced one."""
    viewer = make_napari_viewer()
    data = np.array([[0, 1, 1], [1, 2, 2], [2, 3, 3]], np.float32)
    viewer.add_points(data, name="theirs")
    ours = viewer.add_points(data, name="ours", metadata={"poses": xr.Dataset()})
    seen: list[tuple[str, str]] = []

    def record(event) -> None:
        index = getattr(event, "index", None)
        if isinstance(index, int):
            seen.append((viewer.layers[index].name, event.type))

    viewer.layers.events.connect(record)
    viewer.dims.set_point(0, 2)
    assert ("theirs", "set_data") in seen and ("theirs", "thumbnail") in seen
    assert not [kind for name, kind in seen if name == "ours"]
    node = viewer.window._qt_viewer.canvas.layer_to_visual[ours].node
    np.testing.assert_allclose(node.points_markers._data["a_position"][:, :2], [[3, 3]])
    seen.clear()
    ours.refresh()
    assert ("ours", "set_data") in seen and ("ours", "thumbnail") in seen


def test_motif_names_in_view_without_copying_every_name(monkeypatch) -> None:
    """napari copies a layer's whole manual string array before taking the strings in view;
    for motif-name layers with one string per point that identity is skipped, with the
    same strings in view."""
    from napari.layers import Points

    data = np.array([[0, 1, 1], [0, 2, 2], [1, 3, 3]], np.float32)
    text = {"string": {"array": np.array(["", "rear", "walk"]), "default": ""}}
    ours = Points(data, text=text, metadata={"motif_text": True})
    theirs = Points(data, text=text)
    applied: list[int] = []
    encoding = type(ours.text.string)
    original = encoding._apply
    monkeypatch.setattr(encoding, "_apply", lambda s, f: applied.append(1) or original(s, f))
    for layer in (ours, theirs):
        layer._slice_dims(_dims_at(0))
        assert list(layer._view_text) == ["", "rear"]
    assert len(applied) == 1  # theirs only
    ours.text.string = {"array": np.array(["", "rear"]), "default": ""}  # one short: napari's
    ours._slice_dims(_dims_at(1))
    assert list(ours._view_text) == [""] and len(applied) == 2


def _dims_at(frame: int):
    from napari.components import Dims

    return Dims(ndim=3, ndisplay=2, point=(frame, 0, 0))
