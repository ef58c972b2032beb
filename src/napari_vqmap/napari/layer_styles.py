"""The colours of :mod:`napari_vqmap.colours` under their napari-layer name (kept for the
modules and benchmarks that import them from here)."""

from napari_vqmap.colours import (
    ARENA_RGBA,
    LINE_WIDTH_FRACTION,
    PALETTE,
    POINT_OPACITY,
    POINT_SIZE_FRACTION,
    SKELETON_OPACITY,
    UNENCODED_RGBA,
    body_size,
    hex_to_rgba,
    motif_colours,
    motif_palette,
    palette,
)

__all__ = [
    "ARENA_RGBA",
    "LINE_WIDTH_FRACTION",
    "PALETTE",
    "POINT_OPACITY",
    "POINT_SIZE_FRACTION",
    "SKELETON_OPACITY",
    "UNENCODED_RGBA",
    "body_size",
    "hex_to_rgba",
    "motif_colours",
    "motif_palette",
    "palette",
]
