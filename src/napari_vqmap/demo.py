"""``napari-vqmap demo``: encode the bundled sample recordings with the bundled model.

The 2D VAME mouse (DeepLabCut, with its video) and the 3D SUBTLE mouse (with per-frame human
labels, held out of the model's training) are encoded with one model and one codebook. The
demo writes, into one folder: per-frame motif and bout tables (as ``napari-vqmap encode``
does), a usage plot, the decoded motif prototypes, a clip of the video with the skeleton
coloured by motif, the agreement of the SUBTLE motifs with the human labels, and a summary.
Everything runs on the CPU from files inside the package.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from napari_vqmap.checkpoint import head_for
from napari_vqmap.encode import Encoded
from napari_vqmap.io.atomic import atomic_write_text
from napari_vqmap.names import MotifNames

DEFAULT_OUT = Path("napari-vqmap-demo")
IGNORED_LABEL = "na"  # SUBTLE: not assigned
N_TOP = 5


@dataclass
class DemoRecording:
    """One encoded sample recording."""

    title: str
    source: Path
    poses: xr.Dataset
    result: xr.Dataset
    table: pd.DataFrame  # per-frame motifs (results.motifs_table)
    stats: pd.DataFrame  # per-motif usage and durations (analysis.motif_stats)
    video: Path | None = None

    @property
    def fps(self) -> float:
        """Frame rate of the recording."""
        return float(self.poses.attrs.get("fps") or 0.0)

    def used(self) -> set[int]:
        """Motif ids that occur."""
        return set(self.stats.loc[self.stats["frames"] > 0, "motif"].tolist())


@dataclass
class DemoReport:
    """What the demo computed and wrote."""

    out_dir: Path
    model_dir: Path
    names: MotifNames
    recordings: dict[str, DemoRecording]
    agreement: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """A short text summary: frames, motifs used, top motifs, label agreement."""
        from napari_vqmap.summary import describe

        names = self.names
        lines = [
            f"napari-vqmap demo: one model ({names.n_types} types x {names.n_subtypes} "
            f"subtypes = {names.n_motifs} motifs) for a 2D and a 3D recording",
        ]
        for rec in self.recordings.values():
            lines += ["", f"{rec.title}:", describe(rec.poses)]
            lines.append(
                f"  motifs       {len(rec.used())} of {names.n_motifs} used; "
                f"the {N_TOP} most used:"
            )
            top = rec.stats.sort_values("usage", ascending=False).head(N_TOP)
            for row in top.itertuples():
                lines.append(
                    f"    {row.name:>10}  {100 * row.usage:5.1f} % of frames, "
                    f"{row.n_bouts:4d} bouts, mean {row.mean_duration_s:.2f} s"
                )
        shared = set.intersection(*(r.used() for r in self.recordings.values()))
        lines.append(f"\n{len(shared)} motifs occur in both recordings (one shared codebook).")
        if self.agreement:
            a = self.agreement
            lines.append(
                f"SUBTLE motifs vs human labels ({', '.join(a['labels'])}; "
                f"{a['scored_frames']} labelled frames): "
                + _scores_text(a["motif"])
                + "; motif types: "
                + _scores_text(a["type"])
            )
        lines.append(
            f"\nWrote {len(self.files)} files to {self.out_dir} in {self.seconds:.0f} s:\n  "
            + "\n  ".join(p.name for p in self.files)
        )
        return "\n".join(lines)


def _scores_text(scores: dict[str, float]) -> str:
    keys = ("nmi", "ari", "purity")
    return ", ".join(f"{k.upper() if k != 'purity' else k} {scores[k]:.2f}" for k in keys)


def closest_head(meta: dict[str, Any], keypoints: list[str], n_dims: int) -> str | None:
    """The model head for a skeleton: same keypoints and dims, else the head sharing most
    keypoints with the same dims, else any head with the same dims; None when there is none."""
    exact = head_for(meta, keypoints, n_dims)
    if exact is not None:
        return exact
    same_dims = {k: h for k, h in meta.get("heads", {}).items() if h["n_dims"] == n_dims}
    if not same_dims:
        return None

    def shared(name: str) -> int:
        return len(set(same_dims[name]["skeleton"]["keypoints"]) & set(keypoints))

    return max(same_dims, key=shared)


def label_agreement(labels: np.ndarray, result: xr.Dataset) -> dict[str, Any]:
    """NMI, ARI, purity, ... of motifs and of motif types against per-frame labels, on the
    labelled (not ``na``) and encoded frames."""
    from napari_vqmap.analysis.metrics import evaluate_result

    table = pd.DataFrame({"label": np.asarray(labels).astype(str)})
    report = evaluate_result(result, table, ignore=[IGNORED_LABEL])
    return {
        "scored_frames": report["scored_frames"],
        "labels": report["type_confusion"][0],
        "ignored_label": IGNORED_LABEL,
        "motif": report["motif"],
        "type": report["type"],
    }


def _sample_recording(
    encoded: Encoded, title: str, source: Path, names: MotifNames
) -> DemoRecording:
    from napari_vqmap.analysis import motif_stats
    from napari_vqmap.results import motifs_table

    poses, result = encoded.poses, encoded.result
    table = motifs_table(result, poses, names)
    stats = motif_stats(table, names, fps=float(poses.attrs.get("fps") or 0) or None)
    return DemoRecording(title, source, poses, result, table, stats)


def run_demo(
    out_dir: str | Path = DEFAULT_OUT,
    model_dir: str | Path | None = None,
    video_seconds: float = 10.0,
    log: Callable[[str], None] | None = print,
) -> DemoReport:
    """Encode the bundled samples with the bundled (or ``model_dir``) model and write the
    demo outputs into ``out_dir``; returns a :class:`DemoReport`."""
    from napari_vqmap.checkpoint import load_model, model_folder
    from napari_vqmap.encode import encode_files
    from napari_vqmap.io.files import check_writable
    from napari_vqmap.sample_data import (
        load_subtle,
        load_vame,
        subtle_labels,
        subtle_paths,
        vame_paths,
    )

    start = time.perf_counter()
    say = log or (lambda _: None)
    out = Path(out_dir)
    check_writable(out)
    model_dir = Path(model_folder(model_dir))
    model, meta = load_model(model_dir)
    cfg = model.config
    names = MotifNames.for_results(out, cfg.n_types, cfg.n_subtypes)
    say(f"model: {model_dir}")
    vame_csv, vame_video = vame_paths()
    subtle_nc = subtle_paths()[0]
    samples = {
        "vame": ("VAME mouse (2D, DeepLabCut)", vame_csv, load_vame),
        "subtle": ("SUBTLE mouse (3D, AVATAR)", subtle_nc, load_subtle),
    }
    recordings: dict[str, DemoRecording] = {}
    files: list[Path] = []
    for key, (title, source, load) in samples.items():
        say(f"encoding {title}: {source.name}")
        (encoded,) = encode_files({key: load()}, model_dir, out, settings={"demo": True})
        recordings[key] = _sample_recording(encoded, title, source, names)
        files += encoded.files
    recordings["vame"].video = vame_video
    subtle = recordings["subtle"]
    agreement = label_agreement(subtle_labels(), subtle.result)
    agreement_path = out / f"{subtle_nc.stem}_label_agreement.json"
    files.append(atomic_write_text(agreement_path, json.dumps(agreement, indent=2) + "\n"))
    say("drawing figures")
    files += _figures(model, meta, names, recordings, out)
    say(f"rendering {video_seconds:g} s of video")
    files.append(_clip(recordings["vame"], names, out, video_seconds))
    report = DemoReport(out, model_dir, names, recordings, agreement, files)
    report.seconds = time.perf_counter() - start
    summary_path = out / "summary.txt"
    report.files.append(summary_path)
    atomic_write_text(summary_path, report.summary() + "\n")
    return report


def _figures(
    model, meta, names: MotifNames, recordings: dict[str, DemoRecording], out: Path
) -> list[Path]:
    """``usage.png`` (usage per motif, one panel per recording) and ``prototypes.png``
    (every motif decoded on the 3D SUBTLE skeleton, unused ones grey)."""
    from matplotlib.figure import Figure

    from napari_vqmap.analysis.figures import plot_prototypes, plot_usage, save_figure
    from napari_vqmap.prototypes import prototypes

    fig = Figure(figsize=(max(8.0, 0.1 * names.n_motifs + 2), 7.5), layout="constrained")
    axes = fig.subplots(len(recordings), 1)
    for ax, rec in zip(np.atleast_1d(axes), recordings.values(), strict=True):
        plot_usage(rec.stats, ax=ax, title=f"Motif usage: {rec.title}")
    usage_path = save_figure(fig, out / "usage.png")
    files = [usage_path]
    subtle = recordings["subtle"]
    keypoints = [str(k) for k in subtle.poses["keypoint"].values]
    head = closest_head(meta, keypoints, subtle.poses.sizes["space"])
    if head is None:  # a model without any 3D head: decode on its first head
        head = next(iter(meta["heads"]))
    skeleton = meta["heads"][head]["skeleton"]
    poses = prototypes(model, head)
    usage = subtle.stats.set_index("motif")["usage"].reindex(range(names.n_motifs)).fillna(0)
    dims = poses.shape[-1]
    view = (0, 2) if dims == 3 else (0, 1)  # side view: heading along x, height up
    title = (
        f"Motif prototypes decoded on the {skeleton.get('name', head)} skeleton "
        f"({'side' if dims == 3 else 'top'} view, body lengths; grey: unused in SUBTLE)"
    )
    fig = plot_prototypes(poses, skeleton, names, usage=usage.to_numpy(), view=view, title=title)
    files.append(save_figure(fig, out / "prototypes.png"))
    return files


def _clip(rec: DemoRecording, names: MotifNames, out: Path, seconds: float) -> Path:
    from napari_vqmap.analysis.motif_video import write_motif_video

    path = out / f"{rec.source.stem}_motifs.mp4"
    motif = rec.table["motif"].to_numpy()
    n_types, n_sub = names.n_types, names.n_subtypes
    write_motif_video(
        rec.video, rec.poses, motif, rec.table["name"].to_numpy(), n_types, n_sub, path, seconds
    )
    return path
