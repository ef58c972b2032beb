"""Known-value tests of usage, bouts, transitions and figures on small hand-made
(synthetic) motif tables: the numbers are worked out by hand in the comments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from napari_vqmap import analysis
from napari_vqmap.analysis import figures
from napari_vqmap.names import MotifNames
from napari_vqmap.skeletons import get_skeleton

N_TYPES, N_SUB = 2, 2  # motifs 0..3; motif = type * 2 + subtype


def make_table(tracks: dict[str, list[int]], names: MotifNames | None = None) -> pd.DataFrame:
    """A per-frame motifs table like ``<stem>_motifs.csv`` (synthetic)."""
    names = names or MotifNames(N_TYPES, N_SUB)
    rows = []
    for ind, motifs in tracks.items():
        m = np.asarray(motifs)
        rows.append(
            pd.DataFrame(
                {
                    "frame": np.arange(len(m)),
                    "time": np.arange(len(m)) / 10,
                    "individual": ind,
                    "motif": m,
                    "type": np.where(m >= 0, m // N_SUB, -1),
                    "subtype": np.where(m >= 0, m % N_SUB, -1),
                    "name": names.names(m),
                    "confidence": 1.0,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# a: bouts m0 [0,2), m1 [2,5), gap, m1 [7,8), m2 [8,10); b: m3 [0,4). 12 encoded frames.
TRACKS = {"a": [0, 0, 1, 1, 1, -1, -1, 1, 2, 2], "b": [3, 3, 3, 3]}


def test_bouts_break_on_changes_and_gaps() -> None:
    b = analysis.bouts(make_table(TRACKS))
    assert b[["individual", "start", "stop", "duration", "motif"]].values.tolist() == [
        ["a", 0, 2, 2, 0],
        ["a", 2, 5, 3, 1],
        ["a", 7, 8, 1, 1],
        ["a", 8, 10, 2, 2],
        ["b", 0, 4, 4, 3],
    ]
    assert b["gap_before"].tolist() == [True, False, True, False, True]


def test_motif_stats_known_values() -> None:
    stats = analysis.motif_stats(make_table(TRACKS), MotifNames(N_TYPES, N_SUB), fps=10)
    assert stats["motif"].tolist() == [0, 1, 2, 3]
    assert stats["type"].tolist() == [0, 0, 1, 1]
    assert stats["subtype"].tolist() == [0, 1, 0, 1]
    assert stats["name"].tolist() == ["T0.0", "T0.1", "T1.0", "T1.1"]
    assert stats["frames"].tolist() == [2, 4, 2, 4]
    np.testing.assert_allclose(stats["usage"], [2 / 12, 4 / 12, 2 / 12, 4 / 12])
    assert stats["n_bouts"].tolist() == [1, 2, 1, 1]
    np.testing.assert_allclose(stats["mean_duration"], [2, 2, 2, 4])
    np.testing.assert_allclose(stats["median_duration_s"], [0.2, 0.2, 0.2, 0.4])
    np.testing.assert_allclose(stats["time_s"], [0.2, 0.4, 0.2, 0.4])


def test_motif_stats_without_names_lists_only_used_motifs() -> None:
    stats = analysis.motif_stats(make_table({"a": [3, 3, 0]}))
    assert stats["motif"].tolist() == [0, 3]
    assert stats["type"].tolist() == [0, 1] and stats["subtype"].tolist() == [0, 1]
    assert "mean_duration_s" not in stats.columns


def test_merges_are_applied_before_counting() -> None:
    names = MotifNames(N_TYPES, N_SUB)
    names.merge_into(2, 1)
    names.rename(1, "walk")
    stats = analysis.motif_stats(make_table(TRACKS), names)
    # motif 2 disappears; a becomes [0,0,1,1,1,-,-,1,1,1]: bouts of 1 are [2,5) and [7,10)
    assert stats["motif"].tolist() == [0, 1, 3]
    row = stats.set_index("motif").loc[1]
    assert (row["name"], row["frames"], row["n_bouts"], row["mean_duration"]) == (
        "walk", 6, 2, 3.0
    )  # fmt: skip


def test_type_usage_known_values() -> None:
    names = MotifNames(N_TYPES, N_SUB, types={1: "rear"})
    usage = analysis.type_usage(make_table(TRACKS), names)
    # types a: [0,0,0,0,0,-,-,0,1,1] -> bouts T0 x2 (5, 1), T1 (2); b: T1 (4)
    assert usage["name"].tolist() == ["T0", "rear"]
    assert usage["frames"].tolist() == [6, 6] and usage["n_bouts"].tolist() == [2, 2]
    np.testing.assert_allclose(usage["usage"], [0.5, 0.5])
    np.testing.assert_allclose(usage["mean_duration"], [3.0, 3.0])


def test_transitions_skip_gaps_and_tracks() -> None:
    table = make_table(TRACKS)
    counts = analysis.transition_counts(table, 4)
    expected = np.zeros((4, 4), int)
    expected[0, 1] = expected[1, 2] = 1  # 1 -> 1 across the gap and a -> b do not count
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_allclose(analysis.transition_matrix(table, 4), expected)
    by_type = analysis.transition_matrix(table, N_TYPES, level="type")
    np.testing.assert_allclose(by_type, [[0, 1], [0, 0]])
    assert np.trace(analysis.transition_matrix(make_table({"a": [0, 1, 0, 1, 1]}), 4)) == 0
    np.testing.assert_allclose(
        analysis.transition_matrix(make_table({"a": [0, 1, 0, 1, 1, 2]}), 4)[1], [0.5, 0, 0.5, 0]
    )
    with pytest.raises(ValueError, match="does not fit"):
        analysis.transition_matrix(table, 2)


def test_all_unencoded_gives_zero_usage() -> None:
    table = make_table({"a": [-1] * 5})
    stats = analysis.motif_stats(table, MotifNames(N_TYPES, N_SUB), fps=10)
    assert len(stats) == 4 and (stats["frames"] == 0).all() and (stats["usage"] == 0).all()
    assert stats["mean_duration"].isna().all()
    assert analysis.bouts(table).empty
    assert not analysis.transition_matrix(table, 4).any()
    assert analysis.motif_stats(table).empty


def test_single_bout() -> None:
    table = make_table({"a": [2] * 7})
    stats = analysis.motif_stats(table, MotifNames(N_TYPES, N_SUB))
    assert stats.set_index("motif").loc[2, ["frames", "n_bouts", "median_duration"]].tolist() == [
        7,
        1,
        7,
    ]
    assert stats["usage"].sum() == 1.0
    assert not analysis.transition_counts(table, 4).any()


def test_figures_write_png_and_svg(tmp_path: Path) -> None:
    names = MotifNames(N_TYPES, N_SUB, types={0: "walk"})
    table = make_table(TRACKS, names)
    stats = analysis.motif_stats(table, names)
    fig = figures.plot_usage(stats, tmp_path / "usage.png")
    assert isinstance(fig, Figure)
    figures.plot_usage(analysis.type_usage(table, names), tmp_path / "types.svg")
    figures.plot_transitions(analysis.transition_matrix(table, 4), tmp_path / "tr.png")
    b = analysis.bouts(table).assign(type=lambda d: d["motif"] // N_SUB)
    figures.plot_durations(b, tmp_path / "durations.svg", fps=10, names=names)
    sk = get_skeleton("subtle")
    poses = np.random.default_rng(0).normal(size=(4, 8, len(sk.keypoints), 3))
    figures.plot_prototypes(poses, sk, names, tmp_path / "proto.png", usage=stats["usage"].values)
    assert (tmp_path / "usage.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "types.svg").read_bytes()[:1000]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "durations.svg", "proto.png", "tr.png", "types.svg", "usage.png"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="format"):
        figures.save_figure(fig, tmp_path / "usage.jpg2")


def test_no_qt_or_napari_imported() -> None:
    code = (
        "import sys, napari_vqmap.analysis, napari_vqmap.analysis.figures\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'matplotlib.pyplot')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
