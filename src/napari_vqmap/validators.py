"""Checks on files and pose datasets, gathered so every loader fails the same way.

Every problem with a user's input is raised as :class:`~napari_vqmap.errors.PoseFileError`
(a ``ValueError``) whose message names the file and what is wrong with it.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from napari_vqmap.errors import InputError, PoseFileError

DIMS = ("time", "space", "keypoint", "individual")
CONF_DIMS = ("time", "keypoint", "individual")
# movement <= 0.15 and some older files use plural dim names
_PLURAL_TO_SINGULAR = {"keypoints": "keypoint", "individuals": "individual"}


# What h5py, PyTables, netCDF4, scipy.io, zipfile/zlib and sleap_io raise on a corrupt or
# cut binary file (a flipped byte in a header, a chunk that does not decompress).
CORRUPT_FILE_ERRORS = (
    OSError,
    EOFError,
    RuntimeError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    OverflowError,
    MemoryError,
    NotImplementedError,
    UnicodeDecodeError,
    zlib.error,
    struct.error,
    zipfile.BadZipFile,
)


@contextlib.contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Turn a library's error on a corrupt binary file into a :class:`PoseFileError`
    naming the file (``what``: "the SLEAP file", ...); our own errors pass unchanged."""
    try:
        yield
    except InputError:
        raise
    except CORRUPT_FILE_ERRORS as err:
        problem = f"cannot read {what} (corrupt or truncated?): {type(err).__name__}: {err}"
        raise PoseFileError(path, problem) from err


def check_option(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    *,
    integer: bool = False,
    above: bool = False,
    none_ok: bool = False,
) -> None:
    """Raise a ValueError naming ``owner.name`` unless ``value`` is a number (an int with
    ``integer``) in [low, high] (``above``: greater than ``low``), or None with ``none_ok``."""
    if value is None and none_ok:
        return
    kind = "an integer" if integer else "a number"
    ok_type = type(value) is int if integer else isinstance(value, int | float)
    if not ok_type or isinstance(value, bool) or math.isnan(value):
        ok = False
    else:
        ok = (value > low if above else value >= low) and value <= high
    if not ok:
        bound = f"> {low:g}" if above else f">= {low:g}"
        if high != math.inf:
            bound = f"in {'(' if above else '['}{low:g}, {high:g}]"
        extra = " or None" if none_ok else ""
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = " (text: YAML reads 1e-3 as text, write 1.0e-3)"
            except ValueError:
                pass
        raise ValueError(f"{owner}.{name} must be {kind} {bound}{extra}, got {value!r}{hint}")


def check_file(path: str | Path, suffixes: Sequence[str] | None = None) -> Path:
    """Return ``path`` as a Path if it is a readable, non-empty file (with an allowed suffix)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise PoseFileError(path, "file not found")
    if path.is_dir():
        raise PoseFileError(path, "is a folder, expected a file")
    if path.stat().st_size == 0:
        raise PoseFileError(path, "file is empty")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise PoseFileError(
            path, f"unsupported file type {path.suffix!r}; expected one of {', '.join(suffixes)}"
        )
    return path


def check_hdf5(path: Path, deep: bool = False) -> None:
    """Raise a clear error if ``path`` is not a readable (complete) HDF5 file. ``deep``
    reads every attribute and dataset too: PyTables (pandas ``.h5``) can crash the process
    on a corrupt file that h5py reports cleanly, so check with h5py before handing over."""
    import h5py

    def touch(name: str, obj) -> None:
        for key in obj.attrs:
            obj.attrs[key]
        if isinstance(obj, h5py.Dataset):
            obj[()]

    try:
        with h5py.File(path, "r") as f:
            list(f.keys())
            if deep:
                touch("/", f)
                f.visititems(touch)
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as err:
        problem = f"not a readable HDF5 file (truncated or corrupt?): {err}"
        raise PoseFileError(path, problem) from err


def complete_lines(path: Path) -> Path | io.BytesIO:
    """``path`` for pandas to read, or, when its last line was cut short (no line end and
    fewer comma-separated values than the first line: a copy or a tracker that stopped
    mid-write), its complete lines only, with a warning: the cut line's last value may be
    cut too, so it is left out rather than read wrong."""
    with open(path, "rb") as f:
        n_fields = len(f.readline().split(b","))
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 65536))
        tail = f.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return path
    got = len(tail.rsplit(b"\n", 1)[-1].split(b","))
    if got >= n_fields:
        return path
    warnings.warn(
        f"{path}: the last line has {got} of {n_fields} values and no line end: the file "
        "looks truncated; that line is left out",
        stacklevel=2,
    )
    data = path.read_bytes()
    return io.BytesIO(data[: data.rfind(b"\n") + 1])


def trailing_blank_lines(path: Path) -> int:
    """How many empty lines end a text file after its last line end (``a\\n\\n\\n``: 2).
    Readers that keep blank lines as NaN frames drop these: they hold no frame."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 65536))
        tail = f.read().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not tail.endswith(b"\n"):
        return 0
    return len(tail) - len(tail.rstrip(b"\n")) - 1


