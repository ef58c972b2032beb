"""Motifs on the pose layers: colours, features and a motif-name label per animal.

Contract (the Encode and Motifs widgets and the reader code against it)
-----------------------------------------------------------------------
* A pose file is shown as a Points layer ``"<stem> keypoints"`` (features ``keypoint``,
  ``individual``, ``confidence``; rows ``[frame, (z,) y, x]``) and, when its skeleton has
  edges, a Vectors layer ``"<stem> skeleton"`` (features ``edge``, ``individual``); both
  hold the same pose dataset in ``layer.metadata["poses"]``
  (:mod:`napari_vqmap.napari.convert`).
* After encoding, BOTH layers of a file carry ``metadata["motifs"]`` (the
  :func:`napari_vqmap.encode.encode` result: ``motif``, ``motif_type``,
  ``motif_subtype``, ``confidence`` over (time, individual), attrs ``n_types``,
  ``n_subtypes``), ``metadata["motif_names"]`` (a :class:`~napari_vqmap.names.MotifNames`)
  and, when the results were saved or reopened, ``metadata["results_dir"]`` (a ``str``).
* :func:`apply_motifs` (``layers`` = the file's ``[skeleton, points]`` layers, either may
  be ``None``) colours each point and edge by the motif of its frame and individual
  (:func:`~napari_vqmap.colours.motif_colours`; unencoded frames grey) and
  sets the features ``motif`` (merges applied), ``motif_type``, ``motif_subtype``,
  ``motif_name`` and ``motif_confidence``. The keypoints layer also gets ``motif_label``:
  the motif name on one keypoint per animal and frame (the top-most one), empty elsewhere,
  shown as the layer's text, so the current motif's name follows each animal. The text
  holds these strings as a manual array (``metadata["motif_text"]`` is then True), built
  off the GUI thread: napari would otherwise turn the feature into strings on every
  change of the features (about 0.2 s for 900,000 points). Arena
  points (fixed in the scene, e.g. maze corners) stay light grey and never carry the
  name. Call it
  again after renaming or merging in the names to refresh colours and names.
* :func:`find_motif_layers` lists ``(points, skeleton | None)`` for every encoded file in
  a viewer; :func:`layers_of` finds a pose layer's sibling of the same file.

Everything is vectorised: each row's time index comes from its frame value by a sorted
lookup into the pose dataset's ``frame`` coordinate, its individual from the categorical
codes, and its motif by indexing the (time, individual) motif array.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from napari_vqmap.colours import ARENA_RGBA, motif_palette
from napari_vqmap.io import skeleton_of
from napari_vqmap.names import NAMES_FILE, MotifNames, codebook_from_ids

MOTIF_FEATURES = ("motif", "motif_type", "motif_subtype", "motif_name", "motif_confidence")
LABEL = "motif_label"
RESULT_VARS = ("motif", "motif_type", "motif_subtype", "status")
TEXT = {"size": 12, "color": "white", "anchor": "center"}  # the strings: text_style
LABEL_OFFSET = 6  # label drawn this many point sizes above the top-most keypoint


class LayerStyle(NamedTuple):
    """What :func:`apply_motifs` sets on one layer: its features, colours and (keypoints
    layers) the text strings, the ``motif_label`` feature as a string array."""

    features: pd.DataFrame
    colours: np.ndarray
    labels: np.ndarray | None = None


def text_style(data: np.ndarray, point_size: float, labels: np.ndarray) -> dict[str, Any]:
    """The keypoints layer's text: ``labels`` (one string per point), centred above the
    animal."""
    translation = np.zeros(data.shape[1])
    translation[-2] = -LABEL_OFFSET * float(np.mean(point_size))
    return {**TEXT, "string": _strings(labels), "translation": translation}


def _strings(labels: np.ndarray) -> dict[str, Any]:
    return {"array": labels, "default": ""}


def label_strings(features: pd.DataFrame) -> np.ndarray:
    """The ``motif_label`` feature (categorical) as a numpy string array."""
    label = features[LABEL].array
    return np.asarray(label.categories, dtype=str)[np.asarray(label.codes)]


def _frame_values(poses: xr.Dataset | None, n_time: int) -> np.ndarray:
    if poses is not None and "frame" in poses.coords and poses.sizes["time"] == n_time:
        return poses["frame"].values.astype(np.float64)
    return np.arange(n_time, dtype=np.float64)


def row_index(
    frames: np.ndarray,
    individuals: pd.Categorical | pd.Series,
    poses: xr.Dataset | None,
    result: xr.Dataset,
) -> tuple[np.ndarray, np.ndarray]:
    """Time and individual index into ``result`` of each layer row (-1 where none).

    ``frames`` is the layer's frame column, ``individuals`` its ``individual`` feature.
    """
    n_time = result.sizes["time"]
    frames = np.asarray(frames, dtype=np.float64)
    if n_time == 0:
        return np.full(frames.shape, -1, np.int64), np.full(frames.shape, -1, np.int64)
    values = _frame_values(poses, n_time)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    pos = np.clip(np.searchsorted(sorted_values, frames), 0, n_time - 1)
    t_idx = np.where(sorted_values[pos] == frames, order[pos], -1)
    cat = pd.Categorical(individuals)
    names = [str(i) for i in result["individual"].values]
    cat_to_ind = np.array([names.index(str(c)) if str(c) in names else -1 for c in cat.categories])
    codes = np.asarray(cat.codes)
    i_idx = np.where(codes >= 0, cat_to_ind[np.clip(codes, 0, None)], -1) if codes.size else codes
    i_idx = np.where(t_idx >= 0, i_idx, -1)
    t_idx = np.where(i_idx >= 0, t_idx, -1)
    return t_idx.astype(np.int64), i_idx.astype(np.int64)


def _grid(values: np.ndarray, fill: Any) -> np.ndarray:
    """(time, individual) padded with a last row and column of ``fill`` for index -1."""
    grid = np.full((values.shape[0] + 1, values.shape[1] + 1), fill, dtype=values.dtype)
    grid[:-1, :-1] = values
    return grid


def motif_arrays(result: xr.Dataset, names: MotifNames) -> tuple[np.ndarray, np.ndarray]:
    """Motif ids (merges applied) and motif confidence, both (time, individual)."""
    motif = result["motif"].transpose("time", "individual").values.astype(np.int64)
    motif = np.asarray(names.apply(motif), dtype=np.int64)
    conf_var = "confidence" if "confidence" in result else "motif_confidence"
    if conf_var in result:
        conf = result[conf_var].transpose("time", "individual").values.astype(np.float32)
    else:
        conf = np.zeros(motif.shape, np.float32)
    return motif, conf


def row_motif_features(
    t_idx: np.ndarray, i_idx: np.ndarray, result: xr.Dataset, names: MotifNames
) -> tuple[pd.DataFrame, np.ndarray]:
    """Motif features (:data:`MOTIF_FEATURES`) and RGBA colours for rows at (t_idx, i_idx)."""
    motif, conf = motif_arrays(result, names)
    m = _grid(motif, -1)[t_idx, i_idx]
    c = _grid(conf, np.float32(0))[t_idx, i_idx]
    n_sub = names.n_subtypes
    lut = motif_palette(names.n_types, n_sub)
    colours = lut[np.where(m >= 0, np.clip(m, 0, len(lut) - 2), len(lut) - 1)]
    label_lut = [names.name(k) for k in range(names.n_motifs)] + [""]
    codes = np.where(m >= 0, np.clip(m, 0, names.n_motifs - 1), names.n_motifs)
    features = pd.DataFrame(
        {
            "motif": m,
            "motif_type": np.where(m >= 0, m // n_sub, -1),
            "motif_subtype": np.where(m >= 0, m % n_sub, -1),
            "motif_name": _categorical(codes, label_lut),
            "motif_confidence": c,
        }
    )
    return features, colours


def _categorical(codes: np.ndarray, labels: list[str]) -> pd.Categorical:
    """Categorical from codes into ``labels``, which may repeat (merged motifs)."""
    unique, inverse = np.unique(np.array(labels, dtype=object).astype(str), return_inverse=True)
    return pd.Categorical.from_codes(inverse[codes], categories=list(unique))


def label_rows(
    data: np.ndarray, t_idx: np.ndarray, i_idx: np.ndarray, lift: float = 0.0
) -> np.ndarray:
    """Boolean mask: for each (time, individual) with rows, the row that carries its label:
    the top-most one (smallest y) whose label, drawn ``lift`` above it, is nearer to its
    own animal's centre than to any other animal's at that frame (so a name never sits on
    the wrong animal), else the top-most one."""
    ok = np.flatnonzero((t_idx >= 0) & (i_idx >= 0))
    mask = np.zeros(len(t_idx), bool)
    if ok.size == 0:
        return mask
    key = t_idx[ok] * (int(i_idx.max()) + 1) + i_idx[ok]
    # each (time, individual)'s rows together, in row order (fast: layers come nearly sorted)
    order = np.argsort(key, kind="stable")
    key, y = key[order], data[ok[order], -2].astype(np.float64)
    wrong = _label_on_another(data[ok[order], 1:], t_idx[ok[order]], i_idx[ok[order]], lift)
    if wrong.any():
        y = y + np.where(wrong, np.ptp(y) + 1.0, 0.0)  # such rows only when all are
    starts = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(starts) - 1
    top = np.flatnonzero(y == np.fmin.reduceat(y, np.flatnonzero(starts))[group])
    first = np.r_[True, group[top][1:] != group[top][:-1]]  # the first row on ties
    mask[ok[order[top[first]]]] = True
    return mask


def _label_on_another(
    xyz: np.ndarray, t_idx: np.ndarray, i_idx: np.ndarray, lift: float
) -> np.ndarray:
    """Per row: whether a label drawn ``lift`` above it is nearer to another animal's centre
    (mean of its rows at that frame) than to its own."""
    n_ind = int(i_idx.max()) + 1
    if n_ind < 2:
        return np.zeros(len(xyz), bool)
    times, t_local = np.unique(t_idx, return_inverse=True)
    sums = np.zeros((len(times), n_ind, xyz.shape[1]))
    counts = np.zeros((len(times), n_ind))
    np.add.at(sums, (t_local, i_idx), xyz)
    np.add.at(counts, (t_local, i_idx), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = sums / counts[..., None]  # NaN where an animal is absent
    label = xyz.astype(np.float64)
    label[:, -2] -= lift
    wrong = np.zeros(len(xyz), bool)
    own = np.linalg.norm(label - centres[t_local, i_idx], axis=1)
    for j in range(n_ind):
        other = np.linalg.norm(label - centres[t_local, j], axis=1)
        wrong |= (i_idx != j) & (other < own)  # NaN (absent) compares False
    return wrong


def _merge_features(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    keep = old.drop(columns=[c for c in (*MOTIF_FEATURES, LABEL) if c in old.columns])
    return pd.concat([keep.reset_index(drop=True), new.reset_index(drop=True)], axis=1)


def styled_points(
    data: np.ndarray,
    features: pd.DataFrame,
    poses: xr.Dataset | None,
    result: xr.Dataset,
    names: MotifNames,
    point_size: float = 0.0,
) -> LayerStyle:
    """Features (old plus motif columns and ``motif_label``), face colours and label
    strings for points. Arena points (fixed in the scene) keep their own colour and never
    carry the label; ``point_size`` places the label as :func:`text_style` draws it."""
    t_idx, i_idx = row_index(data[:, 0], features["individual"], poses, result)
    new, colours = row_motif_features(t_idx, i_idx, result, names)
    arena = np.zeros(len(data), bool)
    if poses is not None and skeleton_of(poses).arena:
        arena = features["keypoint"].astype(str).isin(skeleton_of(poses).arena).to_numpy()
        colours[arena] = ARENA_RGBA
    on_body = np.where(arena, -1, t_idx)
    name = new["motif_name"].array  # categorical; "" (unencoded) is always a category
    empty = list(name.categories).index("")
    lift = LABEL_OFFSET * point_size
    codes = np.where(label_rows(data, on_body, i_idx, lift), name.codes, empty)
    new[LABEL] = pd.Categorical.from_codes(codes, categories=name.categories)
    return LayerStyle(_merge_features(features, new), colours, label_strings(new))


def styled_vectors(
    data: np.ndarray,
    features: pd.DataFrame,
    poses: xr.Dataset | None,
    result: xr.Dataset,
    names: MotifNames,
) -> LayerStyle:
    """Features (old plus motif columns) and edge colours for skeleton vectors."""
    t_idx, i_idx = row_index(data[:, 0, 0], features["individual"], poses, result)
    new, colours = row_motif_features(t_idx, i_idx, result, names)
    return LayerStyle(_merge_features(features, new), colours)


def _motif_metadata(
    result: xr.Dataset, names: MotifNames, results_dir: str | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"motifs": result, "motif_names": names}
    if results_dir:
        meta["results_dir"] = str(results_dir)
    return meta


def motif_styles(layers: Sequence[Any], result: xr.Dataset, names: MotifNames) -> list[LayerStyle]:
    """The style of each layer (``None`` entries skipped): plain array work that
    only reads the layers, so it can run off the GUI thread."""
    out = []
    for layer in (la for la in layers if la is not None):
        args = (layer.data, layer.features, layer.metadata.get("poses"), result, names)
        if layer.data.ndim == 3:
            out.append(styled_vectors(*args))
        else:
            size = float(np.mean(layer.size)) if np.size(layer.size) else 0.0
            out.append(styled_points(*args, point_size=size))
    return out


def apply_motifs(
    layers: Sequence[Any],
    result: xr.Dataset,
    names: MotifNames | None = None,
    results_dir: str | None = None,
    text: bool = True,
    styles: list[LayerStyle] | None = None,
) -> None:
    """Colour a file's pose layers (``[skeleton, points]``, ``None`` entries skipped) by
    motif and set the motif features and metadata (see the module docstring).

    ``styles`` are the layers' :func:`motif_styles` when already computed (e.g. in a worker
    thread, so the GUI thread only assigns them).

    ``names`` defaults to the layers' current names, else default names for the codebook.
    ``text`` shows the motif name next to each animal on the keypoints layer; without it,
    names already shown there are updated.
    """
    for step in apply_steps(layers, result, names, results_dir, text, styles):
        step()


def apply_steps(
    layers: Sequence[Any],
    result: xr.Dataset,
    names: MotifNames | None = None,
    results_dir: str | None = None,
    text: bool = True,
    styles: list[LayerStyle] | None = None,
) -> list[Callable[[], None]]:
    """:func:`apply_motifs` as steps to run in order: each layer's features, colours and
    metadata, then the keypoints layer's text (built hidden, then shown: the first draw of new
    glyphs is slow). Napari checks and redraws after each, so a
    GUI that runs one step per turn of its event loop stays responsive on large layers."""
    layers = [layer for layer in layers if layer is not None]
    if names is None:
        current = [la.metadata.get("motif_names") for la in layers]
        names = next((n for n in current if isinstance(n, MotifNames)), None)
        names = names or MotifNames(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))
    if results_dir is None:
        results_dir = next(
            (la.metadata["results_dir"] for la in layers if la.metadata.get("results_dir")), None
        )
    styles = styles or motif_styles(layers, result, names)
    metadata = _motif_metadata(result, names, results_dir)
    steps: list[Callable[[], None]] = []
    for layer, (features, colours, labels) in zip(layers, styles, strict=True):
        steps.append(partial(_set_features, layer, features, metadata))
        steps.append(partial(_set_colours, layer, colours))
        if labels is None:
            continue
        if text:
            style = text_style(layer.data, layer.size if layer.size.size else 1.0, labels)
            # hidden first: setting the strings and the first draw of the new glyphs are
            # then two turns of the event loop, not one
            steps.append(partial(_set_text, layer, {**style, "visible": False}))
            steps.append(partial(setattr, layer.text, "visible", True))
        elif layer.metadata.get("motif_text"):
            steps.append(partial(setattr, layer.text, "string", _strings(labels)))
    return steps


def _set_features(layer: Any, features: pd.DataFrame, metadata: dict) -> None:
    layer.features = features
    layer.metadata.update(metadata)


def _set_text(layer: Any, text: dict[str, Any]) -> None:
    layer.text = text
    layer.metadata["motif_text"] = True


def _set_colours(layer: Any, colours: np.ndarray) -> None:
    if layer.data.ndim == 3:  # vectors: (n, 2, ndim)
        layer.edge_color = colours
    else:
        layer.face_color = colours


def layer_data_with_motifs(
    layer_data: list[tuple[Any, dict, str]],
    result: xr.Dataset,
    names: MotifNames,
    results_dir: str | None = None,
) -> list[tuple[Any, dict, str]]:
    """Reader layer data tuples (from :func:`~napari_vqmap.napari.convert.pose_layers`)
    with motif colours, features, text and metadata, as :func:`apply_motifs` would set."""
    out = []
    for data, meta, kind in layer_data:
        meta = dict(meta)
        poses = meta.get("metadata", {}).get("poses")
        if kind == "vectors":
            style = styled_vectors(data, meta["features"], poses, result, names)
            meta["features"], meta["edge_color"] = style.features, style.colours
        elif kind == "points":
            size = float(np.mean(meta.get("size", 0.0)))
            style = styled_points(data, meta["features"], poses, result, names, size)
            meta["features"], meta["face_color"] = style.features, style.colours
            meta["text"] = text_style(data, meta.get("size", 1.0), style.labels)
        meta["metadata"] = {
            **meta.get("metadata", {}),
            **_motif_metadata(result, names, results_dir),
            **({"motif_text": True} if kind == "points" else {}),
        }
        out.append((data, meta, kind))
    return out


def _is_points(layer: Any) -> bool:
    # isinstance, not type(): napari hands plugin widgets its layers wrapped in a
    # public-only proxy, whose type is the proxy's but whose __class__ is the layer's
    from napari.layers import Points

    return isinstance(layer, Points)


def _is_vectors(layer: Any) -> bool:
    from napari.layers import Vectors

    return isinstance(layer, Vectors)


def same_layer(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same layer, either possibly behind napari's proxy
    (each access through the proxy gives a new wrapper, so ``is`` does not tell)."""
    return getattr(a, "__wrapped__", a) is getattr(b, "__wrapped__", b)


