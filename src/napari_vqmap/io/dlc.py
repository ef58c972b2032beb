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
import multiprocessing as mp
import re
import sys
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


H5_READ_TIMEOUT_S = 120.0


def _read_h5(path: Path) -> pd.DataFrame:
    """The pandas table of a DLC ``.h5``. PyTables (which pandas uses) can crash the whole
    process on a corrupt file, so on Linux it reads in a forked child, and a crash there
    is an error naming the file."""
    check_hdf5(path, deep=True)
    if not _is_pandas_h5(path):
        raise PoseFileError(path, "HDF5 file holds no pandas table (not a DeepLabCut .h5)")
    if not sys.platform.startswith("linux"):  # fork is safe on Linux only (macOS: no)
        result = _read_h5_table(path)
    else:
        result = _in_child(path, _read_h5_table)
    if isinstance(result, str):
        raise PoseFileError(path, f"cannot read the DeepLabCut table: {result}")
    return result


def _read_h5_table(path: Path) -> pd.DataFrame | str:
    """The table, or why it cannot be read."""
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
            key = next((k for k in keys if k.strip("/") in ("df_with_missing", "tracks")), keys[0])
            df = store.get(key)
    except (OSError, ValueError, KeyError, TypeError, ImportError, RuntimeError) as err:
        return str(err)
    except Exception as err:  # PyTables raises many kinds on a corrupt file
        return f"{type(err).__name__}: {err}"
    return df if isinstance(df, pd.DataFrame) else "HDF5 pandas object is not a table"


def _in_child(path: Path, read) -> pd.DataFrame | str:
    """``read(path)`` in a forked child process; its result, or why it gave none."""
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    with warnings.catch_warnings():  # Python >= 3.12 warns about fork with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        child = ctx.Process(target=_child_main, args=(read, path, send), daemon=True)
        child.start()
    send.close()
    try:
        if not receive.poll(H5_READ_TIMEOUT_S):
            return f"reading took more than {H5_READ_TIMEOUT_S:g} s"
        return receive.recv()
    except EOFError:
        child.join(5)
        return f"the HDF5 library crashed reading it (exit code {child.exitcode}): corrupt file?"
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)


def _child_main(read, path: Path, send) -> None:
    try:
        send.send(read(path))
    finally:
        send.close()


