"""``python -m napari_vqmap.cli``: the ``napari-vqmap`` command."""

from napari_vqmap.cli import run

run()
