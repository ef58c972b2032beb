"""SUBTLE / AVATAR-style headerless coordinate csv: one row per frame, ``x0,y0,z0,x1,...``.

The file holds no keypoint names, so a skeleton says what the columns are: ``skeleton=``
(K keypoints -> 3K columns for xyz or 2K for xy), else the ``subtle`` preset when the
file has its 27 columns (9 keypoints x xyz). No frame rate is stored (SUBTLE records at
20 fps): pass ``fps=``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from napari_vqmap.skeletons import Skeleton, get_skeleton
from napari_vqmap.validators import (
    PoseFileError,
    complete_lines,
    make_poses,
    trailing_blank_lines,
)

DEFAULT_SKELETON = "subtle"


def sniff(path: Path) -> bool:
    """True when the first lines are all numbers, the same count per line, a multiple of 2
    or 3 and at least 6 (a header, an index column or text means another format)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = [f.readline() for _ in range(3)]
        rows = [line.strip().split(",") for line in lines if line.strip()]
        if not rows or len({len(r) for r in rows}) != 1:
            return False
        if not all(_is_number(v) for r in rows for v in r):
            return False
        n = len(rows[0])
        return n >= 6 and (n % 3 == 0 or n % 2 == 0)
    except Exception:
        return False


def _is_number(text: str) -> bool:
    """A float, or an empty cell (a missing value)."""
    try:
        float(text or "nan")
    except ValueError:
        return False
    return True


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read the csv into (time, space, keypoint, 1 individual)."""
    values = _read(path)
    n_cols = values.shape[1]
    sk = _skeleton_for(path, n_cols, skeleton)
    n_space = n_cols // len(sk.keypoints)
    position = values.reshape(len(values), len(sk.keypoints), n_space, 1).transpose(0, 2, 1, 3)
    return make_poses(
        position,
        sk.keypoints,
        fps=fps,
        source_software="SUBTLE",
        source_file=path,
        edges=sk.edges,
        skeleton_name=sk.name,
    )


def _read(path: Path) -> np.ndarray:
    """The values as float32 (frames, columns). A blank line or a row of empty cells is a
    frame with nothing tracked (NaN), so the rows stay one per frame; blank lines after
    the last line end are not frames."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        first = next((line for line in f if line.strip()), "")  # blank lines: NaN frames
    n_cols = len(first.split(","))
    try:
        with warnings.catch_warnings():  # make_poses counts values too large for float32
            warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
            df = pd.read_csv(
                complete_lines(path),
                header=None,
                names=list(range(n_cols)),
                dtype=np.float32,
                skip_blank_lines=False,
                encoding="utf-8-sig",
            )
    except pd.errors.ParserError as err:
        raise PoseFileError(path, f"not a headerless numeric csv: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise PoseFileError(
            path, f"some values hold text; expected only numbers (x0,y0,z0,x1,...): {err}"
        ) from err
    values = df.to_numpy(dtype=np.float32)  # may be read-only (pandas copy-on-write)
    blank = trailing_blank_lines(path)
    return values[: len(values) - blank] if blank else values


def _skeleton_for(path: Path, n_cols: int, skeleton: Skeleton | None) -> Skeleton:
    """The skeleton whose keypoint count fits the columns (3 per keypoint, or 2)."""
    if skeleton is None:
        default = get_skeleton(DEFAULT_SKELETON)
        if n_cols != 3 * len(default.keypoints):
            raise PoseFileError(
                path,
                f"{n_cols} columns and no keypoint names; pass skeleton= with "
                f"{n_cols // 3} keypoints (xyz) or {n_cols // 2} (xy)",
            )
        return default
    k = len(skeleton.keypoints)
    if n_cols not in (2 * k, 3 * k):
        raise PoseFileError(
            path,
            f"{n_cols} columns do not fit skeleton {skeleton.name!r} with {k} keypoints "
            f"(expected {3 * k} columns for xyz or {2 * k} for xy)",
        )
    return skeleton
