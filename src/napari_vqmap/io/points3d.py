"""sleap-anipose ``points3d.h5``: triangulated 3D points, dataset ``tracks``
(frames, tracks, nodes, 3), with no node names inside.

Names come from the per-view SLEAP ``*.analysis.h5`` files of the session (beside the file
or one folder down, e.g. ``back/minimal_back_proofread.analysis.h5``) when one has as many
nodes, else from ``skeleton=``, else from the ``sleap_anipose_mouse`` preset for 15 nodes.
Nothing else in the session (``calibration.toml``) is read or written. No fps is stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.io.arrays import resolve_skeleton
from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import PoseFileError, check_hdf5, make_poses

DEFAULT_SKELETON = "sleap_anipose_mouse"


def sniff(path: Path) -> bool:
    """True for HDF5 with a 4-D ``tracks`` ending in xyz and no SLEAP ``node_names``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            tracks = f.get("tracks")
            return (
                isinstance(tracks, h5py.Dataset)
                and tracks.ndim == 4
                and tracks.shape[-1] == 3
                and "node_names" not in f
            )
    except Exception:
        return False


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read ``tracks`` into (time, xyz, node, track)."""
    tracks = _read_tracks(path)
    n_nodes = tracks.shape[2]
    sk = _names_from_views(path, n_nodes) or resolve_skeleton(
        path, n_nodes, skeleton, DEFAULT_SKELETON
    )
    return make_poses(
        np.transpose(tracks, (0, 3, 2, 1)),
        sk.keypoints,
        individuals=[f"track_{i}" for i in range(tracks.shape[1])],
        fps=fps,
        source_software="sleap-anipose",
        source_file=path,
        edges=sk.edges,
        skeleton_name=sk.name,
    )


def _read_tracks(path: Path) -> np.ndarray:
    import h5py

    check_hdf5(path)
    with h5py.File(path, "r") as f:
        tracks = f.get("tracks")
        if not isinstance(tracks, h5py.Dataset):
            raise PoseFileError(path, f"no 'tracks' dataset; the file has {', '.join(f.keys())}")
        arr = tracks[()]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise PoseFileError(
            path, f"'tracks' has shape {arr.shape}; expected (frames, tracks, nodes, 3)"
        )
    return arr.astype(np.float32)


def _names_from_views(path: Path, n_nodes: int) -> Skeleton | None:
    """Node names and edges from a per-view SLEAP analysis file of the same session."""
    import h5py

    folder = path.parent
    for view in sorted([*folder.glob("*.analysis.h5"), *folder.glob("*/*.analysis.h5")]):
        try:
            with h5py.File(view, "r") as f:
                names = [_text(n) for n in f["node_names"][()]]
                inds = f["edge_inds"][()] if "edge_inds" in f else np.zeros((0, 2), int)
        except (OSError, KeyError):
            continue
        if len(names) == n_nodes:
            edges = tuple((names[a], names[b]) for a, b in np.asarray(inds, dtype=int))
            return Skeleton(name=view.stem, keypoints=tuple(names), edges=edges)
    return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
