"""``napari-vqmap compare``: agreement between two encodings or two models."""

from __future__ import annotations

import argparse
import json

from napari_vqmap.cli.evaluate import print_metrics

HELP = "agreement between two encodings or two models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap compare``."""
    parser.add_argument("a", help="encode result (folder, _motifs.csv/.nc) or model folder")
    parser.add_argument("b", help="encode result (folder, _motifs.csv/.nc) or model folder")
    parser.add_argument("--poses", help="pose file to encode, when A or B is a model folder")
    parser.add_argument("--skeleton", help="skeleton preset name or YAML file (with --poses)")
    parser.add_argument("--fps", type=float, help="frame rate, for pose files that lack one")
    parser.add_argument("--out", help="write the report to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Print (and with ``--out`` write) the agreement between two encodings."""
    from napari_vqmap.analysis.metrics import compare_tables, encoding_table
    from napari_vqmap.io.atomic import atomic_write_text
    from napari_vqmap.validators import PoseFileError

    options = {"poses": args.poses, "skeleton": args.skeleton, "fps": args.fps}
    a, b = encoding_table(args.a, **options), encoding_table(args.b, **options)
    try:
        report = compare_tables(a, b)
    except ValueError as err:
        raise PoseFileError(args.b, f"cannot compare with {args.a}: {err}") from err
    report = {"a": str(args.a), "b": str(args.b)} | report
    print(f"{args.a} vs {args.b}")
    print_metrics(report["pooled"])
    if len(report["per_individual"]) > 1:
        for ind, sub in report["per_individual"].items():
            print(f"{ind}:")
            print_metrics(sub, "  ")
    if args.out:
        atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    return 0
