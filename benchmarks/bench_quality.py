"""Train VQ-MAP on the nine y3a6 SUBTLE sessions and score it on y5a5/young_8301; prints tables.

Run with ``python benchmarks/bench_quality.py`` (``--quick`` for a short run, ``--steps N``
to choose the training length, ``--reference`` for the reference-sized model (hidden 256,
res_depth 3), ``--two-skeleton`` to train on DANNCE's 22-keypoint mouse as
well, ``--model DIR`` to score an existing model instead of training one, e.g. the bundled
one). The data folder is ``--data``, else ``$NAPARI_VQMAP_DATA``, else ``../shared/data``
beside the repo. Scores on the held-out, human-labelled session: reconstruction error with
0/25/50% of keypoints masked at encode time, codebook use, motif agreement with the labels
(non-``na`` frames) against a PCA + k-means baseline (128 clusters on the same aligned
frames, one cluster per latent-step span), and motif stability when 2 or 3 keypoints are
masked. ``--usage`` also prints the usage of the 8 motif types on every input a model was
trained on (``--usage-figure PNG`` draws it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

THREADS = 2
DEFAULT_DATA = Path(
    os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


# ---------------------------------------------------------------- label agreement


def majority_accuracy(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy when each cluster is mapped to its most frequent label."""
    from napari_vqmap.evaluate import purity

    return purity(labels, clusters)


def perplexity(codes: np.ndarray, n_codes: int) -> tuple[float, int]:
    """exp(entropy) of code usage and the number of codes never used."""
    counts = np.bincount(codes, minlength=n_codes)
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-(p * np.log(p)).sum())), int((counts == 0).sum())


# ---------------------------------------------------------------- model side


def drop_mask(mask: np.ndarray, n_drop: int, rng: np.random.Generator) -> np.ndarray:
    """Copy of ``mask`` (B, T, K) with ``n_drop`` random keypoints hidden in each window."""
    out = mask.copy()
    for b in range(len(out)):
        out[b, :, rng.choice(out.shape[2], n_drop, replace=False)] = False
    return out


def windows_of(rec, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Back-to-back windows (stride = window, last one ends at the last frame)."""
    from napari_vqmap.preprocess import get_window, window_starts

    starts = window_starts(rec.n_frames, window, window)
    pairs = [get_window(rec, 0, int(s), window) for s in starts]
    return starts, np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def per_frame(codes: np.ndarray, starts: np.ndarray, n_frames: int, span: int) -> np.ndarray:
    """Repeat each window's latent codes (B, T') over their ``span`` frames; (n_frames,)."""
    out = np.full(n_frames, -1, dtype=np.int64)
    for s, c in zip(starts, codes, strict=True):
        frames = np.repeat(c, span)[: n_frames - s]
        out[s : s + len(frames)] = frames
    return out


def encode_frames(model, meta: dict, ds) -> np.ndarray:
    """Per-frame motifs of individual 0 from the product path (:func:`napari_vqmap.encode.
    encode`), on the file's own frames."""
    from napari_vqmap.encode import encode as encode_poses

    return encode_poses(model, ds, meta)["motif"].values[:, 0]


def type_usage(model, meta: dict, datasets: dict) -> dict[str, np.ndarray]:
    """Share of encoded frames per motif type for each named pose dataset."""
    out = {}
    for name, ds in datasets.items():
        motif = encode_frames(model, meta, ds)
        types = motif[motif >= 0] // model.config.n_subtypes
        out[name] = np.bincount(types, minlength=model.config.n_types) / max(len(types), 1)
    return out


def encode(model, head: str, regions, x: np.ndarray, mask: np.ndarray) -> dict:
    """Motifs (B, T') and the decoded poses (B, T, K, D) of aligned windows."""
    import torch

    enc = model.encode(torch.from_numpy(x), torch.from_numpy(mask), regions)
    recon = model.decode_codes(enc["type_idx"], enc["subtype_idx"], head)
    return {"motif": enc["motif_idx"].numpy(), "recon": recon.numpy()}


# ---------------------------------------------------------------- baseline


