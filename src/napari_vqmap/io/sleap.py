"""SLEAP label/prediction files (``.slp``) and SLEAP analysis HDF5 (``.analysis.h5``).

``.slp`` files are read with ``sleap_io`` (no pickles). Tracks become individuals (in the
file's track order); instances without a track become ``untracked_0``, ``untracked_1``, ...
numbered within each frame. Where a user-labelled instance and a predicted one exist for
the same animal in a frame (same track, or the user instance was corrected from that
prediction) the user instance wins. Confidence is the point score (1 for user points).
Keypoints follow the skeleton's node order, the skeleton's edges are attached, and the
``frame`` coordinate keeps the video frame indices (sparse labels stay sparse). Only the
first video and first skeleton of a file are read (with a warning when there are more).

Analysis files store ``tracks`` as (tracks, xy, nodes, frames) (SLEAP's default,
"transposed" export) or as (frames, nodes, xy, tracks) (export without transposing, and
older files); the layout is found from the number of nodes. Optional datasets
(``point_scores``, ``track_names``, ``edge_names``/``edge_inds``) may be absent or empty.
A point with a NaN score but a position is a user point: its confidence is 1.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import PoseFileError, check_hdf5, make_poses


def sniff(path: Path) -> bool:
    """True for a SLEAP ``.slp`` (HDF5) or an analysis ``.h5`` with ``tracks`` + ``node_names``."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            if path.suffix.lower() == ".slp":
                return "metadata" in f and "instances" in f
            return isinstance(f.get("tracks"), h5py.Dataset) and "node_names" in f
    except Exception:
        return False


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read a SLEAP ``.slp`` or analysis ``.h5`` into the pose container."""
    check_hdf5(path)
    if path.suffix.lower() == ".slp":
        return _load_slp(path, fps)
    return _load_analysis(path, fps)


# --- .slp -----------------------------------------------------------------------------


def _load_slp(path: Path, fps: float | None) -> xr.Dataset:
    import sleap_io as sio

    try:
        labels = sio.load_slp(str(path), open_videos=False)
    except Exception as err:  # sleap_io raises many kinds on malformed files
        raise PoseFileError(path, f"cannot read the SLEAP file: {err}") from err
    if not labels.skeletons or not labels.videos:
        raise PoseFileError(path, "SLEAP file has no skeleton or no video")
    if len(labels.videos) > 1 or len(labels.skeletons) > 1:
        warnings.warn(
            f"{path}: {len(labels.videos)} videos, {len(labels.skeletons)} skeletons; "
            "reading the first video and skeleton only",
            UserWarning,
            stacklevel=4,
        )
    video, sk = labels.videos[0], labels.skeletons[0]
    frames = sorted(
        (lf for lf in labels.labeled_frames if lf.video is video), key=lambda lf: lf.frame_idx
    )
    if not frames:
        raise PoseFileError(path, "SLEAP file has no labelled frames")
    per_frame = [_choose_instances(lf.instances, sk) for lf in frames]
    individuals = _individual_order(labels.tracks, per_frame)
    n_kp = len(sk.node_names)
    position = np.full((len(frames), 2, n_kp, len(individuals)), np.nan)
    confidence = np.full((len(frames), n_kp, len(individuals)), np.nan)
    for t, chosen in enumerate(per_frame):
        for name, inst in chosen.items():
            i = individuals.index(name)
            position[t, :, :, i], confidence[t, :, i] = _points(inst)
    return make_poses(
        position,
        sk.node_names,
        confidence=confidence,
        individuals=individuals,
        frames=[lf.frame_idx for lf in frames],
        fps=fps,
        source_software="SLEAP",
        source_file=path,
        edges=[tuple(e) for e in sk.edge_names],
    )


def _choose_instances(instances, sk) -> dict[str, object]:
    """Instances of one frame keyed by individual name, user instances first."""
    instances = [i for i in instances if i.skeleton is sk]
    user = [i for i in instances if not hasattr(i, "score")]
    replaced = {id(i.from_predicted) for i in user if i.from_predicted is not None}
    chosen: dict[str, object] = {}
    untracked = 0
    for inst in user + [i for i in instances if hasattr(i, "score")]:
        if id(inst) in replaced:
            continue
        if inst.track is None:
            chosen[f"untracked_{untracked}"] = inst
            untracked += 1
        else:
            chosen.setdefault(inst.track.name, inst)
    return chosen


def _individual_order(tracks, per_frame: list[dict[str, object]]) -> list[str]:
    used = {name for chosen in per_frame for name in chosen}
    names = [t.name for t in tracks if t.name in used]
    n_untracked = sum(n.startswith("untracked_") and n not in names for n in used)
    return names + [f"untracked_{k}" for k in range(n_untracked)]


def _points(inst) -> tuple[np.ndarray, np.ndarray]:
    """(2, K) positions (NaN where not visible) and (K,) scores (1 for user points)."""
    pts = inst.points
    xy = np.array(pts["xy"], dtype=np.float64)
    xy[~np.asarray(pts["visible"], dtype=bool)] = np.nan
    score = np.array(pts["score"], dtype=np.float64) if hasattr(inst, "score") else None
    if score is None:
        score = np.ones(len(xy))
    score[np.isnan(xy).any(axis=1)] = np.nan
    return xy.T, score


# --- analysis .h5 ---------------------------------------------------------------------


def _load_analysis(path: Path, fps: float | None) -> xr.Dataset:
    import h5py

    with h5py.File(path, "r") as f:
        if "tracks" not in f or "node_names" not in f:
            raise PoseFileError(
                path, "not a SLEAP analysis file (needs 'tracks' and 'node_names')"
            )
        nodes = _strings(f["node_names"][()])
        tracks = np.asarray(f["tracks"][()], dtype=np.float64)
        scores = (
            np.asarray(f["point_scores"][()], dtype=np.float64) if "point_scores" in f else None
        )
        names = _strings(f["track_names"][()]) if "track_names" in f else []
        edges = _edges(f, nodes)
    position, confidence = _analysis_arrays(path, tracks, scores, len(nodes))
    n_ind = position.shape[-1]
    individuals = names if len(names) == n_ind else [f"track_{i}" for i in range(n_ind)]
    return make_poses(
        position,
        nodes,
        confidence=confidence,
        individuals=individuals,
        fps=fps,
        source_software="SLEAP",
        source_file=path,
        edges=edges,
    )


def _analysis_arrays(
    path: Path, tracks: np.ndarray, scores: np.ndarray | None, n_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``tracks``/``point_scores`` as (T, space, K, I) and (T, K, I)."""
    if tracks.ndim != 4:
        raise PoseFileError(path, f"'tracks' has shape {tracks.shape}; expected 4 dimensions")
    if tracks.shape[2] == n_nodes and tracks.shape[1] in (2, 3):  # (I, xy, K, T)
        position = tracks.transpose(3, 1, 2, 0)
        scores = None if scores is None else scores.transpose(2, 1, 0)
    elif tracks.shape[1] == n_nodes and tracks.shape[2] in (2, 3):  # (T, K, xy, I)
        position = tracks.transpose(0, 2, 1, 3)
    else:
        raise PoseFileError(
            path, f"'tracks' has shape {tracks.shape}, which does not match {n_nodes} node names"
        )
    missing = np.isnan(position).any(axis=1)
    if scores is None or scores.shape != missing.shape:
        scores = np.ones(missing.shape)
    confidence = np.where(np.isnan(scores), 1.0, scores)  # user points carry no score
    return position, np.where(missing, np.nan, confidence)


def _edges(f, nodes: list[str]) -> list[tuple[str, str]]:
    if "edge_names" in f and f["edge_names"].size:
        return [tuple(_strings(pair)) for pair in f["edge_names"][()]]
    if "edge_inds" in f and f["edge_inds"].size:
        return [(nodes[int(a)], nodes[int(b)]) for a, b in f["edge_inds"][()]]
    return []


def _strings(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]
