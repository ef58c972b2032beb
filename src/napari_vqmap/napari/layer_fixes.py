"""Workarounds for napari work on every frame step that grows with the recording or
with the keypoints in view, or that a frame step does not need.

**Skeleton extent.**
napari's ``Vectors._extent_data`` copies the layer's whole data and takes its min and max,
and napari asks for it at least twice per slice (the layer-list extent and the thumbnail).
For a skeleton of a whole recording that is O(recording length) per frame step: 3 ms per
call for a 12,000-frame SUBTLE session (96,000 vectors), 6–7 ms of each 3D playback step
(see ``docs/benchmarks.md``, "napari: playback").

:func:`install` caches the extent of our skeleton layers (those holding a pose dataset in
``metadata["poses"]``) until their data are replaced (napari's ``data`` event) or their
``length`` changes; other Vectors layers are left to napari.

**Motif names.** A keypoints layer's motif name is a string on one keypoint per animal and
frame and empty on the others, and napari hands vispy every string in view, which lays
out glyphs for each (1.5–2.5 ms of a 2D step for the two flies' 26 keypoints, 24 empty).
:func:`install` drops the empty strings (and their positions and colours) before they
reach vispy, for our layers whose text is the motif name (``metadata["motif_text"]``),
so only the names there are get drawn. napari also sets the strings again on every step,
which makes vispy lay out their glyphs again (about 1 ms a step); when the names and
their colours are those of the last step, the glyphs already laid out are kept. And
before taking the strings in view, napari copies the layer's whole string array and
compares it with itself (``_ManualStyleEncoding._apply``, an identity when the array has
one string per point): 0.8 ms a step for the two flies' 38,000 points, 10 ms for ten
times as many. For these layers that copy is skipped when the lengths match.

**Frame steps.** :mod:`napari_vqmap.napari.frame_steps`: on a frame step, our pose
layers update the canvas only, not everything napari refreshes for a layer.

All are installed by :func:`napari_vqmap.napari.install_fixes`, which the plugin's entry
points call when they start.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from napari_vqmap.napari.vispy_fixes import patch_once

_ATTR = "_napari_vqmap_extent"
_HOOKED = "_napari_vqmap_extent_hooked"


def install() -> bool:
    """Install the workarounds once; False if this napari lacks what they patch."""
    from napari_vqmap.napari import frame_steps

    return (
        _install_extent_cache()
        & _install_text_filter()
        & _install_view_text()
        & frame_steps.install()
    )


def _install_text_filter() -> bool:
    """Wrap the ``update_text`` napari's vispy Points layer calls."""
    try:
        from napari._vispy.layers import points as vispy_points
    except ImportError:
        return False

    def wrap(original: Callable[..., None]) -> Callable[..., None]:
        def update_text(*, node: Any, layer: Any) -> None:
            if not layer.metadata.get("motif_text"):
                return original(node=node, layer=layer)
            before = laid_out(node)
            original(node=node, layer=layer)
            only_names(node)
            keep_glyphs(node, before)
            return None

        return update_text

    return patch_once(vispy_points, "update_text", wrap)


def _install_view_text() -> bool:
    """Patch ``napari.layers.Points._view_text`` once; False if napari lacks it."""
    try:
        from napari.layers import Points
    except ImportError:
        return False
    original = getattr(Points, "_view_text", None)
    if not isinstance(original, property) or original.fget is None:
        return False
    if getattr(original.fget, "_napari_vqmap", False):
        return True
    compute = original.fget

    def _view_text(self: Any) -> np.ndarray:
        names = names_in_view(self)
        return compute(self) if names is None else names

    _view_text._napari_vqmap = True  # type: ignore[attr-defined]
    Points._view_text = property(_view_text, doc=original.__doc__)
    return True


def names_in_view(layer: Any) -> np.ndarray | None:
    """The strings in view of a motif-name layer (napari's ``Points._view_text`` without
    its copy of every string); ``None`` where napari's own is needed (other layers, text
    not one string per point)."""
    strings = getattr(layer.text.string, "array", None)
    if (
        not layer.metadata.get("motif_text")
        or strings is None
        or len(strings) != layer.features.shape[0]
    ):
        return None
    return layer.text.view_text(layer._view_indices)


def only_names(node: Any) -> None:
    """Keep only a vispy text node's non-empty strings, with their positions and colours
    (one empty string when none is left: vispy needs one)."""
    text = node.text
    if isinstance(text, str):
        return
    keep = np.array([bool(t) for t in text], bool)
    if keep.all():
        return
    colours = node.color.rgba
    pos = node.pos
    if not keep.any():
        keep[0] = True  # vispy wants a value; an empty string draws nothing
    node.text = [t for t, k in zip(text, keep, strict=True) if k]
    node.pos = pos[keep]
    if len(colours) == len(keep):
        node.color = colours[keep]


def laid_out(node: Any) -> tuple | None:
    """What a vispy text node has laid out: (strings, anchors, colours, glyph vertices),
    ``None`` before its first draw (or without vispy's private attributes)."""
    vertices = getattr(node, "_vertices", None)
    strings = _strings(node)
    if vertices is None or strings is None:
        return None
    return strings, tuple(node.anchors), node.color.rgba.copy(), vertices


def _strings(node: Any) -> list[str] | None:
    text = node.text
    return None if isinstance(text, str) else [str(t) for t in text]


def keep_glyphs(node: Any, before: tuple | None) -> None:
    """Give ``node`` back the glyphs laid out ``before`` when its strings and anchors are
    the same (and its colours too: then not even those are uploaded again); only the
    positions are then updated at the next draw."""
    if before is None or before[:2] != (_strings(node), tuple(node.anchors)):
        return
    node._vertices = before[3]
    colours = node.color.rgba
    if colours.shape == before[2].shape and np.array_equal(colours, before[2]):
        node._color_changed = False


def _install_extent_cache() -> bool:
    """Patch ``napari.layers.Vectors._extent_data`` once; False if napari lacks it."""
    try:
        from napari.layers import Vectors
    except ImportError:
        return False
    original = getattr(Vectors, "_extent_data", None)
    if not isinstance(original, property) or original.fget is None:
        return False
    if getattr(original.fget, "_napari_vqmap", False):
        return True
    compute = original.fget

    def _extent_data(self: Any) -> Any:
        if "poses" not in self.metadata:
            return compute(self)
        data = self.data
        key = (id(data), data.shape, float(self.length))
        cached = self.__dict__.get(_ATTR)
        if cached is not None and cached[0] == key:
            return cached[1].copy()
        if not self.__dict__.get(_HOOKED):  # first use: drop the cache when the data change
            self.__dict__[_HOOKED] = True
            ref = weakref.ref(self)

            def forget(event: Any = None) -> None:
                layer = ref()
                if layer is not None:
                    layer.__dict__.pop(_ATTR, None)

            self.events.data.connect(forget)
        value = compute(self)
        self.__dict__[_ATTR] = (key, value)
        return value.copy()

    _extent_data._napari_vqmap = True  # type: ignore[attr-defined]
    Vectors._extent_data = property(_extent_data, doc=original.__doc__)
    return True
