"""npe2 readers: pose files -> keypoint + skeleton layers, videos -> a lazy Image layer.

``get_reader`` returns ``None`` for files the plugin does not understand, so napari can
try other plugins. A reader cannot set the viewer's display mode, so for 3D poses the
reader asks the current viewer (if any) to switch to the 3D view as soon as the layer is
added (:func:`_show_3d_when_added`); headless calls (e.g. ``npe2.read``) are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from napari_vqmap.io import POSE_SUFFIXES, VIDEO_SUFFIXES, detect_format, load_poses
from napari_vqmap.napari.convert import LayerData, pose_layers, video_layer
from napari_vqmap.video import VideoReader

PathOrPaths = str | Sequence[str]
ReaderFunction = Callable[[PathOrPaths], list[LayerData]]


def _kind(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in POSE_SUFFIXES and Path(path).is_file() and detect_format(path) is not None:
        return "poses"
    return None


def get_reader(path: PathOrPaths) -> ReaderFunction | None:
    """The reader for ``path`` (or a list of paths) if every file is a pose file or video."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths or any(_kind(str(p)) is None for p in paths):
        return None
    return read


def read(path: PathOrPaths) -> list[LayerData]:
    """Layer data for pose files (skeleton + keypoints) and videos (lazy image)."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    layers: list[LayerData] = []
    for p in paths:
        if _kind(str(p)) == "video":
            layers.append(video_layer(VideoReader(p)))
        else:
            layers.extend(pose_layers(load_poses(p)))
    if any(meta["metadata"].get("ndisplay") == 3 for _, meta, _ in layers if "metadata" in meta):
        _show_3d_when_added()
    return layers


def _show_3d_when_added() -> None:
    """Switch the current viewer to 3D once a layer asking for it (``ndisplay`` 3) is added."""
    import napari

    viewer = napari.current_viewer()
    if viewer is None:
        return

    def on_insert(event) -> None:
        if event.value.metadata.get("ndisplay") == 3:
            viewer.layers.events.inserted.disconnect(on_insert)
            viewer.dims.ndisplay = 3

    viewer.layers.events.inserted.connect(on_insert)
