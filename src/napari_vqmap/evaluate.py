"""Agreement between motif encodings and per-frame labels (or another encoding)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from napari_vqmap.io.atomic import atomic_write, atomic_write_text
from napari_vqmap.validators import PoseFileError


def contingency(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes of ``a``, classes of ``b``, counts[i, j] of frames with a=i and b=j)."""
    ua, ia = np.unique(np.asarray(a), return_inverse=True)
    ub, ib = np.unique(np.asarray(b), return_inverse=True)
    table = np.zeros((len(ua), len(ub)), np.int64)
    np.add.at(table, (ia.ravel(), ib.ravel()), 1)
    return ua, ub, table


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _mutual_info(table: np.ndarray) -> float:
    n = table.sum()
    nz = table > 0
    outer = np.outer(table.sum(1), table.sum(0))
    return float((table[nz] / n * np.log(table[nz] * n / outer[nz])).sum())


def homogeneity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """1 when every cluster holds frames of a single label."""
    table = contingency(labels, clusters)[2]
    h = _entropy(table.sum(1))
    return 1.0 if h == 0 else _mutual_info(table) / h


def completeness(labels: np.ndarray, clusters: np.ndarray) -> float:
    """1 when every label's frames fall in a single cluster."""
    return homogeneity(clusters, labels)


