"""The sample recordings bundled with the package and the bundled pretrained model.

* ``vame/cropped_video.csv`` + ``.mp4``: the VAME test mouse, 2D, DeepLabCut (6 keypoints,
  750 frames, 25 fps); licence GPL-3.0, see ``data/vame/LICENSE-NOTICE.md``.
* ``subtle/young_8301.nc`` + ``young_8301_labels.csv``: a SUBTLE / AVATAR 3D mouse session
  (9 keypoints, 11986 frames, 20 fps) with per-frame human labels; licence GPL-3.0, see
  ``data/subtle/LICENSE-NOTICE.md``.
* ``model/``: the bundled pretrained model; ``data/model/NOTICE.md`` lists its training
  data and their licences.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import xarray as xr

from napari_vqmap.io import VIDEO_SUFFIXES
from napari_vqmap.io.labels import read_labels
from napari_vqmap.validators import PoseFileError

_POSE_FILES = ("vame/cropped_video.csv", "subtle/young_8301.nc")
VAME_FPS = 25.0  # the video's frame rate; the DeepLabCut csv stores none
SUBTLE_SESSION = "subtle/young_8301"


def data_dir() -> Path:
    """The folder holding the bundled sample data."""
    return Path(str(resources.files("napari_vqmap") / "data"))


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise PoseFileError(path, "bundled sample file is missing from this installation")
    return path


def sample_paths() -> list[Path]:
    """The bundled sample pose files (2D VAME csv, 3D SUBTLE netCDF)."""
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


def vame_paths() -> tuple[Path, Path]:
    """(DeepLabCut csv, video) of the bundled 2D VAME mouse."""
    pose = _existing(data_dir() / _POSE_FILES[0])
    return pose, sample_video(pose)


def load_vame() -> xr.Dataset:
    """The bundled 2D VAME mouse poses (6 keypoints, 750 frames, 25 fps)."""
    from napari_vqmap.io import load_poses

    return load_poses(vame_paths()[0], fps=VAME_FPS)


def subtle_paths() -> tuple[Path, Path]:
    """(poses netCDF, per-frame labels csv) of the bundled 3D SUBTLE session."""
    base = data_dir() / SUBTLE_SESSION
    return _existing(base.with_suffix(".nc")), _existing(base.with_name(base.name + "_labels.csv"))


def load_subtle() -> xr.Dataset:
    """The bundled 3D SUBTLE session (9 keypoints, 11986 frames, 20 fps)."""
    from napari_vqmap.io import load_poses

    return load_poses(subtle_paths()[0])


def subtle_labels():
    """Per-frame human labels (str array) of the bundled SUBTLE session: walking, rearing,
    standing, grooming, or ``na`` (not assigned)."""
    return read_labels(subtle_paths()[1])


def bundled_model_dir() -> Path:
    """The folder of the bundled pretrained model (``model.safetensors`` + ``config.json``).

    Load it with :func:`napari_vqmap.checkpoint.load_model`; ``docs/model_card.md`` says
    what it was trained on and how well it does.
    """
    path = data_dir() / "model"
    if not (path / "config.json").is_file():
        raise PoseFileError(path, "the bundled model is missing from this installation")
    return path
