"""The napari reader on real files: video + poses in a viewer, 3D poses, unknown files."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vqmap.colours import palette
from napari_vqmap.io import load_poses, save_poses
from napari_vqmap.napari._reader import get_reader
from napari_vqmap.validators import PoseFileError, make_poses
from tests.screenshots import save_screenshot

pytestmark = pytest.mark.gui

FRAME = 700


def test_clip_video_and_slp_overlay(make_napari_viewer, data_dir):
    """clip.mp4 + clip.slp: the fly keypoints sit on the (bright) flies; screenshot saved."""
    folder = data_dir / "sleap-tests"
    viewer = make_napari_viewer(show=True)
    video_layers = viewer.open(folder / "clip.mp4", plugin="napari-vqmap")
    pose_layers = viewer.open(folder / "clip.slp", plugin="napari-vqmap")
    assert [layer._type_string for layer in video_layers] == ["image"]
    assert [layer._type_string for layer in pose_layers] == ["vectors", "points"]
    video, (skeleton, points) = video_layers[0], pose_layers
    assert video.data.shape == (1500, 1024, 1024)
    assert points.ndim == 3 and skeleton.ndim == 3
    assert set(points.features["individual"]) == {"female", "male"}
    # column-major data: napari's per-frame extent scan stays fast (see convert.py)
    assert points.data.flags.f_contiguous and skeleton.data.flags.f_contiguous

    # keypoints of this frame land on the flies, which are bright on a dark floor
    viewer.dims.set_point(0, FRAME)
    image = np.asarray(video.data[FRAME])
    here = points.data[points.data[:, 0] == FRAME]
    body = here[np.isin(points.features["keypoint"][points.data[:, 0] == FRAME], ["thorax"])]
    rows, cols = np.round(body[:, 1:]).astype(int).T
    assert image[rows, cols].mean() > 3 * np.median(image)

    # zoom on the flies and check the screenshot shows video and coloured skeletons
    viewer.camera.center = tuple(here[:, 1:].mean(axis=0))
    viewer.camera.zoom = 3
    shot = viewer.screenshot(canvas_only=True, flash=False)
    save_screenshot(shot, "napari_clip_overlay.png")
    rgb = shot[..., :3].astype(np.int16)
    for colour in palette(2)[:, :3] * 255:  # one skeleton colour per fly
        near = np.abs(rgb - colour).max(axis=-1) < 60
        assert near.sum() > 50


def test_playback_does_not_rebuild_the_skeleton_shader(make_napari_viewer, data_dir, monkeypatch):
    """Stepping frames redraws the skeleton Vectors layer without recompiling its shader
    program (vispy rebuilt it on every step before :mod:`napari_vqmap.napari.vispy_fixes`)."""
    from qtpy.QtWidgets import QApplication
    from vispy.visuals.shaders.program import ModularProgram

    viewer = make_napari_viewer(show=True)
    skeleton, _ = viewer.open(data_dir / "sleap-tests" / "clip.slp", plugin="napari-vqmap")
    viewer.dims.set_point(0, 100)
    QApplication.processEvents()
    builds, original = [], ModularProgram._build
    monkeypatch.setattr(ModularProgram, "_build", lambda self: builds.append(1) or original(self))
    vectors_seen = []
    for frame in range(101, 111):
        viewer.dims.set_point(0, frame)
        QApplication.processEvents()
        vectors_seen.append(len(skeleton._view_data))
    assert min(vectors_seen) > 0  # the skeleton was drawn at every step
    assert len(builds) == 0


def test_3d_netcdf_opens_in_3d(make_napari_viewer, tmp_path):
    """3D poses become [frame, z, y, x] points and switch the viewer to the 3D view."""
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(20, 3, 4, 1)).astype(np.float32)
    pos[5, :, 2, 0] = np.nan
    ds = make_poses(pos, ["nose", "neck", "tailbase", "tailtip"], fps=20, source_software="test")
    ds.attrs["skeleton"] = [("nose", "neck"), ("neck", "tailbase"), ("tailbase", "tailtip")]
    path = save_poses(ds, tmp_path / "mouse3d.nc")
    viewer = make_napari_viewer()
    skeleton, points = viewer.open(path, plugin="napari-vqmap")
    assert points.data.shape == (20 * 4 - 1, 4)
    first = points.data[0]
    np.testing.assert_allclose(first[1:], pos[0, ::-1, 0, 0])  # (z, y, x) of the nose
    assert viewer.dims.ndisplay == 3
    assert skeleton.data.shape == (20 * 3 - 2, 2, 4)


def test_subtle_csv_opens_in_3d(make_napari_viewer, data_dir):
    """A 12,000-frame SUBTLE session opens as (frame, z, y, x) layers in the 3D view."""
    path = data_dir / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
    n_frames = load_poses(path, skeleton="subtle").sizes["time"]
    viewer = make_napari_viewer()
    skeleton, points = viewer.open(path, plugin="napari-vqmap")
    assert points.data.shape == (n_frames * 9, 4)
    assert skeleton.data.shape == (n_frames * 8, 2, 4)
    assert viewer.dims.ndisplay == 3
    assert points.metadata["poses"].attrs["skeleton_name"] == "subtle"


@pytest.mark.parametrize(
    "name", ["notes.txt", "random.csv", "random.h5", "random.mat", "random.nc", "random.npy"]
)
def test_reader_declines_unknown_files(tmp_path, name):
    path = tmp_path / name
    path.write_text("hello,world\nthis is,not a pose file\n")
    assert get_reader(str(path)) is None


def test_reader_declines_non_pose_mat(data_dir):
    assert get_reader(str(data_dir / "dannce-markerless-mouse" / "mouse22_skeleton.mat")) is None


def test_reader_accepts_pose_and_video_files(data_dir):
    folder = data_dir / "sleap-tests"
    assert get_reader(str(folder / "clip.slp")) is not None
    assert get_reader([str(folder / "clip.mp4"), str(folder / "clip.slp")]) is not None
    assert get_reader([str(folder / "clip.mp4"), str(folder / "PROVENANCE.md")]) is None


def test_undecodable_video_names_the_file(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    reader = get_reader(str(path))
    assert reader is not None  # videos are claimed by suffix; decoding tells
    with pytest.raises(PoseFileError, match="x.mp4"):
        reader(str(path))


def test_sample_data_opens(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-vqmap", "vame_mouse")
    assert [layer._type_string for layer in layers] == ["image", "vectors", "points"]
    assert layers[0].data.shape[0] == 749
