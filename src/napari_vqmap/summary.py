"""Human-readable summaries of pose datasets (used by the CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.io import skeleton_of


def describe(ds: xr.Dataset) -> str:
    """A short multi-line summary of a pose dataset."""
    pos = ds["position"]
    n_time = ds.sizes["time"]
    fps = ds.attrs.get("fps")
    frames = ds["frame"].values
    span = int(frames[-1] - frames[0] + 1) if n_time else 0
    visible = ~np.isnan(pos.values).any(axis=1)
    keypoints = [str(k) for k in ds["keypoint"].values]
    individuals = [str(i) for i in ds["individual"].values]
    lines = [
        f"{Path(ds.attrs.get('source_file') or 'poses').name} "
        f"({ds.attrs.get('source_software', 'unknown')})",
        f"  frames       {n_time}"
        + (f" (sparse, spanning {span})" if span != n_time else "")
        + (f" at {fps:g} fps = {n_time / fps:.1f} s" if fps else " (fps unknown)"),
        f"  space        {ds.sizes['space']}D",
        f"  keypoints    {len(keypoints)}: {', '.join(keypoints)}",
        f"  individuals  {len(individuals)}: {', '.join(individuals)}",
        f"  skeleton     {ds.attrs.get('skeleton_name') or '-'} "
        f"({len(ds.attrs.get('skeleton') or [])} edges)",
        f"  visible      {100 * visible.mean():.1f} % of keypoint positions",
    ]
    arena = skeleton_of(ds).arena
    if arena:
        lines.append(f"  arena points {', '.join(arena)} (fixed in the scene; not modelled)")
    empty = ds.attrs.get("empty_keypoints") or []
    if empty:
        lines.append(f"  never seen   {', '.join(empty)}")
    return "\n".join(lines)