def _same_file(a: Any, b: Any) -> bool:
    pa, pb = a.metadata.get("poses"), b.metadata.get("poses")
    if pa is not None and pa is pb:
        return True
    sa, sb = a.metadata.get("source_file"), b.metadata.get("source_file")
    stem_a = a.name.rsplit(" ", 1)[0]
    stem_b = b.name.rsplit(" ", 1)[0]
    return bool(sa) and sa == sb and stem_a == stem_b


def layers_of(viewer: Any, poses_layer: Any) -> tuple[Any, Any | None]:
    """``(points, skeleton | None)`` of the file that ``poses_layer`` (either one) shows."""
    if _is_points(poses_layer):
        points = poses_layer
        skeleton = next(
            (la for la in viewer.layers if _is_vectors(la) and _same_file(la, points)), None
        )
        return points, skeleton
    points = next(la for la in viewer.layers if _is_points(la) and _same_file(la, poses_layer))
    return points, poses_layer


def find_motif_layers(viewer: Any) -> list[tuple[Any, Any | None]]:
    """``(points, skeleton | None)`` for every keypoints layer carrying motifs."""
    return [
        layers_of(viewer, layer)
        for layer in viewer.layers
        if _is_points(layer) and isinstance(layer.metadata.get("motifs"), xr.Dataset)
    ]


