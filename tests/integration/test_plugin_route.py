"""The plugin as a user opens it, on two courting flies (SLEAP ``clip.slp`` + ``clip.mp4``,
25 fps, no rate in the pose file): files through ``viewer.open(..., plugin=...)`` and
widgets docked from the npe2 manifest (as the Plugins menu does), so the widgets get
napari's public-only layer proxies, not the layers themselves."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from napari_vqmap.analysis import figures
from napari_vqmap.analysis.report import analyze
from napari_vqmap.checkpoint import load_model
from napari_vqmap.cli import main
from napari_vqmap.clips import BACKGROUND, HEADER_PX, TILE_PX
from napari_vqmap.colours import motif_palette, palette
from napari_vqmap.encode import encode
from napari_vqmap.io import load_poses
from napari_vqmap.napari.motif_layers import LABEL_OFFSET, find_motif_layers
from napari_vqmap.video import VideoReader
from tests.screenshots import save_screenshot

pytestmark = pytest.mark.gui
torch.set_num_threads(1)

CLIP = "sleap-tests/clip"
FRAME = 700


def _model() -> Path:
    from napari_vqmap.sample_data import bundled_model_dir

    return bundled_model_dir()


def _dock(viewer, name: str):
    """The plugin's widget ``name`` docked from the manifest (the Plugins menu's route)."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", name)
    return widget


def _open_fly(make_napari_viewer, data_dir: Path, video: bool = True):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    if video:
        viewer.open(str(data_dir / f"{CLIP}.mp4"), plugin="napari-vqmap")
    viewer.open(str(data_dir / f"{CLIP}.slp"), plugin="napari-vqmap")
    return viewer


def _encode(qtbot, widget, out: Path | None = None) -> None:
    widget.model_dir.setText(str(_model()))
    widget.save.setChecked(out is not None)
    if out is not None:
        widget.out_dir.setText(str(out))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no head for the fly skeleton
        widget.start()
        qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    assert "Encoded 1" in widget.status.text(), widget.status.text()


