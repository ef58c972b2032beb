"""Skeleton presets (checked against the real files' names), YAML round trip, and guesses."""

from __future__ import annotations

import json

import h5py
import pandas as pd
import pytest
import scipy.io

from napari_vqmap.skeletons import (
    SKELETON_REGIONS,
    Skeleton,
    get_skeleton,
    guess_skeleton,
    list_skeletons,
    load_skeleton_yaml,
    match_skeleton,
)
from napari_vqmap.validators import PoseFileError

PRESETS = list_skeletons()


def test_expected_presets_exist():
    expected = {
        "subtle", "dannce_mouse22", "rat7m", "deepof14", "dlc_openfield", "dlc_reaching",
        "dlcanalyzer_epm", "vame6", "lp_mirror_mouse", "sleap_anipose_mouse", "fly24", "fly13",
        "fly2", "robot3",
    }  # fmt: skip
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_valid(name):
    sk = get_skeleton(name)
    assert sk.name == name
    assert sk.dims in (2, 3)
    assert set(sk.regions) == set(sk.keypoints)
    assert set(sk.regions.values()) <= set(SKELETON_REGIONS)
    assert sk.centre, "every preset needs a centre anchor"
    assert sk.description
    assert len(set(map(frozenset, sk.edges))) == len(sk.edges), "duplicate edge"


@pytest.mark.parametrize("name", PRESETS)
def test_yaml_round_trip(name, tmp_path):
    sk = get_skeleton(name)
    back = load_skeleton_yaml(sk.to_yaml(tmp_path / f"{name}.yaml"))
    assert back == sk
    assert get_skeleton(tmp_path / f"{name}.yaml") == sk


@pytest.mark.parametrize("name", PRESETS)
def test_exact_match_picks_the_preset(name):
    keypoints = list(reversed(get_skeleton(name).keypoints))
    assert match_skeleton(keypoints).name == name


def test_subset_match_prefers_smallest_preset():
    assert match_skeleton(["head", "thorax", "abdomen"]).name == "fly13"
    assert match_skeleton(["not", "a", "preset"]) is None


def test_unknown_preset():
    with pytest.raises(PoseFileError, match="unknown skeleton 'nope'"):
        get_skeleton("nope")


def test_bad_region_and_dims():
    with pytest.raises(ValueError, match="unknown region"):
        Skeleton("x", ("a",), regions={"a": "wing"})
    with pytest.raises(ValueError, match="dims"):
        Skeleton("x", ("a",), dims=4)


def _dlc_names(path):
    header = pd.read_csv(path, header=[0, 1, 2], index_col=0, nrows=1)
    return list(dict.fromkeys(header.columns.get_level_values(1)))


def _slp_names(path):
    with h5py.File(path) as f:
        meta = json.loads(f["metadata"].attrs["json"])
    nodes = [n["name"] for n in meta["nodes"]]
    return [nodes[n["id"]] for n in meta["skeletons"][0]["nodes"]]


def _analysis_names(path):
    with h5py.File(path) as f:
        return [n.decode() for n in f["node_names"][()]]


def _mat_names(path):
    return [str(n[0]) for n in scipy.io.loadmat(path)["joint_names"][0]]


def _npz_names(path):
    import numpy as np

    return [str(n) for n in np.load(path)["keypoint_names"]]


