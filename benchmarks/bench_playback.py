"""Cost of our overlays on video playback: time per frame step while playing clip.mp4 with
two motif-coloured fly skeletons, their motif names and the Motifs widget, against the
video alone, in the same run; and the same for the 3D view of the bundled SUBTLE session
(12,000 frames): the motif-coloured skeleton against the bare (motif-coloured) points.

Run with ``python benchmarks/bench_playback.py`` (an Xvfb display is started when there is
none). The recordings are encoded with the bundled model. Playback is emulated the way
napari's play button does it: set the frame on ``viewer.dims``, then let Qt process the
events (the canvas redraw and every connected widget). The configurations are measured in
interleaved blocks of 25 steps (overlays shown or hidden, the Motifs widget's floating dock
shown or hidden, so the canvas keeps its size),
so that a busy shared machine slows them alike; each row is the median over the blocks of
wall time per step and of this process's CPU time per step (which includes the software
OpenGL rendering threads). Targets: every overlay together <= 1.15x the video alone, and in
3D the skeleton <= 1.15x the bare points. One more 2D row steps the pose layers as napari
does by itself (:mod:`napari_vqmap.napari.frame_steps`, the kept name glyphs and the names
in view without napari's copy switched off), for comparison in the same run.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

DATA = Path(
    os.environ.get("NAPARI_VQMAP_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
VIDEO = DATA / "sleap-tests" / "clip.mp4"
POSES = DATA / "sleap-tests" / "clip.slp"
FIRST, BLOCK, WARMUP, ROUNDS = 100, 25, 5, 6
TARGET = 1.15
ROWS: list[tuple[str, str, str, str]] = []


def _row(what: str, value: str, target: str = "", ok: bool = True) -> None:
    ROWS.append((what, value, target, "yes" if ok else "NO"))


def _display() -> object | None:
    """An Xvfb display when there is none (``None`` when one exists)."""
    if os.environ.get("DISPLAY"):
        return None
    from pyvirtualdisplay import Display

    return Display(visible=False, size=(1600, 1000)).start()


def _encode(poses, fps: float | None = None):
    import warnings

    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.encode import encode
    from napari_vqmap.names import MotifNames
    from napari_vqmap.sample_data import bundled_model_dir

    model, meta = load_model(bundled_model_dir())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no head for the fly skeleton
        result = encode(model, poses.assign_attrs(fps=fps) if fps else poses, meta)
    return result, MotifNames(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))


class Player:
    """Steps a viewer's frames, one block at a time, timing each step."""

    def __init__(self, viewer, first: int = FIRST, last: int | None = None) -> None:
        self.viewer, self.first, self.frame = viewer, first, first
        self.last = last or first + 1000

    def block(self, n: int) -> list[tuple[float, float]]:
        """(wall, CPU) seconds of each of ``n`` steps."""
        from qtpy.QtWidgets import QApplication

        steps = []
        for _ in range(n):
            self.frame = self.frame + 1 if self.frame < self.last else self.first
            wall, cpu = time.perf_counter(), time.process_time()
            self.viewer.dims.set_point(0, self.frame)
            QApplication.processEvents()
            steps.append((time.perf_counter() - wall, time.process_time() - cpu))
        return steps


def interleaved(
    player: Player, configs: dict[str, Callable[[], None]], rounds: int = ROUNDS
) -> dict[str, np.ndarray]:
    """Median (wall, CPU) ms per step of each configuration (``configs``: name -> a function
    that sets the viewer up for it), measured in interleaved blocks."""
    steps: dict[str, list] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, setup in configs.items():
            setup()
            player.block(WARMUP)
            steps[name] += player.block(BLOCK)
    return {name: np.median(np.array(s), axis=0) * 1000 for name, s in steps.items()}


def _report(times: dict[str, np.ndarray], base: str, goal: str) -> None:
    ref = times[base]
    for name, (wall, cpu) in times.items():
        ratio, wall_ratio = cpu / ref[1], wall / ref[0]
        is_goal = name == goal
        _row(
            name,
            f"{wall:5.1f} ms wall, {cpu:5.1f} ms CPU ({ratio:.2f}x CPU, {wall_ratio:.2f}x wall)",
            f"<= {TARGET}x CPU" if is_goal else "",
            ratio <= TARGET if is_goal else True,
        )


