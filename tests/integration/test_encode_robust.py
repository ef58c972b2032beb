"""Encoding robustness on real recordings: chunking, unseen skeletons, bad model folders and
outputs, NWB export, comparing encodings and evaluating multi-animal results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from napari_vqmap.checkpoint import load_model, save_model
from napari_vqmap.cli import main
from napari_vqmap.encode import encode
from napari_vqmap.io import load_poses, save_poses
from napari_vqmap.model import ModelConfig
from napari_vqmap.preprocess import PreprocessConfig
from napari_vqmap.training import TrainConfig, train

torch.set_num_threads(2)

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"
DANNCE = "dannce-markerless-mouse/save_data_AVG_torch_nearest.mat"
EPM = "dlcanalyzer-epm/EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv"
MULTI = "deepof-tests/testDLC_h5_table_multi.h5"


def _train(data_dir: Path, out: Path, steps: int) -> Path:
    ds = load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20).isel(time=slice(0, 1500))
    config = TrainConfig(
        steps=steps,
        batch_size=8,
        warmup_steps=2,
        checkpoint_every=100,
        model=ModelConfig(window=32, hidden=32, token_dim=16, n_heads=2, res_depth=1),
        preprocess=PreprocessConfig(target_fps=20, stride=16),
    )
    model_dir = train([ds], out, config)
    # a few steps leave the codebooks collapsed; codes taken from the latents of real frames
    # give varied motifs, so that comparisons below mean something
    model, meta = load_model(model_dir)
    z = torch.from_numpy(encode(model, ds, meta)["embedding"].values[:, 0])
    rng = np.random.default_rng(steps)
    for q in (model.type_q, model.subtype_q):  # types first: subtypes code the residuals
        part = z if q is model.type_q else z - model.type_q.lookup(model.type_q.assign(z)[0])
        q.codebook.copy_(part[rng.choice(len(part), len(q.codebook), replace=False)])
    save_model(model_dir, model, {k: v for k, v in meta.items() if k != "model"})
    return model_dir


@pytest.fixture(scope="module")
def model_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(data_dir, tmp_path_factory.mktemp("model") / "m", 6)


@pytest.fixture(scope="module")
def subtle(data_dir: Path):
    return load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20).isel(time=slice(0, 2000))


def test_chunked_equals_unchunked_and_reencoding_is_identical(model_dir: Path, subtle) -> None:
    model, meta = load_model(model_dir)
    bad = subtle.copy(deep=True)
    bad["position"][500:520, :, 0] = np.nan  # an anchor gap across a chunk edge
    bad["position"][900:1000, :, :6] = np.nan  # unencodable frames across a chunk edge
    for poses in (bad, bad.assign_coords(time=bad.time.values * 2 / 3).assign_attrs(fps=30.0)):
        whole = encode(model, poses, meta)
        assert len(np.unique(whole["motif"].values)) > 2  # a meaningful comparison
        for chunk in (100, 257):
            part = encode(model, poses, meta, batch_size=16, chunk_frames=chunk)
            np.testing.assert_array_equal(part["motif"].values, whole["motif"].values)
            np.testing.assert_array_equal(part["status"].values, whole["status"].values)
            np.testing.assert_allclose(part["confidence"], whole["confidence"], atol=1e-6)
            np.testing.assert_allclose(part["embedding"], whole["embedding"], atol=1e-5)
        again = encode(model, poses, meta, chunk_frames=100)
        np.testing.assert_array_equal(again["motif"].values, whole["motif"].values)


def test_unseen_skeletons_encode_with_mapped_regions(model_dir: Path, data_dir: Path) -> None:
    model, meta = load_model(model_dir)
    dannce = load_poses(data_dir / DANNCE)  # 22 keypoints, 3D, 100 fps
    epm = load_poses(data_dir / EPM, fps=30).isel(time=slice(0, 600))  # 2D DLC
    multi = load_poses(data_dir / MULTI, fps=30)  # 2 animals, 2D
    for poses in (dannce, epm, multi):
        with pytest.warns(UserWarning, match="mapped to body regions"):
            result = encode(model, poses, meta, chunk_frames=64)
        assert result["motif"].shape == (poses.sizes["time"], poses.sizes["individual"])
        assert (result["motif"].values >= 0).mean() > 0.5


def test_unseen_skeleton_without_regions_or_anchors_fails(model_dir: Path, subtle) -> None:
    from napari_vqmap.io import attach_skeleton
    from napari_vqmap.validators import PoseFileError

    model, meta = load_model(model_dir)
    anon = subtle.assign_coords(keypoint=[f"p{i}" for i in range(subtle.sizes["keypoint"])])
    anon.attrs = {k: v for k, v in anon.attrs.items() if not k.startswith("skeleton")}
    with pytest.raises(PoseFileError, match="no anterior or posterior anchor.*p0, p1"):
        encode(model, attach_skeleton(anon), meta)


def test_bad_model_folders(model_dir: Path, subtle, tmp_path: Path, capsys) -> None:
    src = tmp_path / "s.nc"
    save_poses(subtle.isel(time=slice(0, 200)), src)
    cases = {}
    folder = tmp_path / "no_weights"
    shutil.copytree(model_dir, folder)
    (folder / "model.safetensors").unlink()
    cases[folder / "model.safetensors"] = "model weights not found"
    folder = tmp_path / "corrupt"
    shutil.copytree(model_dir, folder)
    (folder / "config.json").write_text('{"format": "napari-vqmap-mod')
    cases[folder / "config.json"] = "not valid JSON"
    folder = tmp_path / "future"
    shutil.copytree(model_dir, folder)
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(meta | {"format_version": 99}))
    cases[folder / "config.json"] = "format version 99"
    folder = tmp_path / "garbled"
    shutil.copytree(model_dir, folder)
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    cases[folder / "model.safetensors"] = "not a readable safetensors"
    cases[tmp_path / "missing" / "config.json"] = "model config not found"
    for path, problem in cases.items():
        out = tmp_path / "out"
        argv = ["encode", str(src), "--model", str(path.parent), "--out", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(path) in err and problem in err
        assert not out.exists() or not list(out.iterdir())


def test_output_folder_not_writable(model_dir: Path, subtle, tmp_path: Path, capsys) -> None:
    src = tmp_path / "s.nc"
    save_poses(subtle.isel(time=slice(0, 200)), src)
    out = Path("/proc/self")  # a folder no one, not even root, can create files in
    if not out.is_dir():
        pytest.skip("needs Linux /proc")
    assert main(["encode", str(src), "--model", str(model_dir), "--out", str(out)]) == 2
    assert "/proc/self: output folder is not writable" in capsys.readouterr().err


def test_nwb_export_reads_back(model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO

    src = tmp_path / "two.nc"
    save_poses(load_poses(data_dir / MULTI, fps=30), src)
    out = tmp_path / "out"
    argv = ["encode", str(src), "--model", str(model_dir), "--out", str(out), "--nwb"]
    with pytest.warns(UserWarning, match="mapped"):
        assert main(argv) == 0
    table = pd.read_csv(out / "two_motifs.csv")
    bouts = pd.read_csv(out / "two_bouts.csv")
    for ind in table["individual"].unique():
        with NWBHDF5IO(str(out / f"two_{ind}_motifs.nwb"), "r") as io:
            nwb = io.read()
            intervals = nwb.intervals["motif_bouts"].to_dataframe()
            motif = nwb.processing["behavior"]["vqmap_motif"].data[:]
            assert "PoseEstimation" in {
                type(v).__name__ for v in nwb.processing["behavior"].data_interfaces.values()
            }
        mine = table[table["individual"] == ind]
        np.testing.assert_array_equal(motif, mine["motif"].to_numpy())
        ref = bouts[bouts["individual"] == ind]
        assert intervals["motif"].tolist() == ref["motif"].tolist()
        assert intervals["motif_name"].tolist() == ref["name"].tolist()
        np.testing.assert_allclose(
            intervals["stop_time"] - intervals["start_time"], ref["duration"] / 30
        )


def test_nwb_missing_says_which_pip_command(model_dir, subtle, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pynwb", None)  # as if the extra were not installed
    src = tmp_path / "s.nc"
    save_poses(subtle.isel(time=slice(0, 100)), src)
    out = tmp_path / "out"
    argv = ["encode", str(src), "--model", str(model_dir), "--out", str(out), "--nwb"]
    assert main(argv) == 2
    assert 'pip install "napari-vqmap[nwb]"' in capsys.readouterr().err
    assert not out.exists()


def test_compare_two_models_and_two_results(
    model_dir: Path, data_dir: Path, subtle, tmp_path: Path, capsys
) -> None:
    other = _train(data_dir, tmp_path / "other", 3)
    src = tmp_path / "s.nc"
    save_poses(subtle.isel(time=slice(0, 1000)), src)
    for name, model in (("a", model_dir), ("b", other)):
        assert (
            main(["encode", str(src), "--model", str(model), "--out", str(tmp_path / name)]) == 0
        )
    report_path = tmp_path / "cmp.json"
    argv = ["compare", str(tmp_path / "a"), str(tmp_path / "b" / "s_motifs.nc")]
    assert main([*argv, "--out", str(report_path)]) == 0
    report = json.loads(report_path.read_text())["pooled"]
    assert report["frames"] == 1000 and 0 <= report["nmi"] <= 1
    assert 0 < report["motif_agreement"] <= 1 and 0 < report["type_agreement"] <= 1
    # a model folder against its own encoding: identical
    argv = ["compare", str(model_dir), str(tmp_path / "a"), "--poses", str(src)]
    assert main([*argv, "--out", str(report_path)]) == 0
    same = json.loads(report_path.read_text())["pooled"]
    assert same["motif_agreement"] == 1.0
    assert same["nmi"] == pytest.approx(1.0) and same["ari"] == pytest.approx(1.0)
    assert main(["compare", str(model_dir), str(tmp_path / "a")]) == 2
    assert "--poses" in capsys.readouterr().err


def test_evaluate_multi_animal_per_individual_and_pooled(
    model_dir: Path, data_dir: Path, tmp_path: Path, capsys
) -> None:
    src = tmp_path / "two.nc"
    save_poses(load_poses(data_dir / MULTI, fps=30), src)
    out = tmp_path / "out"
    with pytest.warns(UserWarning):
        assert main(["encode", str(src), "--model", str(model_dir), "--out", str(out)]) == 0
    table = pd.read_csv(out / "two_motifs.csv")
    inds = list(table["individual"].unique())
    # labels per individual (no real multi-animal labels exist: derived from the motif types)
    labels = table[["frame", "individual"]].assign(behaviour=table["type"].map("b{}".format))
    labels.sample(frac=1, random_state=0).to_csv(tmp_path / "labels.csv", index=False)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--labels", str(tmp_path / "labels.csv")]) == 0
    printed = capsys.readouterr().out
    assert all(f"{ind}:" in printed for ind in inds)
    report = json.loads((out / "two_evaluate.json").read_text())
    assert set(report["per_individual"]) == set(inds)
    assert report["metrics"]["homogeneity"] == pytest.approx(1.0)  # types refine motifs
    # a plain per-frame csv applies to every individual
    plain = pd.DataFrame({"label": ["x", "y"] * (len(table) // 4)})
    plain.to_csv(tmp_path / "plain.csv", index=False)
    assert main(["evaluate", str(out), "--labels", str(tmp_path / "plain.csv")]) == 0
    report = json.loads((out / "two_evaluate.json").read_text())
    assert report["scored_frames"] == len(table)
    # a labels csv of another length
    plain.iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    assert main(["evaluate", str(out), "--labels", str(tmp_path / "short.csv")]) == 2
    err = capsys.readouterr().err
    assert "short.csv" in err and "labelled frames but two_motifs.csv has" in err
