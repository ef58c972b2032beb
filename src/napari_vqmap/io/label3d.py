"""Label3D / DANNCE project files (``*_dannce.mat``, ``*label3d*.mat``): labelled 3D frames.

``labelData`` holds one struct per camera with ``data_3d`` (frames, joints*3, laid out
x0,y0,z0,x1,...), ``data_frame`` (video frame of each row) and ``data_sampleID``. The 3D
labels are the same in every camera struct; the first is used (a warning says so if they
differ). Rows keep their frame indices, so a sparse set of labelled frames stays sparse.
Names and fps follow :mod:`napari_vqmap.io.dannce`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.io.arrays import resolve_skeleton
from napari_vqmap.io.dannce import (
    DEFAULT_SKELETON,
    NO_POSES,
    mat_variables,
    names_beside,
    read_mat,
)
from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import PoseFileError, make_poses


def sniff(path: Path) -> bool:
    """True for a .mat holding ``labelData`` (and no DANNCE ``pred``)."""
    names = mat_variables(path)
    return "labelData" in names and "pred" not in names


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read the labelled 3D frames into (time, xyz, joint, 1 individual)."""
    m = read_mat(path)
    if "labelData" not in m:
        if "pred" in m:
            from napari_vqmap.io import dannce

            return dannce.load(path, fps=fps, skeleton=skeleton)
        raise PoseFileError(path, NO_POSES)
    data_3d, frames, sample_ids = _first_camera(path, m["labelData"])
    if data_3d.ndim != 2 or data_3d.shape[1] % 3:
        raise PoseFileError(
            path, f"labelData data_3d has shape {data_3d.shape}; expected (frames, joints*3)"
        )
    n_kp = data_3d.shape[1] // 3
    order = np.argsort(frames, kind="stable")
    position = data_3d[order].reshape(len(order), n_kp, 3).transpose(0, 2, 1)[..., None]
    sk = names_beside(path, n_kp) or resolve_skeleton(path, n_kp, skeleton, DEFAULT_SKELETON)
    return make_poses(
        position,
        sk.keypoints,
        frames=frames[order],
        fps=fps or _fps(frames, sample_ids),
        source_software="Label3D",
        source_file=path,
        edges=sk.edges,
        skeleton_name=sk.name,
    )


def _first_camera(path: Path, label_data: np.ndarray) -> tuple[np.ndarray, ...]:
    """(data_3d, frames, sampleIDs) of the first camera struct; checks the others agree."""
    cams = [_struct(path, c) for c in np.ravel(label_data)]
    if not cams:
        raise PoseFileError(path, "labelData is empty")
    first = cams[0]
    if any(not np.array_equal(c[0], first[0], equal_nan=True) for c in cams[1:]):
        warnings.warn(
            f"{path}: the cameras' labelData data_3d differ; using the first camera's",
            UserWarning,
            stacklevel=4,
        )
    return first


def _struct(path: Path, cam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    cam = np.ravel(cam)[0] if cam.dtype == object else cam
    fields = cam.dtype.names or ()
    if "data_3d" not in fields or "data_frame" not in fields:
        raise PoseFileError(path, "labelData has no 'data_3d' / 'data_frame' fields")
    data_3d = np.asarray(np.ravel(cam["data_3d"])[0], dtype=np.float64)
    frames = np.ravel(np.ravel(cam["data_frame"])[0]).astype(np.int64)
    ids = np.ravel(np.ravel(cam["data_sampleID"])[0]) if "data_sampleID" in fields else None
    if len(frames) != len(data_3d):
        raise PoseFileError(path, f"{len(frames)} frame indices for {len(data_3d)} labelled rows")
    return data_3d, frames, ids


def _fps(frames: np.ndarray, sample_ids: np.ndarray | None) -> float | None:
    """Frames per second from sampleIDs (ms) against frame indices."""
    if sample_ids is None or len(sample_ids) != len(frames) or len(frames) < 2:
        return None
    order = np.argsort(frames, kind="stable")
    d_frame = np.diff(frames[order].astype(np.float64))
    d_ms = np.diff(np.asarray(sample_ids, dtype=np.float64)[order])
    ok = d_frame > 0
    if not ok.any():
        return None
    ms_per_frame = float(np.median(d_ms[ok] / d_frame[ok]))
    return 1000.0 / ms_per_frame if ms_per_frame > 0 else None
