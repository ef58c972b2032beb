"""``napari-vqmap analyze`` on real encodings: four SUBTLE 3D sessions (two adult, two
young) and the VAME 2D DeepLabCut file, encoded by one tiny model trained on both skeletons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from napari_vqmap import analysis
from napari_vqmap.cli import main
from napari_vqmap.io import load_poses, save_poses
from napari_vqmap.names import MotifNames
from napari_vqmap.training import train
from tests.tiny import tiny_train_config

torch.set_num_threads(2)

SUBTLE = "subtle-avatar-3d/y3a6/coords"
SESSIONS = ("adult_8294", "adult_8296", "young_8765", "young_8767")
VAME = "vame-tests/cropped_video.csv"
N = 2000


@pytest.fixture(scope="module")
def encoded(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model folder, encode output folder) for the four sessions and the VAME file."""
    tmp = tmp_path_factory.mktemp("analyze")
    inputs = []
    for s in SESSIONS:
        ds = load_poses(data_dir / SUBTLE / f"{s}.csv", skeleton="subtle", fps=20)
        inputs.append(save_poses(ds.isel(time=slice(0, N)), tmp / f"{s}.nc"))
    vame = load_poses(data_dir / VAME)
    model = train([load_poses(inputs[0]), vame], tmp / "model", tiny_train_config())
    out = tmp / "enc"
    assert main(["encode", *map(str, inputs), "--model", str(model), "--out", str(out)]) == 0
    assert main(["encode", str(data_dir / VAME), "--model", str(model), "--out", str(out)]) == 0
    return model, out


def _groups(tmp_path: Path) -> Path:
    path = tmp_path / "groups.csv"
    rows = [f"{s}_motifs.csv,{s.split('_')[0]}" for s in SESSIONS] + ["cropped_video.csv,dlc"]
    path.write_text("file,group\n" + "\n".join(rows) + "\n")
    return path


def test_analyze_command_writes_tables_figures_and_prototypes(encoded, tmp_path: Path) -> None:
    model, enc = encoded
    out = tmp_path / "analysis"
    args = ["analyze", str(enc), "--out", str(out), "--groups", str(_groups(tmp_path))]
    assert main(args) == 0
    per_file = pd.read_csv(out / "usage_per_file.csv")
    assert set(per_file["file"]) == {*SESSIONS, "cropped_video"}
    assert set(per_file["skeleton"]) == {"subtle", "vame6"}
    np.testing.assert_allclose(per_file.groupby("file")["usage"].sum(), 1.0)
    assert len(per_file) == 5 * 128  # every motif for every file, zeros included
    bouts = pd.read_csv(out / "bouts.csv")
    assert bouts.groupby("file")["duration"].sum().to_dict() == {
        **dict.fromkeys(SESSIONS, N), "cropped_video": 750
    }  # fmt: skip
    subtle = bouts["file"] != "cropped_video"  # the DLC csv has no frame rate
    np.testing.assert_allclose(bouts["duration_s"][subtle], bouts["duration"][subtle] / 20)
    assert bouts["duration_s"][~subtle].isna().all()
    stats = pd.read_csv(out / "motif_stats.csv")
    assert stats["frames"].sum() == 4 * N + 750 and stats["n_bouts"].sum() == len(bouts)
    tr = pd.read_csv(out / "transitions_type.csv", index_col=0)
    assert tr.shape == (8, 8) and np.isin(tr.sum(axis=1).round(9), [0, 1]).all()
    tests = pd.read_csv(out / "group_tests.csv", keep_default_na=False)
    assert tests["note"].str.contains(r"dlc not tested \(1 < 3 files\)").all()
    wide = pd.read_csv(out / "type_usage_by_skeleton_wide.csv")
    np.testing.assert_allclose(wide[["subtle", "vame6"]].sum(), 1.0)
    for stem in ("usage", "type_usage", "durations", "transitions_type", "usage_by_group"):
        assert (out / "figures" / f"{stem}.png").stat().st_size > 1000
        assert (out / "figures" / f"{stem}.svg").is_file()
    assert (out / "figures" / "type_usage_by_skeleton.png").is_file()
    for head, shape in (("subtle", (9, 3)), ("vame6", (6, 2))):
        with np.load(out / "prototypes" / f"{head}.npz", allow_pickle=False) as z:
            assert z["poses"].shape[0] == 128 and z["poses"].shape[2:] == shape
            assert len(z["keypoints"]) == shape[0] and z["edges"].shape[1] == 2
            np.testing.assert_allclose(z["usage"], stats["usage"])
        assert (out / "prototypes" / f"{head}.png").is_file()
    assert (out / "prototypes" / "subtle_side.png").is_file()
    sidecar = json.loads((out / "analysis.json").read_text())
    assert len(sidecar["inputs"]) == 5 and all(len(i["sha256"]) == 64 for i in sidecar["inputs"])
    assert sidecar["model"] == str(model) and sidecar["codebook"] == {
        "n_types": 8,
        "n_subtypes": 16,
    }
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_names_file_merges_before_counting(encoded, tmp_path: Path) -> None:
    _, enc = encoded
    table = pd.read_csv(enc / "adult_8294_motifs.csv")
    top = int(table["motif"].mode()[0])
    names = MotifNames(8, 16, types={top // 16: "groom"})
    target = (top + 1) % 128
    names.merge_into(top, target)
    names.rename(target, "merged")
    path = names.save(tmp_path / "names.yaml")
    out = tmp_path / "a"
    args = ["analyze", str(enc / "adult_8294_motifs.csv"), "--out", str(out)]
    assert main([*args, "--names", str(path), "--no-prototypes"]) == 0
    stats = pd.read_csv(out / "motif_stats.csv").set_index("motif")
    assert top not in stats.index and stats.loc[target, "name"] == "merged"
    assert stats.loc[target, "frames"] == (table["motif"].isin([top, target])).sum()
    assert pd.read_csv(out / "type_stats.csv")["name"].tolist()[top // 16] == "groom"
    assert not (out / "prototypes").exists()


def test_library_api_on_a_real_encoding(encoded) -> None:
    _, enc = encoded
    table = pd.read_csv(enc / "young_8765_motifs.csv")
    names = MotifNames(8, 16)
    stats = analysis.motif_stats(table, names, fps=20)
    assert len(stats) == 128 and stats["usage"].sum() == pytest.approx(1.0)
    assert stats["n_bouts"].sum() == len(pd.read_csv(enc / "young_8765_bouts.csv"))
    assert stats["mean_duration_s"].dropna().ge(0.05).all()
    m = analysis.transition_matrix(table, 128)
    assert np.trace(m) == 0 and np.isin(m.sum(axis=1).round(9), [0, 1]).all()
    assert analysis.type_usage(table, names)["usage"].sum() == pytest.approx(1.0)


def test_bad_inputs_give_clear_errors(encoded, tmp_path: Path, capsys) -> None:
    _, enc = encoded
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    groups = tmp_path / "g.csv"
    groups.write_text("file,group\nadult_8294,a\n")
    assert main(["analyze", str(enc), "--out", str(out), "--groups", str(groups)]) == 2
    assert "no group for 4 recording(s)" in capsys.readouterr().err
    bad = tmp_path / "x_motifs.csv"
    bad.write_text("frame,motif\n0,1\n")
    assert main(["analyze", str(bad), "--out", str(out)]) == 2
    assert "missing column(s)" in capsys.readouterr().err
    assert not out.exists()