def spans(x: np.ndarray, span: int) -> np.ndarray:
    """Aligned frames (T, K, D) cut into back-to-back spans, flattened: (T // span, span*K*D)."""
    n = len(x) // span
    return x[: n * span].reshape(n, -1)


def baseline(
    train_x: list[np.ndarray], test_x: np.ndarray, span: int, seed: int, k: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """PCA (16 components) + k-means (``k`` clusters) fitted on training spans.

    Returns per-frame clusters of the test frames (the last span's cluster repeated over a
    tail shorter than a span) and the test frames rebuilt from their span's centroid.
    """
    from scipy.cluster.vq import kmeans2, vq

    data = np.concatenate([spans(x, span) for x in train_x]).astype(np.float64)
    mean = data.mean(0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    proj = vt[:16].T
    centroids, _ = kmeans2((data - mean) @ proj, k, seed=seed, minit="++")
    labels, _ = vq((spans(test_x, span) - mean) @ proj, centroids)
    recon = (centroids[labels] @ proj.T + mean).reshape(-1, *test_x.shape[1:])
    frames = np.repeat(labels, span)
    tail = len(test_x) - len(frames)
    recon = np.concatenate([recon, recon[-tail:] if tail else recon[:0]])
    return np.concatenate([frames, np.full(tail, frames[-1])]), recon


# ---------------------------------------------------------------- main


def usage_figure(usage: dict[str, np.ndarray], path: Path) -> None:
    """Heat map of motif-type usage: one row per input, one column per type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(usage)
    table = np.stack([usage[n] for n in names])
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2), dpi=120)
    im = ax.imshow(table, cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(table.shape[1]), [f"type {t}" for t in range(table.shape[1])])
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for (i, j), v in np.ndenumerate(table):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                color="white" if v < table.max() / 2 else "black")  # fmt: skip
    fig.colorbar(im, ax=ax, label="share of frames")
    ax.set_title("Motif-type usage per training input (same codebook)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    for line in [head, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    print()


def main() -> int:
    """Train, evaluate and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--quick", action="store_true", help="short training (500 steps)")
    parser.add_argument("--steps", type=int, help="training steps (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="model folder (default: a temporary one)")
    parser.add_argument("--second-seed", type=int, help="also train this seed; NMI between seeds")
    parser.add_argument(
        "--two-skeleton", action="store_true", help="train on DANNCE (22 keypoints) as well"
    )
    parser.add_argument("--model", type=Path, help="score this model folder (no training)")
    parser.add_argument(
        "--usage", action="store_true", help="motif-type usage on every training input"
    )
    parser.add_argument("--usage-figure", type=Path, help="draw the type usage to this PNG")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch CPU threads")
    parser.add_argument(
        "--motion", action="store_true", help="train with the body-motion root token"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="reference-sized model (hidden 256, res_depth 3, as in VQ-MAP.md)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value, e.g. preprocess.target_fps=10 or model.n_down=3",
    )
    args = parser.parse_args()
    steps = args.steps or (500 if args.quick else 2000)

    import pandas as pd
    import torch

    from napari_vqmap.checkpoint import load_model, saved_preprocess_config
    from napari_vqmap.evaluate import ari, nmi
    from napari_vqmap.io import load_poses
    from napari_vqmap.preprocess import PreprocessConfig, preprocess
    from napari_vqmap.skeletons import Skeleton
    from napari_vqmap.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    root = args.data / "subtle-avatar-3d"
    train_files = sorted((root / "y3a6" / "coords").glob("*.csv"))
    test_file = root / "y5a5" / "coords" / "young_8301.csv"
    labels = pd.read_csv(root / "y5a5" / "annots" / "young_8301.csv", index_col=0)
    labels = labels.iloc[:, 0].astype(str).to_numpy()

    config = TrainConfig(steps=steps, seed=args.seed, device="cpu", checkpoint_every=10**9)
    config.model.use_motion = args.motion
    if args.reference:
        config.model.hidden, config.model.res_depth = 256, 3
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        setattr(getattr(config, section) if name else config, name or section, json.loads(value))
    config = TrainConfig.from_dict(config.to_dict())  # checks the overridden values
    datasets = [load_poses(p, skeleton="subtle", fps=20) for p in train_files]
    subtle_datasets = list(datasets)
    named = {f"subtle/{p.stem}": d for p, d in zip(train_files, datasets, strict=True)}
    if args.two_skeleton:
        dannce = args.data / "dannce-markerless-mouse" / "save_data_AVG_torch_nearest.mat"
        named["dannce/markerless_mouse_1"] = load_poses(dannce)
        datasets = datasets + [named["dannce/markerless_mouse_1"]]
    train_s = None
    if args.model is None:
        out = args.out or Path(tempfile.mkdtemp(prefix="bench_quality_"))
        start = time.perf_counter()
        train(datasets, out, config, fps=20)
        train_s = time.perf_counter() - start
    model, meta = load_model(args.model or out)
    subtle_keys = list(load_poses(test_file, skeleton="subtle", fps=20)["keypoint"].values)
    head = next(
        (
            name
            for name, h in meta["heads"].items()
            if h["skeleton"]["keypoints"] == subtle_keys and h["n_dims"] == 3
        ),
        None,
    )
    if head is None:
        raise SystemExit(f"the model has no head for the SUBTLE skeleton: {list(meta['heads'])}")
    skel = Skeleton.from_dict(meta["heads"][head]["skeleton"])
    regions = torch.tensor(meta["heads"][head]["regions"])
    span = 2**model.config.n_down  # frames per latent step, at the model's rate
    window = meta["window"]
    model_fps = meta.get("fps") or 20.0
    # The baseline works on the files' frames (20 fps): one span = one latent step there.
    file_span = max(1, round(span * 20 / model_fps))

    test_ds = load_poses(test_file, skeleton="subtle", fps=20)
    model_pre = saved_preprocess_config(meta)
    rec = preprocess(test_ds, skel, model_pre, target_fps=model_fps)
    starts, x, mask = windows_of(rec, window)
    n_kp = x.shape[2]
    rng = np.random.default_rng(args.seed)

    # Reconstruction with 0 / 25 / 50 % of the keypoints hidden (error over all keypoints).
    recon_rows, motifs = [], {}
    for frac in (0.0, 0.25, 0.5):
        n_drop = int(round(frac * n_kp))
        m = drop_mask(mask, n_drop, rng)
        res = encode(model, head, regions, x, m)
        err = np.linalg.norm(res["recon"] - x, axis=-1)
        every = err[mask].mean()
        hidden = err[mask & ~m].mean() if n_drop else float("nan")
        recon_rows.append(
            [
                f"{n_drop} of {n_kp} ({frac:.0%})",
                f"{every * rec.body_length:.3f}",
                f"{100 * every:.1f} %",
                "" if not n_drop else f"{100 * hidden:.1f} %",
            ]
        )
        motifs[n_drop] = res["motif"]
    for n_drop in (2, 3):
        if n_drop not in motifs:
            motifs[n_drop] = encode(model, head, regions, x, drop_mask(mask, n_drop, rng))["motif"]

    n_motifs = model.config.n_motifs
    ppl, unused = perplexity(motifs[0].ravel(), n_motifs)
    frames = {k: per_frame(v, starts, rec.n_frames, span) for k, v in motifs.items()}
    n_file = test_ds.sizes["time"]
    annotated = labels[:n_file] != "na"
    y = labels[:n_file][annotated]

    train_x, train_m = [], []
    for ds in subtle_datasets:
        r = preprocess(ds, skel, PreprocessConfig())
        train_x.append(r.x[0])
        train_m.append(r.mask[0].all(-1))
    file_rec = preprocess(test_ds, skel, PreprocessConfig())
    base4 = baseline(train_x, file_rec.x[0], 4, args.seed)[0]
    base, base_recon = baseline(train_x, file_rec.x[0], file_span, args.seed)
    n_types = model.config.n_types
    base_types = baseline(train_x, file_rec.x[0], 4, args.seed, k=n_types)[0]
    # The same baseline on coordinates scaled as the model's reconstruction loss weights them.
    scale = np.sqrt(np.asarray(meta["heads"][head].get("recon_weight", 1.0)))
    base_scaled = base_scaled_types = None
    if not np.allclose(scale, 1.0):
        scaled_x, scaled_test = [t * scale for t in train_x], file_rec.x[0] * scale
        base_scaled = baseline(scaled_x, scaled_test, 4, args.seed)[0]
        base_scaled_types = baseline(scaled_x, scaled_test, 4, args.seed, k=n_types)[0]
    valid = file_rec.mask[0]
    base_err = np.linalg.norm(base_recon - file_rec.x[0], axis=-1)[valid].mean()
    mean_pose = np.concatenate([r[m] for r, m in zip(train_x, train_m, strict=True)]).mean(0)
    mean_err = np.linalg.norm(mean_pose - file_rec.x[0], axis=-1)[valid].mean()
    recon_rows += [
        ["PCA + k-means centroids, 0 masked", f"{base_err * rec.body_length:.3f}",
         f"{100 * base_err:.1f} %", ""],
        ["mean training pose, 0 masked", f"{mean_err * rec.body_length:.3f}",
         f"{100 * mean_err:.1f} %", ""],
    ]  # fmt: skip
    # The baseline on masked input: 3 random keypoints per window zeroed (it has no mask).
    fstarts, fx, fmask = windows_of(file_rec, window)
    m3 = drop_mask(fmask, 3, np.random.default_rng(args.seed + 1))
    xm = np.where(m3[..., None], fx, 0.0)
    masked_x = file_rec.x[0].copy()
    for s, w in zip(fstarts, xm, strict=True):
        masked_x[s : s + window] = w[: file_rec.n_frames - s]
    base3 = baseline(train_x, masked_x, file_span, args.seed)[0]
    base_ppl, base_unused = perplexity(base[::file_span], 128)

    voted = encode_frames(model, meta, test_ds)[:n_file]
    if train_s is None:
        print(f"model {args.model} (step {meta.get('step')}, heads {', '.join(meta['heads'])})")
    else:
        print(
            f"torch {torch.__version__}; torch.set_num_threads({args.threads}); "
            f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; {steps} steps x batch "
            f"{config.batch_size} x window {window}; seed {args.seed}; "
            f"inputs: {', '.join(meta['heads'])}"
        )
        n_params = sum(p.numel() for p in model.parameters())
        print(
            f"model: hidden {model.config.hidden}, res_depth {model.config.res_depth}, "
            f"n_down {model.config.n_down}, window {window} frames at {model_fps:g} fps "
            f"(a latent step every {span / model_fps:.2f} s), {n_params:,} parameters"
            + (f"; overrides: {' '.join(args.set)}" if args.set else "")
        )
        print(f"time to model (load + preprocess + train): {train_s:.0f} s\n")
    print(f"Reconstruction on {test_file.name} (body length {rec.body_length:.3f} data units)")
    _table(["VQ-MAP keypoints masked", "error (data units)", "% body length", "hidden kp only"],
           recon_rows)  # fmt: skip
    agree = []
    rows = [("VQ-MAP (`encode`)", voted), ("PCA + k-means, 4-frame spans (0.2 s)", base4)]
    if file_span != 4:
        rows.append((f"PCA + k-means, {file_span}-frame spans (one latent step)", base))
    if base_scaled is not None:
        rows.append(("PCA + k-means, 4-frame spans, loss-weighted coordinates", base_scaled))
    n_sub = model.config.n_subtypes
    rows += [
        (f"VQ-MAP types only ({n_types})", np.where(voted >= 0, voted // n_sub, -1)),
        (f"PCA + k-means, {n_types} clusters, 4-frame spans", base_types),
    ]
    if base_scaled_types is not None:
        rows.append((f"PCA + k-means, {n_types} clusters, loss-weighted", base_scaled_types))
    for name, f in rows:
        agree.append(
            [
                name,
                f"{nmi(f[annotated], y):.3f}",
                f"{ari(f[annotated], y):.3f}",
                f"{majority_accuracy(f[annotated], y):.3f}",
            ]  # fmt: skip
        )
    print(f"Motifs vs human labels ({annotated.sum()} non-na frames, {len(set(y))} labels)")
    _table(["method", "NMI", "ARI", "majority acc."], agree)
    print("Codebook use on the held-out session (latent steps, all keypoints)")
    vppl, vunused = perplexity(voted[voted >= 0], n_motifs)
    _table(
        ["method", "perplexity", "unused codes"],
        [
            ["VQ-MAP, latent steps", f"{ppl:.1f}", f"{unused} of {n_motifs}"],
            ["VQ-MAP, `encode` per frame", f"{vppl:.1f}", f"{vunused} of {n_motifs}"],
            ["PCA + k-means", f"{base_ppl:.1f}", f"{base_unused} of 128"],
        ],
    )
    print("Robustness: NMI of motifs (all frames) with keypoints masked vs all 9")
    _table(
        ["method", "2 masked", "3 masked"],
        [
            ["VQ-MAP", f"{nmi(frames[0], frames[2]):.3f}", f"{nmi(frames[0], frames[3]):.3f}"],
            ["PCA + k-means (zero-filled)", "", f"{nmi(base, base3):.3f}"],
        ],
    )
    print("Top-down 2D view of the held-out session vs its 3D encoding")
    view_rows = []
    views = [("camera above: x, -y (image coordinates)", -1.0), ("mirrored: x, y", 1.0)]
    for name, sign in views:
        flat = test_ds.isel(space=[0, 1]).copy(deep=True)
        flat["position"].loc[{"space": "y"}] = sign * flat["position"].sel(space="y")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no 2D head for the SUBTLE skeleton
            v2 = encode_frames(model, meta, flat)[:n_file]
        ok = (v2 >= 0) & (voted >= 0)
        view_rows.append(
            [
                name,
                f"{np.mean(v2[ok] // n_sub == voted[ok] // n_sub):.3f}",
                f"{np.mean(v2[ok] == voted[ok]):.3f}",
                f"{nmi(v2[ok], voted[ok]):.3f}",
                f"{nmi(v2[annotated], y):.3f}",
                f"{len(np.unique(v2[v2 >= 0] // n_sub))} of {n_types}",
            ]
        )
    _table(
        ["2D view", "same type", "same motif", "motif NMI vs 3D", "NMI vs labels", "types used"],
        view_rows,
    )
    if args.usage or args.usage_figure:
        if args.model is not None:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
            from train_bundled_model import bundled_datasets

            named = bundled_datasets(args.data)
        named["subtle/young_8301 (held out)"] = test_ds
        usage = type_usage(model, meta, named)
        print("Motif-type usage (share of frames) per input, encoded with `encode`")
        types = range(model.config.n_types)
        _table(
            ["input", *[f"type {t}" for t in types]],
            [[n, *[f"{u[t]:.2f}" for t in types]] for n, u in usage.items()],
        )
        if args.usage_figure:
            usage_figure(usage, args.usage_figure)
    if args.second_seed is not None and args.model is None:
        config.seed = args.second_seed
        start = time.perf_counter()
        out2 = train(datasets, Path(tempfile.mkdtemp(prefix="bench_quality_")), config, fps=20)
        second_s = time.perf_counter() - start
        model2, meta2 = load_model(out2)
        f2 = per_frame(encode(model2, head, regions, x, mask)["motif"], starts, rec.n_frames, span)
        v2 = encode_frames(model2, meta2, test_ds)[:n_file]
        b2 = baseline(train_x, file_rec.x[0], file_span, args.second_seed)[0]
        print(f"Second seed ({args.second_seed}, {second_s:.0f} s): NMI between the two seeds")
        _table(
            ["method", "NMI seed vs seed (all frames)", "NMI with labels (2nd seed)"],
            [
                ["VQ-MAP", f"{nmi(frames[0], f2):.3f}", f"{nmi(v2[annotated], y):.3f}"],
                [
                    "PCA + k-means",
                    f"{nmi(base, b2):.3f}",
                    f"{nmi(b2[annotated], y):.3f}",
                ],
            ],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
