"""Train the pretrained model bundled with napari-vqmap (``napari_vqmap/data/model``).

One model, trained jointly on five skeletons from the shared data folder (see
``src/napari_vqmap/data/model/NOTICE.md`` for sources and licences):

* SUBTLE / AVATAR 3D mouse, 9 keypoints: the nine unlabelled y3a6 sessions (the labelled
  ``y5a5/young_8301`` is held out for evaluation);
* DANNCE markerless mouse 3D, 22 keypoints (1000 frames at 100 fps);
* VAME test mouse 2D, 6 keypoints (DeepLabCut csv, 25 fps);
* DeepOF test mice 2D, 14 keypoints (DeepLabCut h5; frame rate not stated, taken as 25);
* DLCAnalyzer elevated plus maze 2D, the 13 mouse keypoints (its 12 maze points are
  arena points, left out; 25 fps).

Everything is resampled to 20 fps (the lowest rate). In the 2D DeepLabCut files, points
with a likelihood under 0.9 or further than 3 body lengths from the body centre (tracking
jumps) are set missing first; the 3D data are used as they are.

Not used: sleap-tests (academic-only licence), and the DeepLabCut open-field and Lightning
Pose mirror-mouse examples, which are sparse labelled frames rather than continuous tracks
(no motion to learn from).

    python scripts/train_bundled_model.py                 # ~20 min on 2 CPU cores
    python scripts/train_bundled_model.py --steps 200 --out /tmp/m   # a quick try

Only ``model.safetensors``, ``config.json`` and ``history.csv`` are kept in ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("NAPARI_VQMAP_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OUT = REPO / "src" / "napari_vqmap" / "data" / "model"
KEEP = ("model.safetensors", "config.json", "history.csv")


def clean(ds, min_conf: float = 0.9, max_reach: float = 3.0):
    """Copy of ``ds`` with unlikely points (confidence under ``min_conf``) and tracking jumps
    (further than ``max_reach`` body lengths from the centre anchor) set to NaN."""
    import warnings

    import numpy as np

    from napari_vqmap.io import skeleton_of

    skel = skeleton_of(ds)
    dims = ("time", "space", "keypoint", "individual")
    pos = ds["position"].transpose(*dims).values.astype(np.float64)
    conf = ds["confidence"].transpose("time", "keypoint", "individual").values
    pos[np.broadcast_to((conf < min_conf)[:, None], pos.shape)] = np.nan
    names = list(skel.keypoints)

    def anchor(keys: tuple[str, ...]) -> np.ndarray:
        return np.nanmean(pos[:, :, [names.index(k) for k in keys]], axis=2, keepdims=True)

    with warnings.catch_warnings():  # frames without an anchor give NaN, as intended
        warnings.simplefilter("ignore", RuntimeWarning)
        body = np.nanmedian(np.linalg.norm(anchor(skel.anterior) - anchor(skel.posterior), axis=1))
        reach = np.linalg.norm(pos - anchor(skel.centre), axis=1)
    pos[np.broadcast_to((reach > max_reach * body)[:, None], pos.shape)] = np.nan
    out = ds.copy()
    out["position"] = (dims, pos.astype(np.float32))
    return out


def bundled_datasets(data: Path) -> dict[str, object]:
    """The training inputs as named pose datasets (name -> ``xarray.Dataset``)."""
    from napari_vqmap.io import attach_skeleton, load_poses, skeleton_of, without_arena

    subtle = sorted((data / "subtle-avatar-3d" / "y3a6" / "coords").glob("*.csv"))
    if not subtle:
        raise SystemExit(f"no SUBTLE sessions under {data / 'subtle-avatar-3d'}")
    out: dict[str, object] = {
        f"subtle/{p.stem}": load_poses(p, skeleton="subtle", fps=20) for p in subtle
    }
    out["dannce/markerless_mouse_1"] = load_poses(
        data / "dannce-markerless-mouse" / "save_data_AVG_torch_nearest.mat"
    )
    out["vame/cropped_video"] = clean(
        load_poses(data / "vame-tests" / "cropped_video.csv", fps=25)
    )
    out["deepof/square_arena"] = clean(
        load_poses(data / "deepof-tests" / "testDLC_square_arena.h5", fps=25)
    )
    # Same 14 keypoints in another order: reorder, so both share one decoder head.
    table = load_poses(data / "deepof-tests" / "testDLC_h5_table.h5", fps=25)
    arena = skeleton_of(out["deepof/square_arena"])
    table = attach_skeleton(table.sel(keypoint=list(arena.keypoints)), arena)
    out["deepof/h5_table"] = clean(table)
    epm = load_poses(
        data / "dlcanalyzer-epm" / "EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv", fps=25
    )
    out["dlcanalyzer/epm"] = clean(without_arena(epm))  # the 13 mouse points, no maze
    return out


def main(argv: list[str] | None = None) -> int:
    """Train and write the bundled model folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model folder")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--work", type=Path, help="training folder with the resumable state (default: temporary)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --work")
    args = parser.parse_args(argv)
    if args.resume and args.work is None:
        parser.error("--resume needs --work")

    import shutil

    import torch

    from napari_vqmap.training import TrainConfig, train

    torch.set_num_threads(args.threads)
    datasets = bundled_datasets(args.data)
    config = TrainConfig(steps=args.steps, seed=args.seed, device="cpu", checkpoint_every=500)
    work = args.work or Path(tempfile.mkdtemp(prefix="vqmap_bundled_"))
    start = time.perf_counter()
    train(list(datasets.values()), work, config, resume=args.resume)
    seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    for name in KEEP:  # the resumable training state stays behind
        tmp = args.out / f".{name}.tmp"
        shutil.copyfile(work / name, tmp)
        os.replace(tmp, args.out / name)
    if args.work is None:
        shutil.rmtree(work)
    print(
        f"trained {args.steps} steps on {len(datasets)} recordings in {seconds:.0f} s "
        f"({args.threads} threads); wrote {', '.join(KEEP)} to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
