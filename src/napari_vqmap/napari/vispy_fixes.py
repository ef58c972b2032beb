"""A workaround for vispy recompiling a mesh's shader program on every data update.

napari draws a Vectors layer (our skeletons) with a vispy ``MeshVisual``. Each time the
visible vectors change, i.e. on every frame step during playback, ``MeshVisual._update_data``
builds a *new* colour-transform shader ``Function`` (``_build_color_transform``), which
marks the program's code as changed, so the next draw regenerates, compiles and links the
whole program. The new function is identical to the old one unless the colours switched
between RGBA and colormapped values. Under software OpenGL this rebuild took 9–15 ms of
each playback step (vispy 0.17; see ``docs/benchmarks.md``, "napari: playback").

:func:`install` wraps ``_build_color_transform`` so that each visual reuses the first RGBA
(pass-through) transform vispy built for it: assigning the same shader object again is a
no-op in vispy, so the program is built once. Colormapped transforms are passed on as
vispy built them.
The patch applies to every mesh visual in the process (Vectors, Shapes, Surface layers),
does not change what is drawn, and is installed by
:func:`napari_vqmap.napari.install_fixes` (the plugin's entry points call it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ATTR = "_napari_vqmap_rgba_transform"


def patch_once(owner: Any, name: str, wrap: Callable[[Any], Any]) -> bool:
    """Replace ``owner.name`` by ``wrap(original)``, once (a second call keeps the first
    wrapper); False if ``owner`` lacks ``name``. Used by every patch of this plugin."""
    original = getattr(owner, name, None)
    if original is None:
        return False
    if getattr(original, "_napari_vqmap", False):
        return True
    patched = wrap(original)
    patched._napari_vqmap = True
    setattr(owner, name, patched)
    return True


def install() -> bool:
    """Patch ``vispy.visuals.mesh.MeshVisual`` once; False if vispy lacks the method."""
    try:
        from vispy.visuals.mesh import MeshVisual
    except ImportError:
        return False

    def wrap(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def _build_color_transform(self: Any, colors: Any) -> Any:
            transform = original(self, colors)
            if getattr(transform, "name", None) != "pass":  # colormapped: vispy's own
                return transform
            # the visual's first pass-through, reused (visuals are frozen against setattr)
            return self.__dict__.setdefault(_ATTR, transform)

        return _build_color_transform

    return patch_once(MeshVisual, "_build_color_transform", wrap)