def _codebook_in(folder: Path, stem: str) -> tuple[int, int] | None:
    """(n_types, n_subtypes) from the names file in ``folder``, else from the model named in
    ``<stem>_encode.json`` there; ``None`` when neither is readable."""
    names_file = folder / NAMES_FILE
    if names_file.is_file():
        names = MotifNames.load(names_file)
        return names.n_types, names.n_subtypes
    try:
        from napari_vqmap.checkpoint import read_config

        sidecar = json.loads((folder / f"{stem}_encode.json").read_text())
        model = read_config(sidecar["model"])["model"]
        return int(model["n_types"]), int(model["n_subtypes"])
    except Exception:  # no sidecar, or its model is gone
        return None


def _codebook_of(ds: xr.Dataset, path: Path) -> tuple[int, int]:
    """(n_types, n_subtypes) of a saved ``_motifs.nc``: the motif variable's attrs, else
    the names file or model next to it, else the largest ids seen."""
    attrs = ds["motif"].attrs
    if "n_types" in attrs and "n_subtypes" in attrs:
        return int(attrs["n_types"]), int(attrs["n_subtypes"])
    found = _codebook_in(path.parent, path.stem.removesuffix("_motifs"))
    if found:
        return found
    return codebook_from_ids(ds["motif"].values, ds["motif_type"], ds["motif_subtype"])


