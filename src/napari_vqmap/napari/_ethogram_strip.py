"""The ethogram strip: a QWidget painting a cached image of motifs (time x individual).

The image is rebuilt only when the data, the visible range or the widget size change; a
frame change only moves the marker line, so following playback costs one small repaint.
Click or drag to seek (the :attr:`EthogramStrip.seek` signal carries the time index),
scroll to zoom around the pointer, double-click to show the whole recording again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qtpy.QtCore import QPointF, QRect, QSize, Qt, Signal
from qtpy.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from qtpy.QtWidgets import QSizePolicy, QToolTip, QWidget

from napari_vqmap.napari.ethogram import ethogram_image, index_at, x_of, zoomed

ROW_HEIGHT = 22  # pixels per individual
AXIS_HEIGHT = 14  # range labels under the rows
GAP = 2  # pixels between rows


class EthogramStrip(QWidget):
    """Motif per frame and individual as coloured rows, the current frame marked."""

    seek = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.motif = np.full((0, 1), -1, np.int64)
        self.lut = np.zeros((1, 4), np.float32)
        self.labels: list[str] = []
        self.frames = np.zeros(0, np.int64)
        self.describe = lambda t, i: ""
        self.t0, self.t1 = 0, 0
        self.index = 0
        self._image: QImage | None = None
        self._image_key: tuple = ()
        self.n_renders = 0  # how often the cached image was rebuilt
        self.n_paints = 0
        self._update_height()

    # ------------------------------------------------------------ data

    def set_data(
        self,
        motif: np.ndarray,
        lut: np.ndarray,
        labels: Sequence[str],
        frames: np.ndarray | None = None,
        keep_range: bool = False,
    ) -> None:
        """Show ``motif`` (time, individual) coloured with ``lut``; ``labels`` name the rows,
        ``frames`` are the frame numbers shown in tooltips and range labels."""
        motif = np.asarray(motif)
        self.motif = motif[:, None] if motif.ndim == 1 else motif
        self.lut = np.asarray(lut)
        self.labels = [str(s) for s in labels]
        n_time = len(self.motif)
        self.frames = np.arange(n_time) if frames is None else np.asarray(frames)
        if not keep_range or self.t1 > n_time or self.t1 <= self.t0:
            self.t0, self.t1 = 0, n_time
        self._image_key = ()
        self._update_height()
        self.update()

    def clear(self) -> None:
        """Show nothing."""
        self.set_data(np.full((0, 1), -1), np.zeros((1, 4)), [])

    @property
    def n_time(self) -> int:
        """Number of frames shown when not zoomed."""
        return len(self.motif)

    def set_index(self, t: int) -> None:
        """Move the marker to time index ``t`` (repaints only when it moves a pixel)."""
        t = int(t)
        if t == self.index:
            return
        old = self._marker_x(self.index)
        self.index = t
        if self.t1 > self.t0 and not self.t0 <= t < self.t1:  # follow playback when zoomed
            span = self.t1 - self.t0
            self.set_range(t - span // 4, t - span // 4 + span)
            return
        new = self._marker_x(t)
        for x in {int(old), int(new)}:
            self.update(QRect(x - 3, 0, 7, self.height()))

    def set_range(self, t0: int, t1: int) -> None:
        """Show time indices ``[t0, t1)`` (clipped to the recording)."""
        span = max(1, min(t1 - t0, self.n_time))
        t0 = int(np.clip(t0, 0, max(self.n_time - span, 0)))
        self.t0, self.t1 = t0, t0 + span
        self.update()

    # ------------------------------------------------------------ geometry

    def _update_height(self) -> None:
        rows = max(len(self.labels), 1)
        self.setFixedHeight(rows * (ROW_HEIGHT + GAP) + AXIS_HEIGHT)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(300, self.height())

    def _margin(self) -> int:
        if not self.labels:
            return 0
        metrics = self.fontMetrics()
        return max(metrics.horizontalAdvance(s) for s in self.labels) + 6

    def strip_width(self) -> int:
        """Width in pixels of the coloured part (right of the row labels)."""
        return max(self.width() - self._margin(), 1)

    def x_at_index(self, t: int) -> float:
        """Widget x of time index ``t`` (for clicks in tests and the marker)."""
        return self._margin() + x_of(t, self.strip_width(), self.t0, self.t1)

    _marker_x = x_at_index

    def index_at_x(self, x: float) -> int:
        """Time index under widget x."""
        return index_at(x - self._margin(), self.strip_width(), self.t0, self.t1)

    # ------------------------------------------------------------ painting

    def _cached_image(self) -> QImage | None:
        width = self.strip_width()
        key = (width, self.t0, self.t1, id(self.motif), id(self.lut))
        if key != self._image_key:
            self._image_key = key
            if self.t1 <= self.t0:
                self._image = None
                return None
            rgba = ethogram_image(self.motif[self.t0 : self.t1], width, self.lut)
            height = rgba.shape[0]
            self._image = QImage(
                rgba.tobytes(), width, height, 4 * width, QImage.Format.Format_RGBA8888
            ).copy()
            self.n_renders += 1
        return self._image

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        self.n_paints += 1
        painter = QPainter(self)
        ink = self.palette().color(self.foregroundRole())
        image = self._cached_image()
        margin, width = self._margin(), self.strip_width()
        if image is None:
            painter.setPen(ink)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no motifs")
            return
        for i, label in enumerate(self.labels):
            top = i * (ROW_HEIGHT + GAP)
            painter.drawImage(QRect(margin, top, width, ROW_HEIGHT), image, QRect(0, i, width, 1))
            painter.setPen(ink)
            painter.drawText(
                QRect(0, top, margin - 4, ROW_HEIGHT),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        bottom = len(self.labels) * (ROW_HEIGHT + GAP)
        font = painter.font()
        font.setPointSizeF(max(font.pointSizeF() * 0.8, 6))
        painter.setFont(font)
        painter.setPen(ink)
        axis = QRect(margin, bottom, width, AXIS_HEIGHT)
        left, right = self._frame_label(self.t0), self._frame_label(self.t1 - 1)
        painter.drawText(axis, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, left)
        painter.drawText(axis, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, right)
        if self.t0 <= self.index < self.t1:
            x = self.x_at_index(self.index)
            for colour, pen_width in ((QColor(0, 0, 0), 4), (QColor(255, 255, 255), 2)):
                painter.setPen(QPen(colour, pen_width))
                painter.drawLine(QPointF(x, 0), QPointF(x, bottom))
        painter.end()

    def _frame_label(self, t: int) -> str:
        if 0 <= t < len(self.frames):
            return f"frame {int(self.frames[t])}"
        return ""

    # ------------------------------------------------------------ mouse

    def _inside(self, event: QMouseEvent) -> bool:
        return self.t1 > self.t0 and event.position().x() >= self._margin()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton and self._inside(event):
            self.seek.emit(self.index_at_x(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if not self._inside(event):
            return
        t = self.index_at_x(event.position().x())
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.seek.emit(t)
        row = int(event.position().y() // (ROW_HEIGHT + GAP))
        if 0 <= row < len(self.labels):
            text = f"{self._frame_label(t)} · {self.labels[row]}: {self.describe(t, row)}"
            QToolTip.showText(event.globalPosition().toPoint(), text, self)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self.set_range(0, self.n_time)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        steps = event.angleDelta().y() / 120
        if not steps or self.n_time == 0:
            return
        centre = self.index_at_x(event.position().x())
        self.set_range(*zoomed(self.t0, self.t1, centre, 0.8**steps, self.n_time))
        event.accept()
