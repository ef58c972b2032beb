"""Label3D / DANNCE project files (``*_dannce.mat``, ``*label3d*.mat``): labelled 3D frames.

``labelData`` holds one struct per camera with ``data_3d`` (frames, joints*3, laid out
x0,y0,z0,x1,...), ``data_frame`` (video frame of each row) and ``data_sampleID``. The 3D
labels are the same in every camera struct; the first is used (a warning says so if they
differ). Rows keep their frame indices, so a sparse set of labelled frames stays sparse.
Names and fps follow :mod:`napari_vqmap.io.dannce`, which reads both kinds of ``.mat``
(:func:`~napari_vqmap.io.dannce.from_label_data`).
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from napari_vqmap.io.dannce import NO_POSES, from_label_data, load_pred, mat_variables, read_mat
from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import PoseFileError


def sniff(path: Path) -> bool:
    """True for a .mat holding ``labelData`` (and no DANNCE ``pred``)."""
    names = mat_variables(path)
    return "labelData" in names and "pred" not in names


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read the labelled 3D frames into (time, xyz, joint, 1 individual); a file with only
    DANNCE ``pred`` is read as DANNCE."""
    m = read_mat(path)
    if "labelData" in m:
        return from_label_data(path, m, fps, skeleton)
    if "pred" in m:
        return load_pred(path, m, fps, skeleton)
    raise PoseFileError(path, NO_POSES)