def napari_steps(on: bool) -> None:
    """Step our pose layers as napari does by itself (``on``), or with this plugin's frame
    steps, kept name glyphs and names in view without napari's copy (the default)."""
    from napari_vqmap.napari import frame_steps, layer_fixes

    originals = napari_steps.__dict__.setdefault(
        "originals",
        (frame_steps.is_pose_layer, layer_fixes.keep_glyphs, layer_fixes.names_in_view),
    )
    frame_steps.is_pose_layer = (lambda layer: False) if on else originals[0]
    layer_fixes.keep_glyphs = (lambda node, before: None) if on else originals[1]
    layer_fixes.names_in_view = (lambda layer: None) if on else originals[2]


def bench_playback() -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_vqmap.napari.motif_layers import apply_motifs

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 900)
    viewer.open(VIDEO, plugin="napari-vqmap")
    skeleton, points = viewer.open(POSES, plugin="napari-vqmap")
    start = time.perf_counter()
    result, names = _encode(points.metadata["poses"], fps=25.0)
    apply_motifs([skeleton, points], result, names, text=True)
    n_time, n_ind = result.sizes["time"], result.sizes["individual"]
    seconds = time.perf_counter() - start
    _row(f"encode + colour clip.slp ({n_time} frames, {n_ind} flies)", f"{seconds:.2f} s")
    dock, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Motifs")
    # floating, so that showing and hiding it leaves the canvas (and what it draws) as is
    dock.setFloating(True)
    assert widget.strip.n_time == n_time and len(widget.strip.labels) == n_ind
    for _ in range(5):
        QApplication.processEvents()  # the dock's first layout and paint

    def show(
        sk: bool, pts: bool, text: bool, motifs: bool, napari_only: bool = False
    ) -> Callable[[], None]:
        def setup() -> None:
            napari_steps(napari_only)
            skeleton.visible, points.visible, points.text.visible = sk, pts, text
            dock.setVisible(motifs)
            QApplication.processEvents()

        return setup

    overlays = "video + 2 motif-coloured skeletons"
    goal = f"{overlays} + names + Motifs widget"
    before = "  same, napari's own frame steps (before issue 26)"
    renders = widget.strip.n_renders
    times = interleaved(
        Player(viewer, FIRST, 1400),
        {
            "video alone": show(False, False, False, False),
            f"{overlays}, no names": show(True, True, False, False),
            f"{overlays} + motif names": show(True, True, True, False),
            goal: show(True, True, True, True),
            before: show(True, True, True, True, napari_only=True),
        },
    )
    napari_steps(False)
    _report(times, "video alone", goal)
    _row("  ethogram image rebuilds during playback", str(widget.strip.n_renders - renders))
    viewer.close()


def bench_3d() -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_vqmap.napari.motif_layers import apply_motifs
    from napari_vqmap.sample_data import subtle_paths

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 900)
    skeleton, points = viewer.open(subtle_paths()[0], plugin="napari-vqmap")
    result, names = _encode(points.metadata["poses"])
    apply_motifs([skeleton, points], result, names, text=False)
    viewer.dims.ndisplay = 3
    for _ in range(5):
        QApplication.processEvents()

    def show(sk: bool) -> Callable[[], None]:
        def setup() -> None:
            skeleton.visible = sk
            QApplication.processEvents()

        return setup

    n = result.sizes["time"]
    goal = f"3D SUBTLE ({n} frames): points + motif-coloured skeleton"
    times = interleaved(
        Player(viewer, FIRST, n - 1),
        {f"3D SUBTLE ({n} frames): motif-coloured points alone": show(False), goal: show(True)},
    )
    _report(times, f"3D SUBTLE ({n} frames): motif-coloured points alone", goal)
    viewer.close()


def bench_strip_image() -> None:
    from napari_vqmap.colours import motif_palette
    from napari_vqmap.napari.ethogram import ethogram_image

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
    print("threads: " + ", ".join(f"{k}={v}" for k, v in threads.items()))
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    torch.set_num_threads(1)
    bench_playback()
    bench_3d()
    bench_strip_image()
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    widths = [max(len(r[i]) for r in ROWS) for i in range(4)]
    header = ("what", "time per step (median)", "target", "met")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in [header, tuple("-" * w for w in widths), *ROWS]:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    if display is not None:
        display.stop()


if __name__ == "__main__":
    main()
