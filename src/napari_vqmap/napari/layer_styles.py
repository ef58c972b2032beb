"""Deprecated: moved to :mod:`napari_vqmap.colours`; the old names work, with a
:class:`DeprecationWarning`, for one more release."""

from napari_vqmap.deprecated import moved

__getattr__ = moved(__name__, "napari_vqmap.colours")
