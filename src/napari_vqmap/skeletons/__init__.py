"""Named skeleton presets, a YAML format for user skeletons, and guesses for unknown ones.

A :class:`Skeleton` lists keypoint names, edges (name pairs), the body region of each
keypoint (one of :data:`REGIONS`, or :data:`ARENA` for points fixed in the scene, such as
maze corners, which are shown but never given to the model) and anchor keypoints:
``centre`` (to centre the body), ``anterior`` and ``posterior`` (the heading runs posterior
-> anterior). Anchors are lists: the mean of whichever are visible in a frame is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from napari_vqmap.validators import PoseFileError

REGIONS = (
    "head",
    "trunk",
    "tail",
    "forelimb_left",
    "forelimb_right",
    "hindlimb_left",
    "hindlimb_right",
    "other",
)
ARENA = "arena"  # a point of the scene, not of the animal: left out of the model's input
SKELETON_REGIONS = (*REGIONS, ARENA)  # what a skeleton may give a keypoint


@dataclass(frozen=True)
class Skeleton:
    """A named keypoint layout with edges, body regions and anchor keypoints."""

    name: str
    keypoints: tuple[str, ...]
    edges: tuple[tuple[str, str], ...] = ()
    regions: dict[str, str] = field(default_factory=dict)
    centre: tuple[str, ...] = ()
    anterior: tuple[str, ...] = ()
    posterior: tuple[str, ...] = ()
    description: str = ""
    dims: int | None = None

    def __post_init__(self) -> None:
        kps = set(self.keypoints)
        if self.dims not in (None, 2, 3):
            raise ValueError(f"skeleton {self.name!r}: dims must be 2 or 3, not {self.dims!r}")
        if len(kps) != len(self.keypoints):
            raise ValueError(f"skeleton {self.name!r}: duplicate keypoint names")
        for a, b in self.edges:
            if a not in kps or b not in kps:
                raise ValueError(f"skeleton {self.name!r}: edge ({a}, {b}) names unknown keypoint")
        for kp, region in self.regions.items():
            if kp not in kps:
                raise ValueError(f"skeleton {self.name!r}: region for unknown keypoint {kp!r}")
            if region not in SKELETON_REGIONS:
                raise ValueError(
                    f"skeleton {self.name!r}: unknown region {region!r} for {kp!r}; "
                    f"use one of {', '.join(SKELETON_REGIONS)}"
                )
        for role in ("centre", "anterior", "posterior"):
            bad = [k for k in getattr(self, role) if k not in kps]
            if bad:
                raise ValueError(f"skeleton {self.name!r}: {role} anchor(s) {bad} not keypoints")
            fixed = [k for k in getattr(self, role) if self.regions.get(k) == ARENA]
            if fixed:
                raise ValueError(
                    f"skeleton {self.name!r}: {role} anchor(s) {fixed} are arena points"
                )

    def region_of(self, keypoint: str) -> str:
        """The body region of ``keypoint`` ('other' when unmapped)."""
        return self.regions.get(keypoint, "other")

    @property
    def arena(self) -> tuple[str, ...]:
        """Keypoints fixed in the scene (region :data:`ARENA`): not part of the animal."""
        return tuple(k for k in self.keypoints if self.regions.get(k) == ARENA)

    @property
    def body_keypoints(self) -> tuple[str, ...]:
        """Keypoints on the animal: every keypoint but the arena points."""
        return tuple(k for k in self.keypoints if self.regions.get(k) != ARENA)

    def region_ids(self) -> list[int]:
        """Each keypoint's index in :data:`REGIONS` (the model's region embedding); arena
        points have none, so leave them out first (:func:`napari_vqmap.io.without_arena`)."""
        if self.arena:
            raise ValueError(f"skeleton {self.name!r}: arena points {self.arena} have no id")
        return [REGIONS.index(self.region_of(k)) for k in self.keypoints]

    def subset(self, keypoints: Iterable[str]) -> Skeleton:
        """This skeleton restricted to ``keypoints`` (in the given order)."""
        keep = [k for k in keypoints if k in self.keypoints]
        ks = set(keep)
        return Skeleton(
            name=self.name,
            keypoints=tuple(keep),
            edges=tuple(e for e in self.edges if e[0] in ks and e[1] in ks),
            regions={k: r for k, r in self.regions.items() if k in ks},
            centre=tuple(k for k in self.centre if k in ks),
            anterior=tuple(k for k in self.anterior if k in ks),
            posterior=tuple(k for k in self.posterior if k in ks),
            description=self.description,
            dims=self.dims,
        )

    def to_dict(self) -> dict:
        """Plain, YAML/JSON-serialisable form."""
        d = asdict(self)
        d["keypoints"] = list(self.keypoints)
        d["edges"] = [list(e) for e in self.edges]
        for role in ("centre", "anterior", "posterior"):
            d[role] = list(d[role])
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str | Path | None = None) -> Skeleton:
        """Build from the dict form (as written by :meth:`to_dict` or a YAML file)."""
        try:
            return cls(
                name=str(d.get("name", Path(source).stem if source else "custom")),
                keypoints=tuple(str(k) for k in d["keypoints"]),
                edges=tuple((str(a), str(b)) for a, b in d.get("edges", [])),
                regions={str(k): str(v) for k, v in (d.get("regions") or {}).items()},
                centre=tuple(_as_list(d.get("centre"))),
                anterior=tuple(_as_list(d.get("anterior"))),
                posterior=tuple(_as_list(d.get("posterior"))),
                description=str(d.get("description", "")),
                dims=None if d.get("dims") is None else int(d["dims"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise PoseFileError(source, f"not a valid skeleton: {err}") from err

    def to_yaml(self, path: str | Path) -> Path:
        """Write this skeleton as YAML (atomically)."""
        from napari_vqmap.io.atomic import atomic_write_text

        return atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def load_skeleton_yaml(path: str | Path) -> Skeleton:
    """Read a user skeleton from a YAML file (see ``docs/skeletons.md`` for the format)."""
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(path, "skeleton file not found")
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise PoseFileError(path, f"not valid YAML: {err}") from err
    if not isinstance(d, dict) or "keypoints" not in d:
        raise PoseFileError(path, "a skeleton YAML needs a 'keypoints' list")
    return Skeleton.from_dict(d, source=path)


@cache
def _preset_files() -> dict[str, Path]:
    folder = resources.files("napari_vqmap.skeletons") / "presets"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml")}


@cache
def _preset_dict(key: str) -> dict:
    """The parsed YAML of a bundled preset (read once; ``from_dict`` copies it)."""
    return load_skeleton_yaml(_preset_files()[key]).to_dict()


def list_skeletons() -> list[str]:
    """Names of the bundled presets."""
    return sorted(_preset_files())


def get_skeleton(name: str | Path | Skeleton) -> Skeleton:
    """A preset by short name (e.g. ``"subtle"``), or a skeleton from a YAML path."""
    if isinstance(name, Skeleton):
        return name
    presets = _preset_files()
    key = str(name).lower()
    if key in presets:
        return Skeleton.from_dict(_preset_dict(key), source=presets[key])
    if Path(name).suffix.lower() in (".yaml", ".yml"):
        return load_skeleton_yaml(name)
    raise PoseFileError(
        None, f"unknown skeleton {name!r}; presets are: {', '.join(sorted(presets))}"
    )


def match_skeleton(keypoints: Sequence[str]) -> Skeleton | None:
    """The preset with exactly these keypoint names (any order), or the one that covers
    them best when all of them belong to it; ``None`` when no preset fits."""
    names = set(keypoints)
    best, best_size = None, None
    for preset in list_skeletons():
        sk = get_skeleton(preset)
        if names == set(sk.keypoints):
            return sk.subset(keypoints)
        covers = names <= set(sk.keypoints) and len(names) >= 2
        if covers and (best_size is None or len(sk.keypoints) < best_size):
            best, best_size = sk, len(sk.keypoints)
    return best.subset(keypoints) if best is not None else None


from napari_vqmap.skeletons.guess import guess_skeleton  # noqa: E402

__all__ = [
    "ARENA",
    "REGIONS",
    "SKELETON_REGIONS",
    "Skeleton",
    "get_skeleton",
    "guess_skeleton",
    "list_skeletons",
    "load_skeleton_yaml",
    "match_skeleton",
]
