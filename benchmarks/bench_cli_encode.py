"""The whole ``napari-vqmap encode`` command against the reference model's forward pass.

Builds a SUBTLE-style csv of ``--frames`` frames (rows of a SUBTLE session tiled), then
times, each in a fresh process on the same ``--threads`` threads:

* ``napari-vqmap encode FILE --skeleton subtle --fps 20 --out DIR`` end to end (start-up,
  reading, encoding with the bundled model, writing every output);
* its parts in one process: reading the csv (``load_poses``), ``encode``, writing the
  results (``write_results``: csv tables, netCDF, sidecar);
* the forward pass alone (``VQMAP.encode`` on batches of random 64-frame windows) of the
  VQ-MAP reference-sized model (``hidden=256, res_depth=3``) on 9 keypoints.

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_cli_encode.py``
(``--frames 100000`` for a quick run). Target: the command's frames/s at least 6x the
reference forward pass's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SUBTLE = DATA / "subtle-avatar-3d/y5a5/coords/young_8301.csv"
REFERENCE = {"hidden": 256, "res_depth": 3}
TARGET = 6.0


def tiled_csv(source: Path, frames: int, dest: Path) -> Path:
    """``source``'s rows repeated to ``frames`` rows, written to ``dest``."""
    rows = source.read_text().splitlines(keepends=True)
    with open(dest, "w") as f:
        for start in range(0, frames, len(rows)):
            f.writelines(rows[: min(len(rows), frames - start)])
    return dest


def reference_fps(threads: int, batches: int = 4, batch: int = 256) -> float:
    """Frames/s of the reference-sized model's forward pass (``VQMAP.encode``) on random
    9-keypoint 3D windows."""
    import torch

    from napari_vqmap.model import VQMAP, ModelConfig
    from napari_vqmap.skeletons import REGIONS

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = ModelConfig(**REFERENCE)
    model = VQMAP(cfg, {"s": (9, 3)}).eval()
    x = torch.randn(batch, cfg.window, 9, 3)
    mask = torch.ones(batch, cfg.window, 9, dtype=torch.bool)
    regions = torch.arange(9) % len(REGIONS)
    model.encode(x, mask, regions)  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        model.encode(x, mask, regions)
    return batches * batch * cfg.window / (time.perf_counter() - start)


def parts(path: Path, threads: int, out: Path) -> dict[str, float]:
    """Seconds of reading, encoding and writing ``path`` in this process."""
    import torch

    from napari_vqmap.checkpoint import load_model, model_folder
    from napari_vqmap.encode import encode
    from napari_vqmap.io import load_poses
    from napari_vqmap.results import write_results

    torch.set_num_threads(threads)
    model, meta = load_model()
    seconds = {}
    start = time.perf_counter()
    poses = load_poses(path, skeleton="subtle", fps=20)
    seconds["read"] = time.perf_counter() - start
    start = time.perf_counter()
    result = encode(model, poses, meta)
    seconds["encode"] = time.perf_counter() - start
    start = time.perf_counter()
    write_results(result, poses, out, path, model_folder(None), {})
    seconds["write"] = time.perf_counter() - start
    return seconds


def _child(what: str, *args: str) -> dict:
    """Run one measurement of this script in a fresh process; its JSON result."""
    cmd = [sys.executable, __file__, "--child", what, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, *rest = args.child
        if what == "reference":
            print(json.dumps({"fps": reference_fps(args.threads)}))
        else:
            print(json.dumps(parts(Path(rest[0]), args.threads, Path(rest[1]))))
        return 0

    import torch

    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-encode-"))
    csv = tiled_csv(SUBTLE, args.frames, tmp / "long.csv")
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, "-m", "napari_vqmap.cli", "encode", str(csv), "--skeleton", "subtle"]
    cmd += ["--fps", "20", "--out", str(tmp / "cli")]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli_s = time.perf_counter() - start
    split = _child("parts", str(csv), str(tmp / "parts"))
    ref = _child("reference")["fps"]

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {args.threads} threads, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, load {os.getloadavg()[0]:.1f}"
    )
    n = args.frames
    print(f"\n| what ({n:,} frames, 9 keypoints) | seconds | frames/s | x reference |")
    print("|---|---|---|---|")
    rows = [("reference model, forward pass only", n / ref)]
    rows += [("`napari-vqmap encode`, end to end", cli_s)]
    rows += [(f"  of which {k}", s) for k, s in split.items()]
    for name, seconds in rows:
        fps = n / seconds
        print(f"| {name} | {seconds:.1f} | {fps:,.0f} | {fps / ref:.1f} |")
    ratio = n / cli_s / ref
    print(f"\nend to end: {ratio:.1f}x the reference ({'met' if ratio >= TARGET else 'NOT met'}"
          f": target {TARGET:g}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
