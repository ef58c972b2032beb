"""movement netCDF files (read, with plural or singular dim names) and our writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.validators import (
    CONF_DIMS,
    DIMS,
    PoseFileError,
    check_fps,
    make_poses,
    to_singular_dims,
)

_JSON_ATTRS = ("skeleton", "empty_keypoints")


def sniff(path: Path) -> bool:
    """True for a netCDF/HDF5 file holding a ``position`` variable."""
    try:
        with xr.open_dataset(path) as ds:
            return "position" in ds
    except Exception:
        return False


def load(path: Path, fps: float | None = None, skeleton=None) -> xr.Dataset:
    """Read a movement poses netCDF (singular or plural dims) or one written by ``save_poses``."""
    try:
        with xr.open_dataset(path) as raw:
            ds = to_singular_dims(raw.load())
    except Exception as err:  # netCDF4/h5py raise many kinds on a corrupt file
        raise PoseFileError(path, f"not a readable netCDF file: {err}") from err
    if "position" not in ds:
        raise PoseFileError(path, "netCDF file has no 'position' variable (not a poses dataset)")
    _check_dims(path, ds)
    pos = ds["position"].transpose(*DIMS)
    conf = ds["confidence"].transpose(*CONF_DIMS).values if "confidence" in ds else None
    attrs = dict(ds.attrs)
    file_fps = attrs.get("fps")
    if file_fps in ("", "None") or (isinstance(file_fps, float) and np.isnan(file_fps)):
        file_fps = None  # our writer and movement store "no frame rate" these ways
    file_fps = check_fps(file_fps, path, "the file's 'fps' attribute")
    fps = fps or file_fps
    frames = _frames(path, ds, file_fps, attrs)
    edges = attrs.get("skeleton") or []
    try:
        if isinstance(edges, str):
            edges = json.loads(edges) if edges else []
        edges = [(str(a), str(b)) for a, b in edges]
    except (ValueError, TypeError) as err:
        problem = f"the 'skeleton' attribute is not a list of edges: {err}"
        raise PoseFileError(path, problem) from err
    out = make_poses(
        pos.values,
        ds["keypoint"].values,
        confidence=conf,
        individuals=ds["individual"].values,
        frames=frames,
        fps=fps,
        source_software=str(attrs.get("source_software") or "netCDF"),
        source_file=path,
        edges=edges,
        skeleton_name=str(attrs.get("skeleton_name") or ""),
    )
    for name, var in ds.data_vars.items():  # keep extra variables, e.g. motif results
        if name not in ("position", "confidence"):
            out[name] = var
    return out


def _check_dims(path: Path, ds: xr.Dataset) -> None:
    """Raise unless ``position`` (and ``confidence``) have exactly the pose dims."""
    got = tuple(ds["position"].dims)
    if sorted(got) != sorted(DIMS):
        raise PoseFileError(
            path,
            f"'position' has dimensions {got}; expected {DIMS} "
            "(movement's names; the plural 'keypoints', 'individuals' are read too)",
        )
    if "confidence" in ds and sorted(ds["confidence"].dims) != sorted(CONF_DIMS):
        got = tuple(ds["confidence"].dims)
        raise PoseFileError(path, f"'confidence' has dimensions {got}; expected {CONF_DIMS}")


def _frames(path: Path, ds: xr.Dataset, file_fps: float | None, attrs: dict) -> np.ndarray:
    """Video frame index of each row: the ``frame`` coordinate, else ``time`` x fps."""
    values = ds["frame"].values if "frame" in ds.coords else ds["time"].values
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        raise PoseFileError(path, "the 'time' (or 'frame') coordinate holds non-numbers or NaN")
    if "frame" not in ds.coords and file_fps and attrs.get("time_unit", "seconds") == "seconds":
        values = values * file_fps
    if np.abs(values).max(initial=0) > 2**53:
        raise PoseFileError(path, "the 'time' (or 'frame') coordinate is out of range")
    return np.rint(values).astype(np.int64)


def movement_dims() -> dict[str, str]:
    """Our dim name -> the installed movement's (plural in movement <= 0.15); identity when
    movement is not importable."""
    from napari_vqmap.io import import_movement

    try:
        import_movement()
        from movement.validators.datasets import ValidPosesInputs

        names = set(ValidPosesInputs.DIM_NAMES)
    except (ImportError, AttributeError):
        return {}
    return {
        k: v for k, v in (("keypoint", "keypoints"), ("individual", "individuals")) if v in names
    }


def save_poses(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a pose dataset to netCDF (atomically) with the installed movement's dim names, so
    ``xarray.open_dataset`` gives a movement poses dataset; ``load_poses`` reads it back."""
    path = Path(path)
    out = ds.rename(movement_dims())
    attrs = {}
    for key, value in ds.attrs.items():
        if value is None:
            continue
        if key in _JSON_ATTRS or isinstance(value, list | tuple | dict):
            value = json.dumps([list(v) for v in value] if key == "skeleton" else value)
        attrs[key] = value
    out.attrs = attrs
    try:
        return atomic_write(path, lambda tmp: out.to_netcdf(tmp, engine="netcdf4"))
    except OSError as err:
        raise PoseFileError(path, f"cannot write netCDF: {err}") from err
