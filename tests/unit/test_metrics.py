"""Label-agreement metrics on small hand-computed cases; label file reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_vqmap.analysis.metrics import (
    ari,
    completeness,
    contingency,
    homogeneity,
    hungarian_agreement,
    majority_scores,
    nmi,
    purity,
    read_labels,
    scores,
)
from napari_vqmap.validators import PoseFileError

LABELS = np.array(["a", "a", "b", "b", "c", "c"])


def test_perfect_and_permuted_labelling_score_one() -> None:
    for clusters in ([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]):
        result = scores(LABELS, np.array(clusters))
        assert all(v == pytest.approx(1.0) for v in result.values()), result


def test_hand_computed_values() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    clusters = np.array([0, 0, 1, 1, 2, 2])
    # contingency [[2, 1, 0], [0, 1, 2]]
    _, _, table = contingency(labels, clusters)
    assert table.tolist() == [[2, 1, 0], [0, 1, 2]]
    assert purity(labels, clusters) == pytest.approx(5 / 6)  # cluster 1 is a tie
    # sum C(n_ij,2)=2; rows 3+3=6; cols 1+1+1=3; expected 6*3/15=1.2; max 4.5
    assert ari(labels, clusters) == pytest.approx((2 - 1.2) / (4.5 - 1.2))
    mi = 2 * (2 / 6) * np.log(2)  # p_ij log(p_ij / (p_i p_j)); the 1-cells add log 1 = 0
    h_l, h_c = np.log(2), np.log(3)
    assert homogeneity(labels, clusters) == pytest.approx(mi / h_l)
    assert completeness(labels, clusters) == pytest.approx(mi / h_c)
    assert nmi(labels, clusters) == pytest.approx(mi / ((h_l + h_c) / 2))
    assert hungarian_agreement(labels, clusters) == pytest.approx(4 / 6)
    maj = majority_scores(labels, clusters)
    assert maj["accuracy"] == pytest.approx(5 / 6)
    assert maj["macro_f1"] == pytest.approx((6 / 7 + 4 / 5) / 2)


def test_single_cluster_is_homogeneous_only_if_one_label() -> None:
    assert nmi(LABELS, np.zeros(6)) == 0.0
    assert completeness(LABELS, np.zeros(6)) == 1.0
    assert homogeneity(LABELS, np.zeros(6)) == pytest.approx(0.0)


def test_independent_labellings_score_near_zero() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(4, size=20000), rng.integers(6, size=20000)
    assert abs(nmi(a, b)) < 0.01 and abs(ari(a, b)) < 0.01


def test_read_labels_formats(tmp_path: Path) -> None:
    subtle = tmp_path / "subtle.csv"
    subtle.write_text(",0\n0.0,walking\n0.05,na\n0.1,rearing\n")
    assert read_labels(subtle).tolist() == ["walking", "na", "rearing"]
    plain = tmp_path / "plain.csv"
    plain.write_text("label\nx\ny\n")
    assert read_labels(plain).tolist() == ["x", "y"]
    framed = tmp_path / "framed.csv"
    framed.write_text("frame,label\n10,b\n2,a\n")
    assert read_labels(framed).tolist() == ["a", "b"]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(PoseFileError, match="bad.csv"):
        read_labels(bad)
