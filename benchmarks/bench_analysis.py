"""Time ``napari-vqmap analyze`` on the ten ~12,000-frame SUBTLE sessions.

The sessions are encoded once, by ``--model`` or by a small model trained here for 150
steps (the analysis time depends on how many motifs and bouts there are, not on model
quality); then the full analysis (tables, group test adult vs young, figures, with and
without prototypes) is timed ``--repeat`` times.

    python benchmarks/bench_analysis.py [--model MODEL_DIR] [--repeat 3] [--threads 2]"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from napari_vqmap.analysis.report import analyze  # noqa: E402
from napari_vqmap.cli import main  # noqa: E402

DATA = Path(os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).parents[2] / "shared" / "data"))


def tiny_model(folder: Path, session: Path) -> Path:
    from napari_vqmap.io import load_poses
    from napari_vqmap.model import ModelConfig
    from napari_vqmap.preprocess import PreprocessConfig
    from napari_vqmap.training import TrainConfig, train

    ds = load_poses(session, skeleton="subtle", fps=20).isel(time=slice(0, 3000))
    config = TrainConfig(  # enough steps for the codebook to spread over many motifs
        steps=150,
        batch_size=32,
        warmup_steps=20,
        model=ModelConfig(
            window=32, hidden=32, token_dim=16, n_heads=2, res_depth=1, codebook_warmup=50
        ),
        preprocess=PreprocessConfig(target_fps=20, stride=16),
    )
    return train([ds], folder / "model", config)


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="model folder (default: a tiny model trained here)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sessions = sorted((DATA / "subtle-avatar-3d").glob("*/coords/*.csv"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else tiny_model(tmp, sessions[0])
        enc = tmp / "enc"
        t0 = time.perf_counter()
        cmd = ["encode", *map(str, sessions), "--skeleton", "subtle", "--fps", "20"]
        assert main([*cmd, "--model", str(model), "--out", str(enc)]) == 0
        t_encode = time.perf_counter() - t0
        groups = tmp / "groups.csv"
        groups.write_text(
            "file,group\n" + "".join(f"{s.stem},{s.stem.split('_')[0]}\n" for s in sessions)
        )
        frames = sum(s.read_text().count("\n") for s in sessions)
        rows = []
        for prototypes in (False, True):
            for r in range(args.repeat):
                t0 = time.perf_counter()
                files = analyze([enc], tmp / f"out{r}", groups=groups, prototypes=prototypes)
                rows.append((prototypes, time.perf_counter() - t0, len(files)))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"torch threads: {args.threads}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"{len(sessions)} sessions, {frames} frames; encode (once): {t_encode:.1f} s\n")
    print("prototypes | run | time (s) | files written")
    print("-----------|-----|----------|--------------")
    for i, (p, t, n) in enumerate(rows):
        print(f"{'yes' if p else 'no':>10} | {i % args.repeat + 1:>3} | {t:8.2f} | {n:>5}")
    for p in (False, True):
        ts = sorted(t for q, t, _ in rows if q == p)
        print(f"median with{'' if p else 'out'} prototypes: {ts[len(ts) // 2]:.2f} s")


if __name__ == "__main__":
    main_()
