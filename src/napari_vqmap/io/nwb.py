"""NWB files with ndx-pose ``PoseEstimation`` (schema 0.1.x to 0.3+), read with plain h5py.

h5py needs neither pynwb nor the extension's namespace, so files written with any
ndx-pose version read the same way:

* every ``PoseEstimation`` group under ``processing/<module>/`` is one individual (named
  after the group when there are several, else ``individual_0``); its
  ``PoseEstimationSeries`` children are the keypoints;
* keypoint order and edges come from the ``nodes``/``edges`` datasets on the group
  (ndx-pose 0.1.x) or from its linked ``Skeleton`` (0.2+); without them, series order;
* fps is the series ``rate`` (``starting_time``) or, when ``timestamps`` are regular,
  1 / their step; frame indices are then (t - t0) * fps, otherwise 0..T-1;
* **mixed dimensionality** (some series 3D, some 2D, as in ndx-pose's 0.1.1 fixture): the
  data is loaded as 3D and the 2D series get z = 0.0, with a warning naming them. Padding
  keeps every point visible (z = NaN would mark it missing); dropping the minority would
  lose keypoints.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import PoseFileError, check_fps, check_hdf5, make_poses

_REGULAR_RTOL = 1e-3


def sniff(path: Path) -> bool:
    """True for an HDF5 NWB file holding at least one ndx-pose ``PoseEstimation``."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return bool(_pose_groups(f))
    except Exception:
        return False


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read the ndx-pose data of an NWB file into the pose container."""
    import h5py

    check_hdf5(path)
    try:
        with h5py.File(path, "r") as f:
            groups = _pose_groups(f)
            if not groups:
                raise PoseFileError(path, "NWB file has no ndx-pose PoseEstimation data")
            read = [_read_group(path, g) for g in groups]
            names = [g.name.rsplit("/", 1)[-1] for g in groups] if len(groups) > 1 else None
    except (OSError, KeyError) as err:
        raise PoseFileError(path, f"cannot read the NWB pose data: {err}") from err
    return _combine(path, read, names, fps)


def _pose_groups(f) -> list:
    import h5py

    processing = f.get("processing")
    if not isinstance(processing, h5py.Group):
        return []
    found = []
    for module in processing.values():
        if isinstance(module, h5py.Group):
            found += [g for g in module.values() if _type_of(g) == "PoseEstimation"]
    return found


def _type_of(obj) -> str:
    """An HDF5 object's NWB type; "" for none, or for a link that leads nowhere (None)."""
    if obj is None:
        return ""
    value = obj.attrs.get("neurodata_type", "")
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_group(path: Path, group) -> dict:
    """Keypoint series of one PoseEstimation group, in node order, with edges."""
    series = {name: g for name, g in group.items() if _type_of(g) == "PoseEstimationSeries"}
    if not series:
        raise PoseFileError(path, f"{group.name} has no PoseEstimationSeries")
    nodes, edge_inds = _nodes_and_edges(group)
    order = [n for n in nodes if n in series] + [n for n in series if n not in nodes]
    data = {n: _read_series(path, series[n]) for n in order}
    edges = [(nodes[a], nodes[b]) for a, b in edge_inds if nodes[a] in data and nodes[b] in data]
    return {"series": data, "edges": edges}


def _nodes_and_edges(group) -> tuple[list[str], list[tuple[int, int]]]:
    holders = [group] + [g for g in group.values() if _type_of(g) == "Skeleton"]
    for holder in holders:
        if "nodes" in holder:
            nodes = [_text(n) for n in holder["nodes"][()]]
            edges = holder["edges"][()] if "edges" in holder else np.empty((0, 2))
            return nodes, [(int(a), int(b)) for a, b in edges]
    return [], []


