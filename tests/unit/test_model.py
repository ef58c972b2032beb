"""Unit tests of the VQ-MAP model: shapes, invariances, masking, quantiser, config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from napari_vqmap.model import VQMAP, EMAQuantizer, ModelConfig
from napari_vqmap.skeletons import REGIONS

torch.set_num_threads(2)

HEADS = {"rat23": (23, 3), "subtle": (9, 3), "calms": (7, 2)}


def small_config(**kw) -> ModelConfig:
    return ModelConfig(
        **{
            "window": 16,
            "hidden": 16,
            "token_dim": 8,
            "codebook_warmup": 0,
            "use_motion": True,
            **kw,
        }
    )


def make_batch(b: int, t: int, k: int, d: int, p_missing: float = 0.2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, k, d, generator=g)
    mask = torch.rand(b, t, k, generator=g) > p_missing
    regions = torch.randint(len(REGIONS), (k,), generator=g)
    return torch.where(mask[..., None], x, 0.0), mask, regions


@pytest.fixture
def model() -> VQMAP:
    torch.manual_seed(0)
    return VQMAP(small_config(), HEADS)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_forward_shapes_every_head(model: VQMAP, head: str) -> None:
    k, d = HEADS[head]
    cfg = model.config
    x, mask, regions = make_batch(3, cfg.window, k, d)
    out = model(x, mask, regions, head)
    tl = cfg.latent_window
    assert out.recon.shape == (3, cfg.window, k, d)
    for key in ("type_idx", "subtype_idx", "motif_idx"):
        assert getattr(out, key).shape == (3, tl) and getattr(out, key).dtype == torch.long
    assert out.z.shape == (3, tl, cfg.latent_dim)
    assert torch.equal(out.motif_idx, out.type_idx * cfg.n_subtypes + out.subtype_idx)
    assert out.type_usage.shape == (cfg.n_types,)
    assert out.subtype_usage.shape == (cfg.n_subtype_codes,)
    for key in ("loss", "recon_loss", "commit_loss", "perplexity"):
        assert getattr(out, key).ndim == 0 and torch.isfinite(getattr(out, key))
    assert 1 <= out.perplexity <= cfg.n_motifs
    expected = out.recon_loss + cfg.commitment_weight * out.commit_loss
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    # Straight-through: the reconstruction gradient reaches the encoder's first layer.
    assert model.encoder.convs[0].down.weight.grad.abs().sum() > 0


def test_encode_and_decode_codes_across_skeletons(model: VQMAP) -> None:
    cfg = model.config
    x, mask, regions = make_batch(2, cfg.window, 9, 3)
    enc = model.encode(x, mask, regions)
    assert enc["z"].shape == (2, cfg.latent_window, cfg.latent_dim)
    conf = enc["confidence"]
    assert conf.shape == (2, cfg.latent_window) and bool(((conf >= 0) & (conf <= 1)).all())
    # A motif found on the 9-keypoint 3D skeleton, shown on the 7-keypoint 2D one.
    poses = model.decode_codes(enc["type_idx"], enc["subtype_idx"], "calms")
    assert poses.shape == (2, cfg.window, 7, 2)
    with pytest.raises(KeyError, match="unknown head"):
        model.decode_codes(enc["type_idx"], enc["subtype_idx"], "fly")


def test_recon_loss_uses_exactly_d_coordinates_and_visible_keypoints(model: VQMAP) -> None:
    x, mask, regions = make_batch(2, model.config.window, 7, 2)
    out = model(x, mask, regions, "calms")
    m = mask[..., None].expand_as(x)
    expected = ((out.recon - x)[m] ** 2).mean()
    torch.testing.assert_close(out.recon_loss, expected)


def test_permutation_invariance(model: VQMAP) -> None:
    x, mask, regions = make_batch(4, model.config.window, 9, 3)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    a = model.encode(x, mask, regions)
    b = model.encode(x[:, :, perm], mask[:, :, perm], regions[perm])
    torch.testing.assert_close(a["z"], b["z"], atol=1e-5, rtol=1e-5)
    assert torch.equal(a["type_idx"], b["type_idx"])
    assert torch.equal(a["subtype_idx"], b["subtype_idx"])


def test_masked_keypoints_have_no_influence(model: VQMAP) -> None:
    x, mask, regions = make_batch(3, model.config.window, 9, 3, p_missing=0.4)
    scrambled = torch.where(mask[..., None], x, 1e3 * torch.randn_like(x))
    a, b = model.encode(x, mask, regions), model.encode(scrambled, mask, regions)
    assert torch.equal(a["z"], b["z"])
    assert torch.equal(a["motif_idx"], b["motif_idx"])
    model.eval()  # so the first forward does not update the codebooks
    out_a = model(x, mask, regions, "subtle")
    out_b = model(scrambled, mask, regions, "subtle")
    assert torch.equal(out_a.recon_loss, out_b.recon_loss)


def test_keypoint_masked_in_whole_window_equals_absent_keypoint(model: VQMAP) -> None:
    x, mask, regions = make_batch(2, model.config.window, 9, 3)
    mask[:, :, 4] = False
    keep = torch.tensor([0, 1, 2, 3, 5, 6, 7, 8])
    a = model.encode(x, mask, regions)
    b = model.encode(x[:, :, keep], mask[:, :, keep], regions[keep])
    torch.testing.assert_close(a["z"], b["z"], atol=1e-5, rtol=1e-5)


def test_all_masked_time_steps_give_finite_outputs(model: VQMAP) -> None:
    x, mask, regions = make_batch(2, model.config.window, 9, 3)
    mask[0, 4:12] = False  # several latent steps with no visible keypoint
    mask[1] = False  # a whole window with nothing visible
    model.train()
    out = model(x, mask, regions, "subtle")
    assert torch.isfinite(out.loss) and torch.isfinite(out.z).all()
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert torch.isfinite(model.encode(x, mask, regions)["confidence"]).all()


def test_regions_accept_per_window_ids_and_reject_bad_ones(model: VQMAP) -> None:
    x, mask, regions = make_batch(2, model.config.window, 9, 3)
    a = model.encode(x, mask, regions)
    b = model.encode(x, mask, regions.expand(2, 9).clone())
    assert torch.equal(a["z"], b["z"])
    with pytest.raises(ValueError, match="region ids"):
        model.encode(x, mask, torch.full((9,), len(REGIONS)))
    with pytest.raises(ValueError, match="regions must have shape"):
        model.encode(x, mask, regions[:5])
    with pytest.raises(ValueError, match="expects x of shape"):
        model(x, mask, regions, "calms")


def test_ema_updates_codebooks_only_in_train_mode(model: VQMAP) -> None:
    x, mask, regions = make_batch(8, model.config.window, 9, 3)
    before = {k: v.clone() for k, v in model.state_dict().items() if "_q." in k}
    model.eval()
    model(x, mask, regions, "subtle")
    model.encode(x, mask, regions)
    for k, v in model.state_dict().items():
        if "_q." in k:
            assert torch.equal(v, before[k]), k
    model.train()
    model.encode(x, mask, regions)  # encode never updates, even in train mode
    assert not bool(model.type_q.initialised)
    model(x, mask, regions, "subtle")
    assert bool(model.type_q.initialised) and bool(model.subtype_q.initialised)
    assert not torch.equal(model.type_q.codebook, before["type_q.codebook"])
    assert not torch.equal(model.subtype_q.cluster_size, before["subtype_q.cluster_size"])


def test_codebook_initialised_by_kmeans_on_the_batch() -> None:
    torch.manual_seed(0)
    q = EMAQuantizer(4, 2, decay=0.5).train()
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    z = (centres[:, None] + 0.1 * torch.randn(4, 100, 2)).reshape(-1, 2)
    q._initialise(z)
    # One code per cluster, at its mean (not a random member, not two in one blob).
    nearest = torch.cdist(q.codebook, centres).argmin(1)
    assert sorted(nearest.tolist()) == [0, 1, 2, 3]
    assert torch.cdist(q.codebook, centres).min(1).values.max() < 0.05


def test_warmup_passes_latents_through_then_initialises() -> None:
    torch.manual_seed(0)
    q = EMAQuantizer(8, 4, warmup=2).train()
    z = torch.randn(64, 4, requires_grad=True)
    before = q.codebook.clone()
    for _ in range(2):
        out = q(z)
        assert torch.equal(out.quantized, z) and float(out.commit_loss) == 0.0
        assert not bool(q.initialised) and torch.equal(q.codebook, before)
    out = q(z)  # third training step: k-means init, then quantised
    assert bool(q.initialised) and int(q.steps) == 3
    assert not torch.equal(out.quantized, z) and float(out.commit_loss) > 0
    q.eval()
    q(z)  # eval forwards are not counted
    assert int(q.steps) == 3


def test_dead_code_reset_revives_unused_codes() -> None:
    torch.manual_seed(0)
    q = EMAQuantizer(8, 4, decay=0.9, dead_threshold=1e-2).train()
    z = torch.randn(256, 4)
    q(z)
    dead = torch.tensor([1, 5])
    q.codebook[dead] = 100.0  # far from every latent: never assigned
    q.cluster_size[dead] = 1e-6
    q(z)
    # Revived codes are latents of the batch and are no longer counted as dead.
    assert torch.cdist(q.codebook[dead], z).min(1).values.max() < 1e-5
    assert q.stats()["n_dead"] == 0
    assert q(z).usage[dead].sum() > 0


def test_batch_weight_scales_the_codebook_update_and_revival() -> None:
    torch.manual_seed(0)
    z = torch.randn(256, 4)
    moved = {}
    for weight in (1.0, 0.5, 0.0):
        torch.manual_seed(1)
        q = EMAQuantizer(8, 4, decay=0.9).train()
        q(z)  # initialises the codebook on z
        before = q.embed_sum.clone(), q.cluster_size.clone()
        q(z + 1.0, weight)
        moved[weight] = (q.embed_sum - before[0]).abs().sum() + (
            q.cluster_size - before[1]
        ).abs().sum()
    assert moved[0.0] == 0 and moved[1.0] > 0
    assert torch.isclose(moved[0.5], moved[1.0] / 2, rtol=0.05)
    q = EMAQuantizer(8, 4, decay=0.9, dead_threshold=1e-2).train()
    q(z)
    q.codebook[:4] = 100.0
    q.cluster_size[:4] = 1e-6  # four dead codes
    q(z, 0.5)
    assert q.stats()["n_dead"] == 2  # half of them revived from this batch


def test_codebook_stats(model: VQMAP) -> None:
    stats = model.codebook_stats()
    assert set(stats) == {"type", "subtype"}
    assert len(stats["type"]["usage"]) == model.config.n_types
    assert len(stats["subtype"]["usage"]) == model.config.n_subtype_codes
    assert stats["type"]["n_dead"] == 0
    assert stats["type"]["perplexity"] == pytest.approx(model.config.n_types)
    json.dumps(stats)


def test_state_dict_round_trip_restores_codebooks_exactly(model: VQMAP) -> None:
    x, mask, regions = make_batch(4, model.config.window, 9, 3)
    model.train()
    model(x, mask, regions, "subtle")
    state = model.state_dict()
    assert {"type_q.cluster_size", "type_q.embed_sum", "subtype_q.initialised"} <= set(state)
    fresh = VQMAP(ModelConfig.from_dict(model.config.to_dict()), model.head_shapes)
    fresh.load_state_dict(state)
    fresh.train()
    model(x, mask, regions, "subtle")
    fresh(x, mask, regions, "subtle")
    for k, v in model.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k]), k


def test_deterministic_with_seed() -> None:
    x, mask, regions = make_batch(2, 16, 9, 3)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        m = VQMAP(small_config(), HEADS).train()
        outs.append(m(x, mask, regions, "subtle").recon)
    assert torch.equal(*outs)


def test_add_head(model: VQMAP) -> None:
    model.add_head("fly", 32, 3)
    assert model.head_shapes["fly"] == (32, 3)
    x, mask, regions = make_batch(1, model.config.window, 32, 3)
    assert model(x, mask, regions, "fly").recon.shape == (1, model.config.window, 32, 3)
    with pytest.raises(ValueError, match="already exists"):
        model.add_head("fly", 32, 3)
    with pytest.raises(ValueError, match="n_dims"):
        model.add_head("flat", 5, 1)
    with pytest.raises(ValueError, match="contain no"):
        model.add_head("a.b", 5, 2)


def test_config_json_round_trip() -> None:
    cfg = ModelConfig(hidden=32, n_types=4)
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    with pytest.raises(ValueError, match="unknown ModelConfig key"):
        ModelConfig.from_dict({**cfg.to_dict(), "n_layers": 3})
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(window=30)
    with pytest.raises(ValueError, match="2 \\* code_dim"):
        ModelConfig(residual=False, latent_dim=48)
    with pytest.raises(ValueError, match="integer >= 1"):
        ModelConfig(n_types=0)
    with pytest.raises(ValueError, match="decoder_depth must be None or an integer >= 0"):
        ModelConfig(decoder_depth=-1)
    # configs saved before a key existed load with its default (same architecture)
    old = {k: v for k, v in cfg.to_dict().items() if k != "decoder_depth"}
    assert ModelConfig.from_dict(old) == cfg
    # retired options: ignored (with a warning) at their no-effect value, else refused
    with pytest.warns(DeprecationWarning, match="slowness_weight was removed"):
        assert ModelConfig.from_dict({**old, "slowness_weight": 0.0}) == cfg
    with pytest.raises(ValueError, match="motion_weight was removed"):
        ModelConfig.from_dict({**old, "motion_weight": 1.0})


def test_shallow_decoder_reconstructs_from_nearby_codes_only() -> None:
    model = VQMAP(ModelConfig(hidden=16, decoder_depth=0), {"a": (4, 3)})
    z = torch.zeros(1, 16, model.config.latent_dim, requires_grad=True)
    model.decoder(z)[0, 32].sum().backward()  # frame 32 lies in latent step 8
    reached = (z.grad.abs().sum(-1)[0] > 0).nonzero().flatten()
    assert int(reached.min()) >= 6 and int(reached.max()) <= 9


def _real_windows(data_dir: Path, window: int, n: int) -> torch.Tensor:
    """Windows (n, window, 9, 3) of a SUBTLE recording, centred on the neck and scaled."""
    csv = data_dir / "subtle-avatar-3d" / "y3a6" / "coords" / "adult_8294.csv"
    xyz = np.loadtxt(csv, delimiter=",", dtype=np.float32).reshape(-1, 9, 3)
    xyz = xyz - xyz[:, 1:2]
    xyz /= np.nanstd(xyz)
    starts = np.linspace(0, len(xyz) - window, n).astype(int)
    return torch.from_numpy(np.stack([xyz[s : s + window] for s in starts]))


def test_optimisation_on_real_windows_decreases_recon_loss(data_dir: Path) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(window=32)
    x = _real_windows(data_dir, cfg.window, 64)
    mask = torch.ones(x.shape[:3], dtype=torch.bool)
    mask[::4, :, 7] = False  # some keypoint dropout
    regions = torch.tensor([0, 1, 1, 5, 6, 3, 4, 2, 0])
    model = VQMAP(cfg, {"subtle": (9, 3)}).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        out = model(x, mask, regions, "subtle")
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.recon_loss))
    assert np.mean(losses[-5:]) < 0.6 * losses[0]
    assert model.codebook_stats()["subtype"]["perplexity"] > 1


def _ddp_worker(rank: int, init_file: str, results: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    torch.manual_seed(rank)  # different data and random draws on each rank
    q = EMAQuantizer(8, 4, decay=0.9, dead_threshold=0.05).train()
    for _ in range(5):
        q(torch.randn(64, 4) + rank)
    torch.save({k: v for k, v in q.state_dict().items()}, f"{results}.{rank}")
    dist.destroy_process_group()


def test_ema_statistics_identical_across_ddp_ranks(tmp_path: Path) -> None:
    results = str(tmp_path / "state")
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), results), nprocs=2)
    a, b = (torch.load(f"{results}.{r}") for r in (0, 1))
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_body_motion_root_token(model: VQMAP) -> None:
    cfg = model.config
    x, mask, regions = make_batch(3, cfg.window, 9, 3, p_missing=0.0)
    g = torch.Generator().manual_seed(1)
    motion = torch.randn(3, cfg.window, 3, generator=g)
    hidden = torch.zeros(3, cfg.window, dtype=torch.bool)
    z = model.encode(x, mask, regions)["z"]
    # Masked motion is absent motion; given motion changes the latent.
    torch.testing.assert_close(model.encode(x, mask, regions, 5 * motion, hidden)["z"], z)
    assert not torch.allclose(model.encode(x, mask, regions, motion)["z"], z)
    # Keypoint order still does not matter with the root token present.
    perm = torch.randperm(9, generator=g)
    a = model.encode(x, mask, regions, motion)["z"]
    b = model.encode(x[:, :, perm], mask[:, :, perm], regions[perm], motion)["z"]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # The loss is the reconstruction plus the weighted geometry and commitment terms.
    model.eval()
    out = model(x, mask, regions, "subtle", motion=motion)
    expected = (
        out.recon_loss
        + cfg.commitment_weight * out.commit_loss
        + cfg.geometry_weight * out.geo_loss
    )
    torch.testing.assert_close(out.loss, expected)
    plain = VQMAP(small_config(use_motion=False), HEADS)
    assert not any("root" in k or "motion" in k for k in plain.state_dict())


def test_receptive_field_bounds_what_a_latent_step_sees() -> None:
    """Gradients of one latent step reach no frame beyond ``receptive_field`` on each side
    (encode relies on this to encode blocks with that much context)."""
    for config in (ModelConfig(hidden=16), ModelConfig(hidden=16, res_depth=3, n_down=3)):
        torch.manual_seed(0)
        model = VQMAP(config, {"a": (4, 3)}).eval()
        t, factor = 384, 2**config.n_down
        x = torch.randn(1, t, 4, 3, requires_grad=True)
        z = model.encoder(x, torch.ones(1, t, 4, dtype=torch.bool), torch.zeros(1, 4).long())
        step = z.shape[1] // 2
        z[0, step].sum().backward()
        reached = (x.grad.abs().sum((0, 2, 3)) > 0).nonzero().flatten()
        assert step * factor - int(reached.min()) <= config.receptive_field
        assert int(reached.max()) - (step * factor + factor - 1) <= config.receptive_field
        assert step * factor - int(reached.min()) > config.receptive_field // 2  # not loose


def test_decoder_field_bounds_what_a_latent_step_reaches() -> None:
    """A latent step's gradient-carrying decoded frames lie within ``decoder_field`` of its
    own frames (encode's context for filled-in keypoints relies on this)."""
    for config in (
        ModelConfig(hidden=16),
        ModelConfig(hidden=16, res_depth=3, n_down=3),
        ModelConfig(hidden=16, res_depth=2, decoder_depth=0),
    ):
        torch.manual_seed(0)
        model = VQMAP(config, {"a": (4, 3)}).eval()
        factor, steps = 2**config.n_down, 48
        z = torch.randn(1, steps, config.latent_dim, requires_grad=True)
        out = model.decoder(z)  # (1, steps * factor, hidden)
        step = steps // 2
        reached = []
        for frame in range(out.shape[1]):
            (grad,) = torch.autograd.grad(out[0, frame].sum(), z, retain_graph=True)
            if grad[0, step].abs().sum() > 0:
                reached.append(frame)
        assert step * factor - min(reached) <= config.decoder_field
        assert max(reached) - (step * factor + factor - 1) <= config.decoder_field
        assert step * factor - min(reached) > config.decoder_field // 2  # not loose


def test_missing_keypoints_are_filled_from_the_head_and_encoded_again() -> None:
    """With ``head``, windows with a keypoint missing beside seen ones are encoded again
    with it filled in from the head's decoding of the first latents; whole windows and
    frames with nothing seen are as without it."""
    torch.manual_seed(0)
    model = VQMAP(small_config(), HEADS).eval()
    x, mask, regions = make_batch(3, 16, 9, 3, p_missing=0.0)
    mask[1, 4:9, :3] = False  # some keypoints missing: filled in
    mask[2, 6:8] = False  # whole frames missing: stay masked
    x = torch.where(mask[..., None], x, 0.0)
    plain = model.encode(x, mask, regions)
    filled = model.encode(x, mask, regions, head="subtle")
    for key in ("z", "motif_idx"):  # only window 1 changes
        torch.testing.assert_close(filled[key][[0, 2]], plain[key][[0, 2]])
    assert not torch.equal(filled["z"][1], plain["z"][1])
    recon = model._head(model.decoder(plain["z"][1:2]), "subtle")
    fill = mask[1:2].any(-1, keepdim=True) & ~mask[1:2]
    again = model.encode(torch.where(fill[..., None], recon, x[1:2]), mask[1:2] | fill, regions)
    torch.testing.assert_close(filled["z"][1:2], again["z"])
    order = torch.randperm(9)  # keypoints in another order: the head's order is mapped back
    shuffled = model.encode(
        x[:, :, order], mask[:, :, order], regions[order], head="subtle", head_index=order
    )
    torch.testing.assert_close(shuffled["z"], filled["z"], atol=1e-5, rtol=1e-4)


def test_residual_subtypes_refine_the_type_code() -> None:
    """With ``residual``, the subtype codebook quantises what the type code leaves over:
    training forward, ``encode`` and ``decode_codes`` agree on codes and on the latent."""
    torch.manual_seed(0)
    cfg = small_config(residual=True, latent_dim=8, code_dim=8, codebook_warmup=2)
    model = VQMAP(cfg, HEADS).train()
    x, mask, regions = make_batch(4, cfg.window, 9, 3)
    for step in range(1, 6):
        out = model(x, mask, regions, "subtle")
        assert torch.isfinite(out.loss)
        # The subtypes wait until the types exist (twice the warm-up): residuals before
        # that are all zero.
        assert bool(model.type_q.initialised) == (step > 2)
        assert bool(model.subtype_q.initialised) == (step > 4)
    model.eval()
    out = model(x, mask, regions, "subtle")
    enc = model.encode(x, mask, regions)
    assert torch.equal(out.type_idx, enc["type_idx"])
    assert torch.equal(out.subtype_idx, enc["subtype_idx"])
    residual = enc["z"] - model.type_q.lookup(enc["type_idx"])
    own = model.subtype_q.assign(residual, enc["type_idx"])[0] % cfg.n_subtypes
    assert torch.equal(enc["subtype_idx"], own)
    decoded = model.decode_codes(enc["type_idx"], enc["subtype_idx"], "subtle")
    torch.testing.assert_close(decoded, out.recon)
    out.loss.backward()
    assert model.encoder.convs[0].down.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="must equal code_dim"):
        ModelConfig(residual=True, latent_dim=64, code_dim=32)


