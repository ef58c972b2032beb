"""Load 1,000,000-frame files of each text format, and encode one; prints a table.

Run with ``python benchmarks/bench_long_files.py [--frames N] [--keep DIR]``. The files are
built from real recordings in ``$NAPARI_VQMAP_DATA`` or ``../shared/data`` (rows repeated
and renumbered): a SUBTLE csv, a DeepLabCut csv (``vame-tests/cropped_video.csv``), a
Lightning Pose prediction csv (the Lightning Pose ``CollectedData.csv`` rows under a
Lightning Pose model's scorer, with a likelihood per point) and an Anipose csv (no real
Anipose file exists: the SUBTLE session in Anipose's column layout). Each load and the
encode run in a child process of their own, so ``peak RSS`` (``ru_maxrss``) is that
step's alone, imports included. Every frame must come back: the check column says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA = Path(
    os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
SUBTLE = DATA / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
DLC = DATA / "vame-tests" / "cropped_video.csv"
LP = DATA / "lightning-pose-mirror-mouse" / "CollectedData.csv"
CHUNK = 20_000


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def _write_rows(path: Path, header: list[str], rows: list[str], n: int, number: bool) -> None:
    """``header`` then ``n`` rows cycling through ``rows`` (numbered 0..n-1 if ``number``)."""
    with open(path, "w") as f:
        f.writelines(h + "\n" for h in header)
        for start in range(0, n, CHUNK):
            block = range(start, min(n, start + CHUNK))
            if number:
                f.write("".join(f"{t},{rows[t % len(rows)]}\n" for t in block))
            else:
                f.write("".join(rows[t % len(rows)] + "\n" for t in block))


def build(folder: Path, n: int) -> dict[str, tuple[Path, list[str]]]:
    """The long files and the ``load_poses`` arguments of each (as CLI-style words)."""
    files = {}
    subtle = folder / "subtle_long.csv"
    _write_rows(subtle, [], _lines(SUBTLE), n, number=False)
    files["SUBTLE csv"] = (subtle, ["skeleton=subtle", "fps=20"])

    dlc = _lines(DLC)
    path = folder / "dlc_long.csv"
    _write_rows(path, dlc[:3], [r.split(",", 1)[1] for r in dlc[3:]], n, number=True)
    files["DeepLabCut csv"] = (path, ["fps=30"])

    lp = _lines(LP)
    names = lp[1].split(",")[1::2]
    header = [
        "scorer," + ",".join(["heatmap_tracker"] * 3 * len(names)),
        "bodyparts," + ",".join(k for k in names for _ in range(3)),
        "coords," + ",".join(["x", "y", "likelihood"] * len(names)),
    ]
    rows = []
    for line in lp[3:]:
        cells = line.split(",")[1:]
        rows.append(
            ",".join(
                f"{x},{y},{'' if not x else '0.9'}"
                for x, y in zip(cells[0::2], cells[1::2], strict=True)
            )
        )
    path = folder / "lightning_pose_long.csv"
    _write_rows(path, header, rows, n, number=True)
    files["Lightning Pose csv"] = (path, ["fps=30"])

    from napari_vqmap.skeletons import get_skeleton

    kps = get_skeleton("subtle").keypoints
    cols = [f"{k}_{c}" for k in kps for c in ("x", "y", "z", "error", "ncams", "score")]
    rows = []
    for line in _lines(SUBTLE):
        v = line.split(",")
        rows.append(",".join(",".join(v[3 * i : 3 * i + 3]) + ",0.5,3,0.9" for i in range(9)))
    path = folder / "anipose_long.csv"
    with open(path, "w") as f:
        f.write(",".join([*cols, "fnum"]) + "\n")
        for start in range(0, n, CHUNK):
            block = range(start, min(n, start + CHUNK))
            f.write("".join(f"{rows[t % len(rows)]},{t}\n" for t in block))
    files["Anipose csv"] = (path, ["fps=100"])
    return files


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_load(path: str, words: list[str]) -> dict:
    import warnings

    from napari_vqmap.io import load_poses

    kwargs = dict(w.split("=", 1) for w in words)
    if "fps" in kwargs:
        kwargs["fps"] = float(kwargs["fps"])
    base = _peak_mib()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_poses(path, **kwargs)
    seconds = time.perf_counter() - start
    frames = int(ds.sizes["time"])
    return {"seconds": seconds, "frames": frames, "peak_mib": _peak_mib(), "base_mib": base}


def child_encode(path: str, out: str) -> dict:
    from napari_vqmap.cli import main

    start = time.perf_counter()
    argv = ["encode", path, "--out", out, "--fps", "20", "--skeleton", "subtle"]
    status = main(argv)
    seconds = time.perf_counter() - start
    import pandas as pd

    frames = len(pd.read_csv(Path(out) / f"{Path(path).stem}_motifs.csv", usecols=["frame"]))
    return {"seconds": seconds, "frames": frames, "status": status, "peak_mib": _peak_mib()}


def _run_child(*args: str) -> dict:
    cmd = [sys.executable, __file__, "--child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the files here and keep them")
    parser.add_argument("--no-encode", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, *rest = args.child
        result = child_load(path, rest) if kind == "load" else child_encode(path, rest[0])
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        files = build(folder, args.frames)
        print(f"built {len(files)} files in {time.perf_counter() - start:.0f} s")
        rows = []
        for name, (path, words) in files.items():
            r = _run_child("load", str(path), *words)
            size = path.stat().st_size / 2**20
            rows.append((f"load {name} ({size:.0f} MiB)", r))
        if not args.no_encode:
            r = _run_child("encode", str(files["SUBTLE csv"][0]), str(folder / "encoded"))
            rows.append(("`napari-vqmap encode` the SUBTLE csv (bundled model)", r))
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY')}, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| step | frames | every frame | seconds | peak RSS (MiB) | of it, imports (MiB) |")
    print("|---|---|---|---|---|---|")
    for what, r in rows:
        ok = "yes" if r["frames"] == args.frames else "NO"
        base = f"{r['base_mib']:,.0f}" if "base_mib" in r else ""
        print(
            f"| {what} | {r['frames']:,} | {ok} | {r['seconds']:.1f} "
            f"| {r['peak_mib']:,.0f} | {base} |"
        )


if __name__ == "__main__":
    main()
