"""Motif quality on the labelled SUBTLE dev set, pooled, against two baselines; prints tables.

Trains VQ-MAP on the nine unlabelled y3a6 SUBTLE sessions (one model per ``--seeds``
entry; ``--model DIR`` scores existing model folders instead, e.g. the bundled one) and
scores the three labelled y5a5 sessions **pooled**: one motif-to-label mapping for all
three (the per-session column maps each session on its own, which flatters every method).
In the same run, with the same seeds, it fits the two baselines of
:mod:`napari_vqmap.baselines` on the same nine sessions: per-frame egocentric PCA(10) +
k-means and windowed (32 frames, centre-frame aligned) PCA(20) + k-means, with k = the
model's number of types and of motifs. Columns: NMI and ARI of the types (k = 8) with the
labels, majority-mapped accuracy and NMI of the motifs (k = 128), NMI between the two
seeds, NMI between motifs with 3 of the 9 keypoints hidden (random, per 64-frame block)
and with all, over the frames encoded both ways (the share is printed with the model), NMI
between motifs with every coordinate jittered (Gaussian, sd 0.03 body lengths: tracker
noise) and without, and the median bout (frames; the human median is 12).

    python benchmarks/bench_quality.py                       # 2 seeds, 2000 steps each
    python benchmarks/bench_quality.py --model src/napari_vqmap/data/model
    python benchmarks/bench_quality.py --steps 500 --seeds 0 --set model.n_down=3

``--stickiness S`` encodes with that motif stickiness (see ``encode``). ``--usage`` also
prints the usage of the motif types on every input of the bundled training set. The data
folder is ``--data``, else ``$NAPARI_VQMAP_DATA``, else ``../shared/data`` beside the repo.
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

DEV = ("young_8301", "young_8294", "young_8296")
HIDDEN = 3  # keypoints hidden for the robustness column
JITTER = 0.03  # tracker jitter for the other robustness column: sd in body lengths
DEFAULT_DATA = Path(
    os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def bout_median(motifs: list[np.ndarray]) -> float:
    """Median run length (frames) of the per-session motif sequences (-1 runs excluded)."""
    runs = []
    for m in motifs:
        edges = np.flatnonzero(np.diff(m)) + 1
        starts, ends = np.r_[0, edges], np.r_[edges, len(m)]
        runs.append((ends - starts)[m[starts] >= 0])
    return float(np.median(np.concatenate(runs)))


def hide_keypoints(ds, n: int, seed: int, block: int = 64):
    """Copy of ``ds`` with ``n`` random keypoints set missing in each ``block`` of frames."""
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    pos = out["position"].transpose("time", "space", "keypoint", "individual").values
    for lo in range(0, pos.shape[0], block):
        pos[lo : lo + block, :, rng.choice(pos.shape[2], n, replace=False)] = np.nan
    out["position"] = (("time", "space", "keypoint", "individual"), pos)
    return out


def encode_quietly(model, meta: dict, ds, kw: dict) -> np.ndarray:
    """The first individual's motifs of ``ds``, warnings (missing keypoints) silenced."""
    from napari_vqmap.encode import encode

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return encode(model, ds, meta, **kw)["motif"].values[:, 0]


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """NMI of two encodings of the same sessions over the frames encoded in both."""
    from napari_vqmap.analysis.metrics import nmi

    ok = [(x >= 0) & (y >= 0) for x, y in zip(a, b, strict=True)]
    return nmi(
        np.concatenate([x[k] for x, k in zip(a, ok, strict=True)]),
        np.concatenate([y[k] for y, k in zip(b, ok, strict=True)]),
    )


def jitter_keypoints(ds, sd: float, seed: int):
    """Copy of ``ds`` with Gaussian noise of ``sd`` body lengths (the median neck-anus
    distance) added to every coordinate of every keypoint in every frame."""
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    pos = out["position"].transpose("time", "space", "keypoint", "individual").values
    neck, anus = (list(ds["keypoint"].values).index(k) for k in ("neck", "anus"))
    length = np.nanmedian(np.linalg.norm(pos[:, :, neck] - pos[:, :, anus], axis=1))
    pos += rng.normal(0.0, sd * length, pos.shape)
    out["position"] = (("time", "space", "keypoint", "individual"), pos)
    return out


