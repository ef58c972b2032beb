"""The Encode widget end to end on real recordings: a tiny model trained a few steps, encoding
in a worker, motif colours on the layers, saving results, cancelling, and reopening results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from napari_vqmap.colours import motif_colours
from napari_vqmap.io import load_poses, save_poses
from napari_vqmap.model import ModelConfig
from napari_vqmap.napari._encode_widget import encode_datasets
from napari_vqmap.napari.motif_layers import find_motif_layers
from napari_vqmap.preprocess import PreprocessConfig
from napari_vqmap.training import TrainConfig, train
from tests.screenshots import save_screenshot

torch.set_num_threads(1)

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"
MADLC = "deepof-tests/testDLC_h5_table_madlc.h5"
TINY = ModelConfig(window=32, hidden=32, token_dim=16, n_heads=2, res_depth=1)


def _train(datasets: list[xr.Dataset], out: Path) -> Path:
    config = TrainConfig(
        steps=6,
        batch_size=8,
        warmup_steps=2,
        checkpoint_every=100,
        model=ModelConfig(**{**TINY.__dict__, "n_types": 3, "n_subtypes": 4}),
        preprocess=PreprocessConfig(target_fps=20, stride=16),
    )
    return train(datasets, out, config)


@pytest.fixture(scope="module")
def subtle_file(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 1500 frames of a real SUBTLE 3D session, as a netCDF pose file."""
    ds = load_poses(data_dir / SUBTLE, skeleton="subtle", fps=20).isel(time=slice(0, 1500))
    return save_poses(ds, tmp_path_factory.mktemp("poses") / "young_8301.nc")


@pytest.fixture(scope="module")
def madlc(data_dir: Path) -> xr.Dataset:
    """A real two-mouse DeepLabCut multi-animal recording (100 frames)."""
    return load_poses(data_dir / MADLC, fps=20)


@pytest.fixture(scope="module")
def tiny_model(subtle_file: Path, madlc: xr.Dataset, tmp_path_factory) -> Path:
    return _train([load_poses(subtle_file), madlc], tmp_path_factory.mktemp("model") / "m")


def _open_widget(make_napari_viewer, paths: list[Path], model: Path):
    viewer = make_napari_viewer()
    for path in paths:
        viewer.open(str(path), plugin="napari-vqmap")
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Encode")
    widget.model_dir.setText(str(model))
    return viewer, widget


def test_encode_colours_several_files_and_animals_and_saves(
    make_napari_viewer, qtbot, subtle_file: Path, madlc: xr.Dataset, tiny_model: Path, tmp_path
) -> None:
    madlc_file = save_poses(madlc, tmp_path / "madlc.nc")
    viewer, widget = _open_widget(make_napari_viewer, [subtle_file, madlc_file], tiny_model)
    assert widget.layer_list.names() == ["young_8301 keypoints", "madlc keypoints"]
    assert "3 types × 4 subtypes" in widget.model_info.text()
    widget.save.setChecked(True)
    widget.out_dir.setText(str(tmp_path / "results"))
    widget.start()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert "Encoded 2" in widget.status.text(), widget.status.text()
    found = find_motif_layers(viewer)
    assert len(found) == 2
    for points, skeleton in found:
        result = points.metadata["motifs"]
        assert skeleton.metadata["motifs"] is result
        assert points.metadata["results_dir"] == str(tmp_path / "results")
        assert result.attrs["model_dir"] == str(tiny_model.resolve())  # prototypes' model
        motif = points.features["motif"].to_numpy()
        assert (motif >= 0).mean() > 0.5  # DLC frames with few keypoints stay unencoded
        np.testing.assert_allclose(points.face_color, motif_colours(motif, 3, 4))
        sk_motif = skeleton.features["motif"].to_numpy()
        np.testing.assert_allclose(skeleton.edge_color, motif_colours(sk_motif, 3, 4))
    # two animals in the DLC file: each row takes its own animal's motif
    points, _ = next(f for f in found if f[0].name == "madlc keypoints")
    result = points.metadata["motifs"]
    inds = list(result["individual"].values)
    i = np.array([inds.index(v) for v in points.features["individual"]])
    t = points.data[:, 0].astype(int)
    np.testing.assert_array_equal(points.features["motif"], result["motif"].values[t, i])
    assert points.text.values[points.features["motif_label"].astype(str) != ""].size > 0
    assert points.text.visible
    for stem in ("young_8301", "madlc"):
        assert (tmp_path / "results" / f"{stem}_motifs.nc").is_file()


