"""Training on real recordings: outputs, determinism, resume, joint skeletons, CLI, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from napari_vqmap.checkpoint import load_model
from napari_vqmap.cli import main
from napari_vqmap.encode import encode
from napari_vqmap.errors import ConfigError, ModelFileError
from napari_vqmap.io import load_poses
from napari_vqmap.model import ModelConfig
from napari_vqmap.preprocess import PreprocessConfig
from napari_vqmap.runtime import available_devices, resolve_device
from napari_vqmap.training import TrainConfig, train
from napari_vqmap.training import loop as train_loop
from napari_vqmap.training.data import (
    build_skeleton_data,
    codebook_weights,
    recon_weights,
    sample_batch,
    skeleton_probabilities,
)
from napari_vqmap.training.optim import LossBalance

torch.set_num_threads(2)

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"
DANNCE = "dannce-markerless-mouse/save_data_AVG_torch_nearest.mat"
VAME = "vame-tests/cropped_video.nc"
SMALL = dict(window=32, hidden=32, token_dim=16, n_heads=2, res_depth=1)


def _config(steps: int = 6, **train_kw) -> TrainConfig:
    kw = dict(batch_size=8, warmup_steps=2, log_every=1, checkpoint_every=100) | train_kw
    return TrainConfig(
        steps=steps,
        model=ModelConfig(**SMALL),
        preprocess=PreprocessConfig(target_fps=20, stride=16),
        **kw,
    )


@pytest.fixture(scope="module")
def subtle(data_dir: Path):
    """The first 1500 frames of one SUBTLE recording (20 fps)."""
    ds = load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20)
    return ds.isel(time=slice(0, 1500))


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


def _assert_same(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_training_writes_all_files(subtle, tmp_path: Path) -> None:
    rows = []
    out = train([subtle], tmp_path / "m", _config(checkpoint_every=3), progress=rows.append)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "config.json",
            "history.csv",
            "model.safetensors",
            "train_state.json",
            "train_state.safetensors",
        ]
    )  # no temporary files left behind
    assert [r["step"] for r in rows] == list(range(1, 7)) and rows[-1]["steps"] == 6
    assert all(np.isfinite(r["loss"]) for r in rows)
    history = (out / "history.csv").read_text().splitlines()
    assert history[0] == "step,head,loss,recon,commit,geometry,perplexity,n_dead,lr,seconds"
    assert len(history) == 7
    meta = json.loads((out / "config.json").read_text())
    assert meta["format_version"] == 1 and meta["seed"] == 0 and meta["step"] == 6
    assert meta["heads"]["subtle"]["n_keypoints"] == 9 and meta["fps"] == 20
    assert meta["model"]["window"] == 32 and set(meta["versions"]) >= {"torch", "python"}
    assert 0.5 < meta["top_down_scale"] < 1 and meta["region_height"]["hindlimb_left"] < 0
    assert json.loads((out / "train_state.json").read_text())["completed"] is True
    model, meta = load_model(out)
    x = torch.zeros(2, 32, 9, 3)
    codes = model.encode(
        x, torch.ones(2, 32, 9, dtype=torch.bool), meta["heads"]["subtle"]["regions"]
    )
    assert codes["motif_idx"].shape == (2, 8)


def test_same_seed_same_weights(subtle, tmp_path: Path) -> None:
    a = train([subtle], tmp_path / "a", _config(steps=4))
    b = train([subtle], tmp_path / "b", _config(steps=4))
    _assert_same(a, b)
    c = train([subtle], tmp_path / "c", _config(steps=4, seed=1))
    assert not torch.equal(_weights(a)["heads.subtle.weight"], _weights(c)["heads.subtle.weight"])


def test_stop_and_resume_is_exact(subtle, tmp_path: Path) -> None:
    full = train([subtle], tmp_path / "full", _config(steps=8))
    calls = iter(range(100))
    out = train(
        [subtle], tmp_path / "part", _config(steps=8), should_stop=lambda: next(calls) >= 4
    )
    state = json.loads((out / "train_state.json").read_text())
    assert state["step"] == 4 and state["completed"] is False
    train([subtle], out, _config(steps=8), resume=True)
    _assert_same(full, out)
    assert (full / "history.csv").read_text().count("\n") == (
        out / "history.csv"
    ).read_text().count("\n")


def test_ctrl_c_leaves_a_resumable_checkpoint(subtle, tmp_path: Path) -> None:
    def interrupt(row: dict) -> None:
        if row["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train([subtle], tmp_path / "m", _config(steps=6), progress=interrupt)
    assert json.loads((tmp_path / "m" / "train_state.json").read_text())["step"] == 3
    train([subtle], tmp_path / "m", _config(steps=6), resume=True)
    _assert_same(train([subtle], tmp_path / "full", _config(steps=6)), tmp_path / "m")
    with pytest.raises(ValueError, match="different seed"):
        train([subtle], tmp_path / "m", _config(steps=8, seed=3), resume=True)


def test_joint_training_3d_and_2d_skeletons(subtle, data_dir: Path, tmp_path: Path) -> None:
    datasets = [subtle, load_poses(data_dir / DANNCE), load_poses(data_dir / VAME)]
    out = train(datasets, tmp_path / "joint", _config(steps=6))
    model, meta = load_model(out)
    assert model.head_shapes == {"subtle": (9, 3), "dannce_mouse22": (22, 3), "vame6": (6, 2)}
    windows = {i["head"]: i["windows"] for i in meta["inputs"]}
    # 1500 frames at 20 fps, 1000 at 100 fps -> 200, 750 at 30 fps -> 500
    assert windows == {"subtle": 93, "dannce_mouse22": 12, "vame6": 31}
    assert meta["inputs"][1]["sha256"].startswith("788a46d5bba5cf6f")


def test_bf16_autocast_training_steps(subtle, data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """The mixed-precision path that CUDA training takes (bf16 autocast), run with CPU's
    bf16 autocast on a 3D and a 2D skeleton: no dtype mismatch in the model, quantiser or
    loss, finite losses, a float32 checkpoint that encodes."""
    monkeypatch.setattr(
        train_loop, "autocast_for", lambda device: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    datasets = [subtle, load_poses(data_dir / VAME)]
    rows = []
    out = train(datasets, tmp_path / "bf16", _config(steps=8), progress=rows.append)
    assert len(rows) == 8 and all(np.isfinite(r["loss"]) for r in rows)
    assert all(w.dtype == torch.float32 for w in _weights(out).values() if w.is_floating_point())
    model, meta = load_model(out)
    result = encode(model, subtle.isel(time=slice(0, 300)), meta)
    assert (result["motif"].values >= 0).all()


def test_a_device_this_machine_lacks_is_a_clear_error(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert available_devices()[:2] == ["auto", "cpu"] and "cuda" not in available_devices()
    assert resolve_device("auto").type in {"cpu", "mps"}
    with pytest.raises(ConfigError, match="device 'cuda'.*no CUDA support"):
        resolve_device("cuda")
    args = [str(data_dir / VAME), "--out", str(tmp_path / "m")]
    assert main(["train", *args, "--steps", "1", "--device", "cuda"]) == 2
    assert main(["encode", *args, "--device", "cuda:1"]) == 2
    err = capsys.readouterr().err
    assert "napari-vqmap: error: device 'cuda'" in err and "device 'cuda:1'" in err
    assert not (tmp_path / "m").exists()  # nothing written


def test_codebook_warm_up_shows_in_the_history_and_a_too_short_run_warns(
    subtle, tmp_path: Path
) -> None:
    """Perplexity is NaN in history.csv until every code is set (types after
    codebook_warmup steps, residual subtypes after twice that), then a number; a run that
    ends before that says so."""
    config = _config(steps=6)
    config.model.codebook_warmup = 2
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 6 steps are enough: no warning
        train([subtle], tmp_path / "m", config, progress=rows.append)
    ppl = [r["perplexity"] for r in rows]
    assert np.isnan(ppl[:4]).all() and np.isfinite(ppl[4:]).all() and min(ppl[4:]) >= 1
    assert rows[-1]["codebook"]["subtype"]["initialised"]
    history = (tmp_path / "m" / "history.csv").read_text().splitlines()
    assert history[1].split(",")[6] == "nan" and history[-1].split(",")[6] != "nan"
    with pytest.warns(UserWarning, match="6 training steps end before the codebook is set"):
        train([subtle], tmp_path / "short", _config(steps=6))


def test_skeletons_are_drawn_by_their_weighted_number_of_windows(subtle, data_dir: Path) -> None:
    datasets = [subtle, load_poses(data_dir / DANNCE), load_poses(data_dir / VAME)]
    by_skeleton = build_skeleton_data(datasets, _config())[0]
    windows = np.array([93, 12, 31])
    for weighting, expected in [(0.0, np.ones(3) / 3), (0.5, np.sqrt(windows)), (1.0, windows)]:
        config = _config(skeleton_weighting=weighting)
        p = skeleton_probabilities(by_skeleton, config)
        np.testing.assert_allclose(p, expected / expected.sum())
        heads = [sample_batch(by_skeleton, config, step)[0].head for step in range(600)]
        drawn = np.array([heads.count(s.head) for s in by_skeleton]) / len(heads)
        np.testing.assert_allclose(drawn, p, atol=0.06)
        share = windows / windows.sum() / p
        np.testing.assert_allclose(codebook_weights(by_skeleton, config), share / share.max())
    with pytest.raises(ValueError, match="skeleton_weighting"):
        TrainConfig(skeleton_weighting=2.0)


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("steps", 0, "steps must be an integer >= 1"),
        ("batch_size", 8.0, "batch_size must be an integer >= 1"),
        ("lr", 0.0, "lr must be a number > 0"),
        ("grad_clip", 0, "grad_clip must be a number > 0"),
        ("keypoint_dropout", 1.2, r"keypoint_dropout must be a number in \[0, 1\]"),
        ("seed", -1, "seed must be an integer >= 0"),
        ("device", "gpu", "device must be one of auto, cpu, cuda, mps"),
    ],
)
def test_config_rejects_out_of_range_options(option: str, value: object, says: str) -> None:
    with pytest.raises(ValueError, match=f"TrainConfig.{says}"):
        TrainConfig(**{option: value})
    assert TrainConfig(device="cuda:1").device == "cuda:1"


def test_config_file_with_unreadable_number_says_how_to_write_it(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("train:\n  lr: 1e-3\n")  # YAML 1.1 reads this as text
    with pytest.raises(ConfigError, match=r"config.yaml: .*lr must be a number > 0.*1\.0e-3"):
        TrainConfig.from_yaml(path)


def test_recon_weights_even_out_keypoint_spread(subtle, tmp_path: Path) -> None:
    skel_data = build_skeleton_data([subtle], _config())[0][0]
    names = list(skel_data.skeleton.keypoints)
    tip, centre = names.index("tip"), names.index(skel_data.skeleton.centre[0])
    assert torch.equal(recon_weights(skel_data, "none"), torch.ones(9, 3))
    for how in ("coordinate", "keypoint"):
        w = recon_weights(skel_data, how)
        assert w.shape == (9, 3) and w.mean().item() == pytest.approx(1.0)
        assert torch.isfinite(w).all() and (w > 0).all()
        assert w.mean(1).argmin().item() == tip  # the far-swinging tail tip counts least
        assert w[centre].min() == pytest.approx(w.max().item())  # floored, not infinite
        assert torch.allclose(w[names.index("lfoot")], w[names.index("rfoot")])  # mirror
    assert torch.allclose(recon_weights(skel_data, "keypoint").std(1), torch.zeros(9), atol=1e-6)
    config = _config(steps=2, recon_weighting="coordinate")
    out = train([subtle], tmp_path / "w", config)
    saved = load_model(out)[1]["heads"]["subtle"]["recon_weight"]
    span = config.model.anchor_span
    np.testing.assert_allclose(saved, recon_weights(skel_data, "coordinate", span), atol=1e-4)
    # Seen from a span's centre frame, walking spreads x far more than it spreads z.
    flat, seen = recon_weights(skel_data), recon_weights(skel_data, "coordinate", span)
    assert (seen[:, 2] / seen[:, 0] > flat[:, 2] / flat[:, 0]).sum() >= 6
    with pytest.raises(ValueError, match="recon_weighting"):
        TrainConfig(recon_weighting="tail")


def test_folders_from_before_recon_weighting_resume_unweighted(subtle, tmp_path: Path) -> None:
    out = train([subtle], tmp_path / "old", _config(steps=2, recon_weighting="none"))
    config = json.loads((out / "config.json").read_text())
    del config["train"]["recon_weighting"]  # as written before the option existed
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="different recon_weighting"):
        train([subtle], out, _config(steps=4), resume=True)
    train([subtle], out, _config(steps=4, recon_weighting="none"), resume=True)
    assert json.loads((out / "train_state.json").read_text())["step"] == 4


def test_loss_balance_evens_out_skeletons_and_is_one_for_a_single_skeleton() -> None:
    single = LossBalance()
    assert all(single.factor("a", loss) == 1.0 for loss in (0.3, 0.01, 2.0))
    both = LossBalance()
    for _ in range(50):
        noisy, clean = both.factor("noisy", 0.2), both.factor("clean", 0.02)
    assert noisy == pytest.approx(0.11 / 0.2) and clean == pytest.approx(0.11 / 0.02)
    assert noisy * 0.2 == pytest.approx(clean * 0.02)  # equal weight in the gradients
    assert LossBalance(both.running).factor("clean", 0.02) == pytest.approx(clean, rel=1e-3)


def test_joint_resume_keeps_the_loss_balance(subtle, data_dir: Path, tmp_path: Path) -> None:
    datasets = [subtle, load_poses(data_dir / DANNCE)]
    full = train(datasets, tmp_path / "full", _config(steps=8))
    calls = iter(range(100))
    stop = lambda: next(calls) >= 4  # noqa: E731
    part = train(datasets, tmp_path / "part", _config(steps=8), should_stop=stop)
    state = json.loads((part / "train_state.json").read_text())
    assert state["step"] == 4 and state["loss_balance"]
    train(datasets, part, _config(steps=8), resume=True)
    _assert_same(full, part)


def test_tampered_checkpoints_fail_clearly(subtle, tmp_path: Path) -> None:
    out = train([subtle], tmp_path / "m", _config(steps=2))
    config_path = out / "config.json"
    good = json.loads(config_path.read_text())
    config_path.write_text(json.dumps(good | {"format_version": 99}))
    with pytest.raises(ModelFileError, match="config.json.*format version 99"):
        load_model(out)
    config_path.write_text(json.dumps(good | {"model": good["model"] | {"hidden": 48}}))
    with pytest.raises(ModelFileError, match="model.safetensors.*do not match"):
        load_model(out)
    config_path.write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(out)
    config_path.write_text(json.dumps(good))
    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="model.safetensors"):
        load_model(out)
    weights.unlink()
    with pytest.raises(ModelFileError, match="weights not found"):
        load_model(out)


def test_model_folders_from_before_residual_subtypes_load_grouped(subtle, tmp_path: Path) -> None:
    """A config.json without ``residual`` (written before it existed) is a grouped model."""
    config = _config(steps=2)
    config.model = ModelConfig(**SMALL, residual=False, latent_dim=64)
    out = train([subtle], tmp_path / "m", config)
    config_path = out / "config.json"
    meta = json.loads(config_path.read_text())
    del meta["model"]["residual"]
    config_path.write_text(json.dumps(meta))
    model, _ = load_model(out)
    assert not model.config.residual and model.config.latent_dim == 64


def test_model_folders_from_before_per_type_subtypes_load_and_resume_shared(
    subtle, tmp_path: Path
) -> None:
    """A config.json without ``subtypes_per_type`` has one subtype codebook for all types."""
    config = _config(steps=2)
    config.model = ModelConfig(**SMALL, subtypes_per_type=False)
    out = train([subtle], tmp_path / "m", config)
    meta = json.loads((out / "config.json").read_text())
    del meta["model"]["subtypes_per_type"]
    (out / "config.json").write_text(json.dumps(meta))
    model, _ = load_model(out)
    assert not model.config.subtypes_per_type
    assert model.subtype_q.n_codes == model.config.n_subtypes
    config.steps = 4
    train([subtle], out, config, resume=True)
    with pytest.raises(ValueError, match="different model"):
        train([subtle], out, _config(steps=6), resume=True)  # the per-type default


def test_cli_train_and_resume(data_dir: Path, tmp_path: Path) -> None:
    config = _config().to_dict()
    config["preprocess"]["target_fps"] = None
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    args = ["train", str(data_dir / DANNCE), "--out", str(tmp_path / "m")]
    args += ["--config", str(tmp_path / "c.yaml"), "--steps", "3", "--device", "cpu"]
    assert main(args) == 0
    assert json.loads((tmp_path / "m" / "train_state.json").read_text())["step"] == 3
    assert (
        main(
            [
                "train",
                str(data_dir / DANNCE),
                "--out",
                str(tmp_path / "m"),
                "--resume",
                "--steps",
                "5",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "m" / "config.json").read_text())["step"] == 5
    assert main(["train", str(tmp_path / "nothing*.csv"), "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_ddp_two_processes_agree(data_dir: Path, tmp_path: Path) -> None:
    """Two gloo processes, two skeletons (unused heads each step), a codebook refit at
    step 6: identical weights."""
    config = _config(steps=8)
    config.model.codebook_warmup = 1  # codes set at step 3, refitted at 0.75 * 8
    config = config.to_dict()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "napari_vqmap.training", str(data_dir / DANNCE), str(data_dir / VAME)]
    cmd += ["--out", str(tmp_path / "m")]
    cmd += ["--config", str(tmp_path / "c.yaml"), "--device", "cpu"]
    env = os.environ | {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    hashes = meta["distributed"]["state_sha256"]
    assert meta["world_size"] == 2 and len(hashes) == 2 and hashes[0] == hashes[1]


def test_mirror_pairs_and_augmentation() -> None:
    from napari_vqmap.skeletons import get_skeleton
    from napari_vqmap.training.data import augment
    from napari_vqmap.training.mirror import mirror_permutation
    from napari_vqmap.training.optim import lr_at

    subtle = get_skeleton("subtle")
    perm = mirror_permutation(subtle)
    assert [subtle.keypoints[i] for i in perm[4:8]] == ["lfoot", "rfoot", "lhand", "rhand"]
    assert list(mirror_permutation(get_skeleton("vame6"))) == [0, 2, 1, 4, 3, 5]
    one_sided = subtle.subset(["nose", "neck", "lhand"])
    assert mirror_permutation(one_sided) is None  # a left paw without a right one
    x = np.random.default_rng(0).normal(size=(64, 4, 9, 3)).astype(np.float32)
    mask = np.ones((64, 4, 9), bool)
    flipped, fmask = x.copy(), mask.copy()
    motion = np.random.default_rng(2).normal(size=(64, 4, 3)).astype(np.float32)
    fmotion = motion.copy()
    augment(flipped, fmask, np.random.default_rng(1), perm, _config(keypoint_dropout=0.0), fmotion)
    swapped = (flipped[:, :, :, 1] == -x[:, :, perm, 1]).all(axis=(1, 2))
    assert 10 < swapped.sum() < 54 and fmask.all()
    # Mirrored windows turn and side-step the other way; forward speed is unchanged.
    np.testing.assert_array_equal(fmotion[swapped][..., 1:], -motion[swapped][..., 1:])
    np.testing.assert_array_equal(fmotion[..., 0], motion[..., 0])
    np.testing.assert_array_equal(fmotion[~swapped], motion[~swapped])
    np.testing.assert_array_equal(
        flipped[swapped][..., [0, 2]], x[swapped][:, :, perm][..., [0, 2]]
    )
    augment(x, mask, np.random.default_rng(1), None, _config(keypoint_dropout=1.0))
    dropped = (~mask).all(axis=1).sum(axis=1)
    assert (dropped >= 1).all() and (dropped <= 2).all() and (x[~mask] == 0).all()
    config = _config(steps=100, warmup_steps=10)
    assert lr_at(0, config) == pytest.approx(1e-4) and lr_at(10, config) == pytest.approx(1e-3)
    assert lr_at(100, config) == pytest.approx(1e-4)


def test_final_refit_changes_only_the_codebooks(subtle, tmp_path: Path) -> None:
    """``final_refit`` refits the codebooks after the last step, on the latents of clean
    windows' inner steps: every other weight is the run's without it, the codes are those
    of ``refit_codebooks(final=True)`` on the run without it, and the run is seeded."""

    def config(final: bool) -> TrainConfig:
        c = _config(steps=10, codebook_refit=0.0, final_refit=final)
        c.model.codebook_warmup = 2
        return c

    plain = train([subtle], tmp_path / "plain", config(False))
    refit = train([subtle], tmp_path / "refit", config(True))
    _assert_same(refit, train([subtle], tmp_path / "again", config(True)))
    a, b = _weights(plain), _weights(refit)
    differ = {k for k in a if not torch.equal(a[k], b[k])}
    assert "type_q.codebook" in differ and "subtype_q.codebook" in differ
    assert all(k.startswith(("type_q.", "subtype_q.")) for k in differ), differ
    model, _ = load_model(plain)
    by_skeleton = build_skeleton_data([subtle], config(True))[0]
    train_loop.refit_codebooks(model, by_skeleton, config(True), torch.device("cpu"), final=True)
    for name in ("type_q.codebook", "subtype_q.codebook"):
        assert torch.equal(model.state_dict()[name], b[name]), name


def test_codebook_refit_part_way_is_seeded_and_resumes_exactly(subtle, tmp_path: Path) -> None:
    """With ``codebook_refit`` the codes are refitted by k-means once, at that fraction of
    the steps; the run is the plain one until then, and a run stopped before the refit
    and resumed ends identical to one run straight through. A refit due before the codes
    are set is skipped."""

    def config(refit: float) -> TrainConfig:
        c = _config(steps=10, codebook_refit=refit)
        c.model.codebook_warmup = 2  # every code set at step 5
        return c

    plain = train([subtle], tmp_path / "plain", config(0.0))
    refit = train([subtle], tmp_path / "refit", config(0.7))  # before step 8 (index 7)
    rows = [
        [r.rsplit(",", 1)[0] for r in (p / "history.csv").read_text().splitlines()]
        for p in (plain, refit)
    ]  # without the seconds column
    assert rows[0][:8] == rows[1][:8] and rows[0][8:] != rows[1][8:]
    a, b = _weights(plain), _weights(refit)
    assert not torch.equal(a["type_q.codebook"], b["type_q.codebook"])
    calls = iter(range(100))
    out = train([subtle], tmp_path / "part", config(0.7), should_stop=lambda: next(calls) >= 4)
    train([subtle], out, config(0.7), resume=True)
    _assert_same(refit, out)
    early = train([subtle], tmp_path / "early", config(0.2))  # step 2: codes not yet set
    _assert_same(early, plain)
