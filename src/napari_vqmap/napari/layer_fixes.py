"""A workaround for napari recomputing a skeleton layer's extent over all its data on every
frame step.

napari's ``Vectors._extent_data`` copies the layer's whole data and takes its min and max,
and napari asks for it at least twice per slice (the layer-list extent and the thumbnail).
For a skeleton of a whole recording that is O(recording length) per frame step: 3 ms per
call for a 12,000-frame SUBTLE session (96,000 vectors), 6–7 ms of each 3D playback step
(see ``docs/benchmarks.md``, "napari: playback").

:func:`install` caches the extent of our skeleton layers (those holding a pose dataset in
``metadata["poses"]``) until their data are replaced (napari's ``data`` event) or their
``length`` changes; other Vectors layers are left to napari. Installed when
``napari_vqmap.napari`` is imported.
"""

from __future__ import annotations

import weakref
from typing import Any

_ATTR = "_napari_vqmap_extent"
_HOOKED = "_napari_vqmap_extent_hooked"


def install() -> bool:
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
