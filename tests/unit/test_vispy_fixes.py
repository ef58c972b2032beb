"""The vispy mesh workaround: one RGBA colour transform per visual, colormaps untouched."""

from __future__ import annotations

import numpy as np


def test_mesh_reuses_its_rgba_colour_transform() -> None:
    from vispy.visuals.mesh import MeshVisual

    from napari_vqmap.napari import vispy_fixes

    assert vispy_fixes.install()  # installed on import already; a second call is harmless
    mesh, other = MeshVisual(), MeshVisual()
    rgba = np.ones((6, 4), np.float32)
    first = mesh._build_color_transform(rgba)
    assert mesh._build_color_transform(0.5 * rgba) is first
    assert mesh._build_color_transform(np.ones(4, np.float32)) is first  # one colour
    assert other._build_color_transform(rgba) is not first  # per visual
    values = np.ones((6, 1), np.float32)  # colormapped: vispy's own, fresh transform
    assert mesh._build_color_transform(values) is not first