def nmi(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Normalised mutual information (arithmetic-mean normalisation)."""
    table = contingency(labels, clusters)[2]
    ha, hb = _entropy(table.sum(1)), _entropy(table.sum(0))
    if ha == 0 or hb == 0:
        return 1.0 if ha == hb else 0.0
    return _mutual_info(table) / ((ha + hb) / 2)


def ari(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Adjusted Rand index."""
    table = contingency(labels, clusters)[2]

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / pairs(np.array([table.sum()]))
    top = (rows + cols) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Fraction of frames whose label is their cluster's majority label."""
    table = contingency(labels, clusters)[2]
    return float(table.max(axis=0).sum() / table.sum())


def majority_mapping(labels: np.ndarray, clusters: np.ndarray) -> dict[Any, Any]:
    """Each cluster mapped to its most frequent label."""
    ul, uc, table = contingency(labels, clusters)
    return {c.item(): ul[table[:, j].argmax()].item() for j, c in enumerate(uc)}


def majority_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """Accuracy and macro F1 of the clusters after mapping each to its majority label."""
    mapping = majority_mapping(labels, clusters)
    labels = np.asarray(labels)
    pred = np.array([mapping[c.item()] for c in np.asarray(clusters)])
    f1 = []
    for lab in np.unique(labels):
        tp = np.sum((pred == lab) & (labels == lab))
        denom = np.sum(pred == lab) + np.sum(labels == lab)
        f1.append(2 * tp / denom if denom else 0.0)
    return {"accuracy": float(np.mean(pred == labels)), "macro_f1": float(np.mean(f1))}


def hungarian_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of frames that agree under the best one-to-one matching of a's and b's
    classes (for comparing two encodings)."""
    table = contingency(a, b)[2]
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / table.sum())


def scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """All label-agreement metrics of ``clusters`` against ``labels``."""
    return {
        "nmi": nmi(labels, clusters),
        "ari": ari(labels, clusters),
        "homogeneity": homogeneity(labels, clusters),
        "completeness": completeness(labels, clusters),
        "purity": purity(labels, clusters),
        **majority_scores(labels, clusters),
        "hungarian_agreement": hungarian_agreement(labels, clusters),
    }


# ---------------------------------------------------------------- files


def read_labels(path: str | Path) -> np.ndarray:
    """Per-frame labels (str) from a SUBTLE annotation csv (header ``,0``, time index) or a
    plain csv with one label column and an optional ``frame`` column."""
    path = Path(path)
    try:
        df = pd.read_csv(path, keep_default_na=False, dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise PoseFileError(path, f"not a readable labels csv: {e}") from e
    if "frame" in df.columns and df.shape[1] == 2:
        df = df.sort_values("frame", key=lambda s: s.astype(int))
        return df.drop(columns="frame").iloc[:, 0].to_numpy(str)
    if df.shape[1] == 2 and df.columns[0].startswith("Unnamed"):
        return df.iloc[:, 1].to_numpy(str)
    if df.shape[1] == 1:
        return df.iloc[:, 0].to_numpy(str)
    raise PoseFileError(
        path, f"expected one label column (and optionally 'frame'), got {list(df)}"
    )


def read_motifs(results: str | Path) -> tuple[Path, np.ndarray]:
    """(motifs csv, per-frame motif of its first individual) from a ``_motifs.csv`` or an
    encode output folder holding exactly one."""
    path = Path(results)
    if path.is_dir():
        found = sorted(path.glob("*_motifs.csv"))
        if len(found) != 1:
            raise PoseFileError(path, f"expected one *_motifs.csv, found {len(found)}")
        path = found[0]
    try:
        table = pd.read_csv(path)
        first = table[table["individual"] == table["individual"].iloc[0]]
        return path, first.sort_values("frame")["motif"].to_numpy(np.int64)
    except (OSError, KeyError, IndexError, pd.errors.ParserError) as err:
        raise PoseFileError(path, f"not an encode _motifs.csv: {err}") from err


def evaluate_files(
    results: str | Path, labels_path: str | Path, ignore: list[str] | None = None
) -> dict[str, Any]:
    """Metrics of an encoding against a labels csv; ignored labels and unencoded frames
    (motif -1) are left out."""
    motifs_path, motifs = read_motifs(results)
    labels = read_labels(labels_path)
    if len(labels) != len(motifs):
        raise PoseFileError(
            labels_path, f"{len(labels)} labelled frames but {motifs_path.name} has {len(motifs)}"
        )
    keep = ~np.isin(labels, ignore or []) & (motifs >= 0)
    if not keep.any():
        raise PoseFileError(labels_path, "no frames left to score after ignoring labels")
    ul, uc, table = contingency(labels[keep], motifs[keep])
    return {
        "results": str(motifs_path),
        "labels": str(labels_path),
        "frames": int(len(labels)),
        "scored_frames": int(keep.sum()),
        "metrics": scores(labels[keep], motifs[keep]),
        "label_names": ul.tolist(),
        "motifs": uc.tolist(),
        "confusion": table.tolist(),
    }


def plot_confusion(report: dict[str, Any], path: Path) -> Path:
    """Row-normalised label x motif confusion matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = np.asarray(report["confusion"], float)
    table /= np.maximum(table.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(max(4, 0.25 * table.shape[1] + 2), 1 + 0.4 * len(table)))
    image = ax.imshow(table, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(len(table)), report["label_names"])
    ax.set_xticks(range(table.shape[1]), report["motifs"], rotation=90, fontsize=6)
    ax.set_xlabel("motif")
    fig.colorbar(image, label="fraction of label")
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))
    plt.close(fig)
    return path


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap evaluate``."""
    parser.add_argument("results", help="encode output folder or a *_motifs.csv")
    parser.add_argument("--labels", required=True, help="per-frame labels csv")
    parser.add_argument("--ignore", nargs="*", default=[], help="labels to leave out, e.g. na")
    parser.add_argument("--out", help="folder for the JSON and PNG (default: beside results)")


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the metrics; write ``<stem>_evaluate.json`` and ``<stem>_confusion.png``."""
    report = evaluate_files(args.results, args.labels, args.ignore)
    motifs_path = Path(report["results"])
    out = Path(args.out) if args.out else motifs_path.parent
    stem = out / motifs_path.name.removesuffix("_motifs.csv")
    print(f"{report['scored_frames']} of {report['frames']} frames scored")
    for name, value in report["metrics"].items():
        print(f"{name:<20} {value:.4f}")
    atomic_write_text(f"{stem}_evaluate.json", json.dumps(report, indent=2) + "\n")
    plot_confusion(report, Path(f"{stem}_confusion.png"))
    return 0
