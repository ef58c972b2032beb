"""Lightning Pose csv files (labelled ``CollectedData.csv`` and prediction csvs).

Lightning Pose writes the DeepLabCut csv layout (``scorer, bodyparts, coords`` rows, plus
a ``likelihood`` coord in predictions), so the two cannot always be told apart. The rule:

* a DLC-layout csv is read as **DeepLabCut** by default, including Lightning Pose label
  files such as ``CollectedData.csv`` (scorer ``rick``): the numbers are the same;
* it is read as **LightningPose** when the scorer names a Lightning Pose model
  (``heatmap_tracker``, ``heatmap_mhcrnn_tracker``, ...), or when the caller forces it
  with ``load_poses(path, source_software="LightningPose")``.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from napari_vqmap.io.dlc import LP_SCORERS, csv_header, read_table, scorer_of, table_to_poses
from napari_vqmap.skeletons import Skeleton
from napari_vqmap.validators import PoseFileError


def sniff(path: Path) -> bool:
    """True for a DLC-layout csv whose scorer is a Lightning Pose model (``heatmap...``)."""
    try:
        header = csv_header(path)
        return bool(header) and scorer_of(header).startswith(LP_SCORERS)
    except Exception:
        return False


def load(path: Path, fps: float | None = None, skeleton: Skeleton | None = None) -> xr.Dataset:
    """Read a Lightning Pose csv into the pose container."""
    if path.suffix.lower() != ".csv":
        raise PoseFileError(path, "Lightning Pose files are .csv")
    return table_to_poses(read_table(path), path, fps, "LightningPose")
