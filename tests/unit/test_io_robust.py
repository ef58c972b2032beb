"""Issue 24: no crash and no silent wrong answer, on files derived from ``../shared/data``.

Each test is one case of the issue: long files, read-only arrays (pandas copy-on-write),
netCDF with unexpected dims, infinite values, repeated keypoint names, empty rows, bad
frame rates, a UTF-8 byte-order mark, and the CLI's one-line errors. The Anipose csv is
synthetic (no real Anipose file exists): it is built from a real SUBTLE session.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from napari_vqmap.cli import main
from napari_vqmap.io import load_poses
from napari_vqmap.validators import PoseFileError, make_poses, validate_poses

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"
DLC = "vame-tests/cropped_video.csv"  # 750 frames, 6 keypoints, x/y/likelihood
NC = "vame-tests/cropped_video.nc"  # movement <= 0.15 (plural dims), fps 30


def _lines(data_dir: Path, name: str) -> list[str]:
    return (data_dir / name).read_text().splitlines()


def _write(path: Path, lines: list[str], prefix: str = "") -> Path:
    path.write_text(prefix + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _quiet_load(path: Path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_poses(path, **kwargs)


# --- long recordings and read-only arrays ---------------------------------------------------


@pytest.mark.slow
def test_long_subtle_csv_loads_every_frame(data_dir, tmp_path, capsys):
    """10 sessions joined (120,000 frames, 100 min at 20 fps) used to fail in make_poses
    with "assignment destination is read-only"; load_poses and `info` read every frame."""
    lines = _lines(data_dir, SUBTLE)
    path = _write(tmp_path / "joined.csv", [lines[t % len(lines)] for t in range(120_000)])
    ds = load_poses(path, fps=20)
    assert ds.sizes["time"] == 120_000
    assert ds["position"].values.flags.writeable
    np.testing.assert_allclose(
        ds["position"].values[len(lines), :, 0, 0], ds["position"].values[0, :, 0, 0]
    )
    assert main(["info", str(path), "--fps", "20"]) == 0
    assert "120000" in capsys.readouterr().out.replace(",", "")


def test_make_poses_never_writes_into_a_read_only_array():
    position = np.ones((5, 3, 2, 1), dtype=np.float32)
    position[1, 0, 0, 0] = np.nan  # a point with one NaN coordinate: all of it is missing
    position.flags.writeable = False
    ds = make_poses(position, ["a", "b"])
    assert np.isnan(ds["position"].values[1, :, 0, 0]).all()
    assert np.isnan(position[1, 0, 0, 0]) and position[1, 1, 0, 0] == 1  # input untouched
    assert ds["position"].values.flags.writeable


def test_subtle_reader_with_read_only_frames(data_dir, tmp_path, monkeypatch):
    """pandas 3 (copy-on-write) may hand out read-only views from DataFrame.to_numpy."""
    lines = _lines(data_dir, SUBTLE)[:50]
    lines[3] = ",".join(["nan"] + lines[3].split(",")[1:])  # a partly missing point
    path = _write(tmp_path / "s.csv", lines)
    to_numpy = pd.DataFrame.to_numpy

    def read_only(self, *args, **kwargs):
        arr = to_numpy(self, *args, **kwargs)
        arr.flags.writeable = False
        return arr

    monkeypatch.setattr(pd.DataFrame, "to_numpy", read_only)
    ds = load_poses(path)
    assert ds.sizes["time"] == 50
    assert np.isnan(ds["position"].values[3, :, 0, 0]).all()


# --- netCDF with unexpected dimensions ------------------------------------------------------


def _nc_variants(data_dir: Path, tmp_path: Path) -> dict[str, Path]:
    with xr.open_dataset(data_dir / NC) as raw:
        ds = raw.load()
    out = {}
    out["renamed"] = tmp_path / "renamed.nc"
    ds.rename({"keypoints": "bodypart"}).to_netcdf(out["renamed"])
    out["rank3"] = tmp_path / "rank3.nc"
    ds.isel(individuals=0).to_netcdf(out["rank3"])
    return out


@pytest.mark.parametrize("variant", ["renamed", "rank3"])
def test_netcdf_with_other_dims_names_the_file(data_dir, tmp_path, capsys, variant):
    path = _nc_variants(data_dir, tmp_path)[variant]
    with pytest.raises(PoseFileError, match="dimensions") as info:
        load_poses(path)
    assert str(path) in str(info.value)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_napari_reader_names_a_netcdf_with_other_dims(data_dir, tmp_path):
    pytest.importorskip("napari")
    from napari_vqmap.napari._reader import get_reader

    path = _nc_variants(data_dir, tmp_path)["renamed"]
    reader = get_reader(str(path))
    if reader is not None:  # detected as netCDF poses: reading says what is wrong
        with pytest.raises(PoseFileError, match="dimensions"):
            reader(str(path))


# --- infinite values ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "1e60"])
def test_infinite_values_in_a_subtle_csv_become_missing(data_dir, tmp_path, value):
    lines = _lines(data_dir, SUBTLE)[:40]
    cells = lines[5].split(",")
    cells[4] = value  # keypoint 1, y
    lines[5] = ",".join(cells)
    path = _write(tmp_path / "inf.csv", lines)
    with pytest.warns(UserWarning, match="1 coordinate value.*infinite or too large"):
        ds = load_poses(path)
    assert np.isnan(ds["position"].values[5, :, 1, 0]).all()
    assert np.isnan(ds["confidence"].values[5, 1, 0])
    assert np.isfinite(ds["position"].values[4, :, 1, 0]).all()


def test_infinite_values_in_a_dlc_csv_become_missing(data_dir, tmp_path):
    lines = _lines(data_dir, DLC)
    for t, value in ((10, "inf"), (11, "1e400")):
        cells = lines[3 + t].split(",")
        cells[1] = value  # Nose x
        lines[3 + t] = ",".join(cells)
    path = _write(tmp_path / "inf.csv", lines)
    with pytest.warns(UserWarning, match="2 coordinate value"):
        ds = load_poses(path)
    nose = ds["position"].sel(keypoint="Nose").values[:, :, 0]
    assert np.isnan(nose[10:12]).all() and np.isfinite(nose[9]).all()
    assert np.isnan(ds["confidence"].sel(keypoint="Nose").values[10:12]).all()


def test_infinite_values_in_netcdf_become_missing(data_dir, tmp_path):
    plain = _quiet_load(data_dir / NC)["position"].values
    with xr.open_dataset(data_dir / NC) as raw:
        ds = raw.load()
    position = ds["position"].values.copy()
    position[3, 0, 0, 0] = np.inf
    position[4, 1, 2, 0] = 1e300  # too large for float32
    ds["position"] = (ds["position"].dims, position)
    path = tmp_path / "inf.nc"
    ds.to_netcdf(path)
    with pytest.warns(UserWarning, match="2 coordinate value"):
        out = load_poses(path)
    assert np.isnan(out["position"].values[3, :, 0, 0]).all()
    assert np.isnan(out["position"].values[4, :, 2, 0]).all()
    rest = np.ones(plain.shape, dtype=bool)
    rest[3, :, 0, 0] = rest[4, :, 2, 0] = False
    np.testing.assert_array_equal(out["position"].values[rest], plain[rest])


# --- repeated keypoint names, empty rows ----------------------------------------------------


def test_repeated_dlc_keypoint_is_kept_under_its_own_name(data_dir, tmp_path):
    lines = _lines(data_dir, DLC)
    bodyparts = lines[1].split(",")
    bodyparts[4:7] = ["Nose"] * 3  # Forehand-Left renamed Nose
    lines[1] = ",".join(bodyparts)
    path = _write(tmp_path / "dup.csv", lines)
    with pytest.warns(UserWarning, match="Nose -> Nose_2"):
        ds = load_poses(path)
    assert list(ds["keypoint"].values[:2]) == ["Nose", "Nose_2"]
    assert ds.sizes["keypoint"] == 6
    first = float(lines[3].split(",")[4])
    assert ds["position"].sel(keypoint="Nose_2").values[0, 0, 0] == pytest.approx(first)


@pytest.mark.parametrize("row", [0, 1, 100, 749])
def test_dlc_row_with_every_keypoint_empty_is_a_nan_frame(data_dir, tmp_path, row):
    lines = _lines(data_dir, DLC)
    n_cells = len(lines[3].split(","))
    lines[3 + row] = str(row) + "," * (n_cells - 1)
    ds = load_poses(_write(tmp_path / "empty.csv", lines))
    assert ds.sizes["time"] == 750
    assert list(ds["frame"].values[:3]) == [0, 1, 2]
    assert np.isnan(ds["position"].values[row]).all()
    assert np.isnan(ds["confidence"].values[row]).all()


def test_dlc_row_left_blank_is_a_nan_frame(data_dir, tmp_path):
    lines = _lines(data_dir, DLC)
    lines[3 + 20] = ""
    with pytest.warns(UserWarning, match="1 frame.* no row"):
        ds = load_poses(_write(tmp_path / "blank.csv", lines))
    assert ds.sizes["time"] == 750 and np.isnan(ds["position"].values[20]).all()


def test_subtle_blank_or_empty_row_is_a_nan_frame(data_dir, tmp_path):
    lines = _lines(data_dir, SUBTLE)[:30]
    lines[0] = ""  # a blank first line
    lines[1] = "," * 26  # an empty row
    lines[10] = ""  # a blank line
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n\n\n")  # blank lines after the end are no frames
    ds = load_poses(path)
    assert ds.sizes["time"] == 30
    assert np.isnan(ds["position"].values[[0, 1, 10]]).all()
    assert np.isfinite(ds["position"].values[[2, 9, 11, 29]]).all()


# --- frame rates ----------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [0, -20, float("nan"), float("inf")])
def test_bad_fps_argument_is_an_error_naming_it(data_dir, fps, capsys):
    path = data_dir / DLC
    with pytest.raises(PoseFileError, match=r"frame rate .* from fps=") as info:
        load_poses(path, fps=fps)
    assert str(path) in str(info.value)
    assert main(["info", str(path), "--fps", str(fps)]) == 2
    assert "--fps" in capsys.readouterr().err


@pytest.mark.parametrize("fps", [0.0, -5.0, float("inf"), "fast"])
def test_bad_fps_in_a_netcdf_file_is_an_error_naming_the_attribute(data_dir, tmp_path, fps):
    with xr.open_dataset(data_dir / NC) as raw:
        ds = raw.load()
    ds.attrs["fps"] = fps
    path = tmp_path / "fps.nc"
    ds.to_netcdf(path)
    with pytest.raises(PoseFileError, match="the file's 'fps' attribute") as info:
        load_poses(path)
    assert str(path) in str(info.value)


def test_make_poses_refuses_bad_fps():
    with pytest.raises(PoseFileError, match="frame rate 0"):
        make_poses(np.zeros((2, 2, 1, 1)), ["a"], fps=0, source_file="x.csv")


# --- a byte-order mark ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n_time", "software"),
    [
        (DLC, 750, "DeepLabCut"),
        ("lightning-pose-mirror-mouse/CollectedData.csv", 90, "DeepLabCut"),
        (SUBTLE, 11986, "SUBTLE"),
    ],
)
def test_csv_with_a_utf8_byte_order_mark_loads(data_dir, tmp_path, name, n_time, software):
    plain = _quiet_load(data_dir / name)
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (data_dir / name).read_bytes())
    ds = _quiet_load(path)
    assert ds.attrs["source_software"] == software
    assert ds.sizes["time"] == plain.sizes["time"] == n_time
    np.testing.assert_array_equal(ds["position"].values, plain["position"].values)


def test_anipose_csv_with_bom_blank_line_and_inf(data_dir, tmp_path):
    """Synthetic Anipose csv (no real one exists), built from a real SUBTLE session."""
    from napari_vqmap.skeletons import get_skeleton

    names = get_skeleton("subtle").keypoints
    values = np.loadtxt(data_dir / SUBTLE, delimiter=",", max_rows=20)
    header = [f"{k}_{c}" for k in names for c in ("x", "y", "z", "score")] + ["fnum"]
    rows = []
    for t, row in enumerate(values):
        cells = []
        for i in range(len(names)):
            cells += [f"{v:.5f}" for v in row[3 * i : 3 * i + 3]] + ["0.9"]
        rows.append(",".join(cells + [str(t)]))
    rows[2] = rows[2].replace(rows[2].split(",")[0], "inf", 1)
    rows[5] = ""
    path = _write(tmp_path / "pose3d.csv", [",".join(header), *rows], prefix="\ufeff")
    with pytest.warns(UserWarning, match="1 coordinate value"):
        ds = load_poses(path)
    validate_poses(ds, path)
    assert ds.attrs["source_software"] == "Anipose"
    assert ds.sizes["time"] == 20
    assert np.isnan(ds["position"].values[2, :, 0, 0]).all()
    assert np.isnan(ds["position"].values[5]).all()


def test_napari_reader_opens_a_dlc_csv_with_bom_and_an_empty_first_row(data_dir, tmp_path):
    pytest.importorskip("napari")
    from napari_vqmap.napari._reader import get_reader

    lines = _lines(data_dir, DLC)
    lines[3] = "0" + "," * (len(lines[3].split(",")) - 1)
    path = _write(tmp_path / "excel.csv", lines, prefix="\ufeff")
    reader = get_reader(str(path))
    assert reader is not None
    layers = reader(str(path))
    points = [data for data, _, kind in layers if kind == "points"]
    assert points and len(np.unique(points[0][:, 0])) == 749  # frame 0 has no point
