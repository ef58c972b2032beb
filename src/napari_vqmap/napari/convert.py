"""Pose datasets -> napari layer data tuples (pure functions; napari is not imported).

Layout
------
* Coordinates go to napari's axis order: ``[frame, y, x]`` for 2D poses and
  ``[frame, z, y, x]`` for 3D ones (trackers store x, y[, z]; napari rows are y). The first
  axis is the video frame index from the dataset's ``frame`` coordinate, so the poses line
  up with a video opened with :class:`napari_vqmap.video.VideoReader`.
* Keypoints are a Points layer with features ``keypoint``, ``individual``, ``confidence``,
  coloured by keypoint when there is one animal and by individual when there are several.
* The skeleton is a Vectors layer (one line per edge per frame per animal): napari draws
  hundreds of thousands of vectors in one call, whereas a Shapes layer triangulates each
  line separately and takes minutes for a 12,000-frame session. Edges with a missing end
  are dropped, as are missing keypoints.
* Layer data arrays are column-major (Fortran order). napari recomputes every layer's
  min/max over all its data on each frame step; over columns stored contiguously that is
  about 100x faster than over rows (0.05 ms instead of 3.4 ms for 35,000 vectors), which is
  what lets the video play at full rate with the overlays.
* 3D poses carry ``metadata["ndisplay"] = 3``; the reader uses it to switch the viewer to
  the 3D view (see :mod:`napari_vqmap.napari._reader`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from napari_vqmap import colours as styles
from napari_vqmap.io import skeleton_of

LayerData = tuple[object, dict, str]


def napari_coords(ds: xr.Dataset) -> np.ndarray:
    """Positions as (time, keypoint, individual, space) in napari order (y, x or z, y, x)."""
    pos = ds["position"].transpose("time", "keypoint", "individual", "space").values
    return np.ascontiguousarray(pos[..., ::-1], dtype=np.float32)


def _frames(ds: xr.Dataset) -> np.ndarray:
    if "frame" in ds.coords:
        return ds["frame"].values.astype(np.float32)
    return np.arange(ds.sizes["time"], dtype=np.float32)


def _base_name(ds: xr.Dataset, name: str | None) -> str:
    if name:
        return name
    source = ds.attrs.get("source_file")
    return Path(source).stem if source else "poses"


def _arena(ds: xr.Dataset) -> np.ndarray:
    """(keypoint,) True for the skeleton's arena points (fixed in the scene)."""
    return np.isin([str(k) for k in ds["keypoint"].values], skeleton_of(ds).arena)


def _body_size(ds: xr.Dataset, coords: np.ndarray) -> float:
    """Typical body size from the keypoints on the animal (arena points left out)."""
    body = ~_arena(ds)
    return styles.body_size(coords[:, body] if body.any() else coords)


def points_layer(ds: xr.Dataset, name: str | None = None) -> LayerData:
    """The keypoints of ``ds`` as a napari Points layer data tuple (missing points dropped)."""
    coords = napari_coords(ds)
    n_time, n_kp, n_ind, n_space = coords.shape
    valid = ~np.isnan(coords).any(axis=-1)
    t_idx, k_idx, i_idx = np.nonzero(valid)
    data = np.empty((t_idx.size, n_space + 1), dtype=np.float32, order="F")
    data[:, 0] = _frames(ds)[t_idx]
    data[:, 1:] = coords[t_idx, k_idx, i_idx]
    keypoints = [str(k) for k in ds["keypoint"].values]
    individuals = [str(i) for i in ds["individual"].values]
    if "confidence" in ds:
        conf = ds["confidence"].transpose("time", "keypoint", "individual").values
        confidence = conf[t_idx, k_idx, i_idx].astype(np.float32)
    else:
        confidence = np.ones(t_idx.size, dtype=np.float32)
    features = pd.DataFrame(
        {
            "keypoint": pd.Categorical.from_codes(k_idx, categories=keypoints),
            "individual": pd.Categorical.from_codes(i_idx, categories=individuals),
            "confidence": confidence,
        }
    )
    by_individual = n_ind > 1
    colours = styles.palette(n_ind if by_individual else n_kp)[i_idx if by_individual else k_idx]
    colours[_arena(ds)[k_idx]] = styles.ARENA_RGBA
    meta = {
        "name": f"{_base_name(ds, name)} keypoints",
        "features": features,
        "face_color": colours,
        "border_width": 0,
        "size": styles.POINT_SIZE_FRACTION * _body_size(ds, coords),
        "opacity": styles.POINT_OPACITY,
        "projection_mode": "none",
        "metadata": _metadata(ds, n_space),
    }
    return data, meta, "points"