def test_cancel_stops_the_worker_and_leaves_layers(
    make_napari_viewer, qtbot, subtle_file: Path, tiny_model: Path
) -> None:
    viewer, widget = _open_widget(make_napari_viewer, [subtle_file], tiny_model)
    widget._stop.set()  # as if Cancel was pressed before the first chunk finished
    widget.start()
    widget.cancel()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert "cancelled" in widget.status.text()
    assert find_motif_layers(viewer) == []
    assert widget.encode_button.isEnabled()


def test_cancel_between_chunks(subtle_file: Path, tiny_model: Path) -> None:
    from napari_vqmap.napari._encode_widget import Cancelled

    seen: list[float] = []
    with pytest.raises(Cancelled):
        encode_datasets(
            tiny_model,
            {"a": load_poses(subtle_file)},
            progress=seen.append,
            should_stop=lambda: len(seen) >= 1,
            chunk_frames=256,
        )
    assert len(seen) == 1 and 0 < seen[0] < 1


def test_bad_model_folder_is_reported(
    make_napari_viewer, qtbot, subtle_file: Path, tmp_path
) -> None:
    viewer, widget = _open_widget(make_napari_viewer, [subtle_file], tmp_path)
    assert "not a model folder" in widget.model_info.text()
    widget.start()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=10_000)
    assert "Encoding failed" in widget.status.text() and "config.json" in widget.status.text()


def test_a_failing_colouring_step_ends_the_run(
    make_napari_viewer, qtbot, subtle_file: Path, tiny_model: Path, monkeypatch
) -> None:
    """A colouring step that raises (here: made to) is reported, the remaining steps are
    dropped and the widget is ready for another run."""
    from napari_vqmap.napari import _encode_widget

    def broken(*args, **kwargs):
        def step() -> None:
            raise RuntimeError("layer went away")

        return [step]

    monkeypatch.setattr(_encode_widget, "apply_steps", broken)
    viewer, widget = _open_widget(make_napari_viewer, [subtle_file], tiny_model)
    widget.start()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert "Colouring the layers failed: layer went away" in widget.status.text()
    assert widget.encode_button.isEnabled() and not widget._colouring.busy


def test_reopening_results_restores_motifs(
    make_napari_viewer, qtbot, subtle_file: Path, tiny_model: Path, tmp_path
) -> None:
    from napari_vqmap.names import MotifNames

    out = tmp_path / "res"
    (encoded,) = encode_datasets(tiny_model, {"x": load_poses(subtle_file)}, out)
    names = MotifNames(3, 4)
    names.rename(int(encoded.result["motif"].values[0, 0]), "sniff")
    names.save(out)
    viewer = make_napari_viewer()
    viewer.open(str(out / "young_8301_motifs.nc"), plugin="napari-vqmap")
    ((points, skeleton),) = find_motif_layers(viewer)
    assert skeleton is not None
    assert points.metadata["results_dir"] == str(out)
    assert (
        points.metadata["motif_names"].name(int(encoded.result["motif"].values[0, 0])) == "sniff"
    )
    np.testing.assert_array_equal(
        points.metadata["motifs"]["motif"].values, encoded.result["motif"].values
    )
    assert points.features["motif_name"].iloc[0] == "sniff"
    assert viewer.dims.ndisplay == 3


VAME = "vame-tests/cropped_video"


