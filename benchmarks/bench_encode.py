"""Encoding speed and memory: frames/s for 9-keypoint (SUBTLE) and 22-keypoint (DANNCE)
recordings with the default model configuration, and the peak memory of
``napari-vqmap encode`` on a 1,000,000-frame file (a SUBTLE session tiled).

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_encode.py [--threads 2]``.
The model has the default :class:`~napari_vqmap.model.ModelConfig`; its weights come from a
single training step (speed and memory do not depend on how well it is trained).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from napari_vqmap.checkpoint import load_model
from napari_vqmap.encode import BATCH_BLOCKS, encode
from napari_vqmap.io import load_poses, save_poses
from napari_vqmap.training import TrainConfig, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SUBTLE = DATA / "subtle-avatar-3d/y5a5/coords/young_8301.csv"
DANNCE = DATA / "dannce-markerless-mouse/save_data_AVG_torch_nearest.mat"


def tiled(ds: xr.Dataset, n: int) -> xr.Dataset:
    """``ds`` repeated along time to ``n`` frames (fresh time and frame coordinates)."""
    reps = -(-n // ds.sizes["time"])
    out = xr.concat([ds] * reps, dim="time").isel(time=slice(0, n))
    fps = ds.attrs["fps"]
    return out.assign_coords(time=np.arange(n) / fps, frame=("time", np.arange(n)))


def subtle() -> xr.Dataset:
    return load_poses(SUBTLE, skeleton="subtle", fps=20)


def dannce() -> xr.Dataset:
    # relabelled 100 -> 20 fps so both are encoded at the model's rate, frame for frame
    ds = load_poses(DANNCE)
    ds = ds.assign_coords(time=np.arange(ds.sizes["time"]) / 20.0)
    ds.attrs["fps"] = 20.0
    return ds


def peak_rss_mib(command: list[str]) -> tuple[float, float]:
    """(peak resident memory in MiB, wall seconds) of a child process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=12000, help="frames per speed run")
    parser.add_argument("--long", type=int, default=1_000_000, help="frames of the long file")
    parser.add_argument("--batch-size", type=int, default=BATCH_BLOCKS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp(prefix="bench-encode-"))
    data = {"SUBTLE (9 kp, 3D)": subtle(), "DANNCE (22 kp, 3D)": dannce()}
    model_dir = train(list(data.values()), tmp / "model", TrainConfig(steps=1, batch_size=4))
    model, meta = load_model(model_dir)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, load {os.getloadavg()[0]:.1f}"
    )
    print("\n| data | frames | seconds (best of 3) | frames/s |\n|---|---|---|---|")
    for name, ds in data.items():
        ds = tiled(ds, args.frames)
        encode(model, ds.isel(time=slice(0, 500)), meta)  # warm-up
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            encode(model, ds, meta, batch_size=args.batch_size)
            walls.append(time.perf_counter() - start)
        wall = min(walls)
        print(f"| {name} | {args.frames:,} | {wall:.2f} | {args.frames / wall:,.0f} |")

    long_file = tmp / "long.nc"
    save_poses(tiled(data["SUBTLE (9 kp, 3D)"], args.long), long_file)
    del data
    cli = [sys.executable, "-m", "napari_vqmap.cli", "encode", str(long_file)]
    cli += ["--model", str(model_dir), "--out", str(tmp / "out")]
    rss, wall = peak_rss_mib(cli)
    size = sum(p.stat().st_size for p in (tmp / "out").iterdir()) / 2**20
    print("\n| long file | frames | seconds | peak RSS (MiB) | outputs (MiB) |")
    print("|---|---|---|---|---|")
    print(f"| SUBTLE tiled | {args.long:,} | {wall:.0f} | {rss:,.0f} | {size:,.0f} |")


if __name__ == "__main__":
    main()
