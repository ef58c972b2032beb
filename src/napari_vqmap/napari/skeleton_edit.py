"""Editing a pose layer's skeleton mapping (body regions, anchors).

Plain functions (no Qt) behind the Train widget's skeleton editor; copying a model folder is
:func:`napari_vqmap.checkpoint.export_model`.
An anchor is written as its keypoint names joined by ``", "`` (``""``: no anchor).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from napari_vqmap.skeletons import SKELETON_REGIONS, Skeleton

ANCHORS = ("centre", "anterior", "posterior")
EDITED_SUFFIX = "_edited"


def anchor_text(keypoints: tuple[str, ...] | list[str]) -> str:
    """An anchor's display form: its keypoints joined by ``", "``."""
    return ", ".join(keypoints)


def parse_anchor(text: str) -> tuple[str, ...]:
    """The keypoints of an anchor's display form (``""`` -> no keypoint)."""
    return tuple(k.strip() for k in text.split(",") if k.strip())


def anchor_choices(skeleton: Skeleton, role: str) -> list[str]:
    """Choices for an anchor: none, the skeleton's current (possibly multi-keypoint) anchor,
    then every single keypoint."""
    current = anchor_text(getattr(skeleton, role))
    singles = list(skeleton.keypoints)
    return ["", *([current] if current and current not in singles else []), *singles]


def edit_skeleton(
    skeleton: Skeleton,
    regions: Mapping[str, str] | None = None,
    anchors: Mapping[str, str | tuple[str, ...]] | None = None,
    name: str | None = None,
) -> Skeleton:
    """``skeleton`` with new ``regions`` (keypoint -> region; unlisted keypoints keep theirs)
    and ``anchors`` (role -> keypoints or display text). A changed mapping that keeps the
    original name is renamed ``<name>_edited``, so training never merges it with the
    unedited skeleton (one model head per skeleton name)."""
    new_regions = {k: skeleton.region_of(k) for k in skeleton.keypoints}
    for kp, region in (regions or {}).items():
        if kp not in new_regions:
            raise ValueError(f"{kp!r} is not a keypoint of skeleton {skeleton.name!r}")
        if region not in SKELETON_REGIONS:
            choices = ", ".join(SKELETON_REGIONS)
            raise ValueError(f"unknown region {region!r}; use one of {choices}")
        new_regions[kp] = region
    roles = {role: getattr(skeleton, role) for role in ANCHORS}
    for role, value in (anchors or {}).items():
        if role not in ANCHORS:
            raise ValueError(f"unknown anchor {role!r}; use one of {', '.join(ANCHORS)}")
        roles[role] = parse_anchor(value) if isinstance(value, str) else tuple(value)
    edited = Skeleton(
        name=name or skeleton.name,
        keypoints=skeleton.keypoints,
        edges=skeleton.edges,
        regions={k: r for k, r in new_regions.items() if r != "other"},
        description=skeleton.description,
        dims=skeleton.dims,
        **roles,
    )
    unmarked = not skeleton.name.endswith(EDITED_SUFFIX)
    if name is None and unmarked and not same_mapping(edited, skeleton):
        edited = Skeleton(**{**edited.__dict__, "name": skeleton.name + EDITED_SUFFIX})
    return edited


def same_mapping(a: Skeleton, b: Skeleton) -> bool:
    """Whether two skeletons give every keypoint the same region and have the same anchors."""
    return (
        a.keypoints == b.keypoints
        and all(a.region_of(k) == b.region_of(k) for k in a.keypoints)
        and all(getattr(a, r) == getattr(b, r) for r in ANCHORS)
    )


def region_counts(skeleton: Skeleton) -> dict[str, int]:
    """Keypoints per region (in :data:`SKELETON_REGIONS` order, empty ones left out)."""
    counts = {r: 0 for r in SKELETON_REGIONS}
    for kp in skeleton.keypoints:
        counts[skeleton.region_of(kp)] += 1
    return {r: n for r, n in counts.items() if n}


def save_skeleton(skeleton: Skeleton, path: str | Path) -> Path:
    """Write ``skeleton`` as a user-skeleton YAML file (atomically); ``.yaml`` is added
    when the path has no YAML suffix."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        path = path.with_name(path.name + ".yaml")
    return skeleton.to_yaml(path)
