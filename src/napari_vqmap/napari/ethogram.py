"""Ethogram and bout-browsing logic for the Motifs widget (plain numpy; no Qt, no napari).

Motif arrays are ``(time, individual)`` ids (``type * n_subtypes + subtype``, -1 = not
encoded), already with merges applied (:meth:`napari_vqmap.names.MotifNames.apply`).
A visible time range ``[t0, t1)`` of time indices is drawn across ``width`` pixel columns.
"""

from __future__ import annotations

import numpy as np


def ethogram_columns(motif: np.ndarray, width: int, n_motifs: int) -> np.ndarray:
    """``(individual, width)`` motif ids, one per pixel column.

    Each column shows the most frequent motif among its frames (ties: lowest id, -1 last);
    when there are more columns than frames, a column shows the frame under its left edge.
    """
    motif = np.asarray(motif)
    if motif.ndim == 1:
        motif = motif[:, None]
    n_time, n_ind = motif.shape
    width = int(width)
    if width < 1 or n_time == 0:
        return np.full((n_ind, max(width, 0)), -1, np.int64)
    code = np.where((motif >= 0) & (motif < n_motifs), motif, n_motifs)  # -1 -> n_motifs
    n_codes = n_motifs + 1
    if n_time <= width:
        first = (np.arange(width) * n_time) // width
        out = code[first].T
    else:
        column = (np.arange(n_time) * width) // n_time  # (time,)
        flat = (np.arange(n_ind)[None, :] * width + column[:, None]) * n_codes + code
        counts = np.bincount(flat.ravel(), minlength=n_ind * width * n_codes)
        out = counts.reshape(n_ind, width, n_codes).argmax(axis=-1)
    return np.where(out == n_motifs, -1, out).astype(np.int64)


def ethogram_image(
    motif: np.ndarray, width: int, lut: np.ndarray, row_height: int = 1
) -> np.ndarray:
    """``(individual * row_height, width, 4)`` uint8 RGBA strip: a row per individual.

    ``lut`` is :func:`~napari_vqmap.colours.motif_palette` (float RGBA, last row
    for -1), so ``len(lut) - 1`` motifs.
    """
    columns = ethogram_columns(motif, width, len(lut) - 1)
    rgba = np.round(np.asarray(lut, np.float64) * 255).astype(np.uint8)
    image = rgba[np.where(columns >= 0, columns, len(lut) - 1)]  # (individual, width, 4)
    return np.ascontiguousarray(np.repeat(image, max(1, int(row_height)), axis=0))


def index_at(x: float, width: int, t0: int, t1: int) -> int:
    """Time index under pixel ``x`` of a strip ``width`` pixels wide showing ``[t0, t1)``."""
    if width <= 0 or t1 <= t0:
        return int(t0)
    t = t0 + int(np.floor(float(x) * (t1 - t0) / width))
    return int(np.clip(t, t0, t1 - 1))


def x_of(t: float, width: int, t0: int, t1: int) -> float:
    """Pixel x (centre of the frame's span) of time index ``t``."""
    if t1 <= t0:
        return 0.0
    return (float(t) - t0 + 0.5) * width / (t1 - t0)


def zoomed(t0: int, t1: int, centre: int, factor: float, n_time: int, min_span: int = 20):
    """The range ``[t0, t1)`` zoomed by ``factor`` (<1 zooms in) around time index ``centre``,
    kept inside ``[0, n_time)`` and at least ``min_span`` frames long."""
    span = int(np.clip(round((t1 - t0) * factor), min(min_span, n_time), n_time))
    frac = (centre - t0) / max(t1 - t0, 1)
    lo = int(round(centre - frac * span))
    lo = int(np.clip(lo, 0, n_time - span))
    return lo, lo + span


def bout_starts(motif: np.ndarray, target: int, individual: int | None = None) -> np.ndarray:
    """Sorted time indices where a bout of ``target`` starts (for one individual, or any)."""
    motif = np.asarray(motif)
    if motif.ndim == 1:
        motif = motif[:, None]
    if individual is not None:
        motif = motif[:, [individual]]
    hit = motif == target
    start = hit.copy()
    start[1:] &= ~hit[:-1]
    return np.unique(np.nonzero(start)[0])


def next_bout(
    motif: np.ndarray, t: int, target: int, direction: int = 1, individual: int | None = None
) -> int | None:
    """Time index of the start of the next (``direction`` > 0) or previous bout of motif
    ``target`` strictly after / before time index ``t``; ``None`` when there is none.

    Inside a bout, "previous" goes to the start of that bout.
    """
    starts = bout_starts(motif, target, individual)
    if direction > 0:
        later = starts[starts > t]
        return int(later[0]) if later.size else None
    earlier = starts[starts < t]
    return int(earlier[-1]) if earlier.size else None
