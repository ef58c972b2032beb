"""The parts behind motif quality: the anchored reconstruction target, motif stickiness and
the PCA + k-means baselines, on a real SUBTLE session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from napari_vqmap.baselines import PCAKMeans, per_frame_features, windowed_features
from napari_vqmap.model import VQMAP, ModelConfig
from napari_vqmap.model.vqmap import anchored, centred_spans, geometry
from napari_vqmap.stickiness import (
    DEFAULT_STICKINESS,
    check_stickiness,
    smooth_track,
    sticky_motifs,
    viterbi,
)

SESSION = "subtle-avatar-3d/y5a5/coords/young_8301.csv"


@pytest.fixture(scope="module")
def subtle(data_dir: Path):
    from napari_vqmap.io import load_poses, skeleton_of

    ds = load_poses(data_dir / SESSION, skeleton="subtle", fps=20).isel(time=slice(0, 3000))
    return ds, skeleton_of(ds)


def _seen_from(raw: np.ndarray, skeleton, frames: slice, anchor: int) -> np.ndarray:
    """Direct computation: raw poses of ``frames`` in the egocentric frame of ``anchor``
    (x, y relative to the anchor frame's centre and heading; z relative to each frame's
    own centre height)."""
    idx = {k: i for i, k in enumerate(skeleton.keypoints)}
    centre = raw[:, [idx[k] for k in skeleton.centre]].mean(1)
    head = raw[:, [idx[k] for k in skeleton.anterior]].mean(1)
    tail = raw[:, [idx[k] for k in skeleton.posterior]].mean(1)
    angle = np.arctan2(*(head - tail)[anchor, 1::-1])
    rel = raw[frames] - centre[anchor]
    out = rel.copy()
    out[..., 0] = np.cos(angle) * rel[..., 0] + np.sin(angle) * rel[..., 1]
    out[..., 1] = -np.sin(angle) * rel[..., 0] + np.cos(angle) * rel[..., 1]
    out[..., 2] = raw[frames, :, 2] - centre[frames, None, 2]
    return out


def test_anchored_equals_poses_seen_from_the_span_centre(subtle) -> None:
    """Per-frame aligned poses + body motion, integrated, give the poses of a span seen
    from its centre frame: walking and turning are in the target."""
    from napari_vqmap.preprocess import PreprocessConfig, preprocess

    ds, skeleton = subtle
    rec = preprocess(ds, skeleton, PreprocessConfig(alignment="anchors"))  # as _seen_from
    raw = ds["position"].transpose("time", "keypoint", "space", "individual").values[..., 0]
    start, span = 1000, 32
    x = torch.from_numpy(rec.x[:, start : start + 2 * span]).double()
    motion = torch.from_numpy(rec.motion[:, start : start + 2 * span]).double()
    out = anchored(x, motion, span, 1 / rec.fps)[0].numpy() * rec.body_length
    for s in (0, 1):
        lo = start + s * span
        want = _seen_from(raw, skeleton, slice(lo, lo + span), lo + span // 2)
        np.testing.assert_allclose(out[s * span : (s + 1) * span], want, atol=1e-4)
    moved = np.abs(out[:span, :, :2] - rec.x[0, start : start + span, :, :2] * rec.body_length)
    assert moved.max() > 0.5  # the mouse moved: not the per-frame alignment


def test_anchored_loss_needs_motion_and_trains_the_motion_head() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(window=16, hidden=16, token_dim=8, codebook_warmup=0, use_motion=True,
                      anchor_span=8)  # fmt: skip
    model = VQMAP(cfg, {"s": (5, 3)})
    x, mask = torch.randn(4, 16, 5, 3), torch.ones(4, 16, 5, dtype=torch.bool)
    motion = torch.randn(4, 16, 3)
    out = model(x, mask, torch.zeros(5, dtype=torch.long), "s", motion=motion)
    out.loss.backward()
    assert model.motion_head.weight.grad.abs().sum() > 0
    short = anchored(x, motion, 6, 0.05)  # spans of 6, 6 and a last one of 4 frames
    np.testing.assert_allclose(short[:, :12], anchored(x[:, :12], motion[:, :12], 6, 0.05))


def test_centred_spans_are_the_poses_around_each_latent_step_seen_from_it(subtle) -> None:
    """The geometry target of a latent step: the span around its centre frame, anchored
    there, for the steps whose span fits in the window."""
    from napari_vqmap.preprocess import PreprocessConfig, preprocess

    ds, skeleton = subtle
    rec = preprocess(ds, skeleton, PreprocessConfig(alignment="anchors"))  # as _seen_from
    raw = ds["position"].transpose("time", "keypoint", "space", "individual").values[..., 0]
    start = 1000
    x = torch.from_numpy(rec.x[:, start : start + 64]).double()
    mask = torch.ones(x.shape[:3], dtype=torch.bool)
    motion = torch.from_numpy(rec.motion[:, start : start + 64]).double()
    spans, span_mask, steps = centred_spans(x, mask, motion, 32, 1 / rec.fps, 4)
    assert steps == list(range(4, 12)) and spans.shape == (8, 32, 9, 3)
    assert span_mask.shape == (8, 32, 9)
    for i, step in enumerate(steps):
        centre = start + 4 * step + 2
        want = _seen_from(raw, skeleton, slice(centre - 16, centre + 16), centre)
        np.testing.assert_allclose(spans[i].numpy() * rec.body_length, want, atol=1e-4)


def test_geometry_compares_distances_up_to_scale_on_visible_coordinates() -> None:
    torch.manual_seed(0)
    y = torch.randn(40, 4, 5, 3) * torch.linspace(0.1, 3, 40)[:, None, None, None]
    full = torch.ones(40, 4, 5, dtype=torch.bool)
    assert geometry(3 * y.flatten(1), y, full) < 1e-10  # the latent's scale is free
    assert geometry(y.flatten(1)[torch.randperm(40)], y, full) > 0.05
    # hidden coordinates take no part: changing them changes nothing
    hidden = full.clone()
    hidden[:20, :, 0] = False
    moved = y.clone()
    moved[:20, :, 0] += 100
    z = torch.randn(40, 8)
    torch.testing.assert_close(geometry(z, moved, hidden), geometry(z, y, hidden))
    weight = torch.rand(5, 3) + 0.5
    assert geometry((y * weight.sqrt()).flatten(1), y, full, weight) < 1e-10


def test_the_geometry_term_trains_the_encoder_and_skips_short_windows() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=16, token_dim=8, codebook_warmup=0)
    model = VQMAP(cfg, {"s": (5, 3)})
    x, mask = torch.randn(4, 64, 5, 3), torch.ones(4, 64, 5, dtype=torch.bool)
    out = model(x, mask, torch.zeros(5, dtype=torch.long), "s", motion=torch.randn(4, 64, 3))
    assert cfg.geometry_weight == 3 and out.geo_loss > 0
    out.geo_loss.backward()
    assert model.encoder.pool.proj.weight.grad.abs().sum() > 0
    assert model.decoder.net[0].weight.grad is None  # the latent only
    short = model(x[:, :16], mask[:, :16], torch.zeros(5, dtype=torch.long), "s",
                  motion=torch.randn(4, 16, 3))  # fmt: skip
    assert short.geo_loss == 0


def test_geometry_height_weighs_heights_in_the_geometry_term_only() -> None:
    """``geometry_height`` multiplies the weight of z in the span distances the latent
    follows; reconstruction and 2D windows are as without it."""
    x, mask = torch.randn(4, 64, 5, 3), torch.ones(4, 64, 5, dtype=torch.bool)
    motion, regions = torch.randn(4, 64, 3), torch.zeros(5, dtype=torch.long)
    outs = {}
    for h in (1.0, 2.0):
        torch.manual_seed(0)  # the same weights for both
        cfg = ModelConfig(hidden=16, token_dim=8, codebook_warmup=0, geometry_height=h)
        model = VQMAP(cfg, {"s": (5, 3), "f": (5, 2)})
        outs[h] = (
            model(x, mask, regions, "s", motion=motion),
            model(x[..., :2], mask, regions, "f", motion=motion),
        )
    (one3, one2), (two3, two2) = outs[1.0], outs[2.0]
    torch.testing.assert_close(two3.recon_loss, one3.recon_loss)
    torch.testing.assert_close(two2.geo_loss, one2.geo_loss)
    y, ym, steps = centred_spans(x, mask, motion, 32, 0.05, 4)
    weight = torch.ones(5, 3)
    weight[:, 2] = 2.0
    want = geometry(two3.z[:, steps].flatten(0, 1), y, ym, weight)
    torch.testing.assert_close(two3.geo_loss, want)
    assert not torch.isclose(two3.geo_loss, one3.geo_loss)


def test_viterbi_keeps_a_state_unless_leaving_pays() -> None:
    cost = np.array([[0, 1], [0, 1], [1, 0], [0, 1], [0, 1.0]])
    assert viterbi(cost, 0.0).tolist() == [0, 0, 1, 0, 0]
    assert viterbi(cost, 3.0).tolist() == [0, 0, 0, 0, 0]  # a one-step blip is not worth 2 changes
    long = np.array([[0, 1]] * 2 + [[1, 0]] * 8 + [[0, 1]] * 2, float)
    assert viterbi(long, 1.5).tolist() == [0, 0] + [1] * 8 + [0, 0]
    assert viterbi(long, 3.0).tolist() == [1] * 12  # two changes cost more than 4 misfits
    with pytest.raises(ValueError, match="stickiness"):
        check_stickiness(-1)


def test_new_models_record_the_default_stickiness(subtle, tiny_subtle_model: Path) -> None:
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.encode import encode

    model, meta = load_model(tiny_subtle_model)
    assert meta["stickiness"] == DEFAULT_STICKINESS
    assert encode(model, subtle[0].isel(time=slice(0, 200)), meta).attrs["stickiness"] == 1.0


def test_the_sidecar_records_the_stickiness_used(subtle, tmp_path: Path) -> None:
    """Without a stickiness given, the model's is used and written in the sidecar."""
    import json

    from napari_vqmap.encode import encode_files

    list(encode_files({"s": subtle[0].isel(time=slice(0, 200))}, None, tmp_path))
    (sidecar,) = tmp_path.glob("*_encode.json")
    assert json.loads(sidecar.read_text())["settings"]["stickiness"] == DEFAULT_STICKINESS


