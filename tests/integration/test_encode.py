"""Per-frame encoding and the encode / evaluate commands on a real SUBTLE session."""

from __future__ import annotations

import errno
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from napari_vqmap.checkpoint import load_model
from napari_vqmap.cli import main
from napari_vqmap.encode import encode
from napari_vqmap.io import load_poses, save_poses
from napari_vqmap.sample_data import bundled_model_dir

torch.set_num_threads(2)

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"
LABELS = "subtle-avatar-3d/y5a5/annots/young_8301.csv"
N = 2000


@pytest.fixture(scope="session")
def model_dir(tiny_subtle_model: Path) -> Path:
    """A tiny model trained for a few steps on the first frames of a SUBTLE session."""
    return tiny_subtle_model


@pytest.fixture(scope="module")
def poses(data_dir: Path):
    return load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20).isel(time=slice(0, N))


def test_every_frame_gets_a_motif_deterministically(model_dir: Path, poses) -> None:
    model, meta = load_model(model_dir)
    calls = []
    result = encode(model, poses, meta, batch_size=16, progress=lambda d, t: calls.append((d, t)))
    assert result["motif"].shape == (N, 1)
    assert result["embedding"].shape == (N, 1, model.config.latent_dim)
    motif = result["motif"].values
    assert (motif >= 0).all() and (result["status"].values == 0).all()
    assert (
        motif == result["motif_type"] * model.config.n_subtypes + result["motif_subtype"]
    ).all()
    assert calls[-1][0] == calls[-1][1]
    again = encode(model, poses, meta, batch_size=7)
    np.testing.assert_array_equal(again["motif"].values, motif)


def test_batches_on_threads_give_the_same_result_as_one_thread(data_dir: Path) -> None:
    """With 2 torch threads, batches of blocks run on 2 threads of one torch thread each:
    the motifs, confidences and embeddings equal a one-thread encoding (the bundled model,
    a whole real session), and torch's thread count is restored."""
    model, meta = load_model(bundled_model_dir())
    session = load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20)
    torch.set_num_threads(1)
    try:
        one = encode(model, session, meta, chunk_frames=4096)
    finally:
        torch.set_num_threads(2)
    two = encode(model, session, meta, chunk_frames=4096)
    assert torch.get_num_threads() == 2
    for name in ("motif", "confidence", "embedding"):
        np.testing.assert_array_equal(two[name].values, one[name].values)


def test_resampled_input_maps_back_to_file_frames(model_dir: Path, poses) -> None:
    model, meta = load_model(model_dir)
    doubled = poses.assign_coords(time=poses["time"].values / 2)
    doubled.attrs["fps"] = 40.0
    result = encode(model, doubled, meta)
    assert result.sizes["time"] == N and (result["motif"].values >= 0).all()
    assert result.attrs["model_fps"] == 20.0


def test_nan_heavy_frames_are_unencoded_with_a_reason(model_dir: Path, poses) -> None:
    model, meta = load_model(model_dir)
    bad = poses.copy(deep=True)
    bad["position"][100:300, :, :6] = np.nan  # 6 of 9 keypoints gone
    result = encode(model, bad, meta)
    motif = result["motif"].values[:, 0]
    assert (motif[100:300] == -1).all() and (result["status"].values[100:300] == 1).all()
    assert (motif[:90] >= 0).all() and (motif[400:] >= 0).all()
    assert "too few" in json.loads(result["status"].attrs["meanings"])["1"]


def test_unknown_skeleton_warns(model_dir: Path, poses) -> None:
    model, meta = load_model(model_dir)
    with pytest.warns(UserWarning, match="no head"):
        encode(model, poses, meta | {"heads": {}})


