"""napari plugin (npe2): readers for pose files and videos, sample data, pose layers.

Everything napari-specific lives here; the rest of the package runs without napari or Qt.
Importing this package installs :mod:`napari_vqmap.napari.vispy_fixes` (playback speed).
"""

from napari_vqmap.napari import vispy_fixes

vispy_fixes.install()