def test_subtypes_per_type_pick_codes_of_their_own_type_only() -> None:
    """With ``subtypes_per_type`` each type has its own ``n_subtypes`` subtype codes: the
    forward pass, ``encode`` and ``decode_codes`` agree, and a residual is only ever
    compared with its type's codes."""
    torch.manual_seed(0)
    cfg = small_config(subtypes_per_type=True, n_types=4, n_subtypes=3, codebook_warmup=2)
    model = VQMAP(cfg, HEADS).train()
    assert model.subtype_q.n_codes == 12
    x, mask, regions = make_batch(6, cfg.window, 9, 3)
    for _ in range(6):
        out = model(x, mask, regions, "subtle")
        assert torch.isfinite(out.loss)
    model.eval()
    out = model(x, mask, regions, "subtle")
    enc = model.encode(x, mask, regions)
    assert torch.equal(out.motif_idx, enc["motif_idx"])
    assert int(enc["subtype_idx"].max()) < 3 and int(enc["motif_idx"].max()) < 12
    residual = enc["z"] - model.type_q.lookup(enc["type_idx"])
    d = model.subtype_q.distances(residual.reshape(-1, cfg.code_dim)).view(-1, 4, 3)
    own = d[torch.arange(len(d)), enc["type_idx"].flatten()].argmin(1)
    assert torch.equal(own.view_as(enc["subtype_idx"]), enc["subtype_idx"])
    decoded = model.decode_codes(enc["type_idx"], enc["subtype_idx"], "subtle")
    torch.testing.assert_close(decoded, out.recon)
    shared = ModelConfig(residual=False, latent_dim=64)  # the grouped quantiser shares them
    assert shared.subtypes_per_type and shared.n_subtype_codes == shared.n_subtypes


