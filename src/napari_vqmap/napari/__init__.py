"""napari plugin (npe2): readers for pose files and videos, sample data, pose layers.

Everything napari-specific lives here; the rest of the package runs without napari or Qt.
Importing this package installs :mod:`napari_vqmap.napari.vispy_fixes`, and, when napari
is already imported (a napari session loading the plugin), :mod:`napari_vqmap.napari.
layer_fixes` (playback speed); headless users of :mod:`~napari_vqmap.napari.layer_styles`
(figures, clips) thus never import napari. Code that makes its own viewer calls
``layer_fixes.install()`` first.
"""

import sys

from napari_vqmap.napari import layer_fixes, vispy_fixes

vispy_fixes.install()
if "napari" in sys.modules:
    layer_fixes.install()
