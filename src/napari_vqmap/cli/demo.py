"""``napari-vqmap demo``: encode the bundled samples with the bundled model (and, with
``--gui``, open napari on the results)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "encode the bundled 2D and 3D sample recordings with the bundled model"
DEFAULT_OUT = Path("napari-vqmap-demo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap demo``."""
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help=f"output folder (default: ./{DEFAULT_OUT})"
    )
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument(
        "--video-seconds", type=float, default=10.0, help="length of the motif video clip"
    )
    parser.add_argument(
        "--gui", action="store_true", help="then open napari with the results set up"
    )


def check_display() -> None:
    """Fail early, with the fix, when napari cannot open a window (Linux without a display)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise SystemExit(
            "napari-vqmap: error: --gui needs a display, and neither DISPLAY nor WAYLAND_DISPLAY "
            "is set. Run it on a desktop, over `ssh -X`, or under a virtual display "
            "(`xvfb-run napari-vqmap demo --gui`); without --gui the demo writes its results only."
        )


def run(args: argparse.Namespace) -> int:
    """Run the demo, print its summary, and with ``--gui`` open napari."""
    from napari_vqmap.demo import run_demo

    if args.gui:
        check_display()
    report = run_demo(args.out, args.model, args.video_seconds)
    print(report.summary())
    if args.gui:
        from napari_vqmap.napari.demo_viewer import open_demo

        open_demo(report)
    return 0
