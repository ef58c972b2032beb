"""movement netCDF: the old plural-dim file from VAME, and our save/load round trip."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from napari_vqmap.io import load_poses, save_poses
from napari_vqmap.validators import PoseFileError


def test_plural_dims_netcdf_loads_with_singular_dims(data_dir):
    ds = load_poses(data_dir / "vame-tests" / "cropped_video.nc")
    assert ds["position"].dims == ("time", "space", "keypoint", "individual")
    assert ds["position"].shape == (750, 2, 6, 1)
    assert ds.attrs["fps"] == 30
    assert ds.attrs["source_software"] == "DeepLabCut"
    assert list(ds["keypoint"].values)[0] == "Nose"
    # the same data as the DLC csv of the same recording
    csv = load_poses(data_dir / "vame-tests" / "cropped_video.csv")
    np.testing.assert_allclose(ds["position"].values, csv["position"].values, rtol=1e-5)


def test_save_load_round_trip(data_dir, tmp_path):
    ds = load_poses(data_dir / "sleap-tests" / "clip.slp")
    out = save_poses(ds, tmp_path / "clip.nc")
    back = load_poses(out)
    np.testing.assert_array_equal(back["position"].values, ds["position"].values)
    np.testing.assert_array_equal(back["confidence"].values, ds["confidence"].values)
    np.testing.assert_array_equal(back["frame"].values, ds["frame"].values)
    assert list(back["individual"].values) == ["female", "male"]
    assert back.attrs["skeleton"] == ds.attrs["skeleton"]
    assert back.attrs["fps"] == ds.attrs["fps"]
    assert [p.name for p in tmp_path.iterdir()] == ["clip.nc"]  # no temp file left


def test_round_trip_keeps_sparse_frames_and_3d(data_dir, tmp_path):
    ds = load_poses(data_dir / "dannce-markerless-mouse" / "label3d_dannce.mat")
    back = load_poses(save_poses(ds, tmp_path / "label3d.nc"))
    assert back.sizes["space"] == 3
    np.testing.assert_array_equal(back["frame"].values, ds["frame"].values)
    assert back.attrs["skeleton_name"] == "dannce_mouse22"


def test_netcdf_without_position_is_a_clear_error(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"speed": ("time", np.arange(5.0))}).to_netcdf(path)
    with pytest.raises(PoseFileError, match="other.nc"):
        load_poses(path, source_software="netCDF")


def test_saved_file_is_a_movement_poses_dataset(data_dir, tmp_path):
    """``xarray.open_dataset`` on our file gives what the installed movement validates."""
    from movement.validators.datasets import ValidPosesInputs

    ds = load_poses(data_dir / "sleap-tests" / "clip.slp")
    with xr.open_dataset(save_poses(ds, tmp_path / "clip.nc")) as raw:
        ValidPosesInputs.validate(raw)
        assert set(ValidPosesInputs.DIM_NAMES) <= set(raw["position"].dims)


def test_saving_results_keeps_how_warnings_are_shown(tmp_path) -> None:
    """movement's first import points warnings.showwarning at its logger; ours keeps it, so
    the CLI's later warnings still print as one plain line."""
    import subprocess
    import sys

    code = (
        "import warnings\n"
        "import numpy as np\n"
        "from napari_vqmap.validators import make_poses\n"
        "from napari_vqmap.io import save_poses\n"
        "shown = warnings.showwarning\n"
        "pos = np.zeros((5, 2, 2, 1), np.float32)\n"
        f"save_poses(make_poses(pos, ['a', 'b'], fps=10), {str(tmp_path / 'p.nc')!r})\n"
        "import sys; assert 'movement' in sys.modules\n"
        "print(warnings.showwarning is shown)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "True"
