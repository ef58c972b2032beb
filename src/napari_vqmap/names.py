"""Motif names: a small YAML file next to the results that names types and motifs and merges
subtypes; it is read again on every re-encoding, so names survive it.

A motif id is ``type * n_subtypes + subtype``. Example ``motif_names.yaml``::

    n_types: 8
    n_subtypes: 16
    types:           # type id -> name
      2: rearing
    motifs:          # motif id -> name (overrides the type-based name)
      37: rear up
    merge:           # motif id -> motif id it is merged into
      38: 37
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from napari_vqmap.io.atomic import atomic_write_text
from napari_vqmap.validators import PoseFileError

NAMES_FILE = "motif_names.yaml"


@dataclass
class MotifNames:
    """Names of motif types and motifs, and merges of motifs, for one codebook size."""

    n_types: int
    n_subtypes: int
    types: dict[int, str] = field(default_factory=dict)
    motifs: dict[int, str] = field(default_factory=dict)
    merge: dict[int, int] = field(default_factory=dict)

    @property
    def n_motifs(self) -> int:
        """Number of (type, subtype) motifs."""
        return self.n_types * self.n_subtypes

    def resolve(self, motif: int) -> int:
        """The motif id after merges (chains followed; -1 stays -1)."""
        seen = {motif}
        while motif in self.merge:
            motif = self.merge[motif]
            if motif in seen:
                raise ValueError(f"motif merges form a cycle through motif {motif}")
            seen.add(motif)
        return motif

    def name(self, motif: int) -> str:
        """Display name of a motif id: its own name, else ``<type name>.<subtype>``, where the
        type name defaults to ``T<type>``; ``""`` for -1 (not encoded)."""
        if motif < 0:
            return ""
        motif = self.resolve(int(motif))
        if motif in self.motifs:
            return self.motifs[motif]
        t, s = divmod(motif, self.n_subtypes)
        return f"{self.types.get(t, f'T{t}')}.{s}"

    def type_name(self, motif_type: int) -> str:
        """Display name of a type id."""
        return self.types.get(int(motif_type), f"T{motif_type}")

    def apply(self, motif: np.ndarray) -> np.ndarray:
        """Motif ids with merges applied (same shape)."""
        if not self.merge:
            return np.asarray(motif)
        lut = np.array([self.resolve(m) for m in range(self.n_motifs)])
        motif = np.asarray(motif)
        return np.where(motif >= 0, lut[np.clip(motif, 0, None)], motif)

    def names(self, motif: np.ndarray) -> np.ndarray:
        """Display names for an array of motif ids."""
        lut = np.array([self.name(m) for m in range(self.n_motifs)] + [""], dtype=object)
        motif = np.asarray(motif)
        return lut[np.where(motif >= 0, motif, self.n_motifs)].astype(str)

    def rename(self, motif: int, name: str) -> None:
        """Name a motif (an empty name goes back to the default)."""
        self._check_motif(motif)
        if name:
            self.motifs[int(motif)] = name
        else:
            self.motifs.pop(int(motif), None)

    def merge_into(self, motif: int, target: int) -> None:
        """Merge ``motif`` into ``target`` (both ids); merging into itself un-merges it."""
        self._check_motif(motif)
        self._check_motif(target)
        if self.resolve(int(target)) == int(motif) and target != motif:
            raise ValueError(f"motif {target} is already merged into {motif}")
        if target == motif:
            self.merge.pop(int(motif), None)
        else:
            self.merge[int(motif)] = int(target)

    def _check_motif(self, motif: int) -> None:
        if not 0 <= int(motif) < self.n_motifs:
            raise ValueError(f"motif id {motif} is not in 0..{self.n_motifs - 1}")

    def to_dict(self) -> dict:
        """Plain data for YAML."""
        return {
            "n_types": self.n_types,
            "n_subtypes": self.n_subtypes,
            "types": dict(sorted(self.types.items())),
            "motifs": dict(sorted(self.motifs.items())),
            "merge": dict(sorted(self.merge.items())),
        }

    def save(self, path: str | Path) -> Path:
        """Write the YAML file atomically; ``path`` may be a results folder."""
        path = Path(path)
        if path.is_dir():
            path = path / NAMES_FILE
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        return atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> MotifNames:
        """Read a names YAML file, with a clear error when it is malformed."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            names = cls(
                n_types=int(data["n_types"]),
                n_subtypes=int(data["n_subtypes"]),
                types={int(k): str(v) for k, v in (data.get("types") or {}).items()},
                motifs={int(k): str(v) for k, v in (data.get("motifs") or {}).items()},
                merge={int(k): int(v) for k, v in (data.get("merge") or {}).items()},
            )
            for m in [*names.motifs, *names.merge, *names.merge.values()]:
                names._check_motif(m)
            for m in names.merge:
                names.resolve(m)
        except OSError as err:
            raise PoseFileError(path, f"cannot read motif names: {err}") from err
        except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as err:
            raise PoseFileError(path, f"not a valid motif names file: {err}") from err
        return names

    @classmethod
    def for_results(cls, folder: str | Path, n_types: int, n_subtypes: int) -> MotifNames:
        """The names file in a results folder, or default names when there is none.

        A file made for another codebook size is an error (it would name the wrong motifs).
        """
        path = Path(folder) / NAMES_FILE
        if not path.is_file():
            return cls(n_types, n_subtypes)
        names = cls.load(path)
        if (names.n_types, names.n_subtypes) != (n_types, n_subtypes):
            raise PoseFileError(
                path,
                f"names are for {names.n_types} x {names.n_subtypes} motifs but the "
                f"model has {n_types} x {n_subtypes}",
            )
        return names


def codebook_from_ids(
    motif: np.ndarray, types: np.ndarray, subtypes: np.ndarray
) -> tuple[int, int]:
    """The smallest (n_types, n_subtypes) consistent with encoded motif ids and their types
    and subtypes (``motif = type * n_subtypes + subtype``; unencoded frames, -1, are
    ignored): the subtype count from motifs of a type above 0, else the largest subtype
    + 1; (1, 1) when nothing is encoded."""
    motif, types, subtypes = (np.asarray(a, np.int64).ravel() for a in (motif, types, subtypes))
    encoded = motif >= 0
    motif, types, subtypes = motif[encoded], types[encoded], subtypes[encoded]
    if not motif.size:
        return 1, 1
    n_sub = int(subtypes.max()) + 1
    above = types > 0
    if above.any():
        n_sub = max(n_sub, int(((motif - subtypes)[above] // types[above]).max()))
    return max(int(types.max()) + 1, 1), max(n_sub, 1)
