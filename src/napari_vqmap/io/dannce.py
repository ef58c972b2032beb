"""DANNCE 3D predictions (``save_data_AVG*.mat`` / ``save_data_MAX*.mat``, MATLAB v5).

``pred`` is (frames, xyz, joints), ``p_max`` the per-joint confidence and ``sampleID`` the
sample of each row. Decisions:

* **Frames and fps.** DANNCE/Label3D sample IDs are camera-sync timestamps in ms, so the
  median step between them is the frame period: 1, 11, 21, ... -> 10 ms -> 100 fps and
  frame = sampleID // step (0, 1, 2, ...). ``fps=`` overrides.
* **MAX mode** stores ``pred`` relative to the centre of mass (the per-frame centroid of
  the joints stays near 0). Then the COM track is looked up beside the file (``com3d.mat``,
  ``COM/predict_results/com3d.mat`` or a Label3D ``*dannce.mat`` with a ``com`` struct),
  matched by sampleID and added. Without one, the poses load as they are, with a warning.
* **Names.** A ``*skeleton*.mat`` beside the file (``joint_names``, 1-based
  ``joints_idx``) with as many joints, else ``skeleton=``, else the ``dannce_mouse22``
  preset for 22 joints.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.io.arrays import resolve_skeleton
from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import PoseFileError, check_array_shape, make_poses

DEFAULT_SKELETON = "dannce_mouse22"
NO_POSES = "no pose array ('pred' or 'labelData') found"


def sniff(path: Path) -> bool:
    """True for a .mat holding a 3-D ``pred`` array (not Label3D, COM or skeleton files)."""
    shapes = mat_variables(path)
    return len(shapes.get("pred", ())) == 3


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read DANNCE predictions into (time, xyz, joint, 1 individual), world coordinates; a
    file with only Label3D ``labelData`` is read as Label3D."""
    m = read_mat(path)
    if "pred" in m:
        return load_pred(path, m, fps, skeleton)
    if "labelData" in m:
        return from_label_data(path, m, fps, skeleton)
    raise PoseFileError(path, NO_POSES)


def load_pred(path: Path, m: dict, fps: float | None, skeleton: Skeleton | None) -> xr.Dataset:
    """DANNCE ``pred`` of the read file ``m``: (time, xyz, joint, 1 individual)."""
    pred = _pred_array(path, m["pred"])
    n_frames, _, n_kp = pred.shape
    sample_ids = _row(m.get("sampleID"), n_frames)
    frames, file_fps = frames_from_sample_ids(sample_ids, n_frames)
    com_source = ""
    if is_com_relative(pred):
        pred, com_source = _add_com(path, pred, sample_ids)
    sk = names_beside(path, n_kp) or resolve_skeleton(path, n_kp, skeleton, DEFAULT_SKELETON)
    conf = m.get("p_max")
    ds = make_poses(
        pred[..., None],
        sk.keypoints,
        confidence=conf[..., None] if _fits(conf, (n_frames, n_kp)) else None,
        frames=frames,
        fps=fps or file_fps,
        source_software="DANNCE",
        source_file=path,
        edges=sk.edges,
        skeleton_name=sk.name,
    )
    ds.attrs["com_source"] = com_source
    return ds


