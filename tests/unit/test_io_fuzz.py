"""Property-based tests (hypothesis) for every pose reader.

From a real file of each format in ``../shared/data`` (or a small file derived from one),
hypothesis makes broken and odd copies: truncations, byte flips, shuffled / duplicated /
removed columns, NaN / inf / too-large / empty values, empty rows, a byte-order mark, and
lengths from none to thousands of frames. Each copy must either load a dataset that passes
``validate_poses`` with one time entry per frame of the file and no infinite coordinate,
or raise :class:`PoseFileError` naming the file. Any other exception fails, and so does a
case that runs past :data:`CASE_TIMEOUT_S` (a hang).

Anipose has no real file in ``../shared/data``: its csv is built from a real SUBTLE 3D
session (the SUBTLE preset's keypoint names, Anipose's column layout), and the Lightning
Pose prediction csv is the real Lightning Pose ``CollectedData.csv`` with a Lightning Pose
model as its scorer.
"""

from __future__ import annotations

import shutil
import signal
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from napari_vqmap.io import load_poses
from napari_vqmap.validators import PoseFileError, validate_poses

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CASE_TIMEOUT_S = 30
# a few dozen cases per format keep the whole file near a minute on 2 CPU cores
TEXT_SETTINGS = settings(
    max_examples=40,
    deadline=None,  # the per-case limit is CASE_TIMEOUT_S, enforced with an alarm
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BINARY_SETTINGS = settings(TEXT_SETTINGS, max_examples=30)
SLOW_BINARY_SETTINGS = settings(TEXT_SETTINGS, max_examples=15)

ODD_VALUES = ["nan", "NaN", "inf", "-inf", "Infinity", "1e60", "-1e309", "", "1e39"]


class CaseTimeout(Exception):
    """A reader ran past the per-case limit."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail a case that runs longer than ``seconds`` (SIGALRM: main thread, POSIX)."""

    def on_alarm(signum, frame):
        raise CaseTimeout(f"a reader ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_loads_or_names_file(path: Path, n_frames: int | None = None, **kwargs) -> None:
    """The property: a valid dataset (with ``n_frames`` frames when given) or a
    PoseFileError naming ``path``; nothing else, and no hang."""
    with time_limit(CASE_TIMEOUT_S), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = load_poses(path, **kwargs)
        except PoseFileError as err:
            assert str(path) in str(err), err
            return
    validate_poses(ds, path)
    position = ds["position"].values
    assert position.dtype == np.float32
    assert not np.isinf(position).any(), "an infinite value was loaded as a coordinate"
    assert ds.sizes["time"] == len(ds["frame"]) >= 1
    if n_frames is not None:
        assert ds.sizes["time"] == n_frames
    fps = ds.attrs.get("fps")
    assert fps is None or (np.isfinite(fps) and fps > 0)


# --- text formats -------------------------------------------------------------------------


@dataclass
class TextTable:
    """A csv as header lines and data rows of cells; ``n_index`` leading label columns."""

    header: list[list[str]]
    rows: list[list[str]]
    n_index: int
    kwargs: dict = field(default_factory=dict)
    renumber: bool = False  # the first column numbers the frames (DLC predictions)

    def text(self, bom: bool = False) -> str:
        lines = [",".join(r) for r in self.header + self.rows]
        return ("\ufeff" if bom else "") + "\n".join(lines) + "\n"

    def with_rows(self, rows: list[list[str]]) -> TextTable:
        if self.renumber:
            rows = [[str(i), *r[1:]] for i, r in enumerate(rows)]
        return TextTable(self.header, rows, self.n_index, self.kwargs, self.renumber)

    def with_columns(self, order: list[int]) -> TextTable:
        """Keep the label columns, then the data columns in ``order`` (repeats allowed)."""
        keep = list(range(self.n_index)) + [self.n_index + j for j in order]

        def pick(r: list[str]) -> list[str]:
            return [r[j] if j < len(r) else "" for j in keep]

        return TextTable(
            [pick(r) for r in self.header],
            [pick(r) for r in self.rows],
            self.n_index,
            self.kwargs,
            self.renumber,
        )


def _split(lines: list[str]) -> list[list[str]]:
    return [line.split(",") for line in lines if line.strip()]


def _subtle(data_dir: Path) -> TextTable:
    lines = (data_dir / "subtle-avatar-3d/y5a5/coords/young_8301.csv").read_text().splitlines()
    return TextTable([], _split(lines[:120]), 0, {"skeleton": "subtle"})


def _dlc(data_dir: Path) -> TextTable:
    lines = (data_dir / "vame-tests/cropped_video.csv").read_text().splitlines()
    return TextTable(_split(lines[:3]), _split(lines[3:123]), 1, renumber=True)


def _madlc(data_dir: Path) -> TextTable:
    lines = (data_dir / "deepof-tests/testDLC_csv_table_madlc.csv").read_text().splitlines()
    return TextTable(_split(lines[:4]), _split(lines[4:64]), 1, renumber=True)


def _dlc_labelled(data_dir: Path) -> TextTable:
    folder = data_dir / "deeplabcut-examples/openfield-Pranav-2018-10-30/labeled-data/m4s1"
    lines = (folder / "CollectedData_Pranav.csv").read_text().splitlines()
    return TextTable(_split(lines[:3]), _split(lines[3:]), 1)


def _lightning_pose(data_dir: Path) -> TextTable:
    lines = (data_dir / "lightning-pose-mirror-mouse/CollectedData.csv").read_text().splitlines()
    header = _split(lines[:3])
    header[0] = ["scorer"] + ["heatmap_tracker"] * (len(header[0]) - 1)
    return TextTable(header, _split(lines[3:]), 1)


def _anipose(data_dir: Path) -> TextTable:
    from napari_vqmap.skeletons import get_skeleton

    names = get_skeleton("subtle").keypoints
    lines = (data_dir / "subtle-avatar-3d/y5a5/coords/young_8301.csv").read_text().splitlines()
    values = _split(lines[:120])
    columns = [f"{k}_{c}" for k in names for c in ("x", "y", "z", "error", "ncams", "score")]
    rows = []
    for t, row in enumerate(values):
        cells = []
        for i in range(len(names)):
            cells += row[3 * i : 3 * i + 3] + ["0.5", "3", "0.9"]
        rows.append(cells + [str(t)])
    return TextTable([[*columns, "fnum"]], rows, 0)


TEXT_FORMATS: dict[str, Callable[[Path], TextTable]] = {
    "subtle": _subtle,
    "dlc": _dlc,
    "madlc": _madlc,
    "dlc_labelled": _dlc_labelled,
    "lightning_pose": _lightning_pose,
    "anipose": _anipose,
}


@st.composite
def text_case(draw, table: TextTable) -> tuple[bytes, int | None]:
    """A mutated csv and its expected number of frames (None: not known)."""
    kind = draw(
        st.sampled_from(
            ["columns", "values", "empty_rows", "length", "bom", "truncate", "flip_bytes"]
        )
    )
    n_cols = max(len(r) for r in table.rows) - table.n_index
    cols = st.integers(0, n_cols - 1)
    if kind == "columns":
        order = list(range(n_cols))
        op = draw(st.sampled_from(["shuffle", "duplicate", "remove"]))
        if op == "shuffle":
            order = draw(st.permutations(order))
        elif op == "duplicate":
            order.insert(draw(st.integers(0, n_cols)), draw(cols))
        elif n_cols > 1:
            order.pop(draw(cols))
        return table.with_columns(list(order)).text().encode(), len(table.rows)
    if kind in ("values", "empty_rows"):
        rows = [list(r) for r in table.rows]
        picks = st.tuples(st.integers(0, len(rows) - 1), cols)
        if kind == "values":
            for t, j in draw(st.lists(picks, min_size=1, max_size=40)):
                rows[t][table.n_index + j] = draw(st.sampled_from(ODD_VALUES))
        else:
            for t in draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=5)):
                rows[t] = rows[t][: table.n_index] + [""] * n_cols
        return table.with_rows(rows).text().encode(), len(rows)
    if kind == "length":
        n = draw(st.sampled_from([0, 1, 2, 3, 1000, 4000]))
        rows = [table.rows[t % len(table.rows)] for t in range(n)]
        return table.with_rows(rows).text().encode(), n or None
    if kind == "bom":
        return table.text(bom=True).encode(), len(table.rows)
    data = table.text().encode()
    if kind == "truncate":
        return data[: draw(st.integers(1, len(data) - 1))], None
    return _flip(draw, data), None


