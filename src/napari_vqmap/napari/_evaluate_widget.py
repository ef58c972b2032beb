"""The Evaluate dock widget: agreement between an encoded pose layer's motifs and per-frame
labels from a file (e.g. a SUBTLE annotation csv).

:func:`encoded_layers` and :func:`confusion_view` are plain functions; the scoring is
:func:`napari_vqmap.analysis.metrics.evaluate_result`. The widget reads the labels file and scores
in a worker thread, then fills a metrics table and a confusion-matrix plot.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from napari.qt.threading import FunctionWorker, thread_worker
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_vqmap.analysis.metrics import evaluate_result, read_label_table
from napari_vqmap.names import MotifNames
from napari_vqmap.napari import install_fixes
from napari_vqmap.napari.background import short_gil_turns
from napari_vqmap.napari.motif_layers import find_motif_layers
from napari_vqmap.napari.plots import ConfusionPlot

if TYPE_CHECKING:
    import napari

METRICS = (
    ("nmi", "NMI"),
    ("ari", "ARI"),
    ("homogeneity", "homogeneity"),
    ("completeness", "completeness"),
    ("purity", "purity"),
    ("accuracy", "mapped accuracy"),
    ("macro_f1", "mapped macro F1"),
)
LEVELS = ("motif", "type")  # the metrics table's columns
COLUMNS = ("motif types", "top motifs")  # the confusion matrix's columns
TOP_MOTIFS = 20


def encoded_layers(viewer: Any) -> dict[str, Any]:
    """Keypoints-layer name -> layer for every encoded pose file in the viewer."""
    return {points.name: points for points, _ in find_motif_layers(viewer)}


def confusion_view(
    report: dict[str, Any], columns: str, names: MotifNames, top: int = TOP_MOTIFS
) -> tuple[np.ndarray, list[str], list[str], str]:
    """(counts, row names, column names, x label) for the confusion plot: labels x motif
    types, or labels x the ``top`` motifs with most scored frames."""
    if columns == COLUMNS[0]:
        rows, cols, table = report["type_confusion"]
        return table, rows, [names.type_name(t) for t in cols], "motif type"
    rows, cols, table = report["motif_confusion"]
    order = np.sort(np.argsort(-table.sum(0), kind="stable")[:top])
    return table[:, order], rows, [names.name(cols[j]) for j in order], f"top {top} motifs"


class EvaluateWidget(QWidget):
    """Dock widget scoring an encoded pose layer against per-frame labels."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        install_fixes()
        super().__init__()
        self.viewer = napari_viewer
        self.worker: FunctionWorker | None = None
        self.report: dict[str, Any] | None = None
        self._names_shown: MotifNames | None = None

        self.layer_combo = QComboBox()
        self.labels_path = QLineEdit()
        self.labels_path.setPlaceholderText("per-frame labels csv")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.labels_path)
        path_row.addWidget(self.browse)
        self.ignore = QLineEdit("na")
        self.ignore.setToolTip("labels left out of the scores, separated by commas")
        self.columns = QComboBox()
        self.columns.addItems(COLUMNS)
        self.columns.currentTextChanged.connect(self._show_confusion)
        form = QFormLayout()
        form.addRow("encoded layer", self.layer_combo)
        form.addRow("labels file", path_row)
        form.addRow("ignore labels", self.ignore)
        form.addRow("matrix columns", self.columns)

        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(self.start)
        self.status = QLabel("Encode a pose layer, then choose its labels file.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(len(METRICS), len(LEVELS))
        self.table.setHorizontalHeaderLabels(["motifs", "types"])
        self.table.setVerticalHeaderLabels([label for _, label in METRICS])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(self.table.verticalHeader().length() + 30)
        self.plot = ConfusionPlot()
        self.plot.setMinimumHeight(260)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        layout.addWidget(self.plot)
        layout.addStretch()

        for event in ("inserted", "removed"):
            getattr(self.viewer.layers.events, event).connect(self.refresh_layers)
        self.refresh_layers()

    def refresh_layers(self, event: Any = None) -> None:
        """Re-list the encoded layers, keeping the current choice when it is still there."""
        current = self.layer_combo.currentText()
        names = list(encoded_layers(self.viewer))
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        if current in names:
            self.layer_combo.setCurrentText(current)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Per-frame labels", self.labels_path.text(), "CSV files (*.csv);;All (*)"
        )
        if path:
            self.labels_path.setText(path)

    def _names(self, layer: Any, result: xr.Dataset) -> MotifNames:
        names = layer.metadata.get("motif_names")
        if isinstance(names, MotifNames):
            return names
        return MotifNames(int(result.attrs["n_types"]), int(result.attrs["n_subtypes"]))

    def start(self) -> None:
        """Read the labels and score the chosen layer's motifs in a worker thread."""
        if self.worker is not None:
            return
        self.refresh_layers()
        layer = encoded_layers(self.viewer).get(self.layer_combo.currentText())
        path = self.labels_path.text().strip()
        if layer is None:
            self._say("No encoded pose layer: encode one first (Encode widget).")
            return
        if not path:
            self._say("Choose a labels file (Browse…).")
            return
        result = layer.metadata["motifs"]
        names = self._names(layer, result)
        ignore = [s.strip() for s in self.ignore.text().split(",") if s.strip()]
        self.run_button.setEnabled(False)
        self._say(f"Scoring {layer.name} against {Path(path).name}…")

        @thread_worker(ignore_errors=True)  # errors go to _on_error
        def run() -> dict[str, Any]:
            with short_gil_turns():
                return evaluate_result(result, read_label_table(path), ignore, names)

        self.worker = run()
        self.worker.returned.connect(lambda report: self._on_done(report, names))
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def _on_done(self, report: dict[str, Any], names: MotifNames) -> None:
        self.report = report
        self._names_shown = names
        for col, level in enumerate(LEVELS):
            for row, (key, _) in enumerate(METRICS):
                item = QTableWidgetItem(f"{report[level][key]:.3f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self._show_confusion()
        self._say(
            f"{report['scored_frames']} of {report['frames']} frames scored "
            f"({len(report['individuals'])} individual(s))."
        )

    def _show_confusion(self, *args: Any) -> None:
        if self.report is None or self._names_shown is None:
            return
        counts, rows, cols, xlabel = confusion_view(
            self.report, self.columns.currentText(), self._names_shown
        )
        self.plot.set_table(counts, rows, cols, xlabel)

    def metric(self, key: str, level: str = "motif") -> float:
        """The value shown for a metric (as displayed, 3 decimals)."""
        row = [k for k, _ in METRICS].index(key)
        return float(self.table.item(row, LEVELS.index(level)).text())

    def _on_error(self, err: Exception) -> None:
        self.report = None
        self.table.clearContents()
        self.plot.clear()
        self._say(f"Cannot evaluate: {err}")

    def _on_finished(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)

    def _say(self, message: str) -> None:
        self.status.setText(message)
