"""napari plugin (npe2): readers for pose files and videos, sample data, pose layers.

Everything napari-specific lives here; the rest of the package runs without napari or Qt.
Importing this package installs :mod:`napari_vqmap.napari.vispy_fixes` and
:mod:`napari_vqmap.napari.layer_fixes` (playback speed).
"""

from napari_vqmap.napari import layer_fixes, vispy_fixes

vispy_fixes.install()
layer_fixes.install()
