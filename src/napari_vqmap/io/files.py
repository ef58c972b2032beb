"""Files given on a command line, and their fingerprints."""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from napari_vqmap.io import POSE_SUFFIXES
from napari_vqmap.validators import PoseFileError


def expand_inputs(items: Sequence[str | Path | xr.Dataset]) -> list[Path | xr.Dataset]:
    """Pose files from paths, folders (their pose files) and glob patterns; datasets pass."""
    out: list[Path | xr.Dataset] = []
    for item in items:
        if isinstance(item, xr.Dataset):
            out.append(item)
            continue
        text = str(item)
        if glob.has_magic(text):
            paths = [Path(p) for p in sorted(glob.glob(text))]
        elif Path(text).is_dir():
            paths = sorted(p for p in Path(text).iterdir() if p.suffix.lower() in POSE_SUFFIXES)
        else:
            paths = [Path(text)]
        if not paths:
            raise PoseFileError(text, "no pose files found")
        out.extend(paths)
    return out


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PoseFileError(folder, f"cannot create the output folder: {err}") from err
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
    except OSError as err:
        raise PoseFileError(folder, f"output folder is not writable: {err}") from err
    os.close(fd)
    os.unlink(probe)
