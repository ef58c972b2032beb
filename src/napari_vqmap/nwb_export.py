"""NWB export of an encoding next to the poses (optional extra ``napari-vqmap[nwb]``).

One NWB file per individual (NWB holds one subject per file): the poses as ndx-pose
``PoseEstimation`` (written by movement), the motif bouts as a core ``TimeIntervals`` table
``motif_bouts`` (columns ``motif``, ``motif_type``, ``motif_subtype``, ``motif_name``) and the
per-frame motifs and confidences as ``TimeSeries`` in the ``behavior`` processing module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

from napari_vqmap.io import import_movement

INSTALL_HINT = 'NWB export needs pynwb and ndx-pose: pip install "napari-vqmap[nwb]"'


def require_nwb() -> None:
    """Raise ``ImportError`` with the pip command when the NWB packages are missing."""
    try:
        import ndx_pose  # noqa: F401
        import pynwb  # noqa: F401
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err


def _movement_poses(poses: xr.Dataset) -> xr.Dataset:
    import_movement()
    from movement.io import load_poses

    pos = poses["position"].transpose("time", "space", "keypoint", "individual").values
    conf = poses["confidence"].transpose("time", "keypoint", "individual").values
    return load_poses.from_numpy(
        position_array=pos,
        confidence_array=conf if "confidence" in poses else None,
        individual_names=[str(i) for i in poses["individual"].values],
        keypoint_names=[str(k) for k in poses["keypoint"].values],
        fps=poses.attrs.get("fps") or None,
        source_software=str(poses.attrs.get("source_software") or "napari-vqmap"),
    )


def _times(result: xr.Dataset) -> tuple[np.ndarray, float]:
    """Frame times in seconds (frame indices when the frame rate is unknown) and one frame's
    duration."""
    fps = result.attrs.get("fps") or 0.0
    t = result["time"].values.astype(np.float64)
    return t, (1.0 / fps if fps else 1.0)


def nwb_writers(
    result: xr.Dataset, poses: xr.Dataset, stem: Path, names: np.ndarray
) -> list[tuple[str, Callable[[Path], None]]]:
    """(path, writer) per individual; ``names`` holds the motif name per (time, individual)."""
    require_nwb()
    import_movement()
    from movement.io import save_poses
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.epoch import TimeIntervals

    files = save_poses.to_nwb_file(_movement_poses(poses))
    files = files if isinstance(files, list) else [files]
    inds = [str(i) for i in result["individual"].values]
    t, dt = _times(result)
    n_sub = int(result.attrs["n_subtypes"])
    writers = []
    for i, (ind, nwbfile) in enumerate(zip(inds, files, strict=True)):
        motif = result["motif"].values[:, i]
        bouts = TimeIntervals(name="motif_bouts", description="runs of one VQ-MAP motif")
        for col, text in [
            ("motif", "motif id (type * n_subtypes + subtype)"),
            ("motif_type", "motif type"),
            ("motif_subtype", "motif subtype"),
            ("motif_name", "motif name"),
        ]:
            bouts.add_column(col, text)
        edges = np.flatnonzero(np.diff(motif)) + 1
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(motif)], strict=True):
            if motif[a] < 0:
                continue
            stop = t[b] if b < len(t) else t[-1] + dt
            m = int(motif[a])
            bouts.add_row(
                start_time=float(t[a]),
                stop_time=float(stop),
                motif=m,
                motif_type=m // n_sub,
                motif_subtype=m % n_sub,
                motif_name=str(names[a, i]),
            )
        nwbfile.add_time_intervals(bouts)
        behavior = nwbfile.processing["behavior"]
        for var, unit, text in [
            ("motif", "n/a", "per-frame VQ-MAP motif id (-1: not encodable)"),
            ("confidence", "n/a", "per-frame motif confidence (code distance margin)"),
        ]:
            behavior.add(
                TimeSeries(
                    name=f"vqmap_{var}",
                    data=result[var].values[:, i],
                    timestamps=t,
                    unit=unit,
                    description=text,
                )
            )

        def write(path: Path, nwbfile=nwbfile) -> None:
            with NWBHDF5IO(str(path), "w") as io:
                io.write(nwbfile)

        suffix = f"_{ind}" if len(inds) > 1 else ""
        writers.append((f"{stem}{suffix}_motifs.nwb", write))
    return writers
