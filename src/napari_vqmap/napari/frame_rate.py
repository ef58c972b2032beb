"""Frame rates for encoding from napari: the pose file's own, else its video's, else the one
the user entered (plain functions; napari is not imported).

A pose file often lacks a frame rate (SLEAP ``.slp``, DeepLabCut tables) while its video,
opened beside it, has one. A video goes with a pose file when the video's stem starts the
pose file's name (``clip.mp4`` for ``clip.slp``, ``clip.predictions.slp`` or
``clipDLC_resnet50_….h5``), or when it is the only video open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Rate:
    """A recording's frame rate (``None``: unknown) and where it came from."""

    fps: float | None
    source: str  # "the file", "video <name>", "the fps field" or "none"

    def describe(self) -> str:
        """E.g. ``25 fps (from video clip.mp4)``, or that the rate is missing."""
        if self.fps is None:
            return "no frame rate: open its video or enter one"
        return f"{self.fps:g} fps (from {self.source})"


def video_layers(layers: Any) -> list[tuple[str, float]]:
    """``(path, fps)`` of the video layers in ``layers`` (those with a source file and rate)."""
    out = []
    for layer in layers:
        meta = layer.metadata
        fps, path = meta.get("fps"), meta.get("source_file")
        if path and fps and "poses" not in meta and float(fps) > 0:
            out.append((str(path), float(fps)))
    return out


def video_for(source_file: str | None, videos: Sequence[tuple[str, float]]) -> tuple[str, float]:
    """The ``(path, fps)`` of the video that goes with ``source_file`` (see the module
    docstring); ``("", 0.0)`` when none does."""
    name = Path(source_file).name.lower() if source_file else ""
    matches = [v for v in videos if name and name.startswith(Path(v[0]).stem.lower())]
    if matches:
        return max(matches, key=lambda v: len(Path(v[0]).stem))  # the longest stem
    return videos[0] if len(videos) == 1 else ("", 0.0)


def rate_for(poses: xr.Dataset, videos: Sequence[tuple[str, float]], entered: float) -> Rate:
    """The rate to encode ``poses`` at: its own, else its video's, else ``entered`` (> 0)."""
    own = poses.attrs.get("fps")
    if own and float(own) > 0:
        return Rate(float(own), "the file")
    path, fps = video_for(poses.attrs.get("source_file"), videos)
    if fps > 0:
        return Rate(fps, f"video {Path(path).name}")
    if entered > 0:
        return Rate(float(entered), "the fps field")
    return Rate(None, "none")


def with_rate(poses: xr.Dataset, rate: Rate) -> xr.Dataset:
    """``poses`` at ``rate``: ``attrs["fps"]`` set and ``time`` in seconds, as
    ``load_poses(..., fps=)`` gives (a shallow copy; the input is kept)."""
    if rate.fps is None or rate.source == "the file":
        return poses
    frames = poses["frame"].values if "frame" in poses.coords else np.arange(poses.sizes["time"])
    out = poses.assign_coords(time=frames / rate.fps)
    out.attrs.update(fps=rate.fps, time_unit="seconds")
    return out
