"""What the model reads of a raw DeepLabCut file (the DLCAnalyzer elevated plus maze): its
arena points (maze corners) are shown but never modelled, its tracking jumps are masked."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from napari_vqmap.checkpoint import load_model
from napari_vqmap.encode import encode
from napari_vqmap.io import attach_skeleton, load_poses, skeleton_of, without_arena
from napari_vqmap.preprocess import PreprocessConfig, preprocess
from napari_vqmap.sample_data import bundled_model_dir
from napari_vqmap.skeletons import ARENA, Skeleton
from napari_vqmap.validators import PoseFileError

EPM = "dlcanalyzer-epm/EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv"
MAZE = ("tl", "tr", "bl", "br", "lt", "lb", "rt", "rb", "ctl", "ctr", "cbl", "cbr")
FLIES = "sleap-tests/centered_pair_predictions.slp"


@pytest.fixture(scope="module")
def epm(data_dir: Path):
    return load_poses(data_dir / EPM, fps=30)


def test_epm_preset_marks_the_maze_and_the_model_reads_the_mouse(epm) -> None:
    assert skeleton_of(epm).arena == MAZE
    body = without_arena(epm)
    assert [str(k) for k in body["keypoint"].values] == list(skeleton_of(epm).body_keypoints)
    assert body.sizes["keypoint"] == 13 and not skeleton_of(body).arena
    assert epm.sizes["keypoint"] == 25  # the file's dataset keeps every point


def test_maze_points_have_no_influence_on_motifs(epm) -> None:
    model, meta = load_model(bundled_model_dir())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bundled model has a head for the 13 mouse points
        motifs = encode(model, epm, meta)["motif"].values
    moved = epm.copy(deep=True)
    moved["position"].loc[{"keypoint": list(MAZE)}] += 1000.0  # a different maze position
    hidden = epm.copy(deep=True)
    hidden["position"].loc[{"keypoint": list(MAZE)}] = np.nan
    assert (motifs >= 0).mean() > 0.5  # frames with most points lost or jumping get -1
    for other in (moved, hidden):
        np.testing.assert_array_equal(encode(model, other, meta)["motif"].values, motifs)


def test_unlisted_static_points_are_found(epm) -> None:
    renamed = {k: f"landmark{i}" for i, k in enumerate(MAZE)}
    names = [renamed.get(str(k), str(k)) for k in epm["keypoint"].values]
    anon = epm.assign_coords(keypoint=names)
    anon.attrs = {k: v for k, v in anon.attrs.items() if not k.startswith("skeleton")}
    with pytest.warns(UserWarning, match="landmark0, .*landmark11 stay within 0.25 body lengths"):
        sk = skeleton_of(attach_skeleton(anon))
    assert sk.name == "guessed" and sk.arena == tuple(renamed.values())
    assert sk.region_of("nose") == "head"


def test_moving_unmapped_points_are_not_arena(data_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        flies = load_poses(data_dir / FLIES)
    sk = skeleton_of(flies)
    assert sk.region_of("wingL") == "other" and not sk.arena  # wings move with the fly


def test_arena_skeleton_rules(epm) -> None:
    keypoints = ("a", "b", "c")
    with pytest.raises(ValueError, match="anterior anchor.*arena points"):
        Skeleton("s", keypoints, regions={"a": ARENA}, anterior=("a",))
    sk = Skeleton("s", keypoints, regions={"a": ARENA, "b": "head"})
    assert sk.arena == ("a",) and sk.body_keypoints == ("b", "c")
    with pytest.raises(ValueError, match="arena points"):
        sk.region_ids()
    assert sk.subset(("b", "c")).region_ids() == [0, 7]
    assert Skeleton.from_dict(sk.to_dict()) == sk
    only_maze = epm.sel(keypoint=list(MAZE))
    only_maze.attrs = dict(epm.attrs)  # attach_skeleton writes to the attrs
    only_maze = attach_skeleton(only_maze, skeleton_of(epm).subset(MAZE))
    with pytest.raises(PoseFileError, match="every keypoint .* is an arena point"):
        without_arena(only_maze)


def test_training_leaves_the_maze_out(epm, tmp_path: Path) -> None:
    from napari_vqmap.training import train
    from tests.tiny import tiny_train_config

    model_dir = train([epm.isel(time=slice(0, 400))], tmp_path / "m", tiny_train_config(steps=2))
    _, meta = load_model(model_dir)
    (head,) = meta["heads"].values()
    assert head["skeleton"]["keypoints"] == list(skeleton_of(epm).body_keypoints)


def test_tracking_jumps_are_masked(epm) -> None:
    body = without_arena(epm)
    kept = preprocess(body, skeleton_of(body), PreprocessConfig(max_reach=None))
    reach = np.linalg.norm(kept.x, axis=-1)
    assert (reach[kept.mask] > 5).mean() > 0.05  # the raw file's jumps
    rec = preprocess(body, skeleton_of(body), PreprocessConfig())  # max_reach 4
    assert (np.linalg.norm(rec.x, axis=-1)[rec.mask] <= 4).all()
    np.testing.assert_array_equal(rec.mask, kept.mask & (reach <= 4))
    assert not np.isnan(rec.x).any() and (rec.x[~rec.mask] == 0).all()
