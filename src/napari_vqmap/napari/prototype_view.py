"""Motif prototypes for the Motifs widget: find the model, decode, and animate.

:func:`find_model_dir` and :func:`load_prototypes` are plain functions (no Qt);
:class:`PrototypeView` is a small QWidget that paints one decoded pose sequence with its
skeleton edges, frame after frame on a QTimer. 3D poses are drawn from the side (x along
the body, z up), 2D poses from above; both in the model's aligned frame (heading +x).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from qtpy.QtCore import QPointF, QSize, Qt, QTimer
from qtpy.QtGui import QColor, QPainter, QPaintEvent, QPen
from qtpy.QtWidgets import QWidget

from napari_vqmap.checkpoint import head_for
from napari_vqmap.names import MotifNames


@dataclass
class Prototypes:
    """Decoded prototypes of every motif on one skeleton head."""

    poses: np.ndarray  # (n_motifs, T, K, D)
    edges: list[tuple[int, int]]
    fps: float
    head: str
    model_dir: Path
    note: str = ""  # e.g. that the head is the nearest one, not the skeleton's own


def find_model_dir(metadata: dict[str, Any], result: xr.Dataset | None = None) -> Path | None:
    """The model that encoded a layer's motifs: ``metadata["model_dir"]``, the result's
    ``model_dir`` attribute, the ``*_encode.json`` sidecar in ``metadata["results_dir"]``,
    else the bundled model; ``None`` when none is found."""
    candidates: list[Any] = [metadata.get("model_dir")]
    if result is not None:
        candidates += [result.attrs.get("model_dir"), result.attrs.get("model")]
    results_dir = metadata.get("results_dir")
    if results_dir and Path(results_dir).is_dir():
        stem = Path(str(metadata.get("source_file") or "")).stem
        sidecars = sorted(Path(results_dir).glob("*_encode.json"))
        sidecars.sort(key=lambda p: p.name != f"{stem}_encode.json")
        for path in sidecars:
            try:
                candidates.append(json.loads(path.read_text(encoding="utf-8")).get("model"))
            except (OSError, ValueError, AttributeError):
                continue
    for folder in candidates:
        if folder and (Path(folder) / "config.json").is_file():
            return Path(folder)
    try:
        from napari_vqmap.checkpoint import model_folder

        return Path(model_folder(None))
    except Exception:  # noqa: BLE001 (no bundled model in this installation)
        return None


def load_prototypes(model_dir: str | Path, poses: xr.Dataset, names: MotifNames) -> Prototypes:
    """Decode every motif of the model at ``model_dir`` on the head for ``poses``' skeleton;
    for a skeleton the model has no head for (encoded with its keypoints mapped to body
    regions), on the nearest head by body regions
    (:func:`~napari_vqmap.prototypes.prototype_head`), which ``note`` says.

    Raises ``ValueError`` with a readable reason when the model has no head of this
    dimensionality or its codebook differs from the encoding's.
    """
    from napari_vqmap.checkpoint import load_model
    from napari_vqmap.io import skeleton_of
    from napari_vqmap.prototypes import prototype_head, prototypes

    model, meta = load_model(model_dir)
    codebook = (model.config.n_types, model.config.n_subtypes)
    if codebook != (names.n_types, names.n_subtypes):
        raise ValueError(
            f"the model has {codebook[0]} x {codebook[1]} motifs but these motifs come from "
            f"{names.n_types} x {names.n_subtypes}; pick the model that encoded them"
        )
    head, note = head_for(meta, poses["keypoint"].values, poses.sizes["space"]), ""
    if head is None:
        own = skeleton_of(poses)
        head, _ = prototype_head(meta, {**own.to_dict(), "dims": poses.sizes["space"]})
        note = f"nearest to {own.name} by body regions; the model has no {own.name} head"
    if head is None:
        raise ValueError(
            f"the model has no head for this skeleton ({poses.sizes['keypoint']} keypoints, "
            f"{poses.sizes['space']}D), nor any {poses.sizes['space']}D head to draw it on"
        )
    skeleton = meta["heads"][head]["skeleton"]
    index = {str(k): i for i, k in enumerate(skeleton["keypoints"])}
    edges = [(index[str(a)], index[str(b)]) for a, b in skeleton.get("edges", [])]
    fps = float(meta.get("fps") or meta.get("preprocess", {}).get("target_fps") or 20.0)
    return Prototypes(prototypes(model, head), edges, fps, head, Path(model_dir), note)


def project(poses: np.ndarray) -> np.ndarray:
    """``(T, K, D)`` -> ``(T, K, 2)`` drawing coordinates with y up: (x, y) for 2D, the side
    view (x, z) for 3D."""
    if poses.shape[-1] >= 3:
        return poses[..., [0, 2]]
    return poses[..., :2]


class PrototypeView(QWidget):
    """Animates one prototype pose sequence, or shows a message instead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(QSize(160, 140))
        self.points = np.zeros((0, 0, 2), np.float32)
        self.edges: list[tuple[int, int]] = []
        self.colour = QColor(200, 200, 200)
        self.message = "Select a motif to see its prototype."
        self.frame = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)

    def show_sequence(
        self, poses: np.ndarray, edges: list[tuple[int, int]], rgba: np.ndarray, fps: float
    ) -> None:
        """Loop ``poses`` (T, K, D) at ``fps`` frames/s with ``edges`` in colour ``rgba``."""
        self.points = project(np.asarray(poses, np.float32))
        self.edges = list(edges)
        self.colour = QColor.fromRgbF(*[float(c) for c in rgba[:3]])
        self.message = ""
        self.frame = 0
        self.timer.start(max(int(1000 / max(fps, 1.0)), 15))
        self.update()

    def show_message(self, text: str) -> None:
        """Stop the animation and show ``text``."""
        self.timer.stop()
        self.points = np.zeros((0, 0, 2), np.float32)
        self.message = text
        self.update()

    @property
    def animating(self) -> bool:
        """Whether a sequence is playing."""
        return self.timer.isActive()

    def _tick(self) -> None:
        if len(self.points):
            self.frame = (self.frame + 1) % len(self.points)
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        ink = self.palette().color(self.foregroundRole())
        if self.message or not len(self.points):
            painter.setPen(ink)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.rect().adjusted(6, 6, -6, -6), flags, self.message)
            return
        finite = self.points[np.isfinite(self.points).all(axis=-1)]
        lo, hi = finite.min(axis=0), finite.max(axis=0)
        span = np.maximum(hi - lo, 1e-6)
        pad = 14
        scale = min((self.width() - 2 * pad) / span[0], (self.height() - 2 * pad) / span[1])
        centre = (lo + hi) / 2
        mid = np.array([self.width() / 2, self.height() / 2])
        pts = self.points[self.frame]
        xy = np.stack([mid[0] + (pts[:, 0] - centre[0]) * scale,
                       mid[1] - (pts[:, 1] - centre[1]) * scale], axis=-1)  # fmt: skip
        painter.setPen(QPen(self.colour, 3, cap=Qt.PenCapStyle.RoundCap))
        for a, b in self.edges:
            painter.drawLine(QPointF(*xy[a]), QPointF(*xy[b]))
        painter.setPen(QPen(ink, 5, cap=Qt.PenCapStyle.RoundCap))
        for x, y in xy:
            painter.drawPoint(QPointF(x, y))
        painter.setPen(ink)
        painter.drawText(
            self.rect().adjusted(4, 2, -4, -2),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
            f"{self.frame + 1}/{len(self.points)}",
        )
        painter.end()
