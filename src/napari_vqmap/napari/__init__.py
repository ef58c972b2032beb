"""napari plugin (npe2): readers for pose files and videos, sample data, pose layers.

Everything napari-specific lives here; the rest of the package runs without napari or Qt.
"""