def frame_numbers(values: np.ndarray, path: Path | None, what: str) -> np.ndarray:
    """``values`` as int64 video frame indices when they are distinct whole numbers >= 0;
    otherwise a warning naming ``what`` and 0..N-1 (one entry per row, never fewer)."""
    with np.errstate(invalid="ignore"):
        raw = np.asarray(values, dtype=np.float64)
    ok = (
        raw.ndim == 1
        and bool(np.isfinite(raw).all())
        and bool((raw >= 0).all())
        and bool((raw < 2**53).all())
        and bool((raw == np.round(raw)).all())
        and len(np.unique(raw)) == len(raw)
    )
    if ok:
        return raw.astype(np.int64)
    warnings.warn(
        f"{path or 'poses'}: {what} are not distinct whole frame numbers; using 0..{len(raw) - 1}",
        UserWarning,
        stacklevel=3,
    )
    return np.arange(len(raw), dtype=np.int64)


def check_array_shape(path: Path | None, arr: np.ndarray, ndims: Sequence[int], what: str) -> None:
    """Raise if ``arr`` does not have one of the allowed numbers of dimensions."""
    if arr.ndim not in ndims:
        allowed = " or ".join(str(n) for n in ndims)
        raise PoseFileError(path, f"{what} has shape {arr.shape}; expected {allowed} dimensions")


def make_poses(
    position: np.ndarray,
    keypoints: Sequence[str],
    *,
    confidence: np.ndarray | None = None,
    individuals: Sequence[str] | None = None,
    frames: Sequence[int] | np.ndarray | None = None,
    fps: float | None = None,
    source_software: str = "unknown",
    source_file: str | Path | None = None,
    edges: Sequence[tuple[str, str]] | None = None,
    skeleton_name: str | None = None,
) -> xr.Dataset:
    """Build the pose container from arrays.

    ``position`` is (time, space, keypoint, individual) with NaN for missing points;
    ``confidence`` is (time, keypoint, individual) and defaults to 1 where a point is
    present and NaN where missing. ``frames`` are the video frame indices of the rows
    (defaults to 0..T-1; sparse labelled frames keep theirs).
    """
    path = None if source_file is None else Path(source_file)
    fps = check_fps(fps, path, "fps")
    with np.errstate(over="ignore", invalid="ignore"):  # too large for float32 -> inf
        position = np.asarray(position, dtype=np.float32)
    check_array_shape(path, position, [4], "position array (time, space, keypoint, individual)")
    n_time, n_space, n_kp, n_ind = position.shape
    if n_space not in (2, 3):
        raise PoseFileError(path, f"position has {n_space} spatial coordinates; expected 2 or 3")
    if n_kp == 0:
        raise PoseFileError(path, "no keypoints found")
    if n_time == 0:
        raise PoseFileError(path, "no frames found")
    keypoints = [str(k) for k in keypoints]
    if len(keypoints) != n_kp:
        raise PoseFileError(path, f"{len(keypoints)} keypoint names for {n_kp} keypoints")
    if len(set(keypoints)) != n_kp:
        dups = sorted({k for k in keypoints if keypoints.count(k) > 1})
        raise PoseFileError(path, f"duplicate keypoint names: {', '.join(dups)}")
    individuals = [f"individual_{i}" for i in range(n_ind)] if individuals is None else individuals
    individuals = [str(i) for i in individuals]
    if len(individuals) != n_ind:
        raise PoseFileError(path, f"{len(individuals)} individual names for {n_ind} individuals")
    if len(set(individuals)) != n_ind:
        dups = sorted({i for i in individuals if individuals.count(i) > 1})
        raise PoseFileError(path, f"duplicate individual names: {', '.join(dups)}")
    position, missing = _missing_to_nan(position, path)
    if not position.flags.writeable:  # a read-only view (pandas copy-on-write): own a copy
        position = position.copy()
    if confidence is None:
        confidence = np.where(missing, np.float32(np.nan), np.float32(1.0))
    with np.errstate(over="ignore", invalid="ignore"):
        confidence = np.asarray(confidence, dtype=np.float32)
    if confidence.shape != (n_time, n_kp, n_ind):
        raise PoseFileError(
            path, f"confidence has shape {confidence.shape}; expected {(n_time, n_kp, n_ind)}"
        )
    # a new array: never write into one the caller (or pandas) owns
    confidence = np.where(missing | ~np.isfinite(confidence), np.float32(np.nan), confidence)
    frames = np.arange(n_time) if frames is None else np.asarray(frames, dtype=np.int64)
    if frames.shape != (n_time,):
        raise PoseFileError(path, f"{len(frames)} frame indices for {n_time} frames")
    time = frames / fps if fps else frames.astype(np.float64)
    ds = xr.Dataset(
        {
            "position": (DIMS, position),
            "confidence": (CONF_DIMS, confidence),
        },
        coords={
            "time": time,
            "frame": ("time", frames),
            "space": ["x", "y", "z"][:n_space],
            "keypoint": keypoints,
            "individual": individuals,
        },
        attrs={
            "ds_type": "poses",
            "fps": fps,
            "time_unit": "seconds" if fps else "frames",
            "source_software": source_software,
            "source_file": "" if source_file is None else str(source_file),
            "skeleton": [tuple(e) for e in edges] if edges else [],
            "skeleton_name": skeleton_name or "",
        },
    )
    return flag_empty_keypoints(ds)


