"""Left/right swapping: which keypoint is each keypoint's mirror partner."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from napari_vqmap.skeletons import Skeleton


def mirror_permutation(skeleton: Skeleton) -> np.ndarray | None:
    """Keypoint order after a left/right swap, or ``None`` when a lateral keypoint has no
    partner. Partners are found by name (left/right, L/R prefix or suffix) or region."""
    names = list(skeleton.keypoints)
    perm = np.arange(len(names))
    for i, name in enumerate(names):
        partner = next((c for c in _swapped_names(name) if c in names and c != name), None)
        lateral = skeleton.region_of(name).endswith(("_left", "_right"))
        if partner is None and (lateral or re.search("left|right", name, re.IGNORECASE)):
            return None
        if partner is not None:
            perm[i] = names.index(partner)
    return perm if (perm[perm] == np.arange(len(names))).all() else None


def _swapped_names(name: str) -> Iterator[str]:
    swap = {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}
    swap |= {"LEFT": "RIGHT", "RIGHT": "LEFT"}
    yield re.sub("|".join(swap), lambda m: swap[m.group(0)], name)
    single = {"l": "r", "r": "l", "L": "R", "R": "L"}
    if name[-1] in "LR" or (len(name) > 1 and name[-2] in "_-." and name[-1] in single):
        yield name[:-1] + single[name[-1]]
    if name[0] in single:
        yield single[name[0]] + name[1:]