def table(head: list[str], rows: list[list[str]]) -> None:
    """Print a Markdown table."""
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    for line in [head, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
    print()


def scores(pred: list[np.ndarray], labels: list[np.ndarray]) -> dict[str, float]:
    """NMI, ARI, pooled and per-session majority-mapped accuracy on labelled frames."""
    from napari_vqmap.analysis.metrics import ari, nmi, purity

    keep = [(y != "na") & (p >= 0) for p, y in zip(pred, labels, strict=True)]
    p = np.concatenate([p[k] for p, k in zip(pred, keep, strict=True)])
    y = np.concatenate([y[k] for y, k in zip(labels, keep, strict=True)])
    per = [purity(y_[k], p_[k]) for p_, y_, k in zip(pred, labels, keep, strict=True)]
    return {"nmi": nmi(y, p), "ari": ari(y, p), "acc": purity(y, p), "acc_each": np.mean(per)}


def main() -> int:
    """Train or load, encode, fit the baselines and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--steps", type=int, default=2000, help="training steps per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    parser.add_argument("--model", type=Path, nargs="+", help="score these model folders")
    parser.add_argument("--out", type=Path, help="keep trained models in OUT/seed<N>")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--stickiness", type=float, help="encode with this motif stickiness")
    parser.add_argument("--usage", action="store_true", help="type usage on the bundled inputs")
    parser.add_argument("--no-baselines", action="store_true", help="score the model(s) only")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value, e.g. model.n_down=3 or keypoint_dropout=0.8",
    )
    args = parser.parse_args()

    import pandas as pd
    import torch

    from napari_vqmap.analysis.metrics import nmi
    from napari_vqmap.baselines import PCAKMeans, per_frame_features, windowed_features
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.encode import encode
    from napari_vqmap.io import load_poses, skeleton_of
    from napari_vqmap.training import TrainConfig, train

    torch.set_num_threads(args.threads)
    root = args.data / "subtle-avatar-3d"
    train_files = sorted((root / "y3a6" / "coords").glob("*.csv"))
    train_ds = [load_poses(p, skeleton="subtle", fps=20) for p in train_files]
    dev_ds = [
        load_poses(root / "y5a5" / "coords" / f"{n}.csv", skeleton="subtle", fps=20) for n in DEV
    ]
    labels = [
        pd.read_csv(root / "y5a5" / "annots" / f"{n}.csv", index_col=0)
        .iloc[:, 0]
        .astype(str)
        .to_numpy()[: d.sizes["time"]]
        for n, d in zip(DEV, dev_ds, strict=True)
    ]
    skeleton = skeleton_of(dev_ds[0])

    models, notes = [], []
    if args.model:
        models = [load_model(m) for m in args.model]
        notes = [
            f"model {m} (step {meta.get('step')})"
            for m, (_, meta) in zip(args.model, models, strict=True)
        ]
    else:
        config = TrainConfig(steps=args.steps, device="cpu", checkpoint_every=10**9)
        for item in args.set:
            key, _, value = item.partition("=")
            section, _, name = key.partition(".")
            target = getattr(config, section) if name else config
            setattr(target, name or section, json.loads(value))
        for seed in args.seeds:
            config.seed = seed
            config = TrainConfig.from_dict(config.to_dict())  # checks overridden values
            out = (args.out / f"seed{seed}") if args.out else Path(tempfile.mkdtemp())
            start = time.perf_counter()
            train(train_ds, out, config, fps=20)
            notes.append(f"seed {seed}: trained in {time.perf_counter() - start:.0f} s")
            models.append(load_model(out))
    model0, meta0 = models[0]
    n_types, n_motifs = model0.config.n_types, model0.config.n_motifs
    n_sub = model0.config.n_subtypes
    kw = {} if args.stickiness is None else {"stickiness": args.stickiness}

    rows, runs = [], {}
    for i, (model, meta) in enumerate(models):
        start = time.perf_counter()
        motifs = [encode(model, d, meta, **kw)["motif"].values[:, 0] for d in dev_ds]
        fps = sum(len(m) for m in motifs) / (time.perf_counter() - start)
        hidden = [
            encode_quietly(model, meta, hide_keypoints(d, HIDDEN, j), kw)
            for j, d in enumerate(dev_ds)
        ]
        both = [(a >= 0) & (b >= 0) for a, b in zip(motifs, hidden, strict=True)]
        robust = agreement(motifs, hidden)
        jittered = [
            encode_quietly(model, meta, jitter_keypoints(d, JITTER, j), kw)
            for j, d in enumerate(dev_ds)
        ]
        steady = agreement(motifs, jittered)
        types = [np.where(m >= 0, m // n_sub, -1) for m in motifs]
        runs.setdefault("VQ-MAP", []).append((types, motifs, robust, steady))
        cover = np.concatenate(both).mean()
        notes[i] += f"; encoded {fps:,.0f} frames/s; {cover:.1%} of frames encoded both ways"

    baselines = (
        ("per-frame PCA(10) + k-means", per_frame_features, 10),
        ("windowed PCA(20) + k-means", windowed_features, 20),
    )
    for name, features, n_comp in () if args.no_baselines else baselines:
        tr = np.concatenate([features(d, skeleton) for d in train_ds])
        dv = [features(d, skeleton) for d in dev_ds]
        noisy = [features(jitter_keypoints(d, JITTER, j), skeleton) for j, d in enumerate(dev_ds)]
        for seed in (0, 1):
            fits = [PCAKMeans(k, n_comp, seed).fit(tr) for k in (n_types, n_motifs)]
            motifs = [fits[1].predict(d) for d in dv]
            steady = nmi(
                np.concatenate(motifs), np.concatenate([fits[1].predict(d) for d in noisy])
            )
            runs.setdefault(name, []).append(
                ([fits[0].predict(d) for d in dv], motifs, None, steady)
            )

    for name, seeds in runs.items():
        for j, (types, motifs, robust, steady) in enumerate(seeds):
            t, m = scores(types, labels), scores(motifs, labels)
            rows.append(
                [
                    f"{name}, seed {j}",
                    f"{t['nmi']:.3f}",
                    f"{t['ari']:.3f}",
                    f"{m['acc']:.3f}",
                    f"{m['nmi']:.3f}",
                    f"{m['acc_each']:.3f}",
                    "" if robust is None else f"{robust:.3f}",
                    "" if steady is None else f"{steady:.3f}",
                    f"{bout_median(motifs):g}",
                ]
            )
        if len(seeds) > 1:
            a, b = seeds[0], seeds[1]
            st = nmi(np.concatenate(a[0]), np.concatenate(b[0]))
            sm = nmi(np.concatenate(a[1]), np.concatenate(b[1]))
            rows.append(
                [f"{name}: seed 0 vs seed 1 (NMI)", f"{st:.3f}", "", "", f"{sm:.3f}", *[""] * 4]
            )

    print(
        f"torch {torch.__version__}; torch.set_num_threads({args.threads}); "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; {os.cpu_count()} CPUs"
    )
    cfg = model0.config
    print(
        f"model: hidden {cfg.hidden}, res_depth {cfg.res_depth}, n_down {cfg.n_down}, "
        f"anchor_span {cfg.anchor_span}, use_motion {cfg.use_motion}, "
        f"window {meta0.get('window')}"
        + (f"; overrides: {' '.join(args.set)}" if args.set else "")
    )
    for note in notes:
        print(note)
    n_lab = sum(int((y != "na").sum()) for y in labels)
    print(
        f"\nDev set: {', '.join(DEV)} pooled ({n_lab} labelled frames, 4 labels)"
        + (f"; stickiness {args.stickiness:g}" if args.stickiness is not None else "")
    )
    table(
        [
            "method",
            f"types (k={n_types}) NMI",
            "ARI",
            f"motifs (k={n_motifs}) acc.",
            "NMI",
            "acc. per session",
            f"{HIDDEN} of 9 hidden NMI",
            f"jitter {JITTER:g} NMI",
            "median bout",
        ],
        rows,
    )

    view_rows = []
    for j, (model, meta) in enumerate(models):
        same_t, same_m, n = 0, 0, 0
        for d, m3 in zip(dev_ds, runs["VQ-MAP"][j][1], strict=True):
            flat = d.isel(space=[0, 1]).copy(deep=True)
            flat["position"].loc[{"space": "y"}] = -flat["position"].sel(space="y")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m2 = encode(model, flat, meta, **kw)["motif"].values[:, 0]
            ok = (m2 >= 0) & (m3 >= 0)
            same_t += int((m2[ok] // n_sub == m3[ok] // n_sub).sum())
            same_m += int((m2[ok] == m3[ok]).sum())
            n += int(ok.sum())
        view_rows.append([f"model {j}", f"{same_t / n:.3f}", f"{same_m / n:.3f}"])
    print("Camera-above 2D view (x, -y) of the dev sessions vs their 3D encoding")
    table(["model", "same type", "same motif"], view_rows)

    if args.usage:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
        from train_bundled_model import bundled_datasets

        named = bundled_datasets(args.data)
        rows = []
        for name, ds in named.items():
            m = encode(model0, ds, meta0, **kw)["motif"].values[:, 0]
            u = np.bincount(m[m >= 0] // n_sub, minlength=n_types) / max((m >= 0).sum(), 1)
            rows.append([name, *[f"{v:.2f}" for v in u]])
        print("Motif-type usage (share of frames) per input")
        table(["input", *[f"type {t}" for t in range(n_types)]], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
