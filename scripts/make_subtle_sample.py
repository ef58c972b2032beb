"""Write the bundled SUBTLE sample (``napari_vqmap/data/subtle``) from the shared data folder.

The human-labelled session ``y5a5/young_8301`` (held out of the bundled model's training) is
stored as a compressed float32 netCDF that ``load_poses`` reads, with its annotation csv
copied unchanged next to it.

    python scripts/make_subtle_sample.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("NAPARI_VQMAP_DATA", REPO.parent / "shared" / "data"))
OUT = REPO / "src" / "napari_vqmap" / "data" / "subtle"
SESSION = "young_8301"


def main(argv: list[str] | None = None) -> int:
    """Convert the session and copy its labels."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    args = parser.parse_args(argv)

    from napari_vqmap.io import load_poses
    from napari_vqmap.io.atomic import atomic_write
    from napari_vqmap.io.netcdf import movement_dims

    root = args.data / "subtle-avatar-3d" / "y5a5"
    ds = load_poses(root / "coords" / f"{SESSION}.csv", skeleton="subtle", fps=20)
    ds = ds.drop_vars("confidence")  # all 1 (no missing points); the reader fills it back
    ds.attrs["source_file"] = f"subtle-avatar-3d/y5a5/coords/{SESSION}.csv"
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "skeleton_spec"}
    ds.attrs["skeleton"] = repr([list(e) for e in ds.attrs["skeleton"]]).replace("'", '"')
    ds = ds.rename(movement_dims())
    packed = {"zlib": True, "complevel": 9, "shuffle": True}
    encoding = {"position": {**packed, "dtype": "float32"}, "time": packed, "frame": packed}
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{SESSION}.nc"
    atomic_write(target, lambda p: ds.to_netcdf(p, engine="netcdf4", encoding=encoding))
    shutil.copyfile(root / "annots" / f"{SESSION}.csv", OUT / f"{SESSION}_labels.csv")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB) and its labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
