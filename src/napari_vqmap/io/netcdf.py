"""movement netCDF files (read, with plural or singular dim names) and our writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.validators import PoseFileError, make_poses, to_singular_dims

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
    except (OSError, ValueError) as err:
        raise PoseFileError(path, f"not a readable netCDF file: {err}") from err
    if "position" not in ds:
        raise PoseFileError(path, "netCDF file has no 'position' variable (not a poses dataset)")
    pos = ds["position"].transpose("time", "space", "keypoint", "individual")
    conf = (
        ds["confidence"].transpose("time", "keypoint", "individual").values
        if ("confidence" in ds)
        else None
    )
    attrs = dict(ds.attrs)
    file_fps = attrs.get("fps")
    file_fps = (
        float(file_fps)
        if file_fps not in (None, "", "None") and np.isfinite(float(file_fps))
        else None
    )
    fps = fps or file_fps
    if "frame" in ds.coords:
        frames = ds["frame"].values
    elif file_fps and attrs.get("time_unit", "seconds") == "seconds":
        frames = np.rint(ds["time"].values * file_fps).astype(np.int64)
    else:
        frames = np.rint(ds["time"].values).astype(np.int64)
    edges = attrs.get("skeleton") or []
    if isinstance(edges, str):
        edges = json.loads(edges) if edges else []
    out = make_poses(
        pos.values,
        ds["keypoint"].values,
        confidence=conf,
        individuals=ds["individual"].values,
        frames=frames,
        fps=fps,
        source_software=str(attrs.get("source_software") or "netCDF"),
        source_file=path,
        edges=[tuple(e) for e in edges],
        skeleton_name=str(attrs.get("skeleton_name") or ""),
    )
    for name, var in ds.data_vars.items():  # keep extra variables, e.g. motif results
        if name not in ("position", "confidence"):
            out[name] = var
    return out


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
