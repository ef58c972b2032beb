"""npe2 sample data: the bundled VAME mouse (video + 2D DeepLabCut keypoints) and the
bundled SUBTLE mouse (3D, 9 keypoints, opens in the 3D view)."""

from __future__ import annotations

from napari_vqmap.napari import install_fixes
from napari_vqmap.napari._reader import _show_3d_when_added
from napari_vqmap.napari.convert import LayerData, pose_layers, video_layer
from napari_vqmap.sample_data import load_subtle, load_vame, vame_paths
from napari_vqmap.video import VideoReader


def vame_mouse() -> list[LayerData]:
    """The VAME test mouse: its video under its DeepLabCut poses."""
    install_fixes()
    video = video_layer(VideoReader(vame_paths()[1]))
    return [video, *pose_layers(load_vame())]


def subtle_mouse() -> list[LayerData]:
    """The SUBTLE 3D mouse session (skeleton + keypoints), shown in the 3D view."""
    install_fixes()
    layers = pose_layers(load_subtle())
    _show_3d_when_added()
    return layers
