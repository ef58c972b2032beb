"""Best guess of body regions, anchors and edges from keypoint names alone."""

from __future__ import annotations

from collections.abc import Sequence

from napari_vqmap.skeletons import Skeleton


def guess_skeleton(keypoints: Sequence[str], name: str = "guessed") -> Skeleton:
    """A skeleton for unknown keypoint names; the user can correct it (TODO: helper fills in)."""
    return Skeleton(name=name, keypoints=tuple(keypoints))
