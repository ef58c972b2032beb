"""``napari-vqmap demo --gui``: the demo's results set up in napari.

Two windows, because the recordings live in different spaces (video pixels vs. arena cm)
and on different clocks (750 vs. 11986 frames):

* the 2D VAME mouse: its video under the skeleton, coloured by motif, with the motif name
  following the animal;
* the 3D SUBTLE mouse in the 3D view, coloured by motif.

Each window docks the Motifs widget (ethogram strip, motif table, bout browser, decoded
prototype). :func:`show_video_demo` and :func:`show_3d_demo` fill a given viewer, so they
can be tested without running the event loop; :func:`open_demo` makes the windows and runs
napari.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from napari_vqmap.napari.convert import pose_layers, video_layer
from napari_vqmap.napari.motif_layers import layer_data_with_motifs
from napari_vqmap.video import VideoReader

if TYPE_CHECKING:
    import napari

    from napari_vqmap.demo import DemoRecording, DemoReport

MOTIFS_DOCK = "Motifs"
CAMERA_ANGLES = (0.0, -40.0, 60.0)  # a tilted view of the arena, so height shows


def _add(viewer: napari.Viewer, layer_data: list[tuple[Any, dict, str]]) -> list[Any]:
    return [getattr(viewer, f"add_{kind}")(data, **meta) for data, meta, kind in layer_data]


def add_recording(viewer: napari.Viewer, rec: DemoRecording, report: DemoReport) -> list[Any]:
    """Add a recording's skeleton and keypoint layers, coloured by its motifs."""
    layers = pose_layers(rec.poses)
    styled = layer_data_with_motifs(layers, rec.result, report.names, str(report.out_dir))
    for _, meta, _ in styled:
        meta["metadata"]["model_dir"] = str(report.model_dir)
    return _add(viewer, styled)


def dock_motifs(viewer: napari.Viewer, rec: DemoRecording) -> Any:
    """Dock the Motifs widget on the right with the recording's most used motif selected
    (its decoded prototype shows); returns the widget."""
    from napari_vqmap.napari._motifs_widget import MotifsWidget

    widget = MotifsWidget(viewer)
    viewer.window.add_dock_widget(widget, name=MOTIFS_DOCK, area="right")
    top = rec.stats.sort_values("usage", ascending=False)["motif"].iloc[0]
    widget.select("motif", int(top))
    return widget


def show_video_demo(viewer: napari.Viewer, report: DemoReport) -> Any:
    """The VAME video with its skeleton coloured by motif and the Motifs widget docked;
    returns the widget."""
    rec = report.recordings["vame"]
    if rec.video is not None:
        _add(viewer, [video_layer(VideoReader(rec.video))])
    add_recording(viewer, rec, report)
    viewer.title = f"napari-vqmap demo: {rec.title}"
    viewer.dims.set_current_step(0, 0)
    widget = dock_motifs(viewer, rec)
    fit_view(viewer)
    return widget


def show_3d_demo(viewer: napari.Viewer, report: DemoReport) -> Any:
    """The SUBTLE session in the 3D view coloured by motif, with the Motifs widget docked;
    returns the widget."""
    rec = report.recordings["subtle"]
    add_recording(viewer, rec, report)
    viewer.title = f"napari-vqmap demo: {rec.title}"
    viewer.dims.ndisplay = 3
    viewer.dims.set_current_step(0, 0)
    widget = dock_motifs(viewer, rec)
    fit_view(viewer, angles=CAMERA_ANGLES, zoom=1.5)  # the arena is much larger than the mouse
    return widget


def fit_view(
    viewer: napari.Viewer, angles: tuple[float, float, float] | None = None, zoom: float = 1.0
) -> None:
    """Fit the data to the canvas as it is once the docks are laid out (narrower than
    before), then turn the camera to ``angles`` and zoom by ``zoom``."""
    from qtpy.QtWidgets import QApplication

    QApplication.processEvents()
    viewer.reset_view()
    camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9: viewer.scene.camera
    if angles is not None:
        camera.angles = angles
    camera.zoom *= zoom


def open_demo(report: DemoReport) -> None:  # pragma: no cover (runs the event loop)
    """Open both demo windows and run napari until they are closed."""
    import napari

    from napari_vqmap.napari import install_fixes

    install_fixes()
    show_3d_demo(napari.Viewer(), report)
    show_video_demo(napari.Viewer(), report)
    napari.run()
