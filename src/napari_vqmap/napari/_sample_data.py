"""npe2 sample data: the bundled VAME mouse (video + DeepLabCut keypoints and skeleton)."""

from __future__ import annotations

from napari_vqmap.io import load_poses
from napari_vqmap.napari.convert import LayerData, pose_layers, video_layer
from napari_vqmap.sample_data import sample_paths, sample_video
from napari_vqmap.video import VideoReader


def vame_mouse() -> list[LayerData]:
    """The VAME test mouse: its video under its DeepLabCut poses."""
    pose_path = sample_paths()[0]
    video = video_layer(VideoReader(sample_video(pose_path)))
    return [video, *pose_layers(load_poses(pose_path))]
