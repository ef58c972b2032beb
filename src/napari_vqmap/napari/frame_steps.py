"""Frame steps of the pose layers without napari's per-layer redraw of everything else.

On each frame step napari re-slices every layer and then, for each one, clears its extent,
emits ``set_data``, recomputes its thumbnail and emits ``highlight``. Each of these events
also reaches the layer list, which repaints the layer's row, and on ``set_data`` napari's
vispy layer resets its whole state (blending, transform, clipping planes, shading,
highlight) besides the new markers or mesh. For a recording's two pose layers that was
about 8 ms of a 2D playback step under software OpenGL, half again the cost of drawing the
skeletons and names themselves (see ``docs/benchmarks.md``, "napari: playback").

:func:`install` wraps napari's ``Layer._slice_dims`` so that, for our pose layers (those
with ``metadata["poses"]``) and a step that only moves along axes not displayed (the
frame; same 2D/3D view, same axis order), napari slices as usual (same points in view,
text, selection state) and then:

* the canvas gets ``set_data`` and updates the markers or mesh and the text, without
  resetting state a frame step does not change (the layer list does not get the event);
* the selection highlight is redrawn only when there is one, or was one before the step;
* the data extent stays cached (it does not depend on the frame);
* the thumbnail is updated once the frames stop changing (:data:`THUMBNAIL_DELAY_MS`
  after the last step), not on every step;
* the rows of the new frame are found by a binary search in the layer's frame column
  (sorted as :mod:`~napari_vqmap.napari.convert` builds it; kept until the data change),
  not by napari's mask over every row, so a step's cost does not grow with the recording.

Anything else (forced refreshes, a 2D/3D switch, napari's asynchronous slicing, other
layers) goes through napari unchanged. Installed by
:func:`napari_vqmap.napari.layer_fixes.install`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from napari_vqmap.napari.vispy_fixes import patch_once

THUMBNAIL_DELAY_MS = 300
_TIMER = "_napari_vqmap_thumbnail_timer"
_INDEX = "_napari_vqmap_frame_index"
_stepping: Any = None  # the layer being stepped (read by the vispy layers' handlers)
_frames: tuple[Any, np.ndarray] | None = None  # (data, sorted frame column) being sliced


def install() -> bool:
    """Wrap napari's ``Layer._slice_dims`` and the vispy Points and Vectors layers'
    ``_on_data_change`` once; False if this napari lacks them."""
    try:
        from napari._vispy.layers.points import VispyPointsLayer
        from napari._vispy.layers.vectors import VispyVectorsLayer
        from napari.layers.base.base import Layer
        from napari.layers.points._slice import _PointSliceRequest
        from napari.layers.vectors._slice import _VectorSliceRequest
    except ImportError:
        return False
    return (
        patch_once(Layer, "_slice_dims", _wrap_slice_dims)
        & patch_once(VispyPointsLayer, "_on_data_change", _wrap_points_data)
        & patch_once(VispyVectorsLayer, "_on_data_change", _wrap_vectors_data)
        & patch_once(_PointSliceRequest, "_get_slice_data", _wrap_slice_data)
        & patch_once(_VectorSliceRequest, "_get_slice_data", _wrap_slice_data)
    )


def is_pose_layer(layer: Any) -> bool:
    """Whether ``layer`` shows a pose dataset (a reader's keypoints or skeleton layer)."""
    return "poses" in layer.metadata


def _wrap_slice_dims(original: Callable[..., None]) -> Callable[..., None]:
    def _slice_dims(self: Any, dims: Any, force: bool = False) -> None:
        if force or not is_pose_layer(self) or _async_slicing():
            return original(self, dims, force)
        state = self._slicing_state
        new, old = state.make_slice_input(dims), state._slice_input
        if (new.ndisplay, new.order) != (old.ndisplay, old.order):
            return original(self, dims, force)
        global _frames
        highlighted = _highlighted(self)  # as drawn, before slicing recomputes it
        _frames = frame_index(self)
        try:
            changed = state.set_slice_input_from_dims(dims, False)
        finally:
            _frames = None
        if changed and self.visible:
            step(self, highlighted or _highlighted(self))
        return None

    return _slice_dims


def _async_slicing() -> bool:
    from napari.settings import get_settings

    return bool(get_settings().experimental.async_)


def step(layer: Any, highlight: bool = True) -> None:
    """After ``layer`` was sliced to a new frame: update the canvas (not the layer list),
    the highlight if ``highlight``, and the thumbnail later."""
    global _stepping
    _stepping = layer
    try:
        with layer.events.blocker():  # the layer's event group: the layer list's copies
            layer.events.set_data()
            if highlight:
                layer._set_highlight(force=True)
    finally:
        _stepping = None
    thumbnail_later(layer)


def _highlighted(layer: Any) -> bool:
    """Whether the layer highlights anything (selected or hovered points, a selection
    box)."""
    index = getattr(layer, "_highlight_index", ())
    return len(index) > 0 or getattr(layer, "_highlight_box", None) is not None


def thumbnail_later(layer: Any) -> None:
    """Update ``layer``'s thumbnail :data:`THUMBNAIL_DELAY_MS` after the last call (at once
    without a Qt application)."""
    timer = layer.__dict__.get(_TIMER)
    if timer is None:
        from qtpy.QtCore import QCoreApplication, QTimer

        if QCoreApplication.instance() is None:
            layer._update_thumbnail()
            return
        timer = QTimer()
        timer.setSingleShot(True)
        timer.setInterval(THUMBNAIL_DELAY_MS)
        ref = weakref.ref(layer)

        def update() -> None:
            alive = ref()
            if alive is not None:
                alive._update_thumbnail()

        timer.timeout.connect(update)
        layer.__dict__[_TIMER] = timer
    timer.start()


def frame_index(layer: Any) -> tuple[Any, np.ndarray] | None:
    """``(data, frames)``: the layer's frame column (first coordinate) as float64 when it
    is sorted, kept until the data change; ``None`` when it is not sorted."""
    data = layer.data
    cached = layer.__dict__.get(_INDEX)
    if cached is not None and cached[0] is data:
        return None if cached[1] is None else cached
    if cached is None:  # first use: drop the index when the data change (also in place)
        ref = weakref.ref(layer)

        def forget(event: Any = None) -> None:
            alive = ref()
            if alive is not None:
                alive.__dict__[_INDEX] = (None, None)

        layer.events.data.connect(forget)
    frames = np.asarray(data[:, 0, 0] if data.ndim == 3 else data[:, 0], np.float64)
    ordered = frames.size > 0 and bool(np.all(frames[1:] >= frames[:-1]))
    layer.__dict__[_INDEX] = (data, frames if ordered else None)
    return (data, frames) if ordered else None


def _wrap_slice_data(original: Callable[..., Any]) -> Callable[..., Any]:
    """napari's ``_get_slice_data`` of a Points or Vectors slice request, by binary search
    in the frame column being sliced when only the frame axis is not displayed."""

    def _get_slice_data(self: Any, not_disp: list[int]) -> tuple[np.ndarray, Any]:
        if (
            _frames is None
            or _frames[0] is not self.data
            or list(not_disp) != [0]
            or str(self.projection_mode) != "none"
        ):
            return original(self, not_disp)
        point = float(self.data_slice[not_disp].as_array()[0][0])
        # napari's slab for a thin slice: [point - 0.5, point + 0.5], ends included
        first = int(np.searchsorted(_frames[1], point - 0.5, "left"))
        end = int(np.searchsorted(_frames[1], point + 0.5, "right"))
        rows = np.arange(first, end)
        if hasattr(self, "shown"):  # points: only those shown, with their sizes
            rows = rows[np.broadcast_to(self.shown, (len(self.data),))[first:end]]
            return rows, np.asarray(self.size)[rows] if rows.size else np.empty(0)
        return rows, np.ones(rows.size)

    return _get_slice_data


def _wrap_points_data(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def _on_data_change(self: Any) -> None:
        if _stepping is not self.layer:
            return original(self)
        # napari ends with reset(): every property of the layer; on a frame step only the
        # text (and the highlight, redrawn by step() when needed) can change
        self.reset = lambda: self._update_text(update_node=False)
        try:
            original(self)
        finally:
            del self.reset
        self.node.update()
        return None

    return _on_data_change


def _wrap_vectors_data(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def _on_data_change(self: Any) -> None:
        if _stepping is not self.layer:
            return original(self)
        # napari ends with _on_matrix_change(): the transform, unchanged by a frame step
        self._on_matrix_change = _nothing
        try:
            original(self)
        finally:
            del self._on_matrix_change
        return None

    return _on_data_change


def _nothing() -> None:
    pass
