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
  after the last step), not on every step.

Anything else (forced refreshes, a 2D/3D switch, napari's asynchronous slicing, other
layers) goes through napari unchanged. Installed by
:func:`napari_vqmap.napari.layer_fixes.install`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from napari_vqmap.napari.vispy_fixes import patch_once

THUMBNAIL_DELAY_MS = 300
_TIMER = "_napari_vqmap_thumbnail_timer"
_stepping: Any = None  # the layer being stepped (read by the vispy layers' handlers)


def install() -> bool:
    """Wrap napari's ``Layer._slice_dims`` and the vispy Points and Vectors layers'
    ``_on_data_change`` once; False if this napari lacks them."""
    try:
        from napari._vispy.layers.points import VispyPointsLayer
        from napari._vispy.layers.vectors import VispyVectorsLayer
        from napari.layers.base.base import Layer
    except ImportError:
        return False
    return (
        patch_once(Layer, "_slice_dims", _wrap_slice_dims)
        & patch_once(VispyPointsLayer, "_on_data_change", _wrap_points_data)
        & patch_once(VispyVectorsLayer, "_on_data_change", _wrap_vectors_data)
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
        highlighted = _highlighted(self)  # as drawn, before slicing recomputes it
        if state.set_slice_input_from_dims(dims, False) and self.visible:
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
