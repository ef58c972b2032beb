"""Time loading, napari display and video seeks on the shared data; prints a table.

Run with ``python benchmarks/bench_io.py`` (``xvfb-run -a python ...`` on a machine without
a display). The data folder is ``$NAPARI_VQMAP_DATA`` or ``../shared/data`` beside the repo.
Targets (2 CPU cores): load < 0.5 s, layers < 2 s, seek < 50 ms per frame.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

DATA = Path(
    os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
SUBTLE = DATA / "subtle-avatar-3d" / "y3a6" / "coords" / "adult_8294.csv"
WARMUP = DATA / "subtle-avatar-3d" / "y3a6" / "coords" / "adult_8296.csv"
VIDEOS = [DATA / "sleap-tests" / "clip.mp4", DATA / "vame-tests" / "cropped_video.mp4"]
N_SEEKS = 60
ROWS: list[tuple[str, str, str, str]] = []


def _row(what: str, value: str, target: str, ok: bool) -> None:
    ROWS.append((what, value, target, "yes" if ok else "NO"))


def _best_of(fn, repeats: int = 3) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_poses() -> None:
    from napari_vqmap.io import load_poses
    from napari_vqmap.napari.convert import pose_layers

    first_s, _ = _best_of(lambda: load_poses(WARMUP, skeleton="subtle"), repeats=1)
    _row("first load in a fresh process (one-time imports)", f"{first_s:.3f} s", "", True)
    load_s, ds = _best_of(lambda: load_poses(SUBTLE, skeleton="subtle"), repeats=1)
    n = ds.sizes["time"]
    what = f"load SUBTLE csv ({n} frames, 9 keypoints, 3D)"
    _row(what, f"{load_s:.3f} s", "< 0.5 s", load_s < 0.5)
    convert_s, layers = _best_of(lambda: pose_layers(ds))
    _row("convert to layer data (points + vectors)", f"{convert_s:.3f} s", "", True)

    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    start = time.perf_counter()
    for data, meta, kind in layers:
        getattr(viewer, f"add_{kind}")(data, **meta)
    viewer.dims.ndisplay = 3
    add_s = time.perf_counter() - start
    viewer.screenshot(canvas_only=True, flash=False)  # forces a first draw
    QApplication.processEvents()
    draw_s = time.perf_counter() - start
    total = convert_s + draw_s
    _row("add layers to a viewer (3D view)", f"{add_s:.3f} s", "", True)
    _row("convert + add + first draw", f"{total:.3f} s", "< 2 s", total < 2)
    start = time.perf_counter()
    for frame in range(0, n, n // 20):
        viewer.dims.set_point(0, frame)
    step_ms = (time.perf_counter() - start) / 20 * 1000
    _row("move the frame slider (per step)", f"{step_ms:.1f} ms", "", True)
    viewer.close()


def bench_seeks(path: Path) -> None:
    from napari_vqmap.video import VideoReader

    video = VideoReader(path, cache_size=1)
    rng = np.random.default_rng(0)
    times = []
    for index in rng.integers(0, video.n_frames, N_SEEKS):
        start = time.perf_counter()
        video[int(index)]
        times.append((time.perf_counter() - start) * 1000)
    times = np.array(times)
    h, w = video.shape[1:3]
    codec = video._stream.codec_context.name
    what = f"random seek {path.name} ({video.n_frames} fr, {w}x{h}, {codec})"
    _row(what, f"mean {times.mean():.1f} / max {times.max():.1f} ms", "< 50 ms", times.mean() < 50)
    start = time.perf_counter()
    for index in range(200, 300):
        video[index]
    _row(f"sequential read {path.name}", f"{(time.perf_counter() - start) * 10:.1f} ms", "", True)


def main() -> None:
    import av
    import napari

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores")
    versions = f"napari {napari.__version__}, PyAV {av.__version__}"
    print(f"python {platform.python_version()}, {versions}")
    threads = {k: os.environ.get(k, "unset") for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    print("threads: " + ", ".join(f"{k}={v}" for k, v in threads.items()))
    bench_poses()
    for path in VIDEOS:
        bench_seeks(path)
    widths = [max(len(r[i]) for r in ROWS) for i in range(4)]
    header = ("what", "time", "target", "met")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in [header, tuple("-" * w for w in widths), *ROWS]:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
