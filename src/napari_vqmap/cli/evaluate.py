"""``napari-vqmap evaluate``: score an encoding against per-frame labels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "score an encoding against per-frame labels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap evaluate``."""
    parser.add_argument("results", help="encode output folder, *_motifs.csv or *_motifs.nc")
    parser.add_argument("--labels", required=True, help="per-frame labels csv")
    parser.add_argument("--ignore", nargs="*", default=[], help="labels to leave out, e.g. na")
    parser.add_argument("--out", help="folder for the JSON and PNG (default: beside results)")


def print_metrics(metrics: dict[str, float], indent: str = "") -> None:
    """One line per metric: name and value."""
    for name, value in metrics.items():
        print(
            f"{indent}{name:<20} {value:.4f}"
            if isinstance(value, float)
            else f"{indent}{name:<20} {value}"
        )


def run(args: argparse.Namespace) -> int:
    """Print the metrics; write ``<stem>_evaluate.json`` and ``<stem>_confusion.png``."""
    from napari_vqmap.analysis.metrics import evaluate_files, plot_confusion
    from napari_vqmap.io.atomic import atomic_write_text

    report = evaluate_files(args.results, args.labels, args.ignore)
    motifs_path = Path(report["results"])
    out = Path(args.out) if args.out else motifs_path.parent
    stem = out / motifs_path.name.removesuffix(".csv").removesuffix(".nc").removesuffix("_motifs")
    total = report["frames"] * len(report["individuals"])
    print(f"{report['scored_frames']} of {total} frames scored")
    print_metrics(report["metrics"])
    if len(report["individuals"]) > 1:
        for ind, sub in report["per_individual"].items():
            print(f"{ind}: {sub['scored_frames']} frames scored")
            print_metrics(sub["metrics"], "  ")
    atomic_write_text(f"{stem}_evaluate.json", json.dumps(report, indent=2) + "\n")
    plot_confusion(report, Path(f"{stem}_confusion.png"))
    return 0
