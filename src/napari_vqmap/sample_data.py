"""The sample recordings bundled with the package (VAME test mouse: DeepLabCut csv + video).

See ``data/vame/LICENSE-NOTICE.md`` for their source and licence (GPL-3.0).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from napari_vqmap.io import VIDEO_SUFFIXES
from napari_vqmap.validators import PoseFileError

_POSE_FILES = ("vame/cropped_video.csv",)


def data_dir() -> Path:
    """The folder holding the bundled sample data."""
    return Path(str(resources.files("napari_vqmap") / "data"))


def sample_paths() -> list[Path]:
    """The bundled sample pose files."""
    return [data_dir() / name for name in _POSE_FILES]


def sample_video(name: str | Path) -> Path:
    """The bundled video for a sample: ``name`` is a pose file path, a file name or a stem."""
    stem = Path(name).stem
    for pose in sample_paths():
        for suffix in VIDEO_SUFFIXES:
            video = pose.with_name(stem + suffix)
            if video.is_file():
                return video
    raise PoseFileError(name, "no bundled sample video of that name")