def _encode_with_bundled(make_napari_viewer, qtbot, paths: list[Path]):
    from napari_vqmap.sample_data import bundled_model_dir

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1300, 760)
    for path in paths:
        viewer.open(str(path), plugin="napari-vqmap")
    _, widget = viewer.window.add_plugin_dock_widget("napari-vqmap", "Encode")
    widget.model_dir.setText(str(bundled_model_dir()))
    widget.start()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    assert "Encoded 1" in widget.status.text(), widget.status.text()
    return viewer, widget


def _frame_on_animal(viewer, points, frame: int, bodies: float) -> None:
    """Centre the camera on the animal at ``frame``, about ``bodies`` body lengths across."""
    from napari_vqmap.colours import POINT_SIZE_FRACTION

    xyz = points.data[points.data[:, 0] == frame, 1:]
    viewer.reset_view()
    viewer.camera.center = tuple(xyz.mean(axis=0))
    body = float(np.mean(points.size)) / POINT_SIZE_FRACTION
    canvas = viewer.window._qt_viewer.canvas.size
    viewer.camera.zoom = min(canvas) / (bodies * body)


def test_screenshot_subtle_3d_coloured_by_motif(make_napari_viewer, qtbot) -> None:
    """The bundled SUBTLE 3D session encoded with the bundled model, in the 3D view."""
    from napari_vqmap.sample_data import subtle_paths

    viewer, widget = _encode_with_bundled(make_napari_viewer, qtbot, [subtle_paths()[0]])
    assert viewer.dims.ndisplay == 3
    ((points, skeleton),) = find_motif_layers(viewer)
    viewer.dims.set_point(0, 2000)
    _frame_on_animal(viewer, points, 2000, bodies=2.5)
    viewer.camera.angles = (0, -60, 150)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    save_screenshot(shot, "encode_widget.png")
    # the current frame's skeleton is drawn in its motif's colour
    motif = int(points.metadata["motifs"]["motif"].values[2000, 0])
    assert (points.features["motif"][points.data[:, 0] == 2000] == motif).all()


def test_screenshot_motifs_on_video(make_napari_viewer, qtbot, data_dir: Path) -> None:
    """A 2D DeepLabCut (VAME) recording over its video, coloured by motif, with the name."""
    paths = [data_dir / f"{VAME}.mp4", data_dir / f"{VAME}.csv"]
    viewer, widget = _encode_with_bundled(make_napari_viewer, qtbot, paths)
    ((points, skeleton),) = find_motif_layers(viewer)
    frame = 300
    viewer.dims.set_point(0, frame)
    _frame_on_animal(viewer, points, frame, bodies=4)
    here = points.data[:, 0] == frame
    label = points.features["motif_label"].astype(str)[here]
    assert (label != "").sum() == 1  # one name per animal
    shot = viewer.screenshot(canvas_only=True, flash=False)
    save_screenshot(shot, "motifs_on_video.png")
    colour = (points.face_color[here][0, :3] * 255).astype(int)
    near = np.abs(shot[..., :3].astype(int) - colour).sum(axis=-1) < 40
    assert near.sum() > 20, "no pixel in the motif's colour"


def test_motifs_csv_applies_to_open_poses(
    make_napari_viewer, subtle_file: Path, tiny_model: Path, tmp_path
) -> None:
    out = tmp_path / "res"
    (encoded,) = encode_datasets(tiny_model, {"x": load_poses(subtle_file)}, out)
    viewer = make_napari_viewer()
    with pytest.raises(Exception, match="open the poses"):
        viewer.open(str(out / "young_8301_motifs.csv"), plugin="napari-vqmap")
    viewer.open(str(subtle_file), plugin="napari-vqmap")
    viewer.open(str(out / "young_8301_motifs.csv"), plugin="napari-vqmap")
    assert len(viewer.layers) == 2
    ((points, skeleton),) = find_motif_layers(viewer)
    t = points.data[:, 0].astype(int)
    np.testing.assert_array_equal(points.features["motif"], encoded.result["motif"].values[t, 0])
    assert points.metadata["results_dir"] == str(out)
