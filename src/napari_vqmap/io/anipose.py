"""Anipose 3D csv files (``pose-3d/*.csv``).

One header row; per keypoint ``<kp>_x, <kp>_y, <kp>_z, <kp>_error, <kp>_ncams,
<kp>_score``, plus the alignment matrix ``M_00 .. M_22``, ``center_0 .. center_2`` and the
frame number ``fnum``. Keypoints are the names with all three of ``_x/_y/_z``; confidence
is ``<kp>_score``; frame indices come from ``fnum`` when present. One individual.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import (
    PoseFileError,
    complete_lines,
    frame_numbers,
    make_poses,
    trailing_blank_lines,
)

_AXES = ("_x", "_y", "_z")


def sniff(path: Path) -> bool:
    """True for a csv whose header has ``_x/_y/_z`` triplets and ``_score``/``_error``."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            header = next(csv.reader(fh))
        return bool(_keypoints(header)) and any(c.endswith(("_score", "_error")) for c in header)
    except Exception:
        return False


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read an Anipose 3D csv into the pose container (a blank line is a NaN frame)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = [c.strip() for c in next(csv.reader(fh), [])]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise PoseFileError(path, f"column name(s) {', '.join(repeated)} appear more than once")
    keypoints = _keypoints(header)
    if not keypoints:
        raise PoseFileError(path, "no '<keypoint>_x, _y, _z' columns (not an Anipose 3D csv)")
    # only the columns read below: a long file's errors, ncams and matrices stay on disk
    wanted = {f"{k}{a}" for k in keypoints for a in (*_AXES, "_score")} | {"fnum"}
    try:
        df = pd.read_csv(
            complete_lines(path),
            header=None,
            skiprows=1,
            names=header,
            usecols=[c for c in header if c in wanted],
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise PoseFileError(path, f"cannot parse the Anipose csv: {err}") from err
    blank = trailing_blank_lines(path)
    if blank:
        df = df.iloc[: len(df) - blank]
    try:
        xyz = np.stack([df[[f"{k}{a}" for k in keypoints]].to_numpy(np.float32) for a in _AXES], 1)
        scores = [f"{k}_score" for k in keypoints]
        conf = df[scores].to_numpy(float) if all(s in df for s in scores) else None
        fnum = df["fnum"].to_numpy(float) if "fnum" in df else None
    except (ValueError, TypeError) as err:
        raise PoseFileError(path, f"non-numeric values in the Anipose csv: {err}") from err
    frames = None if fnum is None else frame_numbers(fnum, path, "the 'fnum' values")
    return make_poses(
        xyz[..., None],
        keypoints,
        confidence=None if conf is None else _masked(conf, xyz)[..., None],
        frames=frames,
        fps=fps,
        source_software="Anipose",
        source_file=path,
    )


def _keypoints(columns: list[str]) -> list[str]:
    names = set(columns)
    stems = [c[:-2] for c in columns if c.endswith("_x")]
    return [s for s in stems if s and all(f"{s}{a}" in names for a in _AXES)]


def _masked(conf: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(xyz).any(axis=1), np.nan, conf)
