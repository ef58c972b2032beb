"""napari-vqmap: behavioural motifs from any skeleton (VQ-MAP), with a napari plugin."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-vqmap")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
