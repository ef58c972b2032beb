"""Best guess of body regions, anchors and edges from keypoint names alone.

The guess reads body-part words in the names (``nose``, ``Left_ear``, ``ElbowL``, ``hipl``,
``paw1LH``, ...). It is a starting point: write it out with ``Skeleton.to_yaml`` and
correct it (see ``docs/skeletons.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from napari_vqmap.skeletons import Skeleton

# Words that name a body part, checked in this order (first match wins). Each entry is
# (region or limb kind, words); "fore"/"hind" become forelimb_/hindlimb_ + side.
_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("head", ("nose", "snout", "ear", "eye", "head", "mouth", "jaw", "tongue", "chin")),
    ("tail", ("tail", "anus")),
    ("hind", ("hind", "bhip")),
    ("fore", ("fore", "front", "fhip")),
    ("fore", ("hand", "arm", "shoulder", "elbow", "wrist", "finger")),
    ("hind", ("foot", "feet", "hip", "knee", "ankle", "shin", "haunch", "thigh", "toe")),
    ("trunk", ("neck", "spine", "back", "chest", "trunk", "centre", "center", "body")),
    ("trunk", ("thorax", "abdomen", "torso", "belly")),
)
# bare words too ambiguous to match inside other names ("rear" is not an ear)
_EXACT = {"tip": "tail", "rear": "other"}
_SIDE_WORDS = {"l": "left", "left": "left", "r": "right", "right": "right"}
# "EarL", "ElbowL", "forelegL1", "Ear_L", "paw1LH": a capital L/R after a lower-case
# letter, digit or separator (or at the start) and not followed by a lower-case letter.
_CAPITAL_SIDE = re.compile(r"(?:^|(?<=[a-z0-9_\-\s]))([LR])(?![a-z])")
# Lightning Pose style limb codes: "LF" / "RH" = left fore / right hind.
_LIMB_CODE = re.compile(r"(?<![A-Z])([LR])([FH])(?![a-z])")
# Rank along a limb (proximal first) and along the body axis (anterior first).
_LIMB_RANK = (("shoulder", "hip", "haunch", "thigh"), ("elbow", "knee"), ("wrist", "ankle"))
_TRUNK_RANK = (("neck",), ("chest", "thorax", "spine_1", "spinef"), ("spine", "trunk", "body"))
_TAIL_RANK = (("anus", "base", "root", "_0"), ("mid", "centre", "center", "_1", "_2"))


def guess_skeleton(keypoints: Sequence[str], name: str = "guessed") -> Skeleton:
    """A skeleton for unknown keypoint names: regions, anchors and edges are guesses."""
    keypoints = [str(k) for k in keypoints]
    regions = {k: guess_region(k) for k in keypoints}
    by_region = {r: [k for k in keypoints if regions[k] == r] for r in set(regions.values())}
    head = _head_order(by_region.get("head", []))
    trunk = _ranked(by_region.get("trunk", []), _TRUNK_RANK)
    tail = _ranked(by_region.get("tail", []), _TAIL_RANK)
    return Skeleton(
        name=name,
        keypoints=tuple(keypoints),
        edges=tuple(_edges(head, trunk, tail, by_region)),
        regions=regions,
        centre=tuple(trunk or head + tail or keypoints),
        anterior=tuple(head[:1] or trunk[:1]),
        posterior=tuple(tail[:1] or trunk[-1:]),
        description="guessed from keypoint names; check regions, anchors and edges",
    )


def guess_region(keypoint: str) -> str:
    """The body region (one of ``REGIONS``) that a keypoint name suggests."""
    low = keypoint.lower()
    if low in _EXACT:
        return _EXACT[low]
    code = _LIMB_CODE.search(keypoint)
    if code:
        limb = "forelimb" if code.group(2) == "F" else "hindlimb"
        return f"{limb}_{_SIDE_WORDS[code.group(1).lower()]}"
    for kind, words in _PARTS:
        word = next((w for w in words if w in low), None)
        if word is None:
            continue
        if kind not in ("fore", "hind"):
            return kind
        side = _side(keypoint, low.replace(word, " "))
        limb = "forelimb" if kind == "fore" else "hindlimb"
        return f"{limb}_{side}" if side else "other"
    return "other"


def _side(keypoint: str, rest: str) -> str | None:
    """'left' / 'right' from the name, or ``None``; ``rest`` is the name minus the part word."""
    low = keypoint.lower()
    for word in ("left", "right"):
        if word in low:
            return word
    capital = _CAPITAL_SIDE.search(keypoint)
    if capital:
        return _SIDE_WORDS[capital.group(1).lower()]
    for token in re.split(r"[^a-z]+", rest):  # "earl", "hipl", "rfoot", "Ear_l"
        if token in ("l", "r"):
            return _SIDE_WORDS[token]
    return None


def _rank(keypoint: str, ranks: Sequence[Sequence[str]]) -> int:
    low = keypoint.lower()
    return next((i for i, words in enumerate(ranks) if any(w in low for w in words)), len(ranks))


def _ranked(keypoints: list[str], ranks: Sequence[Sequence[str]]) -> list[str]:
    """Stable sort by rank, so ``Spine_1, Spine_2`` keep their order."""
    return sorted(keypoints, key=lambda k: _rank(k, ranks))


def _head_order(head: list[str]) -> list[str]:
    """Tip of the head (nose/snout) first, then the rest."""
    return _ranked(head, (("nose", "snout"),))


def _edges(
    head: list[str], trunk: list[str], tail: list[str], by_region: dict[str, list[str]]
) -> list[tuple[str, str]]:
    """Chain tip -> head hub -> trunk -> tail; hang other head points on the hub and each
    limb (proximal to distal) on the front or back of the trunk."""
    hub = next((k for k in head if "head" in k.lower()), head[0] if head else None)
    axis = head[:1] + ([hub] if hub and hub not in head[:1] else []) + trunk + tail
    edges = list(zip(axis[:-1], axis[1:], strict=True))
    edges += [(hub, k) for k in head if k not in axis]
    body = trunk or axis
    for region, members in by_region.items():
        if not region.startswith(("forelimb", "hindlimb")) or not body:
            continue
        limb = _ranked(members, _LIMB_RANK)
        root = body[0] if region.startswith("forelimb") else (tail[:1] or body[-1:])[0]
        edges += [(root, limb[0]), *zip(limb[:-1], limb[1:], strict=True)]
    return edges