def _read_series(path: Path, g) -> dict:
    if "data" not in g:
        raise PoseFileError(path, f"{g.name} has no 'data'")
    data = np.asarray(g["data"][()], dtype=np.float64)
    if data.ndim != 2 or data.shape[1] not in (2, 3):
        raise PoseFileError(path, f"{g.name}/data has shape {data.shape}; expected (T, 2 or 3)")
    conf = np.asarray(g["confidence"][()], dtype=np.float64) if "confidence" in g else None
    if conf is not None and conf.shape != (len(data),):
        raise PoseFileError(path, f"{g.name}/confidence has shape {conf.shape}")
    return {"data": data, "confidence": conf, "rate": _rate(g), "timestamps": _timestamps(g)}


def _rate(g) -> float | None:
    if "starting_time" in g and "rate" in g["starting_time"].attrs:
        return float(g["starting_time"].attrs["rate"])
    return None


def _timestamps(g) -> np.ndarray | None:
    return np.asarray(g["timestamps"][()], dtype=np.float64) if "timestamps" in g else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _combine(path: Path, groups: list[dict], individuals: list[str] | None, fps: float | None):
    first = next(iter(groups[0]["series"].values()))
    n_time = len(first["data"])
    keypoints = list(dict.fromkeys(k for g in groups for k in g["series"]))
    all_series = [s for g in groups for s in g["series"].values()]
    if any(len(s["data"]) != n_time for s in all_series):
        raise PoseFileError(path, "pose series have different numbers of frames")
    n_space = max(s["data"].shape[1] for s in all_series)
    individuals = individuals or ["individual_0"]
    _warn_padded(path, groups, n_space)
    position = np.full((n_time, n_space, len(keypoints), len(individuals)), np.nan)
    confidence = np.full((n_time, len(keypoints), len(individuals)), np.nan)
    for i, group in enumerate(groups):
        for name, s in group["series"].items():
            k = keypoints.index(name)
            position[:, : s["data"].shape[1], k, i] = s["data"]
            if s["data"].shape[1] < n_space:
                position[:, 2, k, i] = 0.0
            if s["confidence"] is not None:
                confidence[:, k, i] = s["confidence"]
    if all(s["confidence"] is None for s in all_series):
        confidence = None
    file_fps, frames = _fps_and_frames(first, n_time)
    file_fps = check_fps(file_fps, path, "the NWB series' rate")
    stamps = first["timestamps"]
    if fps is None and first["rate"] is None and file_fps == 1.0 and stamps[0] == 0:
        warnings.warn(
            f"{path}: the timestamps run 0, 1, 2, ... seconds, so they may be frame "
            "numbers; read as 1 fps. If they are, pass the video's frame rate (fps=, --fps)",
            UserWarning,
            stacklevel=4,
        )
    return make_poses(
        position,
        keypoints,
        confidence=confidence,
        individuals=individuals,
        frames=frames,
        fps=fps or file_fps,
        source_software="NWB",
        source_file=path,
        edges=list(dict.fromkeys(e for g in groups for e in g["edges"])),
    )


def _warn_padded(path: Path, groups: list[dict], n_space: int) -> None:
    flat = [n for g in groups for n, s in g["series"].items() if s["data"].shape[1] < n_space]
    if flat:
        warnings.warn(
            f"{path}: keypoint(s) {', '.join(flat)} are 2D while others are 3D; "
            "loaded as 3D with z = 0.0 for them",
            UserWarning,
            stacklevel=4,
        )


def _fps_and_frames(series: dict, n_time: int) -> tuple[float | None, np.ndarray]:
    """The frame rate (rate, or regular timestamps) and the frame index of each row."""
    if series["rate"] is not None:  # a rate of 0 or below is refused by the caller
        return series["rate"], np.arange(n_time)
    stamps = series["timestamps"]
    if stamps is None or len(stamps) < 2:
        return None, np.arange(n_time)
    step = np.diff(stamps)
    median = float(np.median(step))
    if median <= 0 or not np.allclose(step, median, rtol=_REGULAR_RTOL):
        return None, np.arange(n_time)
    return 1.0 / median, np.rint((stamps - stamps[0]) / median).astype(np.int64)
