"""Time per frame while playing clip.mp4 with two motif-coloured fly skeletons, with and
without the Motifs widget's ethogram following the frames; prints a table.

Run with ``python benchmarks/bench_playback.py`` (an Xvfb display is started when there is
none). A tiny model is trained for a few steps on ``sleap-tests/clip.slp`` (2 flies) and
encodes it; the pose layers are coloured by motif. Playback is emulated the way napari's
play button does it: set the frame on ``viewer.dims``, then let Qt process the events (the
canvas redraw and every connected widget). Target (2 CPU cores): >= 30 frames/s.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

DATA = Path(
    os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
VIDEO = DATA / "sleap-tests" / "clip.mp4"
POSES = DATA / "sleap-tests" / "clip.slp"
FIRST, N_FRAMES, WARMUP = 100, 200, 20
ROWS: list[tuple[str, str, str, str]] = []


def _row(what: str, value: str, target: str = "", ok: bool = True) -> None:
    ROWS.append((what, value, target, "yes" if ok else "NO"))


def _display() -> object | None:
    """An Xvfb display when there is none (``None`` when one exists)."""
    if os.environ.get("DISPLAY"):
        return None
    from pyvirtualdisplay import Display

    return Display(visible=False, size=(1600, 1000)).start()


def _tiny_model(out: Path) -> Path:
    import torch

    from napari_vqmap.io import load_poses
    from napari_vqmap.model import ModelConfig
    from napari_vqmap.preprocess import PreprocessConfig
    from napari_vqmap.train import TrainConfig, train

    torch.set_num_threads(1)
    config = TrainConfig(
        steps=5,
        batch_size=8,
        warmup_steps=2,
        checkpoint_every=100,
        model=ModelConfig(
            window=32, hidden=32, token_dim=16, n_heads=2, res_depth=1, codebook_warmup=1
        ),
        preprocess=PreprocessConfig(stride=16),
    )
    return train([load_poses(POSES)], out, config)


def _play(viewer, n: int) -> tuple[float, int]:
    """Step the viewer through ``n`` frames from FIRST; (median ms per step, canvas draws).

    The median step is reported because other jobs on a shared machine add spikes.
    """
    from qtpy.QtWidgets import QApplication

    draws = []
    scene = viewer.window._qt_viewer.canvas._scene_canvas
    scene.events.draw.connect(lambda event: draws.append(1))
    for frame in range(FIRST - WARMUP, FIRST):
        viewer.dims.set_point(0, frame)
        QApplication.processEvents()
    draws.clear()
    steps = []
    for frame in range(FIRST, FIRST + n):
        start = time.perf_counter()
        viewer.dims.set_point(0, frame)
        QApplication.processEvents()
        steps.append(time.perf_counter() - start)
    return float(np.median(steps)) * 1000, len(draws)


def _widget_step_ms(widget, n: int, paint: bool) -> float:
    """Median main-thread time of the Motifs widget's work per frame: follow the frame
    (marker, current-motif line), and with ``paint`` let Qt paint it and compose the window
    (processEvents), without moving the viewer (so the canvas does not redraw)."""
    from qtpy.QtWidgets import QApplication

    steps = []
    for t in range(FIRST, FIRST + n):
        start = time.perf_counter()
        widget.strip.set_index(t)
        widget._update_now()
        if paint:
            QApplication.processEvents()
        steps.append(time.perf_counter() - start)
    return float(np.median(steps)) * 1000


def _fps_row(what: str, ms: float) -> None:
    _row(what, f"{ms:.1f} ms ({1000 / ms:.0f} fr/s)", ">= 30 fr/s", ms <= 1000 / 30)


def bench_playback(model_dir: Path) -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.encode import encode
    from napari_vqmap.names import MotifNames
    from napari_vqmap.napari.motif_layers import apply_motifs, label_strings, text_style

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 900)
    viewer.open(VIDEO, plugin="napari-vqmap")
    _fps_row("video only", _play(viewer, N_FRAMES)[0])

    layers = viewer.open(POSES, plugin="napari-vqmap")
    poses = layers[-1].metadata["poses"]
    model, meta = load_model(model_dir)
    start = time.perf_counter()
    result = encode(model, poses, meta)
    names = MotifNames(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))
    apply_motifs(layers, result, names, text=False)
    n_time, n_ind = result.sizes["time"], result.sizes["individual"]
    seconds = time.perf_counter() - start
    _row(f"encode + colour clip.slp ({n_time} frames, {n_ind} flies)", f"{seconds:.2f} s")

    what = "video + 2 motif-coloured skeletons"
    _fps_row(f"{what}, no motif names", _play(viewer, N_FRAMES)[0])
    points = layers[-1]
    points.text = text_style(points.data, points.size, label_strings(points.features))
    ms, draws = _play(viewer, N_FRAMES)
    _fps_row(f"{what} + motif names (text)", ms)
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Motifs")
    assert widget.strip.n_time == n_time and len(widget.strip.labels) == n_ind
    for _ in range(5):
        QApplication.processEvents()  # the dock's first layout and paint
    renders = widget.strip.n_renders
    ms_w, draws_w = _play(viewer, N_FRAMES)
    assert widget.strip.index == FIRST + N_FRAMES - 1
    _fps_row(f"{what} + names + Motifs widget (ethogram)", ms_w)
    per_step = f"{draws / N_FRAMES:.2f} / {draws_w / N_FRAMES:.2f}"
    _row("  canvas draws per step (without / with widget)", per_step)
    _row("  ethogram image rebuilds during playback", str(widget.strip.n_renders - renders))
    _row("  difference with / without the widget", f"{ms_w - ms:+.1f} ms")
    own = _widget_step_ms(widget, N_FRAMES, paint=False)
    _row("  Motifs widget's own work per step (marker, current-motif line)", f"{own:.2f} ms")
    paints = widget.strip.n_paints
    painted = _widget_step_ms(widget, N_FRAMES, paint=True)
    assert widget.strip.n_paints - paints >= N_FRAMES  # the strip really painted each step
    _row("  same + Qt paint and window composition (no canvas draw)", f"{painted:.1f} ms")
    viewer.close()


def bench_strip_image() -> None:
    from napari_vqmap.napari.ethogram import ethogram_image
    from napari_vqmap.napari.layer_styles import motif_palette

    rng = np.random.default_rng(0)
    motif = np.repeat(rng.integers(-1, 128, size=(10_000, 2)), 10, axis=0)  # 100k frames
    lut = motif_palette(8, 16)
    ethogram_image(motif, 400, lut)
    start = time.perf_counter()
    for _ in range(5):
        ethogram_image(motif, 400, lut)
    ms = (time.perf_counter() - start) / 5 * 1000
    _row(
        "ethogram image, 100k frames x 2 animals -> 400 px (resize/zoom)",
        f"{ms:.1f} ms",
        "< 100 ms",
        ms < 100,
    )


def main() -> None:
    import napari
    import torch

    display = _display()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores")
    versions = f"napari {napari.__version__}, torch {torch.__version__}"
    print(f"python {platform.python_version()}, {versions}")
    threads = {k: os.environ.get(k, "unset") for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    print("threads: " + ", ".join(f"{k}={v}" for k, v in threads.items()) + ", torch 1 thread")
    with tempfile.TemporaryDirectory() as tmp:
        bench_playback(_tiny_model(Path(tmp) / "model"))
    bench_strip_image()
    widths = [max(len(r[i]) for r in ROWS) for i in range(4)]
    header = ("what", "time", "target", "met")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in [header, tuple("-" * w for w in widths), *ROWS]:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    if display is not None:
        display.stop()


if __name__ == "__main__":
    main()