def test_encode_and_evaluate_commands(
    model_dir: Path, poses, data_dir: Path, tmp_path: Path, capsys
) -> None:
    src = tmp_path / "session.nc"
    save_poses(poses, src)
    out = tmp_path / "out"
    assert main(["encode", str(src), "--model", str(model_dir), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "session_bouts.csv",
        "session_encode.json",
        "session_motifs.csv",
        "session_motifs.nc",
    ]
    table = pd.read_csv(out / "session_motifs.csv")
    assert list(table.columns) == [
        "frame", "time", "individual", "motif", "type", "subtype", "name", "confidence",
        "status",
    ]  # fmt: skip
    assert len(table) == N and (table["motif"] >= 0).all() and (table["status"] == 0).all()
    assert (
        table["name"] == "T" + table["type"].astype(str) + "." + table["subtype"].astype(str)
    ).all()
    bouts = pd.read_csv(out / "session_bouts.csv")
    assert bouts["duration"].sum() == N
    ds = load_poses(out / "session_motifs.nc")
    np.testing.assert_array_equal(ds["motif"].values[:, 0], table["motif"].to_numpy())
    sidecar = json.loads((out / "session_encode.json").read_text())
    assert len(sidecar["model_sha256"]) == 64 and len(sidecar["input_sha256"]) == 64
    assert "torch" in sidecar["versions"]

    labels = tmp_path / "labels.csv"
    full = pd.read_csv(data_dir / LABELS, index_col=0, keep_default_na=False)
    full.iloc[:N].to_csv(labels)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--labels", str(labels), "--ignore", "na"]) == 0
    printed = capsys.readouterr().out
    assert "nmi" in printed and "ari" in printed
    report = json.loads((out / "session_evaluate.json").read_text())
    assert 0 <= report["metrics"]["nmi"] <= 1
    assert "na" not in report["label_names"]
    assert (out / "session_confusion.png").read_bytes()[:4] == b"\x89PNG"

    # labels of another length
    full.to_csv(labels)
    assert main(["evaluate", str(out), "--labels", str(labels)]) == 2
    assert "labelled frames" in capsys.readouterr().err


def test_encode_errors(model_dir: Path, poses, tmp_path: Path, capsys) -> None:
    src = tmp_path / "s.nc"
    save_poses(poses.isel(time=slice(0, 100)), src)
    missing = tmp_path / "nope"
    assert main(["encode", str(src), "--model", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "out"  # cannot be created, even as root
    assert main(["encode", str(src), "--model", str(model_dir), "--out", str(out)]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "s.nc"]


def test_failed_write_leaves_no_partial_outputs(
    model_dir: Path, poses, tmp_path: Path, monkeypatch
) -> None:
    import napari_vqmap.io

    def fail(ds, path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    src = tmp_path / "s.nc"
    save_poses(poses.isel(time=slice(0, 100)), src)
    monkeypatch.setattr(napari_vqmap.io, "save_poses", fail)
    out = tmp_path / "out"
    assert main(["encode", str(src), "--model", str(model_dir), "--out", str(out)]) == 2
    assert not out.exists()  # nothing half-written, and no empty folder left behind


def test_encode_cli_uses_the_bundled_model_by_default(data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / "vame-tests" / "cropped_video.csv"
    assert main(["encode", str(path), "--fps", "25", "--out", str(tmp_path)]) == 0
    sidecar = json.loads((tmp_path / "cropped_video_encode.json").read_text())
    assert Path(sidecar["model"]).parts[-2:] == ("data", "model")
    table = pd.read_csv(tmp_path / "cropped_video_motifs.csv")
    assert len(table) == 750 and (table["motif"] >= 0).any()


def test_parallel_jobs_each_encode_their_share_of_the_files(
    data_dir: Path, model_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """``--shard I/N`` (or torchrun's RANK/WORLD_SIZE) splits the inputs between jobs: every
    file is encoded by exactly one job, into the same folder."""
    files = [
        data_dir / "vame-tests" / "cropped_video.csv",
        data_dir / "deepof-tests" / "testDLC_csv_table.csv",
        data_dir
        / "deeplabcut-examples/openfield-Pranav-2018-10-30/labeled-data/m4s1"
        / "CollectedData_Pranav.csv",
    ]
    base = [*map(str, files), "--model", str(model_dir), "--fps", "20", "--out", str(tmp_path)]
    written = []
    for shard in ("0/2", "1/2"):
        before = set(tmp_path.glob("*_motifs.csv"))
        assert main(["encode", *base, "--shard", shard]) == 0
        written.append({p.name for p in set(tmp_path.glob("*_motifs.csv")) - before})
    assert written == [
        {"cropped_video_motifs.csv", "CollectedData_Pranav_motifs.csv"},
        {"testDLC_csv_table_motifs.csv"},
    ]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    out = tmp_path / "torchrun"
    assert main(["encode", *base[:-1], str(out)]) == 0
    assert [p.name for p in out.glob("*_motifs.csv")] == ["testDLC_csv_table_motifs.csv"]
    with pytest.raises(SystemExit):
        main(["encode", *base, "--shard", "2/2"])


def test_a_recording_without_frame_rate_warns_that_the_model_rate_is_assumed(
    data_dir: Path, model_dir: Path
) -> None:
    model, meta = load_model(model_dir)
    ds = load_poses(data_dir / SUBTLE, skeleton="subtle").isel(time=slice(0, 300))
    assert not ds.attrs.get("fps")
    with pytest.warns(UserWarning, match="young_8301.csv: no frame rate, so encoded as if"):
        encode(model, ds, meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encode(model, ds.assign_attrs(fps=20.0), meta)


def test_y_up_reads_2d_unflipped(data_dir: Path, tmp_path: Path) -> None:
    """``encode --y-up`` (2D filmed from below, or y pointing up) encodes as
    ``encode(flip_2d_y=False)``; without it the bundled model flips the image y axis."""
    path = data_dir / "vame-tests" / "cropped_video.csv"
    model, meta = load_model(bundled_model_dir())
    poses = load_poses(path, fps=25)
    plain = encode(model, poses, meta, flip_2d_y=False)["motif"].values[:, 0]
    flipped = encode(model, poses, meta)["motif"].values[:, 0]
    assert (plain != flipped).mean() > 0.3
    assert main(["encode", str(path), "--fps", "25", "--y-up", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "cropped_video_motifs.csv")
    np.testing.assert_array_equal(table["motif"].to_numpy(), plain)
    sidecar = json.loads((tmp_path / "cropped_video_encode.json").read_text())
    assert sidecar["settings"]["y_up"] is True


def test_motifs_csv_says_which_frames_were_placed(model_dir: Path, poses, tmp_path: Path) -> None:
    """With the neck hidden for a stretch longer than the anchor gap, those frames are
    still encoded, marked status 2 in the per-frame csv as in the netCDF, and a table read
    back (as napari's reader does) keeps the marks."""
    from napari_vqmap.napari.motif_layers import result_from_table
    from napari_vqmap.results import status_note

    gappy = poses.copy(deep=True)
    gappy["position"].loc[{"keypoint": "neck", "time": gappy["time"][100:160]}] = np.nan
    src = tmp_path / "gappy.nc"
    save_poses(gappy, src)
    out = tmp_path / "out"
    assert main(["encode", str(src), "--model", str(model_dir), "--out", str(out)]) == 0
    table = pd.read_csv(out / "gappy_motifs.csv")
    want = np.zeros(N, int)
    want[100:160] = 2
    np.testing.assert_array_equal(table["status"].to_numpy(), want)
    assert (table["motif"] >= 0).all()
    nc = load_poses(out / "gappy_motifs.nc")
    np.testing.assert_array_equal(nc["status"].values[:, 0], want)
    back = result_from_table(table, gappy, 8, 16)
    np.testing.assert_array_equal(back["status"].values[:, 0], want)
    # what the Encode widget reports after encoding
    assert status_note([nc]) == (
        "60 frame(s) encoded with the body placed for want of anchors (the status column)."
    )
    assert status_note([back.assign(status=back["status"] * 0)]) == ""
