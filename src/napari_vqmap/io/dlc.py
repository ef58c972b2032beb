"""DeepLabCut pose tables (``.h5`` and ``.csv``): predictions and labelled frames.

Handled layouts:

* single-animal predictions, header rows ``scorer, bodyparts, coords`` (also the 2018
  ``DeepCut_...`` scorer naming);
* multi-animal (maDLC) predictions with an ``individuals`` row. maDLC writes undetected
  points as ``x == y == 0`` with likelihood 0 (or NaN): those become NaN;
* the legacy "multi-animal as single" layout where every bodypart carries a short animal
  prefix (``B_Nose``, ``W_Nose``): split into one individual per prefix when all bodyparts
  share prefixes with the same bodypart names (left/right prefixes such as ``L_`` never split);
* labelled frames (``CollectedData_*``): the index holds image paths such as
  ``labeled-data/m4s1/img0012.png``; the frame index is the last number in the file name,
  so sparse frames keep their video indices. Without a likelihood, confidence is 1 where
  a point is labelled.

The scorer row is ignored (csv files often carry pandas de-dup suffixes there). Lightning
Pose writes the same layout; :mod:`napari_vqmap.io.lightning_pose` reuses this parser.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import (
    PoseFileError,
    check_hdf5,
    complete_lines,
    make_poses,
)

HEADER_ROWS = ("scorer", "individuals", "bodyparts", "coords")
SPACE = ("x", "y", "z")
# scorer prefixes of Lightning Pose prediction files; DLC leaves those to that reader
LP_SCORERS = ("heatmap",)
_LEFT_RIGHT = {"l", "r", "lt", "rt", "left", "right"}
_PREFIXED = re.compile(r"^([A-Za-z0-9]{1,3})_(.+)$")


@dataclass
class DlcTable:
    """A DLC-layout table as arrays: ``position`` (T, space, K, I), ``likelihood`` or None."""

    position: np.ndarray
    likelihood: np.ndarray | None
    keypoints: list[str]
    individuals: list[str]
    frames: np.ndarray
    scorer: str


def sniff(path: Path) -> bool:
    """True for a DLC pandas ``.h5`` or a csv with ``scorer``/``bodyparts``/``coords`` rows."""
    try:
        if path.suffix.lower() == ".h5":
            return _is_pandas_h5(path)
        header = csv_header(path)
        return bool(header) and not scorer_of(header).startswith(LP_SCORERS)
    except Exception:
        return False


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read a DeepLabCut ``.h5``/``.csv`` into the pose container."""
    return table_to_poses(read_table(path), path, fps, "DeepLabCut")


def table_to_poses(
    table: DlcTable, path: Path, fps: float | None, source_software: str
) -> xr.Dataset:
    """Build the pose container from a parsed DLC-layout table."""
    conf = None
    if table.likelihood is not None:
        missing = np.isnan(table.position).any(axis=1)
        conf = np.where(missing, np.nan, table.likelihood)
    return make_poses(
        table.position,
        table.keypoints,
        confidence=conf,
        individuals=table.individuals,
        frames=table.frames,
        fps=fps,
        source_software=source_software,
        source_file=path,
    )


def read_table(path: Path) -> DlcTable:
    """Parse a DLC-layout ``.h5`` or ``.csv`` file (errors name the file)."""
    df = _read_h5(path) if path.suffix.lower() == ".h5" else _read_csv(path)
    return _parse(df, path)


# --- reading --------------------------------------------------------------------------


def _is_pandas_h5(path: Path) -> bool:
    import h5py

    with h5py.File(path, "r") as f:
        groups = [f[k] for k in f if isinstance(f[k], h5py.Group)]
        return any("pandas_type" in g.attrs for g in groups)


def _read_h5(path: Path) -> pd.DataFrame:
    check_hdf5(path)
    if not _is_pandas_h5(path):
        raise PoseFileError(path, "HDF5 file holds no pandas table (not a DeepLabCut .h5)")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
            key = next((k for k in keys if k.strip("/") in ("df_with_missing", "tracks")), keys[0])
            df = store.get(key)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as err:
        raise PoseFileError(path, f"cannot read the DeepLabCut table: {err}") from err
    if not isinstance(df, pd.DataFrame):
        raise PoseFileError(path, "HDF5 pandas object is not a table")
    return df


def csv_header(path: Path) -> list[list[str]]:
    """The leading DLC header rows (first cell in :data:`HEADER_ROWS`), or [] if none."""
    rows = []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh):
            if not row or row[0].strip().lower() not in HEADER_ROWS:
                break
            rows.append(row)
            if len(rows) == len(HEADER_ROWS):
                break
    names = [r[0].strip().lower() for r in rows]
    return rows if "bodyparts" in names and names[-1] == "coords" else []


def scorer_of(header: list[list[str]]) -> str:
    first = header[0]
    return first[1] if first[0].strip().lower() == "scorer" and len(first) > 1 else ""


def _read_csv(path: Path) -> pd.DataFrame:
    header = csv_header(path)
    if not header:
        raise PoseFileError(
            path, "not a DeepLabCut csv: expected header rows 'scorer', 'bodyparts', 'coords'"
        )
    try:
        df = pd.read_csv(complete_lines(path), header=list(range(len(header))), index_col=0)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise PoseFileError(path, f"cannot parse the DeepLabCut csv: {err}") from err
    if df.columns.nlevels != len(header) or df.shape[1] == 0:
        raise PoseFileError(path, "DeepLabCut csv has header rows but no data columns")
    df.columns = df.columns.set_names([r[0].strip().lower() for r in header])
    return df