def _flip(draw, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


@pytest.mark.parametrize("name", list(TEXT_FORMATS))
def test_text_readers_load_or_name_the_file(name, data_dir, tmp_path):
    table = TEXT_FORMATS[name](data_dir)
    path = tmp_path / f"{name}.csv"

    @TEXT_SETTINGS
    @given(case=text_case(table))
    def run(case: tuple[bytes, int | None]) -> None:
        data, n_frames = case
        path.write_bytes(data)
        check_loads_or_names_file(path, n_frames, **table.kwargs)

    run()


# --- binary formats -----------------------------------------------------------------------


@dataclass
class BinaryCase:
    source: str  # relative to the data folder
    beside: tuple[str, ...] = ()  # files the reader looks for next to it
    kwargs: dict = field(default_factory=dict)
    slow: bool = False


BINARY_FORMATS = {
    "netcdf": BinaryCase("vame-tests/cropped_video.nc"),
    "nwb": BinaryCase("vame-tests/cropped_video.nwb", slow=True),
    "slp": BinaryCase("sleap-tests/minimal_instance.slp"),
    "sleap_analysis": BinaryCase("sleap-tests/small_robot.000_small_robot_3_frame.analysis.h5"),
    "points3d": BinaryCase("sleap-anipose-minimal-session/points3d.h5"),
    "dlc_h5": BinaryCase("deepof-tests/testDLC_h5_table.h5"),
    "dannce": BinaryCase(
        "dannce-markerless-mouse/save_data_AVG_torch_nearest.mat",
        beside=("dannce-markerless-mouse/mouse22_skeleton.mat",),
    ),
    "label3d": BinaryCase("dannce-markerless-mouse/label3d_dannce.mat"),
    "npy": BinaryCase("deepof-tests/testDLC_sleap_table.npy", kwargs={"skeleton": "deepof14"}),
    "npz": BinaryCase("gimbal-rat7m-mock/mock_data.npz"),
}


@st.composite
def byte_case(draw, data: bytes) -> bytes:
    if draw(st.booleans()):
        return data[: draw(st.integers(1, len(data) - 1))]
    return _flip(draw, data)


@pytest.mark.parametrize("name", list(BINARY_FORMATS))
def test_binary_readers_load_or_name_the_file(name, data_dir, tmp_path):
    case = BINARY_FORMATS[name]
    source = data_dir / case.source
    for other in case.beside:
        shutil.copy(data_dir / other, tmp_path)
    path = tmp_path / source.name
    data = source.read_bytes()

    @(SLOW_BINARY_SETTINGS if case.slow else BINARY_SETTINGS)
    @given(mutated=byte_case(data))
    def run(mutated: bytes) -> None:
        path.write_bytes(mutated)
        check_loads_or_names_file(path, **case.kwargs)

    run()


# --- structured mutations of arrays: netCDF and .npy --------------------------------------


@st.composite
def array_values(draw, arr: np.ndarray) -> tuple[np.ndarray, int | None]:
    """``arr`` (time first) with odd values, another length, or another rank."""
    kind = draw(st.sampled_from(["values", "length", "rank"]))
    if kind == "values":
        out = arr.astype(np.float64)
        flat = out.reshape(-1)
        odd = st.sampled_from([np.nan, np.inf, -np.inf, 1e39, -1e300, 0.0])
        for i in draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=50)):
            flat[i] = draw(odd)
        return out, len(arr)
    if kind == "length":
        n = draw(st.sampled_from([0, 1, 2, 5000]))
        return np.resize(arr, (n, *arr.shape[1:])), n or None
    if draw(st.booleans()):
        return arr[..., 0], None
    return arr[..., None], None