def test_stickiness_zero_is_the_nearest_code_and_more_lengthens_motifs(subtle) -> None:
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.encode import encode
    from napari_vqmap.sample_data import bundled_model_dir

    ds, _ = subtle
    model, meta = load_model(bundled_model_dir())
    res = encode(model, ds, meta, stickiness=0)
    motif, z = res["motif"].values[:, 0], res["embedding"].values[:, 0]
    assert res.attrs["stickiness"] == 0.0
    same = smooth_track(model, motif, z, 0.0)
    assert np.mean(same == motif) > 0.99  # float64 ties aside, the model's own choice
    sticky = encode(model, ds, meta, stickiness=3.0)
    assert sticky.attrs["stickiness"] == 3.0

    def n_changes(m: np.ndarray) -> int:
        return int((np.diff(m) != 0).sum())

    assert n_changes(sticky["motif"].values[:, 0]) < 0.7 * n_changes(motif)
    again = encode(model, ds, meta, stickiness=3.0)["motif"].values
    np.testing.assert_array_equal(again, sticky["motif"].values)  # deterministic
    steps = sticky_motifs(model, z[::4][:50], np.full(50, 4), 0.0)
    assert steps.shape == (50,) and steps.max() < model.config.n_motifs


def test_windowed_features_are_centre_frame_aligned(subtle) -> None:
    ds, skeleton = subtle
    feats = windowed_features(ds, skeleton, window=32)
    raw = ds["position"].transpose("time", "keypoint", "space", "individual").values[..., 0]
    assert feats.shape == (ds.sizes["time"], 32 * 9 * 3)
    trunk = raw[:, [1, 2, 3]].mean(1)  # neck, anus, chest
    angle = np.arctan2(*(raw[500, 1] - raw[500, 2])[1::-1])
    rel = raw[500 - 16 : 500 + 16] - trunk[500]
    want = rel.copy()
    want[..., 0] = np.cos(angle) * rel[..., 0] + np.sin(angle) * rel[..., 1]
    want[..., 1] = -np.sin(angle) * rel[..., 0] + np.cos(angle) * rel[..., 1]
    np.testing.assert_allclose(feats[500].reshape(32, 9, 3), want, atol=1e-4)
    edge = feats[0].reshape(32, 9, 3)
    np.testing.assert_allclose(edge[0], edge[16], atol=1e-5)  # padded with the first frame
    assert per_frame_features(ds, skeleton).shape == (ds.sizes["time"], 27)


