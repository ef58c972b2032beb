"""napari plugin (npe2): readers for pose files and videos, sample data, layers, widgets.

Everything napari-specific lives here; the rest of the package runs without napari or Qt.
Importing this package does nothing by itself: the plugin's entry points (reader, sample
data, widgets, the demo viewer) call :func:`install_fixes` when they start, and a script
that builds its own viewer from :mod:`~napari_vqmap.napari.convert` calls it first.
"""


def install_fixes() -> None:
    """Install the vispy and napari playback workarounds
    (:mod:`~napari_vqmap.napari.vispy_fixes`, :mod:`~napari_vqmap.napari.layer_fixes`);
    a second call does nothing."""
    from napari_vqmap.napari import layer_fixes, vispy_fixes

    vispy_fixes.install()
    layer_fixes.install()
