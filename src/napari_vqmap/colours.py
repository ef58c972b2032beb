"""Colours and sizes of keypoints, skeletons and motifs (plain numpy; shared by the napari
layers, figures and videos)."""

from __future__ import annotations

import warnings

import numpy as np

# distinct, saturated colours that stay visible on grayscale video
PALETTE = (
    "#ff3b30",
    "#00c7ff",
    "#ffd60a",
    "#34c759",
    "#ff2dd6",
    "#ff9500",
    "#5e5ce6",
    "#00e0a0",
    "#ff6b9a",
    "#a2ff00",
    "#b06cff",
    "#00a2ff",
    "#ffb3a0",
    "#7dffd9",
    "#ffef8a",
    "#c8a2ff",
)
POINT_OPACITY = 1.0
SKELETON_OPACITY = 0.9
# keypoint marker diameter and skeleton line width as fractions of the typical body size
POINT_SIZE_FRACTION = 0.06
LINE_WIDTH_FRACTION = 0.015


def hex_to_rgba(colour: str) -> np.ndarray:
    """``"#rrggbb"`` -> RGBA floats in [0, 1]."""
    colour = colour.lstrip("#")
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    return np.array([*rgb, 1.0], dtype=np.float32)


def palette(n: int) -> np.ndarray:
    """``n`` RGBA colours (``(n, 4)`` floats), cycling through :data:`PALETTE`."""
    colours = np.stack([hex_to_rgba(c) for c in PALETTE])
    return colours[np.arange(n) % len(PALETTE)]


def body_size(coords: np.ndarray) -> float:
    """Typical body size: the median over frames and animals of the keypoints' bounding-box
    diagonal. ``coords`` is (time, keypoint, individual, space) with NaN for missing points.
    Falls back to 5% of the whole data's extent (or 1) when no pose has two keypoints.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN poses
        extent = np.nanmax(coords, axis=1) - np.nanmin(coords, axis=1)
        diag = np.sqrt(np.sum(extent**2, axis=-1))
        diag = diag[np.isfinite(diag) & (diag > 0)]
        if diag.size:
            return float(np.median(diag))
        flat = coords.reshape(-1, coords.shape[-1])
        span = np.nanmax(flat, axis=0) - np.nanmin(flat, axis=0)
        total = float(np.sqrt(np.nansum(span**2)))
    return 0.05 * total if np.isfinite(total) and total > 0 else 1.0


UNENCODED_RGBA = np.array([0.55, 0.55, 0.55, 0.6], dtype=np.float32)
ARENA_RGBA = np.array([0.8, 0.8, 0.8, 0.8], dtype=np.float32)  # arena points: never modelled


def motif_palette(n_types: int, n_subtypes: int) -> np.ndarray:
    """``(n_types * n_subtypes + 1, 4)`` RGBA: a hue per type, shades per subtype (light to
    dark), and a last row (grey) for -1 (not encoded), so ``lut[motif]`` works for -1 too."""
    base = palette(n_types)[:, :3]
    shade = np.linspace(1.35, 0.55, n_subtypes) if n_subtypes > 1 else np.ones(1)
    rgb = np.empty((n_types, n_subtypes, 3), np.float32)
    for j, f in enumerate(shade):
        # lighten towards white above 1, darken towards black below 1
        rgb[:, j] = base + (1 - base) * (f - 1) if f > 1 else base * f
    lut = np.concatenate([rgb.reshape(-1, 3), np.ones((n_types * n_subtypes, 1))], axis=1)
    return np.concatenate([lut, UNENCODED_RGBA[None]]).astype(np.float32)


def motif_colours(motif: np.ndarray, n_types: int, n_subtypes: int) -> np.ndarray:
    """RGBA per motif id (any shape ``S`` -> ``S + (4,)``); -1 (not encoded) is grey."""
    motif = np.asarray(motif)
    lut = motif_palette(n_types, n_subtypes)
    return lut[np.where(motif >= 0, motif, len(lut) - 1)]
