"""Agreement between motif encodings and per-frame labels (or another encoding)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import linear_sum_assignment

from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.io.labels import read_label_table
from napari_vqmap.io.labels import read_labels as read_labels  # re-exported
from napari_vqmap.names import MotifNames
from napari_vqmap.validators import PoseFileError, to_singular_dims


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


def _motifs_file(path: Path) -> Path:
    if path.is_dir():
        found = sorted(path.glob("*_motifs.csv"))
        if len(found) != 1:
            raise PoseFileError(path, f"expected one *_motifs.csv, found {len(found)}")
        return found[0]
    return path


def read_motif_table(results: str | Path) -> tuple[Path, pd.DataFrame]:
    """(file, table of frame, individual, motif, type) of an encode output: a
    ``_motifs.csv``, a ``_motifs.nc`` or a folder holding exactly one ``_motifs.csv``."""
    path = _motifs_file(Path(results))
    if not path.is_file():
        raise PoseFileError(path, "encode result not found")
    try:
        if path.suffix == ".nc":
            with xr.open_dataset(path) as raw:
                ds = to_singular_dims(raw)
                n_sub = int(ds.attrs.get("n_subtypes", 0)) or None
                motif = ds["motif"].transpose("time", "individual").values
                frames = ds["frame"].values if "frame" in ds.coords else np.arange(len(motif))
                inds = [str(i) for i in ds["individual"].values]
            table = pd.DataFrame(
                {
                    "frame": np.tile(frames, len(inds)),
                    "individual": np.repeat(inds, len(motif)),
                    "motif": motif.T.ravel(),
                }
            )
            table["type"] = table["motif"] // n_sub if n_sub else -1
        else:
            table = pd.read_csv(path, usecols=["frame", "individual", "motif", "type"])
        table["individual"] = table["individual"].astype(str)
        table = table.sort_values(["individual", "frame"], kind="stable")
        return path, table.reset_index(drop=True)
    except (OSError, KeyError, ValueError, pd.errors.ParserError) as err:
        raise PoseFileError(path, f"not an encode result (_motifs.csv or .nc): {err}") from err


def labels_per_individual(
    labels: pd.DataFrame, individuals: Sequence[str], n_frames: int, other: str
) -> dict[str, np.ndarray]:
    """Individual -> per-frame labels (a table from :func:`read_label_table`). Labels without
    an ``individual`` column apply to every individual. A ``ValueError`` names both frame
    counts when they differ (``other`` names the encoding's side, e.g. its file)."""
    by_ind = "individual" in labels and labels["individual"].nunique() > 1
    out = {}
    for ind in individuals:
        rows = labels.loc[labels["individual"].astype(str) == ind] if by_ind else labels
        if by_ind and rows.empty:
            raise ValueError(f"no labels for individual {ind!r}")
        if len(rows) != n_frames:
            who = f" for individual {ind!r}" if by_ind else ""
            raise ValueError(
                f"{len(rows)} labelled frames{who} but {other} has {n_frames}: "
                "the labels do not belong to this recording"
            )
        out[ind] = rows["label"].to_numpy(str)
    return out


def evaluate_result(
    result: xr.Dataset,
    labels: pd.DataFrame,
    ignore: Sequence[str] = (),
    names: MotifNames | None = None,
) -> dict[str, Any]:
    """Scores of an encode result against a labels table, pooled over individuals, for
    motifs (merges in ``names`` applied) and for motif types; ignored labels and unencoded
    frames are left out. Also the label x type and label x motif contingency tables."""
    inds = [str(i) for i in result["individual"].values]
    per_ind = labels_per_individual(labels, inds, result.sizes["time"], "the recording")
    n_sub = int(result.attrs["n_subtypes"])
    motif = result["motif"].transpose("time", "individual").values.astype(np.int64)
    if names is not None:
        motif = names.apply(motif)
    labs, motifs = [], []
    for i, lab in enumerate(per_ind.values()):
        keep = ~np.isin(lab, list(ignore)) & (motif[:, i] >= 0)
        labs.append(lab[keep])
        motifs.append(motif[keep, i])
    lab, mot = np.concatenate(labs), np.concatenate(motifs)
    if not len(lab):
        raise ValueError("no frames left to score (all labels ignored or frames unencoded)")
    types = mot // n_sub
    report: dict[str, Any] = {
        "frames": int(motif.size),
        "scored_frames": int(len(lab)),
        "individuals": list(per_ind),
        "motif": scores(lab, mot),
        "type": scores(lab, types),
    }
    for level, clusters in (("type", types), ("motif", mot)):
        rows, cols, table = contingency(lab, clusters)
        report[f"{level}_confusion"] = (rows.tolist(), cols.tolist(), table)
    return report


def _report(labels: np.ndarray, motifs: np.ndarray) -> dict[str, Any]:
    ul, uc, table = contingency(labels, motifs)
    return {
        "scored_frames": int(len(labels)),
        "metrics": scores(labels, motifs),
        "label_names": ul.tolist(),
        "motifs": uc.tolist(),
        "confusion": table.tolist(),
    }


def evaluate_files(
    results: str | Path, labels_path: str | Path, ignore: list[str] | None = None
) -> dict[str, Any]:
    """Metrics of an encoding against a labels csv, pooled over individuals and per
    individual (``per_individual``); ignored labels and unencoded frames (motif -1) are left
    out. Labels without an ``individual`` column apply to every individual."""
    motifs_path, table = read_motif_table(results)
    labels = read_label_table(labels_path)
    inds = list(dict.fromkeys(table["individual"]))
    n_frames = int((table["individual"] == inds[0]).sum())
    try:
        by_ind = labels_per_individual(labels, inds, n_frames, motifs_path.name)
    except ValueError as err:
        raise PoseFileError(labels_path, str(err)) from err
    pooled_l, pooled_m, per = [], [], {}
    for ind, lab in by_ind.items():
        motifs = table.loc[table["individual"] == ind, "motif"].to_numpy(np.int64)
        keep = ~np.isin(lab, ignore or []) & (motifs >= 0)
        pooled_l.append(lab[keep])
        pooled_m.append(motifs[keep])
        if keep.any():
            per[ind] = _report(lab[keep], motifs[keep])
    if not per:
        raise PoseFileError(labels_path, "no frames left to score after ignoring labels")
    report = {"results": str(motifs_path), "labels": str(labels_path), "frames": n_frames}
    report |= _report(np.concatenate(pooled_l), np.concatenate(pooled_m))
    return report | {"individuals": inds, "per_individual": per}


def compare_tables(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
    """Agreement of two motif tables of the same frames: Hungarian-matched agreement of
    motifs and of types, NMI and ARI, pooled and per individual (frames unencoded in
    either are left out)."""
    if len(a) != len(b) or not (a["frame"].values == b["frame"].values).all():
        raise ValueError(f"the encodings cover different frames ({len(a)} vs {len(b)} rows)")
    if not (a["individual"].values == b["individual"].values).all():
        raise ValueError("the encodings have different individuals")

    def metrics(x: pd.DataFrame, y: pd.DataFrame) -> dict[str, float]:
        keep = (x["motif"].values >= 0) & (y["motif"].values >= 0)
        ma, mb = x["motif"].values[keep], y["motif"].values[keep]
        out = {"frames": int(keep.sum())}
        if not keep.any():
            return out
        out |= {
            "motif_agreement": hungarian_agreement(ma, mb),
            "type_agreement": hungarian_agreement(x["type"].values[keep], y["type"].values[keep]),
            "nmi": nmi(ma, mb),
            "ari": ari(ma, mb),
            "motifs_a": int(len(np.unique(ma))),
            "motifs_b": int(len(np.unique(mb))),
        }
        return out

    per = {}
    for ind in dict.fromkeys(a["individual"]):
        rows = (a["individual"] == ind).values
        per[str(ind)] = metrics(a[rows], b[rows])
    return {"pooled": metrics(a, b), "per_individual": per}


def plot_confusion(report: dict[str, Any], path: Path) -> Path:
    """Row-normalised label x motif confusion matrix as a PNG."""
    from matplotlib.figure import Figure

    table = np.asarray(report["confusion"], float)
    table /= np.maximum(table.sum(1, keepdims=True), 1)
    fig = Figure(figsize=(max(4, 0.25 * table.shape[1] + 2), 1 + 0.4 * len(table)))
    ax = fig.subplots()
    image = ax.imshow(table, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(len(table)), report["label_names"])
    ax.set_xticks(range(table.shape[1]), report["motifs"], rotation=90, fontsize=6)
    ax.set_xlabel("motif")
    fig.colorbar(image, label="fraction of label")
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))
    return path


def encoding_table(
    source: str | Path,
    poses: str | Path | None = None,
    skeleton: str | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """Motif table of an encode result, or of ``poses`` encoded with a model folder
    (``napari-vqmap compare``)."""
    from napari_vqmap.checkpoint import CONFIG_FILE

    if not (Path(source) / CONFIG_FILE).is_file():
        return read_motif_table(source)[1]
    if not poses:
        raise PoseFileError(source, "is a model folder: give --poses FILE to encode with it")
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.encode import encode
    from napari_vqmap.io import load_poses
    from napari_vqmap.results import motifs_table

    model, meta = load_model(source)
    ds = load_poses(poses, fps=fps, skeleton=skeleton)
    table = motifs_table(encode(model, ds, meta), ds)
    table["individual"] = table["individual"].astype(str)
    return table.sort_values(["individual", "frame"], kind="stable").reset_index(drop=True)
