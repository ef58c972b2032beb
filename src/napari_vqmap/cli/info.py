"""``napari-vqmap info``: load pose files and print a summary of each."""

from __future__ import annotations

import argparse

HELP = "load pose files and print a summary of each"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap info``."""
    parser.add_argument("files", nargs="+", help="pose files of any supported format")
    parser.add_argument("--source-software", help="force a format instead of detecting it")
    parser.add_argument("--fps", type=float, help="frame rate, for files that lack one")
    parser.add_argument("--skeleton", help="skeleton preset name or YAML file")


def run(args: argparse.Namespace) -> int:
    """Print :func:`~napari_vqmap.summary.describe` of each file."""
    from napari_vqmap.io import load_poses
    from napari_vqmap.summary import describe

    for path in args.files:
        ds = load_poses(
            path, source_software=args.source_software, fps=args.fps, skeleton=args.skeleton
        )
        print(describe(ds))
    return 0
