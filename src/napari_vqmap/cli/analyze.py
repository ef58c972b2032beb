"""``napari-vqmap analyze``: usage, bouts, transitions, group tests, figures."""

from __future__ import annotations

import argparse
from collections.abc import Callable

HELP = "usage, bouts, transitions, group tests, figures"
MIN_GROUP_FILES = 3  # analysis.stats.MIN_GROUP_FILES (not imported: pandas; a test checks)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap analyze``."""
    parser.add_argument(
        "results", nargs="+", help="encode output folders, *_motifs.csv files or globs"
    )
    parser.add_argument("--out", required=True, help="output folder for tables and figures")
    parser.add_argument("--groups", help="csv with columns file,group for a group comparison")
    parser.add_argument("--model", help="model folder (default: the one in the encode sidecars)")
    parser.add_argument(
        "--names", help="motif names YAML (default: motif_names.yaml beside the results)"
    )
    parser.add_argument(
        "--min-group-files",
        type=int,
        default=MIN_GROUP_FILES,
        help="fewest files a group needs for the test (default %(default)s)",
    )
    parser.add_argument("--no-prototypes", action="store_true", help="skip decoding prototypes")
    parser.add_argument(
        "--clips",
        nargs="?",
        type=int,
        const=0,
        metavar="N",
        help="also write example clips (one grid movie per motif, up to 16 bouts, from the "
        "recordings' videos) into OUT/clips: every used motif, or the N most used",
    )


def _clip_bar() -> Callable[[int, int], None]:
    """A tqdm progress bar over the motifs' clips."""
    from tqdm import tqdm

    bar = tqdm(desc="clips", unit="motif")

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update


def run(args: argparse.Namespace) -> int:
    """Run :func:`~napari_vqmap.analysis.report.analyze` from parsed arguments."""
    from napari_vqmap.analysis.report import analyze

    files = analyze(
        args.results,
        args.out,
        groups=args.groups,
        model=args.model,
        names=args.names,
        min_group_files=args.min_group_files,
        prototypes=not args.no_prototypes,
        progress=lambda msg: print(f"analyze: {msg}", flush=True),
        clips=args.clips,
        clip_progress=_clip_bar() if args.clips is not None else None,
    )
    print(f"analyze: wrote {len(files)} files into {args.out}")
    return 0