def test_npy_values_lengths_and_ranks(data_dir, tmp_path):
    arr = np.load(data_dir / "deepof-tests/testDLC_sleap_table.npy")
    path = tmp_path / "poses.npy"

    @BINARY_SETTINGS
    @given(case=array_values(arr))
    def run(case: tuple[np.ndarray, int | None]) -> None:
        mutated, n_frames = case
        np.save(path, mutated)
        check_loads_or_names_file(path, n_frames, skeleton="deepof14")

    run()


def test_netcdf_values_dims_lengths_and_fps(data_dir, tmp_path):
    import xarray as xr

    with xr.open_dataset(data_dir / "vame-tests/cropped_video.nc") as raw:
        base = raw.isel(time=slice(0, 200)).load()
    path = tmp_path / "poses.nc"
    time_dim = "time"

    @BINARY_SETTINGS
    @given(
        case=array_values(base["position"].values),
        rename=st.sampled_from([None, "keypoints", "individuals", "space"]),
        fps=st.sampled_from([None, 30.0, 0.0, -5.0, float("nan"), float("inf"), "abc"]),
    )
    def run(case: tuple[np.ndarray, int | None], rename: str | None, fps) -> None:
        position, n_frames = case
        dims = [f"d{i}" for i in range(position.ndim)]
        dims[: min(4, position.ndim)] = list(base["position"].dims)[: position.ndim]
        ds = xr.Dataset({"position": (dims, position)}, attrs=dict(base.attrs))
        if fps is None:
            ds.attrs.pop("fps", None)
        else:
            ds.attrs["fps"] = fps
        if rename is not None and rename in ds.dims:
            ds = ds.rename({rename: "bodypart"})
        if time_dim in ds.dims:
            ds = ds.assign_coords(time=np.arange(ds.sizes[time_dim]) / 30.0)
        path.unlink(missing_ok=True)
        ds.to_netcdf(path)
        ok_fps = fps is None or fps == 30.0
        check_loads_or_names_file(path, n_frames if ok_fps and rename is None else None)

    run()