def test_encode_widget_colours_the_skeleton_at_the_videos_rate(
    make_napari_viewer, qtbot, data_dir: Path, tmp_path: Path
) -> None:
    viewer = _open_fly(make_napari_viewer, data_dir)
    widget = _dock(viewer, "Encode")
    assert widget.layer_list.names() == ["clip keypoints"]
    # the pose file has no rate: the video's is used, and the widget says so
    assert "25 fps (from video clip.mp4)" in widget.fps_info.text()
    _encode(qtbot, widget, tmp_path / "res")

    ((points, skeleton),) = find_motif_layers(viewer)
    assert skeleton is not None and skeleton.name == "clip skeleton"
    result = points.metadata["motifs"]
    assert skeleton.metadata["motifs"] is result
    # every skeleton line has its frame's and fly's motif colour, not the fly's own colour
    lut = motif_palette(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))
    motif = skeleton.features["motif"].to_numpy()
    np.testing.assert_allclose(skeleton.edge_color, lut[np.where(motif >= 0, motif, -1)])
    fly_colour = palette(2)[0]
    assert not np.all(np.isclose(skeleton.edge_color, fly_colour).all(axis=1))
    np.testing.assert_allclose(
        points.face_color,
        lut[np.where(points.features["motif"] >= 0, points.features["motif"], -1)],
    )
    # the results are at 25 fps: time in seconds
    assert result.attrs["fps"] == 25.0
    sidecar = json.loads((tmp_path / "res" / "clip_encode.json").read_text())
    assert sidecar["settings"]["fps"] == 25.0 and sidecar["settings"]["y_up"] is False
    table = pd.read_csv(tmp_path / "res" / "clip_motifs.csv")
    np.testing.assert_allclose(table["time"], table["frame"] / 25.0, atol=1e-6)
    # the same as the library at 25 fps
    model, meta = load_model(_model())
    ds = load_poses(data_dir / f"{CLIP}.slp", fps=25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = encode(model, ds, meta)
    np.testing.assert_array_equal(result["motif"].values, expected["motif"].values)

    # the docs' picture: the fly video with motif-coloured skeleton lines
    kind = result["motif_type"].values[FRAME:]  # a frame where the flies' motif types differ
    frame = FRAME + int(np.argmax((kind[:, 0] != kind[:, 1]) & (kind >= 0).all(1)))
    viewer.dims.set_point(0, frame)
    here = skeleton.data[:, 0, 0] == frame
    xy = points.data[points.data[:, 0] == frame, 1:]
    viewer.camera.center = tuple((xy.min(axis=0) + xy.max(axis=0)) / 2)
    viewer.camera.zoom = 0.7 * min(viewer.window._qt_viewer.canvas.size) / np.ptp(xy, axis=0).max()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    save_screenshot(shot, "napari_fly_motifs.png")
    colours = (skeleton.edge_color[here, :3] * 255).astype(int)
    assert len(np.unique(colours, axis=0)) == 2  # one motif colour per fly
    for colour in np.unique(colours, axis=0):
        near = np.abs(shot[..., :3].astype(int) - colour).sum(axis=-1) < 60
        assert near.sum() > 10, f"no skeleton pixel in motif colour {colour}"

    # each fly's name is drawn nearer to that fly than to the other, even where they touch
    _check_labels_on_their_fly(points)

    # analyze decodes the prototypes on one head, the nearest to the fly's, and says so
    _check_analyze_prototypes(tmp_path / "res", tmp_path / "analysis")

    # the Motifs widget, docked the same way, finds the recording: one row per fly
    motifs = _dock(viewer, "Motifs")
    assert motifs.recording.count() == 1
    assert motifs.strip.labels == [str(i) for i in ds["individual"].values]
    # its Example clips button: grid movies cut from the video, in a worker
    clips = _widget_clips(qtbot, motifs, tmp_path / "clips", top=2)
    top = f"motif_{_most_frames_in_bouts(motifs.motif):03d}_"
    (clip,) = [c for c in clips if c.name.startswith(top)]  # the 2 most used, in name order
    frame = _check_clip(clip)
    assert frame[HEADER_PX:].std() > 20  # video under the skeletons, not a plain background

    # the Train widget, docked the same way, lists the fly recording and its skeleton
    train_widget = _dock(viewer, "Train")
    assert train_widget.layer_list.names() == ["clip keypoints"]
    assert "fly13" in train_widget.summary.text(), train_widget.summary.text()

    # the saved results reopen through the reader as coloured layers the widgets find
    _check_reopened(make_napari_viewer, tmp_path / "res" / "clip_motifs.nc", result)


def test_no_rate_is_refused_until_entered_and_y_up_is_passed(
    make_napari_viewer, qtbot, data_dir: Path, tmp_path: Path
) -> None:
    viewer = _open_fly(make_napari_viewer, data_dir, video=False)
    widget = _dock(viewer, "Encode")
    assert "no frame rate" in widget.fps_info.text()
    widget.model_dir.setText(str(_model()))
    widget.start()
    assert widget.worker is None and "No frame rate for clip" in widget.status.text()

    widget.fps.setValue(25)
    assert "25 fps (from the fps field)" in widget.fps_info.text()
    widget.y_up.setChecked(True)
    widget.model_dir.setText(str(_model()))
    model, meta = load_model(_model())
    assert widget.stickiness.value() == meta.get("stickiness", 0.0)  # the model's default
    widget.stickiness.setValue(2.5)
    _encode(qtbot, widget, tmp_path / "res")
    sidecar = json.loads((tmp_path / "res" / "clip_encode.json").read_text())
    assert sidecar["settings"]["y_up"] is True and sidecar["settings"]["fps"] == 25.0
    assert sidecar["settings"]["stickiness"] == 2.5
    ((points, _),) = find_motif_layers(viewer)
    ds = load_poses(data_dir / f"{CLIP}.slp", fps=25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = encode(model, ds, meta, flip_2d_y=False, stickiness=2.5)
        flipped = encode(model, ds, meta)
    got = points.metadata["motifs"]["motif"].values
    np.testing.assert_array_equal(got, expected["motif"].values)
    assert (got != flipped["motif"].values).any()  # the switch changes the motifs

    # example clips without a video: the skeletons alone on a plain background
    motifs = _dock(viewer, "Motifs")
    (clip,) = _widget_clips(qtbot, motifs, tmp_path / "clips", top=1)
    frame = _check_clip(clip)
    tiles = frame[HEADER_PX:].astype(int)
    plain = np.abs(tiles - BACKGROUND).max(axis=-1) <= 6
    assert plain.mean() > 0.5, plain.mean()
    colour = motif_palette(8, 16)[int(clip.name.split("_")[1])][:3] * 255
    assert (np.abs(tiles - colour).sum(axis=-1) < 60).sum() > 100  # skeletons in its colour


def _check_reopened(make_napari_viewer, path: Path, result) -> None:
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-vqmap")
    ((points, skeleton),) = find_motif_layers(viewer)
    reopened = points.metadata["motifs"]
    np.testing.assert_array_equal(reopened["motif"].values, result["motif"].values)
    assert reopened.attrs["fps"] == 25.0
    lut = motif_palette(8, 16)
    motif = skeleton.features["motif"].to_numpy()
    np.testing.assert_allclose(skeleton.edge_color, lut[np.where(motif >= 0, motif, -1)])
    assert _dock(viewer, "Motifs").recording.count() == 1


def _widget_clips(qtbot, motifs, folder: Path, top: int) -> list[Path]:
    motifs.write_clips(folder, top=top)
    assert not motifs.clips_bar.isHidden() and not motifs.clips_button.isEnabled()
    qtbot.waitUntil(lambda: motifs.clips_worker is None, timeout=120_000)
    assert "Wrote" in motifs.status.text(), motifs.status.text()
    clips = sorted(folder.glob("motif_*.mp4"))
    assert len(clips) == top
    return clips


def _most_frames_in_bouts(motif: np.ndarray, min_frames: int = 3) -> int:
    """The motif with the most frames in runs of at least ``min_frames`` (frames x animals)."""
    frames: dict[int, int] = {}
    for ids in motif.T:
        edges = np.flatnonzero(np.diff(ids)) + 1
        for run in np.split(ids, edges):
            if run[0] >= 0 and len(run) >= min_frames:
                frames[int(run[0])] = frames.get(int(run[0]), 0) + len(run)
    return max(frames, key=frames.get)


def _check_clip(path: Path) -> np.ndarray:
    """A grid of up to 4 x 4 160-pixel tiles under the title bar, 3 s at 25 fps; frame 0."""
    with VideoReader(path, grayscale=False) as video:
        n, height, width, rgb = video.shape
        assert n == 75 and rgb == 3 and (height - HEADER_PX) % TILE_PX == 0, video.shape
        assert width % TILE_PX == 0 and TILE_PX <= width <= 4 * TILE_PX, video.shape
        assert video.fps == 25
        return video.frame(0)


def _check_labels_on_their_fly(points) -> None:
    lift = LABEL_OFFSET * float(np.mean(points.size))
    data = points.data
    fly = points.features["individual"].cat.codes.to_numpy()
    has = points.features["motif_label"].astype(str).to_numpy() != ""
    frames = data[has, 0].astype(int)
    assert len(frames) == 2 * len(np.unique(data[:, 0]))  # one name per fly and frame
    centre = np.full((int(data[:, 0].max()) + 1, 2, 2), np.nan)
    for f in range(2):
        rows = data[fly == f]
        sums = np.zeros((len(centre), 2))
        np.add.at(sums, rows[:, 0].astype(int), rows[:, 1:])
        centre[:, f] = sums / np.bincount(rows[:, 0].astype(int), minlength=len(centre))[:, None]
    label = data[has, 1:] - [lift, 0]
    own = np.linalg.norm(label - centre[frames, fly[has]], axis=1)
    other = np.linalg.norm(label - centre[frames, 1 - fly[has]], axis=1)
    assert not (other < own).any(), np.unique(frames[other < own])
    # the flies touch in frames 1277-1293, where the top-most keypoint's label was the
    # other fly's: those frames are among the checked ones
    assert np.isin(np.arange(1277, 1294), frames).all()


def _check_analyze_prototypes(results: Path, out: Path) -> None:
    messages: list[str] = []
    done: list[tuple[int, int]] = []
    files = analyze(
        [results], out, progress=messages.append, clips=1, clip_progress=lambda *a: done.append(a)
    )
    (clip,) = (out / "clips").iterdir()
    assert clip.suffix == ".mp4" and clip in files and done == [(1, 1)]
    assert _check_clip(clip)[HEADER_PX:].std() > 20  # the video, found beside clip.slp
    files = [f for f in files if f.parent.name != "clips"]
    protos = sorted(p.name for p in (out / "prototypes").iterdir())
    assert protos == ["deepof14.npz", "deepof14.png"], protos
    assert any("no head for fly13" in m and "deepof14" in m for m in messages), messages
    sidecar = json.loads((out / "analysis.json").read_text())
    assert sidecar["prototype_heads"]["deepof14"]["for_skeletons"] == ["fly13"]
    assert sidecar["prototype_heads"]["deepof14"]["own_head"] is False
    total = sum(p.stat().st_size for p in files)
    assert total < 6e6, f"analysis output is {total / 1e6:.1f} MB"
    # every motif is labelled on the usage and transition plots
    stats = pd.read_csv(out / "motif_stats.csv", keep_default_na=False)
    assert len(stats) == 128
    ax = figures.plot_usage(stats).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(stats["name"])
    ax = figures.plot_transitions(np.eye(128), labels=list(stats["name"])).axes[0]
    assert len(ax.get_xticklabels()) == len(ax.get_yticklabels()) == 128


def test_failed_encode_leaves_no_out_folder_and_train_warns_without_rate(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "results"
    args = ["encode", str(data_dir / f"{CLIP}.slp"), "--out", str(out), "--model", str(tmp_path)]
    assert main(args) == 2
    assert not (tmp_path / "new").exists()

    from napari_vqmap.training import TrainConfig
    from napari_vqmap.training.data import build_skeleton_data

    ds = load_poses(data_dir / f"{CLIP}.slp")
    with pytest.warns(UserWarning, match="clip.slp: no frame rate"):
        build_skeleton_data([ds], TrainConfig())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        build_skeleton_data([ds.assign_attrs(fps=25.0)], TrainConfig())