def test_2d_input_is_read_at_region_heights(model: VQMAP) -> None:
    """lift_2d: a 2D window encodes exactly as the 3D window, rescaled to the 3D body
    length, whose keypoints sit at their regions' heights; without it (older models) 2D
    stays 2D, and the model has no lift buffers."""
    model.eval()
    model.encoder.region_height.copy_(torch.linspace(-0.3, 0.2, len(REGIONS)))
    model.encoder.top_down_scale.fill_(0.8)
    x, mask, regions = make_batch(2, model.config.window, 7, 2)
    height = model.encoder.region_height[regions].expand(2, 16, 7)[..., None]
    lifted = torch.cat([0.8 * x, height], -1)
    a = model.encode(x, mask, regions)
    b = model.encode(lifted, mask, regions)
    torch.testing.assert_close(a["z"], b["z"])
    assert torch.equal(a["motif_idx"], b["motif_idx"])
    torch.manual_seed(0)
    plain = VQMAP(small_config(lift_2d=False), HEADS).eval()
    lift = {"encoder.region_height", "encoder.top_down_scale"}
    assert not lift & set(plain.state_dict())
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k not in lift})
    assert not torch.allclose(plain.encode(x, mask, regions)["z"], a["z"])


def test_refit_replaces_codes_by_kmeans_section_by_section() -> None:
    """Each section's codes move to the clusters of the latents of that section, and the
    EMA statistics restart from the new assignments."""
    torch.manual_seed(0)
    q = EMAQuantizer(4, 2, n_sections=2).train()
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    z = (centres[:, None] + 0.1 * torch.randn(4, 100, 2)).reshape(-1, 2)
    section = torch.arange(4).repeat_interleave(100) // 2  # blobs 0, 1 | blobs 2, 3
    g = torch.Generator().manual_seed(0)
    idx = q.refit(z, section, n_batches=4, generator=g)
    d = torch.cdist(q.codebook, centres)
    assert sorted(d[:2].argmin(1).tolist()) == [0, 1]
    assert sorted(d[2:].argmin(1).tolist()) == [2, 3]
    assert d.min(1).values.max() < 0.05
    assert (idx // 2 == section).all()
    torch.testing.assert_close(q.cluster_size, torch.full((4,), 25.0))
    torch.testing.assert_close(q.embed_sum, q.codebook * 25.0)
    again = EMAQuantizer(4, 2, n_sections=2)
    again.refit(z, section, n_batches=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.codebook, q.codebook)  # seeded


def test_refit_codebooks_keeps_types_and_subtypes_nested() -> None:
    torch.manual_seed(0)
    model = VQMAP(small_config(), HEADS)
    z = torch.randn(2000, model.config.latent_dim)
    model.refit_codebooks(z, 2, torch.Generator().manual_seed(0))
    x, mask, regions = make_batch(2, 16, 9, 3)
    out = model.encode(x, mask, regions)
    assert out["motif_idx"].max() < model.config.n_motifs
    types = model.type_q.distances(z).argmin(1)
    assert torch.bincount(types, minlength=8).min() > 0  # every type has latents
    residual = z - model.type_q.lookup(types)
    section_codes = model.subtype_q.codebook.view(8, model.config.n_subtypes, -1)
    for t in range(8):  # each type's subtype codes are k-means centroids of its residuals
        r = residual[types == t]
        near = torch.cdist(r, section_codes[t]).argmin(1)
        means = torch.stack([r[near == c].mean(0) for c in near.unique()])
        torch.testing.assert_close(section_codes[t][near.unique()], means, atol=1e-4, rtol=0)
