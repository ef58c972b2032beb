"""Skeleton mapping edits and model export behind the Train widget (no Qt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_vqmap.checkpoint import export_model
from napari_vqmap.napari.skeleton_edit import (
    anchor_choices,
    edit_skeleton,
    parse_anchor,
    region_counts,
    same_mapping,
    save_skeleton,
)
from napari_vqmap.skeletons import get_skeleton, load_skeleton_yaml


def test_edit_regions_and_anchors_renames_and_keeps_the_rest() -> None:
    sk = get_skeleton("vame6")
    edited = edit_skeleton(sk, {"Nose": "other"}, {"centre": "Tailroot", "anterior": ""})
    assert edited.region_of("Nose") == "other" and "Nose" not in edited.regions
    assert edited.region_of("Tailroot") == "tail"
    assert (
        edited.centre == ("Tailroot",)
        and edited.anterior == ()
        and edited.posterior == ("Tailroot",)
    )
    assert edited.name == "vame6_edited" and edited.edges == sk.edges
    assert not same_mapping(edited, sk)
    # editing again does not stack suffixes; an unchanged mapping keeps the name
    assert edit_skeleton(edited, {"Nose": "head"}).name == "vame6_edited"
    assert edit_skeleton(sk, {"Nose": "head"}, {"centre": "Nose, Tailroot"}).name == "vame6"
    assert edit_skeleton(sk, {"Nose": "trunk"}, name="mine").name == "mine"


def test_bad_edits_are_refused() -> None:
    sk = get_skeleton("vame6")
    with pytest.raises(ValueError, match="not a keypoint"):
        edit_skeleton(sk, {"Tail": "tail"})
    with pytest.raises(ValueError, match="unknown region"):
        edit_skeleton(sk, {"Nose": "snout"})
    with pytest.raises(ValueError, match="unknown anchor"):
        edit_skeleton(sk, anchors={"middle": "Nose"})
    with pytest.raises(ValueError, match="not keypoints"):
        edit_skeleton(sk, anchors={"centre": "Nose, Tail"})


def test_anchor_text_round_trip_and_choices() -> None:
    sk = get_skeleton("vame6")
    assert parse_anchor("Nose, Tailroot") == ("Nose", "Tailroot") and parse_anchor("") == ()
    choices = anchor_choices(sk, "centre")
    assert choices[:2] == ["", "Nose, Tailroot"] and choices[2:] == list(sk.keypoints)
    assert anchor_choices(sk, "anterior") == ["", *sk.keypoints]  # single: no extra entry
    assert region_counts(sk) == {
        "head": 1,
        "tail": 1,
        "forelimb_left": 1,
        "forelimb_right": 1,
        "hindlimb_left": 1,
        "hindlimb_right": 1,
    }


def test_saved_skeleton_loads_back(tmp_path: Path) -> None:
    edited = edit_skeleton(get_skeleton("subtle"), {"tip": "other"}, {"posterior": "anus, tip"})
    path = save_skeleton(edited, tmp_path / "mine")
    assert path.name == "mine.yaml"
    assert load_skeleton_yaml(path) == edited == get_skeleton(path)


def test_export_model_copies_all_or_nothing(tmp_path: Path) -> None:
    src = tmp_path / "model"
    src.mkdir()
    for name in ("model.safetensors", "config.json", "history.csv"):
        (src / name).write_text(name)
    dest = export_model(src, tmp_path / "out" / "copy")
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in src.iterdir())
    assert (dest / "config.json").read_text() == "config.json"
    with pytest.raises(FileExistsError):
        export_model(src, dest)  # not empty
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_model(src, empty) == empty and (empty / "model.safetensors").is_file()
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        export_model(tmp_path / "out", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["copy"]  # no temporary left