def mat_variables(path: Path) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape of a MATLAB v5 file, without loading it; {} if unreadable."""
    import scipy.io

    try:
        return {name: tuple(shape) for name, shape, _ in scipy.io.whosmat(str(path))}
    except Exception:
        return {}


def read_mat(path: Path) -> dict:
    """``scipy.io.loadmat`` with failures turned into :class:`PoseFileError`."""
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except NotImplementedError as err:  # MATLAB v7.3 files are HDF5
        raise PoseFileError(
            path, f"MATLAB v7.3 (HDF5) .mat files are not supported; re-save with -v7 ({err})"
        ) from err
    except (OSError, ValueError, TypeError) as err:
        raise PoseFileError(path, f"not a readable MATLAB .mat file: {err}") from err


def frames_from_sample_ids(
    sample_ids: np.ndarray | None, n_frames: int
) -> tuple[np.ndarray, float | None]:
    """Frame index of each row and the fps, reading sample IDs as ms timestamps."""
    if sample_ids is None or n_frames < 2 or not np.isfinite(sample_ids).all():
        return np.arange(n_frames), None
    step = float(np.median(np.diff(sample_ids)))
    if not np.isfinite(step) or step <= 0:
        return np.arange(n_frames), None
    return np.floor(sample_ids / step).astype(np.int64), 1000.0 / step


def names_beside(path: Path, n_keypoints: int) -> Skeleton | None:
    """Names and edges from a DANNCE ``*skeleton*.mat`` with ``n_keypoints`` joints beside
    ``path`` (e.g. ``mouse22_skeleton.mat``), or ``None``."""
    for other in sorted(path.parent.glob("*skeleton*.mat")):
        if "joint_names" not in mat_variables(other):
            continue
        m = read_mat(other)
        names = [str(np.ravel(n)[0]) for n in np.ravel(m["joint_names"])]
        if len(names) != n_keypoints:
            continue
        idx = np.asarray(m.get("joints_idx", np.zeros((0, 2))), dtype=int) - 1
        edges = [(names[a], names[b]) for a, b in idx if min(a, b) >= 0 and max(a, b) < len(names)]
        return Skeleton(name=other.stem, keypoints=tuple(names), edges=tuple(edges))
    return None


def is_com_relative(pred: np.ndarray) -> bool:
    """True when the per-frame joint centroid stays near 0 (well inside the body size)."""
    centroid = np.nanmean(pred, axis=2, keepdims=True)
    spread = np.nanmedian(np.linalg.norm(pred - centroid, axis=1))
    return bool(np.nanmedian(np.linalg.norm(centroid[..., 0], axis=1)) < 0.5 * spread)


def _add_com(
    path: Path, pred: np.ndarray, sample_ids: np.ndarray | None
) -> tuple[np.ndarray, str]:
    """World coordinates from COM-relative ``pred`` and a COM track beside the file."""
    found = None if sample_ids is None else _com_beside(path, sample_ids)
    if found is None:
        warnings.warn(
            f"{path}: 'pred' looks relative to the centre of mass (DANNCE MAX mode) and no "
            "COM file with matching sampleIDs is beside it; loading it as it is",
            UserWarning,
            stacklevel=4,
        )
        return pred, ""
    com, source = found
    return pred + com[:, :, None], str(source)


def _com_beside(path: Path, sample_ids: np.ndarray) -> tuple[np.ndarray, Path] | None:
    """(COM rows for ``sample_ids``, file) from the first COM file beside that covers them."""
    folder = path.parent
    candidates = [*sorted(folder.glob("*.mat")), folder / "COM" / "predict_results" / "com3d.mat"]
    for other in candidates:
        if other == path or "com" not in mat_variables(other):
            continue
        com, ids = _com_track(read_mat(other))
        if com is None or ids is None:
            continue
        order = np.argsort(ids)
        pos = np.clip(np.searchsorted(ids[order], sample_ids), 0, len(ids) - 1)
        if np.array_equal(ids[order][pos], sample_ids):
            return com[order][pos], other
    return None


def _com_track(m: dict) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(COM (N, 3), sampleIDs (N,)) from ``com3d.mat`` or a Label3D ``com`` struct."""
    com, ids = m["com"], m.get("sampleID")
    if com.dtype.names and "com3d" in com.dtype.names:  # Label3D project file
        ids = com["sampleID"].ravel()[0]
        com = com["com3d"].ravel()[0]
    com = np.asarray(com, dtype=np.float64)
    if ids is None or com.ndim != 2 or com.shape[1] != 3:
        return None, None
    ids = np.ravel(ids).astype(np.float64)
    return (com, ids) if len(ids) == len(com) else (None, None)


def _pred_array(path: Path, pred: np.ndarray) -> np.ndarray:
    """``pred`` as (frames, xyz, joints) float."""
    pred = np.asarray(pred, dtype=np.float64)
    check_array_shape(path, pred, [3], "'pred' (frames, xyz, joints)")
    if pred.shape[1] != 3 and pred.shape[2] == 3:
        pred = np.transpose(pred, (0, 2, 1))
    if pred.shape[1] != 3:
        raise PoseFileError(path, f"'pred' has shape {pred.shape}; expected (frames, 3, joints)")
    return pred


def _row(value: np.ndarray | None, n: int) -> np.ndarray | None:
    """A (1, n) / (n, 1) MATLAB vector as (n,) floats, or ``None`` if absent or mis-sized."""
    if value is None or np.size(value) != n:
        return None
    return np.ravel(value).astype(np.float64)


def _fits(value: np.ndarray | None, shape: tuple[int, ...]) -> bool:
    return value is not None and np.shape(value) == shape


# ---------------------------------------------------------------- Label3D


def from_label_data(
    path: Path, m: dict, fps: float | None, skeleton: Skeleton | None
) -> xr.Dataset:
    """Label3D ``labelData``: the labelled 3D frames, (time, xyz, joint, 1 individual)."""
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
            stacklevel=5,
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