def skeleton_layer(ds: xr.Dataset, name: str | None = None) -> LayerData | None:
    """The skeleton edges of ``ds`` as a napari Vectors layer data tuple.

    Returns ``None`` when the skeleton has no edges. Vectors are ``[start, end - start]``
    with a zero step along the frame axis; an edge is dropped where either end is missing.
    """
    index = {str(k): i for i, k in enumerate(ds["keypoint"].values)}
    edges = [(a, b) for a, b in skeleton_edges(ds) if a in index and b in index]
    if not edges:
        return None
    coords = napari_coords(ds)
    n_time, n_kp, n_ind, n_space = coords.shape
    a = np.array([index[e[0]] for e in edges])
    b = np.array([index[e[1]] for e in edges])
    start, end = coords[:, a], coords[:, b]  # (time, edge, individual, space)
    valid = ~(np.isnan(start).any(axis=-1) | np.isnan(end).any(axis=-1))
    t_idx, e_idx, i_idx = np.nonzero(valid)
    data = np.zeros((t_idx.size, 2, n_space + 1), dtype=np.float32, order="F")
    data[:, 0, 0] = _frames(ds)[t_idx]
    data[:, 0, 1:] = start[t_idx, e_idx, i_idx]
    data[:, 1, 1:] = end[t_idx, e_idx, i_idx] - data[:, 0, 1:]
    individuals = [str(i) for i in ds["individual"].values]
    edge_names = [f"{e[0]}-{e[1]}" for e in edges]
    features = pd.DataFrame(
        {
            "edge": pd.Categorical.from_codes(e_idx, categories=edge_names),
            "individual": pd.Categorical.from_codes(i_idx, categories=individuals),
        }
    )
    meta = {
        "name": f"{_base_name(ds, name)} skeleton",
        "features": features,
        "edge_color": styles.palette(n_ind)[i_idx],
        "edge_width": styles.LINE_WIDTH_FRACTION * _body_size(ds, coords),
        "vector_style": "line",
        "opacity": styles.SKELETON_OPACITY,
        "projection_mode": "none",
        "metadata": _metadata(ds, n_space),
    }
    return data, meta, "vectors"


def skeleton_edges(ds: xr.Dataset) -> list[tuple[str, str]]:
    """The edges to draw: the dataset's ``skeleton`` attribute, else its skeleton preset's."""
    edges = ds.attrs.get("skeleton") or skeleton_of(ds).edges
    return [(str(a), str(b)) for a, b in edges]


def pose_layers(ds: xr.Dataset, name: str | None = None) -> list[LayerData]:
    """Skeleton (if any) and keypoint layer data tuples for a pose dataset."""
    skeleton = skeleton_layer(ds, name)
    return [*([skeleton] if skeleton is not None else []), points_layer(ds, name)]


def video_layer(video, name: str | None = None) -> LayerData:
    """An Image layer data tuple for a lazy :class:`~napari_vqmap.video.VideoReader`."""
    return (
        video,
        {
            "name": name or Path(video.path).stem,
            "rgb": not video.grayscale,
            "contrast_limits": [0, 255],
            "multiscale": False,
            "metadata": {"source_file": str(video.path), "fps": video.fps},
        },
        "image",
    )


def _metadata(ds: xr.Dataset, n_space: int) -> dict:
    return {
        "poses": ds,
        "source_file": ds.attrs.get("source_file", ""),
        "ndisplay": 3 if n_space == 3 else 2,
    }
