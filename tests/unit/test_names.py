"""Motif names files, motif colours and decoded prototypes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_vqmap.colours import motif_colours, motif_palette
from napari_vqmap.model import VQMAP, ModelConfig
from napari_vqmap.names import NAMES_FILE, MotifNames
from napari_vqmap.prototypes import prototypes
from napari_vqmap.validators import PoseFileError


def test_default_names_and_merges() -> None:
    names = MotifNames(8, 16)
    names.types[1] = "rear"
    names.rename(3, "sniff")
    names.merge_into(4, 3)
    shown = names.names(np.array([-1, 3, 4, 5, 17]))
    assert list(shown) == ["", "sniff", "sniff", "T0.5", "rear.1"]
    assert list(names.apply(np.array([-1, 4, 5]))) == [-1, 3, 5]
    names.merge_into(4, 4)  # un-merge
    assert names.name(4) == "T0.4"
    with pytest.raises(ValueError, match="not in 0..127"):
        names.rename(128, "x")


def test_merge_cycle_is_refused() -> None:
    names = MotifNames(2, 2)
    names.merge_into(0, 1)
    with pytest.raises(ValueError, match="already merged"):
        names.merge_into(1, 0)


def test_names_file_round_trip_and_errors(tmp_path: Path) -> None:
    names = MotifNames(8, 16, types={2: "groom"}, motifs={5: "walk"}, merge={6: 5})
    path = names.save(tmp_path)
    assert path == tmp_path / NAMES_FILE
    assert MotifNames.for_results(tmp_path, 8, 16) == names
    assert MotifNames.for_results(tmp_path / "none", 8, 16) == MotifNames(8, 16)
    with pytest.raises(PoseFileError, match="4 x 4"):
        MotifNames.for_results(tmp_path, 4, 4)
    path.write_text("n_types: 8\nn_subtypes: 16\nmerge: {1: 500}\n")
    with pytest.raises(PoseFileError, match="not a valid motif names file"):
        MotifNames.load(path)
    path.write_text("[unclosed")
    with pytest.raises(PoseFileError, match=str(path.name)):
        MotifNames.load(path)


def test_motif_colours_shade_types() -> None:
    lut = motif_palette(8, 16)
    assert lut.shape == (129, 4)
    colours = motif_colours(np.array([[0, 15], [16, -1]]), 8, 16)
    assert colours.shape == (2, 2, 4)
    assert colours[0, 0, :3].sum() > colours[0, 1, :3].sum()  # shades go light -> dark
    assert not np.allclose(colours[0, 0], colours[1, 0])  # another type, another hue
    np.testing.assert_allclose(colours[1, 1], lut[-1])  # -1 is grey


def test_prototypes_decode_every_motif() -> None:
    cfg = ModelConfig(window=16, hidden=16, token_dim=8, n_heads=2, n_types=2, n_subtypes=3)
    model = VQMAP(cfg, {"subtle": (9, 3)})
    poses = prototypes(model, "subtle")
    assert poses.shape == (6, 16, 9, 3)
    assert np.isfinite(poses).all()
    assert not np.allclose(poses[0], poses[1])
    with pytest.raises(KeyError, match="no head 'fly'"):
        prototypes(model, "fly")


def test_codebook_from_ids() -> None:
    from napari_vqmap.names import codebook_from_ids

    motif = np.array([3, 21, 40])  # 8 x 16 codebook: (0, 3), (1, 5), (2, 8)
    assert codebook_from_ids(motif, motif // 16, motif % 16) == (3, 16)
    assert codebook_from_ids([3, 5], [0, 0], [3, 5]) == (1, 6)  # type 0 only: a guess
    # unencoded frames (-1) are ignored; nothing encoded is the smallest codebook
    assert codebook_from_ids([-1, 3, 21], [-1, 0, 1], [-1, 3, 5]) == (2, 16)
    assert codebook_from_ids([-1, -1], [-1, -1], [-1, -1]) == (1, 1)