def codebook_near(path: Path, table: pd.DataFrame) -> tuple[int, int]:
    """(n_types, n_subtypes) for a ``<stem>_motifs.csv``: the names file or model next to
    it, else the largest ids in its ``motif``/``type``/``subtype`` columns."""
    found = _codebook_in(path.parent, path.name.removesuffix("_motifs.csv"))
    if found:
        return found
    motif = table["motif"].to_numpy()
    n_sub_guess = int(table["subtype"].max()) + 1 if "subtype" in table else 1
    typ = table["type"].to_numpy() if "type" in table else motif // n_sub_guess
    sub = table["subtype"].to_numpy() if "subtype" in table else motif % n_sub_guess
    return codebook_from_ids(motif, typ, sub)


def split_results(ds: xr.Dataset, path: str | Path) -> tuple[xr.Dataset, xr.Dataset, MotifNames]:
    """A reopened ``<stem>_motifs.nc`` (poses plus motif variables, as written by
    :func:`napari_vqmap.results.write_results`) -> (poses, encode result, names)."""
    folder = Path(path).parent
    n_types, n_subtypes = _codebook_of(ds, Path(path))
    motif_vars = [v for v in (*RESULT_VARS, "motif_confidence", "embedding") if v in ds]
    result = ds[motif_vars].rename(
        {"motif_confidence": "confidence"} if "motif_confidence" in ds else {}
    )
    result = result.drop_vars([c for c in result.coords if c not in ("time", "individual")])
    result.attrs = {
        "n_types": n_types,
        "n_subtypes": n_subtypes,
        "fps": ds.attrs.get("fps") or 0.0,
    }
    poses = ds.drop_vars(motif_vars)
    names = MotifNames.for_results(folder, n_types, n_subtypes)
    return poses, result, names


