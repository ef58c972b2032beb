"""Plain numpy ``.npy`` / ``.npz`` pose arrays, named by a skeleton preset or by the file.

Accepted layouts: (time, keypoint, space) and (time, individual, keypoint, space) with
2 or 3 spatial coordinates, NaN for missing points. A ``.npz`` may name its keypoints
(``keypoint_names``) and give a kinematic tree (``parents``: each keypoint's parent index,
the root is its own parent), as in GIMBAL's Rat7M ``mock_data.npz``. Files without names
need ``skeleton=`` with as many keypoints as the array.

The helpers :func:`resolve_skeleton` and :func:`to_position` are shared with the other
readers for formats that store bare arrays (SUBTLE csv, DANNCE, sleap-anipose).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.skeletons import Skeleton, get_skeleton
from napari_vqmap.validators import PoseFileError, check_array_shape, make_poses

# npz keys tried first, in order, when no ``key=`` is given. Mocap ground truth comes
# before the network's triangulation: both are in GIMBAL's mock_data.npz.
POSE_KEYS = (
    "position",
    "positions",
    "poses",
    "pose",
    "groundtruth_pos_3d",
    "triangulated_pos_3d",
    "pred",
)
NAME_KEYS = ("keypoint_names", "keypoints", "node_names", "bodyparts")


def sniff(path: Path) -> bool:
    """True for a readable ``.npy`` (any shape; ``load`` explains a wrong one) or a
    ``.npz`` holding at least one array shaped like poses."""
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as f:
                _npy_shape(f)
            return True
        with zipfile.ZipFile(path) as zf:
            return any(_is_pose_shape(_member_shape(zf, n)) for n in zf.namelist())
    except Exception:
        return False


def load(
    path: Path,
    fps: float | None = None,
    skeleton: Skeleton | None = None,
    key: str | None = None,
) -> xr.Dataset:
    """Read a ``.npy`` / ``.npz`` pose array; ``key`` picks the array inside a ``.npz``."""
    if path.suffix.lower() == ".npz":
        arr, names, edges = _read_npz(path, key)
    else:
        arr, names, edges = _read_npy(path), None, []
    check_array_shape(path, arr, [3, 4], "pose array (time, [individual,] keypoint, space)")
    position = to_position(path, arr)
    n_kp = position.shape[2]
    if names is None:
        sk = resolve_skeleton(path, n_kp, skeleton)
        names, edges = list(sk.keypoints), list(sk.edges)
    elif len(names) != n_kp:
        raise PoseFileError(path, f"{len(names)} keypoint names for {n_kp} keypoints")
    return make_poses(
        position,
        names,
        fps=fps,
        source_software="numpy",
        source_file=path,
        edges=edges,
    )


def to_position(path: Path, arr: np.ndarray) -> np.ndarray:
    """(time, [individual,] keypoint, space) -> (time, space, keypoint, individual)."""
    if arr.shape[-1] not in (2, 3):
        raise PoseFileError(
            path, f"pose array has shape {arr.shape}; the last axis must be x, y[, z] (2 or 3)"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise PoseFileError(path, f"pose array holds {arr.dtype}, not numbers")
    arr = arr[:, None] if arr.ndim == 3 else arr
    return np.transpose(arr.astype(np.float32), (0, 3, 2, 1))


def resolve_skeleton(
    path: Path, n_keypoints: int, skeleton: Skeleton | None, default: str | None = None
) -> Skeleton:
    """The skeleton naming a file's ``n_keypoints`` unnamed keypoints: ``skeleton`` if given
    (it must have exactly that many), else the preset ``default`` if its size fits."""
    if skeleton is not None:
        if len(skeleton.keypoints) != n_keypoints:
            raise PoseFileError(
                path,
                f"the data has {n_keypoints} keypoints but skeleton {skeleton.name!r} has "
                f"{len(skeleton.keypoints)} ({', '.join(skeleton.keypoints)}); "
                "pass a skeleton that matches the file",
            )
        return skeleton
    if default is not None:
        preset = get_skeleton(default)
        if len(preset.keypoints) == n_keypoints:
            return preset
    raise PoseFileError(
        path,
        f"the file stores no keypoint names for its {n_keypoints} keypoints; pass "
        "skeleton= (a preset name or a skeleton YAML, see docs/skeletons.md)",
    )


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise PoseFileError(path, f"not a readable .npy array: {err}") from err


def _read_npz(path: Path, key: str | None) -> tuple[np.ndarray, list[str] | None, list]:
    """The pose array, keypoint names (or ``None``) and edges from ``parents``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            key = _choose_key(path, z, key)
            arr = z[key]
            name_key = next((k for k in NAME_KEYS if k in z.files), None)
            names = None if name_key is None else [str(n) for n in z[name_key]]
            parents = z["parents"] if "parents" in z.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise PoseFileError(path, f"not a readable .npz archive: {err}") from err
    edges = [] if names is None or parents is None else _parent_edges(path, names, parents)
    return arr, names, edges


def _choose_key(path: Path, z, key: str | None) -> str:
    if key is not None:
        if key not in z.files:
            raise PoseFileError(path, f"no array {key!r}; the file has {', '.join(z.files)}")
        return key
    preferred = next((k for k in POSE_KEYS if k in z.files), None)
    if preferred is not None:
        return preferred
    shaped = [k for k in z.files if _is_pose_shape(z[k].shape)]
    if len(shaped) == 1:
        return shaped[0]
    if not shaped:
        raise PoseFileError(
            path, f"no pose array (time, [individual,] keypoint, 2|3) among {', '.join(z.files)}"
        )
    raise PoseFileError(
        path, f"several arrays could be poses ({', '.join(shaped)}); choose one with key="
    )


def _parent_edges(path: Path, names: list[str], parents: np.ndarray) -> list[tuple[str, str]]:
    """Edges (parent, child) from a parent-index array (the root is its own parent)."""
    parents = np.asarray(parents).astype(int).ravel()
    if len(parents) != len(names) or parents.min() < 0 or parents.max() >= len(names):
        raise PoseFileError(path, f"'parents' {parents.tolist()} does not fit {len(names)} names")
    return [(names[p], names[i]) for i, p in enumerate(parents) if p != i]


def _is_pose_shape(shape: tuple[int, ...]) -> bool:
    return len(shape) in (3, 4) and shape[-1] in (2, 3)


def _npy_shape(f) -> tuple[int, ...]:
    """Shape from a ``.npy`` header without reading the data."""
    fmt = np.lib.format
    major, _ = fmt.read_magic(f)
    read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
    return read(f)[0]


def _member_shape(zf: zipfile.ZipFile, name: str) -> tuple[int, ...]:
    with zf.open(name) as f:
        return _npy_shape(f)
