"""Writers for encoding results: per-frame and bout CSVs, netCDF and a JSON sidecar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.io.files import file_sha256
from napari_vqmap.names import MotifNames

MOTIF_VARS = ("motif", "motif_type", "motif_subtype", "status")


def codebook_size(result: xr.Dataset) -> tuple[int, int]:
    """(n_types, n_subtypes) of an encoding (:func:`~napari_vqmap.encode.encode`'s attrs)."""
    return int(result.attrs["n_types"]), int(result.attrs["n_subtypes"])


def names_of(result: xr.Dataset, names: MotifNames | None = None) -> MotifNames:
    """``names``, or default names for the codebook size of an encoding."""
    return names if names is not None else MotifNames(*codebook_size(result))


def motifs_table(
    result: xr.Dataset, poses: xr.Dataset, names: MotifNames | None = None
) -> pd.DataFrame:
    """One row per (frame, individual): frame, time, individual, motif, type, subtype, name,
    confidence, and status where the encoding has it (0 encoded, 1 too few keypoints, 2
    encoded with the body placed for want of anchors). Merges in ``names`` are applied to
    the motif ids."""
    names = names_of(result, names)
    n_sub = names.n_subtypes
    n_time = result.sizes["time"]
    frames = poses["frame"].values if "frame" in poses.coords else np.arange(n_time)
    rows = []
    for ind in result["individual"].values:
        r = result.sel(individual=ind)
        motif = names.apply(r["motif"].values)
        rows.append(
            pd.DataFrame(
                {
                    "frame": frames,
                    "time": result["time"].values,
                    "individual": str(ind),
                    "motif": motif,
                    "type": np.where(motif >= 0, motif // n_sub, -1),
                    "subtype": np.where(motif >= 0, motif % n_sub, -1),
                    "name": names.names(motif),
                    "confidence": r["confidence"].values,
                }
                | ({"status": r["status"].values} if "status" in r else {})
            )
        )
    return pd.concat(rows, ignore_index=True)


def status_note(results: list[xr.Dataset]) -> str:
    """A sentence on the frames of ``results`` not encoded plainly (``status`` 1 or 2), or
    "" when there are none."""
    status = [r["status"].values.ravel() for r in results if "status" in r]
    if not status:
        return ""
    counts = np.bincount(np.concatenate(status).astype(np.int64), minlength=3)
    parts = []
    if counts[2]:
        parts.append(f"{counts[2]} frame(s) encoded with the body placed for want of anchors")
    if counts[1]:
        parts.append(f"{counts[1]} frame(s) with too few keypoints left unencoded")
    return ("; ".join(parts) + " (the status column).") if parts else ""


def bouts_table(table: pd.DataFrame) -> pd.DataFrame:
    """Runs of one motif per individual (unencoded frames and frame jumps end a run):
    individual, start, stop (exclusive), duration (frames), motif, name."""
    from napari_vqmap.analysis import bouts

    runs = bouts(table[["frame", "individual", "motif"]])
    name_of = table.drop_duplicates("motif").set_index("motif")["name"]
    runs["name"] = runs["motif"].map(name_of).fillna("")
    return runs[["individual", "start", "stop", "duration", "motif", "name"]]


def write_results(
    result: xr.Dataset,
    poses: xr.Dataset,
    out_dir: Path,
    source: Path,
    model_dir: str | Path,
    settings: dict[str, Any],
    nwb: bool = False,
) -> list[Path]:
    """Write ``<stem>_motifs.csv``, ``_bouts.csv``, ``_motifs.nc`` and ``_encode.json``
    (and with ``nwb``, ``_motifs.nwb`` files: :mod:`napari_vqmap.nwb_export`).

    Everything is computed before the first file is written; each write is atomic, and
    on a failure the files already written are removed.
    """
    from napari_vqmap import __version__
    from napari_vqmap.io import save_poses

    stem = out_dir / source.stem
    n_types, n_subtypes = codebook_size(result)
    names = MotifNames.for_results(out_dir, n_types, n_subtypes)
    table = motifs_table(result, poses, names)
    bouts = bouts_table(table)
    merged = poses.assign({v: result[v] for v in MOTIF_VARS})
    merged["motif_confidence"] = result["confidence"]  # "confidence" is the keypoints'
    # the codebook size travels with the motif variable (pose loaders keep variables' attrs)
    merged["motif"].attrs.update(n_types=n_types, n_subtypes=n_subtypes)
    sidecar = {
        "input": str(source),
        "input_sha256": file_sha256(source) if source.is_file() else None,
        "model": str(model_dir),
        "model_sha256": file_sha256(Path(model_dir) / "model.safetensors"),
        "versions": {"napari-vqmap": __version__, "torch": torch.__version__},
        "settings": settings
        | {k: result.attrs[k] for k in ("window", "context", "model_fps", "fps", "skeleton")}
        | {"n_types": names.n_types, "n_subtypes": names.n_subtypes},
        "frames": int(result.sizes["time"]),
        "unencoded_frames": int((result["motif"].values < 0).sum()),
    }
    writers = [
        (f"{stem}_motifs.csv", lambda p: table.to_csv(p, index=False)),
        (f"{stem}_bouts.csv", lambda p: bouts.to_csv(p, index=False)),
        (f"{stem}_motifs.nc", None),
    ]
    if nwb:
        from napari_vqmap.nwb_export import nwb_writers

        shape = (result.sizes["individual"], result.sizes["time"])
        writers += nwb_writers(result, poses, stem, table["name"].to_numpy().reshape(shape).T)
    writers += [
        (f"{stem}_encode.json", lambda p: p.write_text(json.dumps(sidecar, indent=2) + "\n")),
    ]
    written: list[Path] = []
    try:
        for path, write in writers:
            if write is None:
                save_poses(merged, path)
            else:
                atomic_write(path, write)
            written.append(Path(path))
    except BaseException:
        for path in written:  # leave no partial set of outputs behind
            path.unlink(missing_ok=True)
        raise
    return written