def csv_header(path: Path) -> list[list[str]]:
    """The leading DLC header rows (first cell in :data:`HEADER_ROWS`), or [] if none."""
    rows = []
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
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
    """The data rows under the header rows, read as numbers, with the header as columns.

    The header is parsed here, not by pandas: pandas takes a first data row that is empty
    after its label for a row of index names and drops that frame, and a byte-order mark
    (Excel) hides the first header row from it."""
    header = csv_header(path)
    if not header:
        raise PoseFileError(
            path, "not a DeepLabCut csv: expected header rows 'scorer', 'bodyparts', 'coords'"
        )
    width = max(len(r) for r in header)
    header = [r + [""] * (width - len(r)) for r in header]
    n_index = _index_columns(header[-1])
    if width <= n_index:
        raise PoseFileError(path, "DeepLabCut csv has header rows but no data columns")
    columns = pd.MultiIndex.from_tuples(
        [tuple(r[j].strip() for r in header) for j in range(n_index, width)],
        names=[r[0].strip().lower() for r in header],
    )
    try:
        with warnings.catch_warnings():  # make_poses counts values too large for float32
            warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
            df = pd.read_csv(
                complete_lines(path),
                header=None,
                skiprows=len(header),
                names=list(range(width)),
                index_col=list(range(n_index)),
                dtype={j: "float32" for j in range(n_index, width)},  # the container's type
                encoding="utf-8-sig",
            )
    except pd.errors.ParserError as err:
        raise PoseFileError(path, f"cannot parse the DeepLabCut csv: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        problem = f"non-numeric values in the coordinate columns: {err}"
        raise PoseFileError(path, problem) from err
    df.columns = columns
    return df


def _index_columns(coords_row: list[str]) -> int:
    """How many leading columns label the rows: 1, or 3 in DLC >= 2.2 labelled-frame csvs
    (``labeled-data, <video>, <image>``), whose header rows start with empty cells."""
    n = 1
    while n < len(coords_row) and not coords_row[n].strip():
        n += 1
    return n if n < len(coords_row) else 1


# --- parsing --------------------------------------------------------------------------


def _parse(df: pd.DataFrame, path: Path) -> DlcTable:
    if len(df) == 0:
        raise PoseFileError(path, "no frames found (the table has header rows only)")
    df = _name_levels(df, path)
    coords = [str(c) for c in df.columns.get_level_values("coords")]
    space = [c for c in SPACE if c in coords]
    if space not in (["x", "y"], ["x", "y", "z"]):
        raise PoseFileError(path, f"no x/y coordinate columns (coords are {sorted(set(coords))})")
    data = _to_numeric(df, path)
    keys = _distinct_keys(_column_keys(df), path)
    individuals = list(dict.fromkeys(k[0] for k in keys))
    keypoints = list(dict.fromkeys(k[1] for k in keys))
    # float32 from the start (the container's type): half the memory of a long file
    n_time, f32 = len(df), np.float32
    position = np.full((n_time, len(space), len(keypoints), len(individuals)), np.nan, f32)
    has_lk = "likelihood" in coords
    likelihood = (
        np.full((n_time, len(keypoints), len(individuals)), np.nan, f32) if has_lk else None
    )
    slot = {c: i for i, c in enumerate(space)}
    with np.errstate(over="ignore"):  # too large for float32: inf, counted by make_poses
        for col, (ind, kp, coord) in enumerate(keys):
            k, i = keypoints.index(kp), individuals.index(ind)
            if coord in slot:
                position[:, slot[coord], k, i] = data[:, col]
            elif coord == "likelihood":
                likelihood[:, k, i] = data[:, col]
    del data
    if likelihood is not None:
        _undetected_to_nan(position, likelihood)
    frames, order, numbered = _frame_indices(df.index, path)
    if (np.diff(order) != 1).any():  # rows out of frame order (labelled frames)
        position, likelihood = position[order], None if likelihood is None else likelihood[order]
    scorer = str(df.columns.get_level_values("scorer")[0]) if "scorer" in df.columns.names else ""
    table = DlcTable(position, likelihood, keypoints, individuals, frames, scorer)
    if numbered:
        table = _fill_gaps(table, path)
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
    return df.set_axis(df.columns.set_names(names), axis=1)  # no copy of the values


def _to_numeric(df: pd.DataFrame, path: Path) -> np.ndarray:
    try:
        with np.errstate(over="ignore"):  # too large for float32: inf, counted later
            if all(pd.api.types.is_numeric_dtype(t) for t in df.dtypes):  # csv: numbers
                return df.to_numpy(dtype=np.float32)  # read only: may be pandas' own array
            numeric = df.apply(pd.to_numeric, errors="raise")
            return numeric.to_numpy(dtype=np.float32)
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


def _distinct_keys(keys: list[tuple[str, str, str]], path: Path) -> list[tuple[str, str, str]]:
    """``keys`` with a repeated (individual, bodypart, coord) column read as a keypoint of
    its own (``Nose_2`` for the second ``Nose``), with a warning: never dropped."""
    taken = {k[1] for k in keys}
    seen: dict[tuple[str, str, str], int] = {}
    renamed: dict[tuple[str, str, int], str] = {}
    out = []
    for ind, kp, coord in keys:
        n = seen.get((ind, kp, coord), 0) + 1
        seen[(ind, kp, coord)] = n
        if n > 1:
            if (ind, kp, n) not in renamed:
                m = n
                while f"{kp}_{m}" in taken:
                    m += 1
                renamed[(ind, kp, n)] = f"{kp}_{m}"
                taken.add(f"{kp}_{m}")
            kp = renamed[(ind, kp, n)]
        out.append((ind, kp, coord))
    if renamed:
        pairs = ", ".join(f"{k[1]} -> {v}" for k, v in renamed.items())
        warnings.warn(
            f"{path}: keypoint names repeat in the header; the repeats are read as "
            f"keypoints of their own ({pairs})",
            UserWarning,
            stacklevel=5,
        )
    return out


def _undetected_to_nan(position: np.ndarray, likelihood: np.ndarray) -> None:
    """maDLC stores undetected points as (0, 0) with likelihood 0 or NaN: make them NaN."""
    zero = (position == 0).all(axis=1) & ~(likelihood > 0)
    position[np.broadcast_to(zero[:, None], position.shape)] = np.nan
    likelihood[zero] = np.nan


def _frame_indices(index: pd.Index, path: Path) -> tuple[np.ndarray, np.ndarray, bool]:
    """Frame numbers of the rows, the order that sorts them, and whether the row labels
    were frame numbers (predictions) rather than image names (labelled frames)."""
    values = index.get_level_values(-1) if isinstance(index, pd.MultiIndex) else index
    raw = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    numeric = bool(np.isfinite(raw).all())
    if not numeric:
        raw = np.array([_number_in_name(str(v)) for v in values], dtype=np.float64)
    usable = (
        np.isfinite(raw).all()
        and (raw >= 0).all()
        and (raw < 2**53).all()
        and (raw == np.round(raw)).all()
        and len(np.unique(raw)) == len(raw)
    )
    if not usable:
        warnings.warn(
            f"{path}: row labels do not give distinct frame numbers; using 0..{len(raw) - 1}",
            UserWarning,
            stacklevel=4,
        )
        raw = np.arange(len(raw), dtype=np.float64)
    frames = raw.astype(np.int64)
    order = np.argsort(frames, kind="stable")
    return frames[order], order, numeric and usable


def _fill_gaps(table: DlcTable, path: Path) -> DlcTable:
    """One row per video frame from 0 to the last numbered frame: frames the file has no
    row for (a row lost, or left blank) become NaN frames, with a warning. Spans far longer
    than the file are left as they are (sparse labels)."""
    frames, n = table.frames, len(table.frames)
    span = int(frames[-1]) + 1
    if span == n or span > 2 * n + 1000:
        return table
    rows = frames
    position = np.full((span, *table.position.shape[1:]), np.nan, table.position.dtype)
    position[rows] = table.position
    likelihood = None
    if table.likelihood is not None:
        likelihood = np.full((span, *table.likelihood.shape[1:]), np.nan, table.likelihood.dtype)
        likelihood[rows] = table.likelihood
    warnings.warn(
        f"{path}: {span - n} frame(s) of 0..{frames[-1]} have no row; "
        "they are read as missing (NaN)",
        UserWarning,
        stacklevel=4,
    )
    full = np.arange(span, dtype=np.int64)
    return DlcTable(position, likelihood, table.keypoints, table.individuals, full, table.scorer)


def _number_in_name(label: str) -> float:
    digits = re.findall(r"\d+", Path(label.replace("\\", "/")).stem)
    return float(digits[-1]) if digits else -1.0


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