def result_from_table(
    table: pd.DataFrame, poses: xr.Dataset, n_types: int, n_subtypes: int
) -> xr.Dataset:
    """An encode-like result from a ``<stem>_motifs.csv`` table (columns frame, individual,
    motif[, confidence, status]) over the frames and individuals of ``poses``; rows for
    other frames or animals are ignored and frames without a row are unencoded (-1,
    status 1)."""
    missing = {"frame", "individual", "motif"} - set(table.columns)
    if missing:
        raise ValueError(f"motifs table lacks column(s) {', '.join(sorted(missing))}")
    n_time, inds = poses.sizes["time"], [str(i) for i in poses["individual"].values]
    t_idx, i_idx = row_index(
        table["frame"].to_numpy(), table["individual"].astype(str), poses, _empty(poses)
    )
    ok = (t_idx >= 0) & (i_idx >= 0)
    motif = np.full((n_time, len(inds)), -1, np.int64)
    conf = np.zeros((n_time, len(inds)), np.float32)
    motif[t_idx[ok], i_idx[ok]] = table["motif"].to_numpy()[ok]
    if "confidence" in table:
        conf[t_idx[ok], i_idx[ok]] = table["confidence"].to_numpy()[ok]
    status = np.where(motif >= 0, 0, 1).astype(np.int8)
    if "status" in table:
        status[t_idx[ok], i_idx[ok]] = table["status"].to_numpy()[ok]
    dims = ("time", "individual")
    return xr.Dataset(
        {
            "motif": (dims, motif),
            "motif_type": (dims, np.where(motif >= 0, motif // n_subtypes, -1)),
            "motif_subtype": (dims, np.where(motif >= 0, motif % n_subtypes, -1)),
            "confidence": (dims, conf),
            "status": (dims, status),
        },
        coords={"time": poses["time"].values, "individual": poses["individual"].values},
        attrs={"n_types": n_types, "n_subtypes": n_subtypes, "fps": poses.attrs.get("fps") or 0.0},
    )


def _empty(poses: xr.Dataset) -> xr.Dataset:
    return xr.Dataset(
        coords={"time": poses["time"].values, "individual": poses["individual"].values}
    )


def open_layers_for(viewer: Any, stem: str, n_time: int, individuals: Sequence[str]) -> tuple:
    """``(points, skeleton | None)`` already open for the recording ``stem`` whose poses have
    ``n_time`` frames and these individuals, else ``(None, None)``."""
    for layer in [] if viewer is None else viewer.layers:
        poses = layer.metadata.get("poses")
        if not (_is_points(layer) and isinstance(poses, xr.Dataset)):
            continue
        source = Path(str(poses.attrs.get("source_file", "")))
        same = layer.name == f"{stem} keypoints" or source.stem == stem
        inds = [str(i) for i in poses["individual"].values]
        if same and poses.sizes["time"] == n_time and inds == [str(i) for i in individuals]:
            return layers_of(viewer, layer)
    return None, None