FILE_NAMES = [
    ("dannce_mouse22", "dannce-markerless-mouse/mouse22_skeleton.mat", _mat_names),
    ("rat7m", "gimbal-rat7m-mock/mock_data.npz", _npz_names),
    ("deepof14", "deepof-tests/testDLC_sleap.analysis.h5", _analysis_names),
    ("deepof14", "deepof-tests/testDLC_csv_table.csv", _dlc_names),
    (
        "dlc_openfield",
        "deeplabcut-examples/openfield-Pranav-2018-10-30/labeled-data/m4s1/CollectedData_Pranav.csv",
        _dlc_names,
    ),
    (
        "dlc_reaching",
        "deeplabcut-examples/Reaching-Mackenzie-2018-08-30/labeled-data/reachingvideo1/"
        "CollectedData_Mackenzie.csv",
        _dlc_names,
    ),
    (
        "dlcanalyzer_epm",
        "dlcanalyzer-epm/EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv",
        _dlc_names,
    ),
    ("vame6", "vame-tests/cropped_video.csv", _dlc_names),
    ("lp_mirror_mouse", "lightning-pose-mirror-mouse/CollectedData.csv", _dlc_names),
    (
        "sleap_anipose_mouse",
        "sleap-anipose-minimal-session/top/minimal_top_proofread.analysis.h5",
        _analysis_names,
    ),
    ("fly24", "sleap-tests/centered_pair_predictions.slp", _slp_names),
    ("fly13", "sleap-tests/clip.slp", _slp_names),
    ("fly2", "sleap-tests/clip.predictions.slp", _slp_names),
    ("robot3", "sleap-tests/small_robot.000_small_robot_3_frame.analysis.h5", _analysis_names),
]


@pytest.mark.parametrize(("preset", "rel", "read"), FILE_NAMES)
def test_preset_names_match_real_files(data_dir, preset, rel, read):
    names = read(data_dir / rel)
    assert set(names) == set(get_skeleton(preset).keypoints)
    assert match_skeleton(names).name == preset


def test_ordered_presets_follow_file_order(data_dir):
    assert list(get_skeleton("dannce_mouse22").keypoints) == _mat_names(
        data_dir / "dannce-markerless-mouse/mouse22_skeleton.mat"
    )
    assert list(get_skeleton("deepof14").keypoints) == _analysis_names(
        data_dir / "deepof-tests/testDLC_sleap.analysis.h5"
    )


def test_guess_dlc_openfield_and_deepof():
    sk = guess_skeleton(["snout", "leftear", "rightear", "tailbase"])
    assert sk.regions == {"snout": "head", "leftear": "head", "rightear": "head",
                          "tailbase": "tail"}  # fmt: skip
    assert sk.anterior == ("snout",) and sk.posterior == ("tailbase",)
    deepof = get_skeleton("deepof14")
    guessed = guess_skeleton(deepof.keypoints)
    assert guessed.regions == deepof.regions
    assert guessed.centre == ("Spine_1", "Spine_2", "Center")
    assert guessed.posterior == ("Tail_base",)


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("ElbowL", "forelimb_left"),
        ("earl", "head"),
        ("hipr", "hindlimb_right"),
        ("Left_ear", "head"),
        ("paw1LH_top", "hindlimb_left"),
        ("paw3RF_bot", "forelimb_right"),
        ("Forehand-Left", "forelimb_left"),
        ("Hindhand-Right", "hindlimb_right"),
        ("rfoot", "hindlimb_right"),
        ("lhand", "forelimb_left"),
        ("Shoulder_right", "forelimb_right"),
        ("forelegL1", "forelimb_left"),
        ("Tail(base)", "tail"),
        ("bodycentre", "trunk"),
        ("Hand", "other"),
        ("rear", "other"),
        ("obs_top", "other"),
    ],
)
def test_guess_regions(name, region):
    assert guess_skeleton([name]).regions[name] == region


@pytest.mark.parametrize("name", PRESETS)
def test_guess_gives_valid_connected_edges(name):
    keypoints = get_skeleton(name).keypoints
    sk = guess_skeleton(keypoints)
    body = {k for k in keypoints if sk.regions[k] != "other"}
    linked = {k for e in sk.edges for k in e}
    assert body <= linked or len(body) < 2
    assert len(sk.edges) <= max(len(keypoints) - 1, 0), "a guess is a tree, not a mesh"


def test_docs_yaml_example_loads(tmp_path):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "skeletons.md"
    example = re.search(r"```yaml\n(.*?)```", doc.read_text(), re.S).group(1)
    (tmp_path / "my_mouse.yaml").write_text(example)
    sk = load_skeleton_yaml(tmp_path / "my_mouse.yaml")
    assert sk.name == "my_mouse" and sk.region_of("neck") == "trunk" and sk.dims == 2