def check_fps(fps: Any, path: str | Path | None, where: str) -> float | None:
    """``fps`` as a float, or None when not given; a frame rate of 0, below 0, not finite or
    not a number is a :class:`PoseFileError` naming the file and ``where`` it came from
    (``"fps="``, ``"the file's 'fps' attribute"``, ...)."""
    if fps is None:
        return None
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(fps, bool) or not math.isfinite(value) or value <= 0:
        shown = repr(fps) if isinstance(fps, str | bytes) else str(fps)
        raise PoseFileError(
            path, f"frame rate {shown} from {where} is not a positive, finite number of frames/s"
        )
    return value


def _missing_to_nan(position: np.ndarray, path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """``position`` with every point that has a NaN or infinite coordinate all NaN, and the
    (time, keypoint, individual) mask of missing points. Infinite values (``inf`` in a file,
    or a number too large for float32) are counted in a warning. ``position`` itself is
    never written to: a new array is made when something changes."""
    finite = np.isfinite(position)
    missing = ~finite.all(axis=1)
    n_inf = int(np.isinf(position).sum())
    if n_inf:
        warnings.warn(
            f"{path or 'poses'}: {n_inf} coordinate value(s) are infinite or too large for "
            "float32; those points are read as missing (NaN)",
            UserWarning,
            stacklevel=4,
        )
    if n_inf or (~finite != missing[:, None]).any():
        position = np.where(missing[:, None], np.float32(np.nan), position)
    return position, missing


def flag_empty_keypoints(ds: xr.Dataset) -> xr.Dataset:
    """Record (and warn about) keypoints that are NaN in every frame for every individual."""
    empty = ds["position"].isnull().all(dim=("time", "space", "individual"))
    names = [str(k) for k in ds["keypoint"].values[empty.values]]
    ds.attrs["empty_keypoints"] = names
    if names:
        warnings.warn(
            f"{ds.attrs.get('source_file') or 'poses'}: keypoint(s) {', '.join(names)} "
            "are missing (NaN) in every frame",
            UserWarning,
            stacklevel=3,
        )
    return ds


def to_singular_dims(ds: xr.Dataset) -> xr.Dataset:
    """Rename movement's plural dims (``keypoints``, ``individuals``) to our singular ones."""
    rename = {k: v for k, v in _PLURAL_TO_SINGULAR.items() if k in ds.dims or k in ds.coords}
    return ds.rename(rename) if rename else ds


def validate_poses(ds: xr.Dataset, path: str | Path | None = None) -> xr.Dataset:
    """Check that ``ds`` is a pose container with the expected variables and dims."""
    if "position" not in ds:
        raise PoseFileError(path, "dataset has no 'position' variable")
    ds = to_singular_dims(ds)
    if tuple(ds["position"].dims) != DIMS:
        raise PoseFileError(path, f"position dims are {ds['position'].dims}; expected {DIMS}")
    if ds.sizes["keypoint"] == 0:
        raise PoseFileError(path, "no keypoints found")
    return ds


DEVICES = ("auto", "cpu", "cuda", "mps")


def is_device_name(name: object) -> bool:
    """Whether ``name`` is one of :data:`DEVICES` or ``cuda:N``."""
    base, _, index = str(name).partition(":")
    return base in DEVICES and (not index or (base == "cuda" and index.isdigit()))


def check_stickiness(value: float) -> float:
    """``value`` as a float, or a ValueError unless it is a finite number >= 0."""
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"stickiness must be a finite number >= 0, got {value}")
    return value
