"""Refresh the demo images in ``docs/images`` (run after the bundled model changes).

    python scripts/make_demo_images.py

Runs the demo into a temporary folder and copies its usage plot and one frame of its motif
video to ``docs/images/demo_usage.png`` and ``docs/images/demo_clip_frame.png``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
FRAME = 120  # a frame of the clip (4.8 s in)


def main() -> int:
    """Run the demo and copy its images."""
    import av
    from matplotlib.image import imsave

    from napari_vqmap.demo import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        report = run_demo(tmp, video_seconds=6.0, log=None)
        shutil.copyfile(report.out_dir / "usage.png", IMAGES / "demo_usage.png")
        with av.open(str(report.out_dir / "cropped_video_motifs.mp4")) as video:
            for i, frame in enumerate(video.decode(video=0)):
                if i == FRAME:
                    imsave(IMAGES / "demo_clip_frame.png", frame.to_ndarray(format="rgb24"))
                    break
    print(f"wrote {IMAGES / 'demo_usage.png'} and {IMAGES / 'demo_clip_frame.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