# --- parsing --------------------------------------------------------------------------


def _parse(df: pd.DataFrame, path: Path) -> DlcTable:
    df = _name_levels(df, path)
    coords = [str(c) for c in df.columns.get_level_values("coords")]
    space = [c for c in SPACE if c in coords]
    if space not in (["x", "y"], ["x", "y", "z"]):
        raise PoseFileError(path, f"no x/y coordinate columns (coords are {sorted(set(coords))})")
    data = _to_numeric(df, path)
    individuals, keypoints = _individuals_and_keypoints(df)
    n_time = len(df)
    position = np.full((n_time, len(space), len(keypoints), len(individuals)), np.nan)
    has_lk = "likelihood" in coords
    likelihood = np.full((n_time, len(keypoints), len(individuals)), np.nan) if has_lk else None
    slot = {c: i for i, c in enumerate(space)}
    for col, (ind, kp, coord) in enumerate(_column_keys(df)):
        k, i = keypoints.index(kp), individuals.index(ind)
        if coord in slot:
            position[:, slot[coord], k, i] = data[:, col]
        elif coord == "likelihood":
            likelihood[:, k, i] = data[:, col]
    if likelihood is not None:
        _undetected_to_nan(position, likelihood)
    frames, order = _frame_indices(df.index, path)
    position, likelihood = position[order], None if likelihood is None else likelihood[order]
    scorer = str(df.columns.get_level_values("scorer")[0]) if "scorer" in df.columns.names else ""
    table = DlcTable(position, likelihood, keypoints, individuals, frames, scorer)
    return _split_prefixes(table) if len(individuals) == 1 else table


def _name_levels(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    if not isinstance(df.columns, pd.MultiIndex):
        raise PoseFileError(path, "table has a single header row; expected bodyparts and coords")
    names = [str(n).lower() if n is not None else None for n in df.columns.names]
    if None in names or "bodyparts" not in names or "coords" not in names:
        defaults = {3: list(HEADER_ROWS[:1] + HEADER_ROWS[2:]), 4: list(HEADER_ROWS)}
        if df.columns.nlevels not in defaults:
            raise PoseFileError(path, f"unexpected header levels {df.columns.names}")
        names = defaults[df.columns.nlevels]
    df = df.copy()
    df.columns = df.columns.set_names(names)
    return df


def _to_numeric(df: pd.DataFrame, path: Path) -> np.ndarray:
    try:
        return df.apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError) as err:
        raise PoseFileError(path, f"non-numeric values in the coordinate columns: {err}") from err


def _column_keys(df: pd.DataFrame) -> list[tuple[str, str, str]]:
    cols = df.columns
    inds = (
        cols.get_level_values("individuals")
        if "individuals" in cols.names
        else ["individual_0"] * len(cols)
    )
    return [
        (str(i), str(b), str(c))
        for i, b, c in zip(
            inds, cols.get_level_values("bodyparts"), cols.get_level_values("coords"), strict=True
        )
    ]


def _individuals_and_keypoints(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    keys = _column_keys(df)
    return list(dict.fromkeys(k[0] for k in keys)), list(dict.fromkeys(k[1] for k in keys))


def _undetected_to_nan(position: np.ndarray, likelihood: np.ndarray) -> None:
    """maDLC stores undetected points as (0, 0) with likelihood 0 or NaN: make them NaN."""
    zero = (position == 0).all(axis=1) & ~(likelihood > 0)
    position[np.broadcast_to(zero[:, None], position.shape)] = np.nan
    likelihood[zero] = np.nan


def _frame_indices(index: pd.Index, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frame numbers of the rows and the order that sorts them."""
    values = index.get_level_values(-1) if isinstance(index, pd.MultiIndex) else index
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    if numeric.notna().all():
        frames = numeric.to_numpy().astype(np.int64)
    else:
        frames = np.array([_number_in_name(str(v)) for v in values], dtype=np.int64)
    if (frames < 0).any() or len(np.unique(frames)) != len(frames):
        warnings.warn(
            f"{path}: row labels do not give distinct frame numbers; using 0..{len(frames) - 1}",
            UserWarning,
            stacklevel=4,
        )
        frames = np.arange(len(frames))
    order = np.argsort(frames, kind="stable")
    return frames[order], order


def _number_in_name(label: str) -> int:
    digits = re.findall(r"\d+", Path(label.replace("\\", "/")).stem)
    return int(digits[-1]) if digits else -1


def _split_prefixes(table: DlcTable) -> DlcTable:
    """Split ``B_Nose, W_Nose, ...`` (one table column set per animal) into individuals."""
    matches = [_PREFIXED.match(k) for k in table.keypoints]
    if not all(matches):
        return table
    groups: dict[str, list[str]] = {}
    for m in matches:
        groups.setdefault(m.group(1), []).append(m.group(2))
    names = list(groups.values())
    if (
        len(groups) < 2
        or {p.lower() for p in groups} & _LEFT_RIGHT
        or len(names[0]) < 2
        or any(sorted(n) != sorted(names[0]) for n in names)
    ):
        return table
    keypoints = names[0]
    cols = [[table.keypoints.index(f"{p}_{k}") for k in keypoints] for p in groups]
    position = np.stack([table.position[:, :, c, 0] for c in cols], axis=-1)
    likelihood = None
    if table.likelihood is not None:
        likelihood = np.stack([table.likelihood[:, c, 0] for c in cols], axis=-1)
    return DlcTable(position, likelihood, keypoints, list(groups), table.frames, table.scorer)