def test_pca_kmeans_is_seeded_and_predicts_its_clusters(subtle) -> None:
    ds, skeleton = subtle
    feats = per_frame_features(ds, skeleton)
    a = PCAKMeans(8, 10, seed=0).fit(feats).predict(feats)
    b = PCAKMeans(8, 10, seed=0).fit(feats).predict(feats)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 8


def test_long_sequences_solved_in_blocks_equal_one_pass() -> None:
    """Blocks of a long sequence, solved side by side, join into the one-pass path."""
    from napari_vqmap.stickiness import BLOCK, _viterbi_blocks

    rng = np.random.default_rng(0)
    means = rng.normal(size=(8, 4))
    states = np.repeat(rng.integers(8, size=3 * BLOCK // 5), 5)  # behaviour-like runs
    z = means[states] + rng.normal(0, 0.8, (len(states), 4))
    cost = ((z[:, None] - means[None]) ** 2).sum(-1)
    for penalty in (0.5, 3.0):
        one = _viterbi_blocks(cost[None], np.full((1, len(cost)), penalty))[0]
        np.testing.assert_array_equal(viterbi(cost, penalty), one)
    free = rng.random(len(cost)) < 0.05
    pen = np.where(free, 0.0, 3.0)
    np.testing.assert_array_equal(
        viterbi(cost, 3.0, free), _viterbi_blocks(cost[None], pen[None])[0]
    )


def test_a_bad_stickiness_is_refused_before_any_work(subtle, tmp_path: Path, capsys) -> None:
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.cli import main
    from napari_vqmap.encode import encode
    from napari_vqmap.sample_data import bundled_model_dir

    model, meta = load_model(bundled_model_dir())
    with pytest.raises(ValueError, match="stickiness"):
        encode(model, subtle[0], meta, stickiness=float("nan"))
    src = Path(subtle[0].attrs["source_file"])
    with pytest.raises(SystemExit) as exit_:
        main(["encode", str(src), "--stickiness", "-1", "--out", str(tmp_path / "o")])
    assert exit_.value.code == 2 and "--stickiness" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_stickiness_on_a_model_from_before_residual_subtypes() -> None:
    """Older model folders quantise the latent's two halves separately; stickiness 0 gives
    their own codes back (random latents: no such model folder is in the shared data)."""
    torch.manual_seed(0)
    cfg = ModelConfig(window=16, hidden=16, token_dim=8, residual=False, subtypes_per_type=False,
                      latent_dim=64, anchor_span=0, use_motion=False)  # fmt: skip
    model = VQMAP(cfg, {"s": (5, 3)}).eval()
    z = torch.randn(400, 64)
    types, _ = model.type_q.assign(z[:, :32])
    subtypes, _ = model.subtype_q.assign(z[:, 32:])
    motif = (types * cfg.n_subtypes + subtypes).numpy()
    np.testing.assert_array_equal(smooth_track(model, motif, z.numpy(), 0.0), motif)
    sticky = smooth_track(model, motif, z.numpy(), 3.0)
    assert (np.diff(sticky) != 0).sum() < (np.diff(motif) != 0).sum()
