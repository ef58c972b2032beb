"""Readers for every supported pose format, returning one container, and writers.

``load_poses(path)`` detects the format; each format lives in its own module with
``sniff(path) -> bool`` and ``load(path, fps=None, skeleton=None) -> xarray.Dataset``.
The container is described in :mod:`napari_vqmap.validators` (``make_poses``).
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from types import ModuleType

import xarray as xr

from napari_vqmap.skeletons import Skeleton, get_skeleton, guess_skeleton, match_skeleton
from napari_vqmap.validators import (
    PoseFileError,
    check_file,
    check_fps,
    check_hdf5,
    reading,
    validate_poses,
)

# (source_software name, module, file suffixes); detection tries them in this order.
FORMATS: list[tuple[str, str, tuple[str, ...]]] = [
    ("netCDF", "netcdf", (".nc",)),
    ("NWB", "nwb", (".nwb",)),
    ("SLEAP", "sleap", (".slp", ".h5")),
    ("sleap-anipose", "points3d", (".h5",)),
    ("DeepLabCut", "dlc", (".h5", ".csv")),
    ("LightningPose", "lightning_pose", (".csv",)),
    ("Anipose", "anipose", (".csv",)),
    ("DANNCE", "dannce", (".mat",)),
    ("Label3D", "label3d", (".mat",)),
    ("SUBTLE", "subtle", (".csv",)),
    ("numpy", "arrays", (".npy", ".npz")),
]
POSE_SUFFIXES = tuple(sorted({s for _, _, sfx in FORMATS for s in sfx}))
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
HDF5_SUFFIXES = (".h5", ".hdf5", ".slp", ".nwb")  # HDF5 containers
TEXT_SUFFIXES = (".csv",)


def import_movement() -> None:
    """Import movement, keeping how Python shows warnings: its first import points
    ``warnings.showwarning`` at its own logger, so every later warning of a command (ours
    included) printed in loguru's format with a source line. Call it before importing from
    movement."""
    shown = warnings.showwarning
    import movement  # noqa: F401

    warnings.showwarning = shown


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"napari_vqmap.io.{name}")


def detect_format(path: str | Path) -> str | None:
    """The ``source_software`` name of the format of ``path``, or ``None`` if unknown."""
    path = Path(path)
    suffix = path.suffix.lower()
    for software, module, suffixes in FORMATS:
        if suffix in suffixes:
            try:
                if _module(module).sniff(path):
                    return software
            except Exception:  # a sniffer must never raise; treat as "not mine"
                continue
    return None


def load_poses(
    path: str | Path,
    source_software: str | None = None,
    fps: float | None = None,
    skeleton: str | Path | Skeleton | None = None,
) -> xr.Dataset:
    """Load a pose file of any supported format into the pose container.

    Parameters
    ----------
    path
        The tracker output (DeepLabCut, SLEAP, Lightning Pose, Anipose, sleap-anipose,
        NWB ndx-pose, movement netCDF, DANNCE/Label3D ``.mat``, SUBTLE csv, ``.npy/.npz``).
    source_software
        Force a format (a name from :data:`FORMATS`, case-insensitive) instead of detecting it.
    fps
        Frame rate, for files that do not store one (overrides the file's value).
    skeleton
        A preset name, a YAML path or a :class:`Skeleton`. Needed by formats without
        keypoint names; otherwise checked against the file and attached.
    """
    path = check_file(path)
    fps = check_fps(fps, path, "fps= (--fps)")
    sk = None if skeleton is None else get_skeleton(skeleton)
    if source_software is None:
        if path.suffix.lower() not in POSE_SUFFIXES:
            raise PoseFileError(
                path,
                f"unsupported file type {path.suffix!r}; "
                f"pose files are {', '.join(POSE_SUFFIXES)}",
            )
        source_software = detect_format(path)
        if source_software is None:
            if path.suffix.lower() in HDF5_SUFFIXES:
                check_hdf5(path)  # a truncated or corrupt file says so
            raise PoseFileError(path, "not a pose file in any format napari-vqmap reads")
    module = _module_for(source_software, path)
    if path.suffix.lower() in TEXT_SUFFIXES:  # text readers report each problem themselves
        ds = module.load(path, fps=fps, skeleton=sk)
    else:
        with reading(path, f"the {source_software} file"):
            ds = module.load(path, fps=fps, skeleton=sk)
    ds = validate_poses(ds, path)
    if fps is not None:
        ds = _set_fps(ds, fps)
    return attach_skeleton(ds, sk, path)


def _module_for(source_software: str, path: Path) -> ModuleType:
    for software, module, _ in FORMATS:
        if software.lower() == source_software.lower():
            return _module(module)
    names = ", ".join(s for s, _, _ in FORMATS)
    raise PoseFileError(path, f"unknown source_software {source_software!r}; use one of {names}")


def _set_fps(ds: xr.Dataset, fps: float) -> xr.Dataset:
    ds = ds.assign_coords(time=ds["frame"].values / float(fps))
    ds.attrs.update(fps=float(fps), time_unit="seconds")
    return ds


def attach_skeleton(
    ds: xr.Dataset, skeleton: Skeleton | None = None, path: Path | None = None
) -> xr.Dataset:
    """Attach ``skeleton`` (checked against the data), or the matching preset, or a guess;
    unmapped keypoints that stay put while the animal moves become arena points
    (:func:`~napari_vqmap.io.arena.mark_static_as_arena`)."""
    keypoints = [str(k) for k in ds["keypoint"].values]
    if skeleton is not None:
        unknown = [k for k in keypoints if k not in skeleton.keypoints]
        if unknown:
            raise PoseFileError(
                path,
                f"skeleton {skeleton.name!r} does not match the data: keypoint(s) "
                f"{', '.join(unknown)} are not in it (it has {', '.join(skeleton.keypoints)})",
            )
        sk = skeleton.subset(keypoints)
    else:
        sk = match_skeleton(keypoints)
        if sk is None:
            file_edges = [tuple(e) for e in ds.attrs.get("skeleton") or []]
            sk = guess_skeleton(keypoints)
            if file_edges:  # the file's own edges beat a guess
                sk = Skeleton(**{**sk.__dict__, "edges": tuple(file_edges)})
    sk = mark_static_as_arena(ds, sk)
    if not ds.attrs.get("skeleton") or skeleton is not None:
        ds.attrs["skeleton"] = [tuple(e) for e in sk.edges]
    ds.attrs["skeleton_name"] = sk.name
    ds.attrs["skeleton_spec"] = json.dumps(sk.to_dict())
    return ds


def skeleton_of(ds: xr.Dataset) -> Skeleton:
    """The :class:`Skeleton` attached to a loaded pose dataset."""
    spec = ds.attrs.get("skeleton_spec")
    if spec:
        return Skeleton.from_dict(json.loads(spec))
    return skeleton_of(attach_skeleton(ds.copy()))


from napari_vqmap.io.arena import mark_static_as_arena, without_arena  # noqa: E402
from napari_vqmap.io.netcdf import save_poses  # noqa: E402

__all__ = [
    "FORMATS",
    "POSE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "attach_skeleton",
    "detect_format",
    "load_poses",
    "save_poses",
    "skeleton_of",
    "without_arena",
]
