"""``napari-vqmap analyze``: tables and figures over encode outputs (``*_motifs.csv``).

Reads each per-frame table with its ``_encode.json`` sidecar (model, settings) and
``_motifs.nc`` attributes (fps, skeleton), applies the motif names file, and writes usage,
bouts, transitions, group tests, a cross-skeleton comparison and decoded prototypes into the
output folder. Everything is written into a temporary folder first and then moved into place,
so a failure leaves no partial set of results.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_vqmap import analysis
from napari_vqmap.errors import InputError, ModelFileError, PoseFileError
from napari_vqmap.names import NAMES_FILE, MotifNames, codebook_from_ids

SUFFIX = "_motifs.csv"
COLUMNS = ("frame", "individual", "motif", "type", "subtype", "name")
FIGURE_FORMATS = ("png", "svg")


@dataclass
class EncodedRecording:
    """One encoded recording: its per-frame table and what its sidecars say."""

    path: Path
    file: str
    table: pd.DataFrame
    fps: float | None = None
    skeleton: str = "unknown"
    model: str | None = None
    model_sha256: str | None = None
    sidecar: dict[str, Any] = field(default_factory=dict)


def find_results(inputs: Sequence[str | Path]) -> list[Path]:
    """``*_motifs.csv`` files from files, folders and glob patterns."""
    out: list[Path] = []
    for item in inputs:
        text = str(item)
        if glob.has_magic(text):
            paths = [Path(p) for p in sorted(glob.glob(text)) if p.endswith(SUFFIX)]
        elif Path(text).is_dir():
            paths = sorted(Path(text).glob(f"*{SUFFIX}"))
        elif Path(text).is_file():
            if not text.endswith(SUFFIX):
                raise PoseFileError(text, f"not an encode result (expected *{SUFFIX})")
            paths = [Path(text)]
        else:
            raise PoseFileError(text, "no such file or folder")
        if not paths:
            raise PoseFileError(text, f"no *{SUFFIX} encode results found")
        out.extend(p for p in paths if p not in out)
    return out


def _fps_from_time(table: pd.DataFrame) -> float | None:
    if "time" not in table or np.allclose(table["time"], table["frame"]):
        return None  # no time column, or time in frames: the frame rate is unknown
    step = np.diff(table.groupby("individual", sort=False)["time"].head(1000).to_numpy())
    step = step[step > 0]
    return float(round(1 / np.median(step), 6)) if step.size else None


def load_recording(path: str | Path) -> EncodedRecording:
    """Read one ``*_motifs.csv`` and its sidecars, with clear errors for bad files."""
    path = Path(path)
    stem = path.name[: -len(SUFFIX)]
    try:
        table = pd.read_csv(path, dtype={"individual": str, "name": str}, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise PoseFileError(path, f"cannot read the motifs table: {err}") from err
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise PoseFileError(path, f"not a motifs table: missing column(s) {missing}")
    for col in ("frame", "motif", "type", "subtype"):
        if not pd.api.types.is_integer_dtype(table[col]):
            raise PoseFileError(path, f"column {col!r} must hold integers")
    rec = EncodedRecording(path=path, file=stem, table=table)
    sidecar = path.with_name(f"{stem}_encode.json")
    if sidecar.is_file():
        try:
            rec.sidecar = json.loads(sidecar.read_text())
        except (OSError, ValueError) as err:
            raise PoseFileError(sidecar, f"not a valid encode sidecar: {err}") from err
        rec.model, rec.model_sha256 = rec.sidecar.get("model"), rec.sidecar.get("model_sha256")
        settings = rec.sidecar.get("settings", {})
        rec.fps = settings.get("fps") or None
        rec.skeleton = settings.get("skeleton") or rec.skeleton
    nc = path.with_name(f"{stem}_motifs.nc")
    if nc.is_file() and (rec.fps is None or rec.skeleton == "unknown"):
        import xarray as xr

        try:
            with xr.open_dataset(nc) as ds:
                rec.fps = rec.fps or float(ds.attrs.get("fps") or 0) or None
                if rec.skeleton == "unknown":
                    rec.skeleton = str(ds.attrs.get("skeleton_name") or "unknown")
        except (OSError, ValueError):
            pass  # the table is enough; fps falls back to the time column
    rec.fps = rec.fps or _fps_from_time(table)
    return rec


def read_groups(path: str | Path, files: Sequence[str]) -> dict[str, str]:
    """``file -> group`` from a csv with columns file, group; a file may be given as its
    stem, its input file name or its ``*_motifs.csv`` name. Every recording needs a group."""
    path = Path(path)
    try:
        groups = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise PoseFileError(path, f"cannot read the groups csv: {err}") from err
    if not {"file", "group"} <= set(groups.columns):
        raise PoseFileError(path, "the groups csv needs the columns 'file' and 'group'")
    lookup: dict[str, str] = {}
    for f, g in zip(groups["file"], groups["group"], strict=True):
        name = Path(f.strip()).name
        key = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else Path(name).stem
        lookup[key] = g.strip()
    missing = [f for f in files if f not in lookup]
    if missing:
        raise PoseFileError(path, f"no group for {len(missing)} recording(s): {missing[:5]}")
    return {f: lookup[f] for f in files}


def _unique_ids(recs: list[EncodedRecording]) -> None:
    """Make ``file`` ids unique (recordings with one stem in different folders)."""
    seen: dict[str, int] = {}
    for rec in recs:
        seen[rec.file] = seen.get(rec.file, 0) + 1
    for rec in recs:
        if seen[rec.file] > 1:
            rec.file = f"{rec.path.parent.name}/{rec.file}"


def _codebook_size(recs: list[EncodedRecording], model_dir: Path | None) -> tuple[int, int]:
    if model_dir is not None:
        path = model_dir / "config.json"  # read directly: no torch import needed here
        try:
            cfg = json.loads(path.read_text())["model"]
            return int(cfg["n_types"]), int(cfg["n_subtypes"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelFileError(path, f"not a napari-vqmap model config: {err}") from err
    for rec in recs:
        names = rec.path.parent / NAMES_FILE
        if names.is_file():
            n = MotifNames.load(names)
            return n.n_types, n.n_subtypes
    enc = pd.concat(
        [r.table.loc[r.table["motif"] >= 0, ["motif", "type", "subtype"]] for r in recs]
    )
    if enc.empty:
        raise PoseFileError(recs[0].path, "no encoded frames and no model to size the codebook")
    warnings.warn(
        "no model found: codebook size guessed from the data; pass --model", stacklevel=2
    )
    return codebook_from_ids(enc["motif"], enc["type"], enc["subtype"])


def _model_dir(recs: list[EncodedRecording], model: str | Path | None) -> Path | None:
    """The model folder: ``model``, else the one in the sidecars when it still exists."""
    shas = {r.model_sha256 for r in recs if r.model_sha256}
    if len(shas) > 1:
        raise PoseFileError(
            recs[0].path.parent,
            f"results come from {len(shas)} different models: their motifs are not comparable",
        )
    if model is not None:
        path = Path(model)
        if not path.is_dir():
            raise ModelFileError(path, "model folder not found")
        return path
    for rec in recs:
        if rec.model and (Path(rec.model) / "config.json").is_file():
            return Path(rec.model)
    return None


class _Outputs:
    """Files written into a temporary folder beside ``out``, moved in by :meth:`commit`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        except OSError as err:
            raise PoseFileError(out.parent, f"output folder is not writable: {err}") from err
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        self.files.append(name)
        (self.tmp / name).parent.mkdir(parents=True, exist_ok=True)
        return self.tmp / name

    def table(self, name: str, df: pd.DataFrame, index: bool = False) -> None:
        df.to_csv(self.path(name), index=index)

    def figure(self, stem: str, fig, formats: Sequence[str] = FIGURE_FORMATS) -> None:
        from napari_vqmap.analysis import figures

        for fmt in formats:
            figures.save_figure(fig, self.path(f"{stem}.{fmt}"))

    def commit(self) -> list[Path]:
        self.out.mkdir(parents=True, exist_ok=True)
        for name in self.files:
            dest = self.out / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp / name, dest)
        self.discard()
        return [self.out / n for n in self.files]

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _matrix_frame(matrix: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(matrix, index=pd.Index(labels, name="from"), columns=list(labels))


def _skeleton_spec(rec: EncodedRecording) -> dict[str, Any]:
    """The recording's skeleton (name, keypoints, regions, dims) from its ``_motifs.nc``;
    only the name when that file is missing or has none."""
    nc = rec.path.with_name(f"{rec.file}_motifs.nc")
    if nc.is_file():
        import xarray as xr

        try:
            with xr.open_dataset(nc) as ds:
                spec = json.loads(ds.attrs.get("skeleton_spec") or "{}")
                spec.setdefault("dims", int(ds.sizes.get("space", 0)))
                return spec
        except (OSError, ValueError):
            pass
    return {"name": rec.skeleton}


def prototype_heads(recs: list[EncodedRecording], meta: dict) -> dict[str, dict[str, Any]]:
    """Head -> what it shows: the recordings' skeletons decoded on it (``for``) and whether
    it is their own head (``exact``). A skeleton the model has no head for is shown on the
    nearest head by body regions (:func:`~napari_vqmap.prototypes.prototype_head`); when no
    recording's skeleton is known, every head is used."""
    from napari_vqmap.prototypes import prototype_head

    heads: dict[str, dict[str, Any]] = {}
    specs = {rec.skeleton: _skeleton_spec(rec) for rec in recs}
    for name, spec in specs.items():
        head, exact = prototype_head(meta, spec)
        if head is not None:
            entry = heads.setdefault(head, {"for": [], "exact": True})
            entry["for"].append(name)
            entry["exact"] = entry["exact"] and exact
    return heads or {h: {"for": [], "exact": False} for h in meta["heads"]}


def _prototypes(
    out: _Outputs,
    model_dir: Path,
    names: MotifNames,
    usage: np.ndarray,
    recs: list[EncodedRecording],
    say: Callable[[str], None],
) -> dict:
    """Decode every code on the heads of the recordings' skeletons (or, for a skeleton the
    model has no head for, the nearest head); arrays (.npz) and figures."""
    import torch

    from napari_vqmap.analysis import figures
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.prototypes import prototypes

    torch.set_num_threads(min(torch.get_num_threads(), 2))
    model, meta = load_model(model_dir)
    heads = {}
    for head, shows in prototype_heads(recs, meta).items():
        info = meta["heads"][head]
        poses = prototypes(model, head)
        sk = info["skeleton"]
        kps = np.array(sk["keypoints"], dtype=str)
        edges = np.array(sk.get("edges", []), dtype=str).reshape(-1, 2)
        motif = np.arange(len(poses))
        np.savez_compressed(
            out.path(f"prototypes/{head}.npz"),
            poses=poses.astype(np.float32),
            motif=motif,
            name=names.names(motif).astype(str),
            usage=usage,
            keypoints=kps,
            edges=edges,
        )
        mapped = [s for s in shows["for"] if s != sk.get("name")]
        if mapped and not shows["exact"]:
            note = (
                f"the model has no head for {', '.join(mapped)}; decoded on {head}, "
                "the nearest head by body regions"
            )
            say(f"prototypes: {note}")
            title = f"Motif prototypes decoded on {head} ({note})"
        else:
            title = f"Motif prototypes on {head}"
        title += f" ({poses.shape[-1]}D, x-y view, body lengths)"
        fig = figures.plot_prototypes(poses, sk, names, usage=usage, title=title)
        out.figure(f"prototypes/{head}", fig, formats=("png",))
        if poses.shape[-1] == 3:
            fig = figures.plot_prototypes(
                poses, sk, names, usage=usage, view=(0, 2), title=title.replace("x-y", "x-z side")
            )
            out.figure(f"prototypes/{head}_side", fig, formats=("png",))
        heads[head] = {
            "keypoints": kps.tolist(),
            "dims": int(poses.shape[-1]),
            "for_skeletons": shows["for"],
            "own_head": bool(shows["exact"]),
        }
    return heads


def clip_sources(recs: list[EncodedRecording], names: MotifNames) -> list:
    """A :class:`~napari_vqmap.clips.ClipSource` per recording with a ``_motifs.nc`` (poses
    and motifs, merges in ``names`` applied), with the video beside its pose file if any."""
    from napari_vqmap.clips import ClipSource, find_video
    from napari_vqmap.io import load_poses
    from napari_vqmap.results import MOTIF_VARS

    sources = []
    for rec in recs:
        nc = rec.path.with_name(f"{rec.file}_motifs.nc")
        if not nc.is_file():
            warnings.warn(f"{rec.path}: no {nc.name} beside it, so no clips", stacklevel=3)
            continue
        ds = load_poses(nc)
        motif = names.apply(ds["motif"].transpose("time", "individual").values)
        poses = ds.drop_vars([v for v in (*MOTIF_VARS, "motif_confidence") if v in ds])
        source = rec.sidecar.get("input")
        video = find_video(source) if source else None
        sources.append(ClipSource(rec.file, poses, np.asarray(motif), video, rec.fps))
    return sources


def _clips(
    out: _Outputs,
    recs: list[EncodedRecording],
    names: MotifNames,
    top: int | None,
    progress: Callable[[int, int], None] | None,
) -> None:
    from napari_vqmap.clips import write_clips

    folder = out.tmp / "clips"
    for path in write_clips(clip_sources(recs, names), folder, names, top, progress=progress):
        out.files.append(str(path.relative_to(out.tmp)))


def analyze(
    inputs: Sequence[str | Path],
    out: str | Path,
    groups: str | Path | None = None,
    model: str | Path | None = None,
    names: str | Path | None = None,
    min_group_files: int = analysis.MIN_GROUP_FILES,
    prototypes: bool = True,
    progress: Callable[[str], None] | None = None,
    clips: int | None = None,
    clip_progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Analyse encode results and write tables and figures into ``out``; returns the files.

    ``clips``: also write example clips (:func:`napari_vqmap.clips.write_clips`) into
    ``out/clips``, for every used motif (0) or the ``clips`` most used; ``clip_progress(done,
    total)`` counts them. See ``docs/analysis.md`` for what each file holds.
    """
    from napari_vqmap.analysis import figures

    say = progress or (lambda msg: None)
    recs = [load_recording(p) for p in find_results(inputs)]
    _unique_ids(recs)
    model_dir = _model_dir(recs, model)
    n_types, n_sub = _codebook_size(recs, model_dir)
    if names is not None:
        motif_names = MotifNames.load(names)
        if (motif_names.n_types, motif_names.n_subtypes) != (n_types, n_sub):
            raise PoseFileError(names, f"names are not for {n_types} x {n_sub} motifs")
        names_file = str(names)
    else:
        motif_names = MotifNames.for_results(recs[0].path.parent, n_types, n_sub)
        found = recs[0].path.parent / NAMES_FILE
        names_file = str(found) if found.is_file() else None
    for rec in recs:
        if rec.table["motif"].max() >= n_types * n_sub:
            raise PoseFileError(rec.path, f"motif ids beyond the {n_types} x {n_sub} codebook")
    group_of = read_groups(groups, [r.file for r in recs]) if groups else None

    say(f"{len(recs)} recordings, {n_types} x {n_sub} motifs")
    parts = []
    for rec in recs:
        part = rec.table.drop(columns=["confidence"], errors="ignore")
        part.insert(0, "file", rec.file)
        part.insert(1, "skeleton", rec.skeleton)
        if group_of:
            part.insert(1, "group", group_of[rec.file])
        parts.append(part)
    table = analysis.apply_names(pd.concat(parts, ignore_index=True), motif_names)
    fps_of = {r.file: r.fps for r in recs}
    fps_all = {r.fps for r in recs}
    fps = fps_all.pop() if len(fps_all) == 1 else None

    o = _Outputs(Path(out))
    try:
        say("usage and bouts")
        stats = analysis.motif_stats(table, motif_names, fps=fps)
        types = analysis.type_usage(table, motif_names, fps=fps)
        o.table("motif_stats.csv", stats)
        o.table("type_stats.csv", types)
        meta_cols = ["file", "skeleton"] + (["group"] if group_of else [])
        per = {}
        for level in analysis.LEVELS:
            prefix = "" if level == "motif" else "type_"
            per[level] = analysis.usage_table(table, meta_cols, level, motif_names)
            o.table(f"{prefix}usage_per_file.csv", per[level])
            by_ind = analysis.usage_table(table, [*meta_cols, "individual"], level, motif_names)
            o.table(f"{prefix}usage_per_individual.csv", by_ind)
        b = analysis.bouts(table)
        b.insert(
            b.columns.get_loc("duration") + 1, "duration_s", b["duration"] / b["file"].map(fps_of)
        )
        b.insert(b.columns.get_loc("motif") + 1, "type", b["motif"] // n_sub)
        b.insert(b.columns.get_loc("type") + 1, "name", motif_names.names(b["motif"].to_numpy()))
        o.table("bouts.csv", b.drop(columns=["gap_before"]))
        o.figure("figures/usage", figures.plot_usage(stats))
        o.figure("figures/type_usage", figures.plot_usage(types, title="Motif type usage"))
        o.figure(
            "figures/durations",
            figures.plot_durations(b, names=motif_names),
        )

        say("transitions")
        type_labels = [motif_names.type_name(t) for t in range(n_types)]
        motif_labels = list(motif_names.names(np.arange(n_types * n_sub)))
        for level, n, labels in (
            ("motif", n_types * n_sub, motif_labels),
            ("type", n_types, type_labels),
        ):
            m = analysis.transition_matrix(table, n, level)
            o.table(f"transitions_{level}.csv", _matrix_frame(m, labels), index=True)
            c = analysis.transition_counts(table, n, level)
            o.table(f"transition_counts_{level}.csv", _matrix_frame(c, labels), index=True)
            title = f"{level.capitalize()} transitions between bouts"
            o.figure(
                f"figures/transitions_{level}",
                figures.plot_transitions(m, labels=labels, title=title),
            )

        skeletons = sorted({r.skeleton for r in recs})
        if len(skeletons) > 1:
            say("cross-skeleton comparison")
            for level in analysis.LEVELS:
                prefix = "" if level == "motif" else "type_"
                pooled = analysis.usage_table(table, ["skeleton"], level, motif_names)
                o.table(f"{prefix}usage_per_skeleton.csv", pooled)
                wide = pooled.pivot(index=[level, "name"], columns="skeleton", values="usage")
                o.table(f"{prefix}usage_by_skeleton_wide.csv", wide.reset_index())
                o.figure(
                    f"figures/{prefix}usage_by_skeleton",
                    figures.plot_usage_by(
                        per[level],
                        "skeleton",
                        title=f"{level.capitalize()} usage by skeleton (dots: files)",
                    ),
                )

        tests = {}
        if group_of:
            say("group comparison")
            for level in analysis.LEVELS:
                prefix = "" if level == "motif" else "type_"
                pooled = analysis.usage_table(table, ["group"], level, motif_names)
                o.table(f"{prefix}usage_per_group.csv", pooled)
                t = analysis.compare_groups(per[level], "group", level, min_group_files)
                tests[level] = t
                o.table(f"{prefix}group_tests.csv", t)
                o.figure(
                    f"figures/{prefix}usage_by_group",
                    figures.plot_usage_by(
                        per[level],
                        "group",
                        tests=t,
                        title=f"{level.capitalize()} usage by group (dots: files; *: q < 0.05)",
                    ),
                )

        heads = {}
        if prototypes and model_dir is not None:
            say("prototypes")
            usage = stats.set_index("motif")["usage"].reindex(range(n_types * n_sub))
            try:
                heads = _prototypes(
                    o, model_dir, motif_names, usage.fillna(0).to_numpy(), recs, say
                )
            except InputError as err:
                if model is not None:
                    raise
                warnings.warn(
                    f"no prototypes: the encode model cannot be loaded: {err}", stacklevel=2
                )
        if clips is not None:
            say("example clips")
            _clips(o, recs, motif_names, clips or None, clip_progress)
        sidecar = _sidecar(
            recs,
            model_dir,
            names_file,
            group_of,
            groups,
            fps_of,
            heads,
            min_group_files,
            n_types,
            n_sub,
            tests,
        )
        Path(o.path("analysis.json")).write_text(json.dumps(sidecar, indent=2) + "\n")
    except BaseException:
        o.discard()
        raise
    return o.commit()


def _sidecar(
    recs,
    model_dir,
    names_file,
    group_of,
    groups,
    fps_of,
    heads,
    min_group_files,
    n_types,
    n_sub,
    tests,
) -> dict:
    import matplotlib
    import scipy

    from napari_vqmap import __version__
    from napari_vqmap.io.files import file_sha256

    return {
        "versions": {
            "napari-vqmap": __version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "matplotlib": matplotlib.__version__,
        },
        "inputs": [
            {
                "file": r.file,
                "path": str(r.path),
                "sha256": file_sha256(r.path),
                "fps": r.fps,
                "skeleton": r.skeleton,
                "group": group_of[r.file] if group_of else None,
                "source": r.sidecar.get("input"),
            }
            for r in recs
        ],
        "model": str(model_dir) if model_dir else None,
        "model_sha256": next((r.model_sha256 for r in recs if r.model_sha256), None),
        "codebook": {"n_types": n_types, "n_subtypes": n_sub},
        "names_file": names_file,
        "names_sha256": file_sha256(names_file) if names_file else None,
        "groups_file": str(groups) if groups else None,
        "settings": {"min_group_files": min_group_files, "fdr": "benjamini-hochberg"},
        "prototype_heads": heads,
        "significant": {
            level: t.loc[t["q"] < 0.05, "name"].tolist() for level, t in tests.items()
        },
    }
