"""A small Qt editor of a pose layer's skeleton mapping (body region per keypoint, centre /
anterior / posterior anchors), used by the Train widget.

Edits go straight to the layer's pose dataset (its ``skeleton_spec`` attribute, via
:func:`napari_vqmap.io.attach_skeleton`), so training and encoding that layer use them;
the mapping logic is :func:`napari_vqmap.napari.skeleton_edit.edit_skeleton`.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from napari_vqmap.io import attach_skeleton, skeleton_of
from napari_vqmap.napari.skeleton_edit import (
    ANCHORS,
    anchor_choices,
    anchor_text,
    edit_skeleton,
    save_skeleton,
)
from napari_vqmap.skeletons import SKELETON_REGIONS, Skeleton


class SkeletonEditor(QGroupBox):
    """Region and anchor choices for the skeleton of one of several pose datasets."""

    changed = Signal()  # a dataset's skeleton was edited (or reset)

    def __init__(self) -> None:
        super().__init__("Skeleton mapping")
        self.datasets: dict[str, xr.Dataset] = {}
        self.originals: dict[int, Skeleton] = {}  # id(dataset) -> skeleton as opened
        self._loading = False

        self.layer_combo = QComboBox()
        self.layer_combo.currentTextChanged.connect(self._load)
        self.name_label = QLabel("")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["keypoint", "region"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(150)
        self.table.setMaximumHeight(220)
        self.anchors = {role: QComboBox() for role in ANCHORS}
        for combo in self.anchors.values():
            combo.currentTextChanged.connect(self._apply)
        self.save_button = QPushButton("Save skeleton…")
        self.save_button.clicked.connect(self._save_dialog)
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(self.reset)

        form = QFormLayout()
        form.addRow("layer", self.layer_combo)
        form.addRow("skeleton", self.name_label)
        for role, combo in self.anchors.items():
            form.addRow(f"{role} anchor", combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._enable(False)

    # ------------------------------------------------------------ choices

    def set_datasets(self, datasets: dict[str, xr.Dataset]) -> None:
        """Offer these (layer name -> pose dataset), keeping the current choice if listed."""
        self.datasets = dict(datasets)
        for ds in self.datasets.values():
            self.originals.setdefault(id(ds), skeleton_of(ds))
        current = self.layer_combo.currentText()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(list(self.datasets))
        if current in self.datasets:
            self.layer_combo.setCurrentText(current)
        self.layer_combo.blockSignals(False)
        self._load()

    def dataset(self) -> xr.Dataset | None:
        """The pose dataset being edited."""
        return self.datasets.get(self.layer_combo.currentText())

    def skeleton(self) -> Skeleton | None:
        """The (possibly edited) skeleton of the dataset being edited."""
        ds = self.dataset()
        return None if ds is None else skeleton_of(ds)

    def region_combo(self, keypoint: str) -> QComboBox:
        """The region choice of ``keypoint``."""
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == keypoint:
                return self.table.cellWidget(row, 1)
        raise KeyError(keypoint)

    def _enable(self, on: bool) -> None:
        for widget in (self.table, self.save_button, self.reset_button, *self.anchors.values()):
            widget.setEnabled(on)

    def _load(self, *args: object) -> None:
        """Fill the table and anchors from the chosen dataset's current skeleton."""
        sk = self.skeleton()
        self._loading = True
        self.table.setRowCount(0)
        for combo in self.anchors.values():
            combo.clear()
        if sk is not None:
            original = self.originals[id(self.dataset())]
            self.table.setRowCount(len(sk.keypoints))
            for row, kp in enumerate(sk.keypoints):
                self.table.setItem(row, 0, QTableWidgetItem(kp))
                combo = QComboBox()
                combo.addItems(SKELETON_REGIONS)
                combo.setCurrentText(sk.region_of(kp))
                combo.currentTextChanged.connect(self._apply)
                self.table.setCellWidget(row, 1, combo)
            for role, combo in self.anchors.items():
                choices = anchor_choices(original, role)
                current = anchor_text(getattr(sk, role))
                combo.addItems([*choices, *([current] if current not in choices else [])])
                combo.setCurrentText(current)
            self.table.resizeColumnToContents(0)
        self._loading = False
        self._enable(sk is not None)
        self._show_name()

    def _show_name(self) -> None:
        sk = self.skeleton()
        self.name_label.setText("" if sk is None else f"{sk.name} ({len(sk.keypoints)} keypoints)")

    # ------------------------------------------------------------ edits

    def _apply(self, *args: object) -> None:
        """Attach the skeleton the current choices describe to the dataset."""
        ds = self.dataset()
        if self._loading or ds is None:
            return
        original = self.originals[id(ds)]
        regions = {k: self.region_combo(k).currentText() for k in original.keypoints}
        anchors = {role: combo.currentText() for role, combo in self.anchors.items()}
        attach_skeleton(ds, edit_skeleton(original, regions, anchors))
        self._show_name()
        self.changed.emit()

    def reset(self) -> None:
        """Give the dataset back the skeleton it was opened with."""
        ds = self.dataset()
        if ds is not None:
            attach_skeleton(ds, self.originals[id(ds)])
            self._load()
            self.changed.emit()

    def save(self, path: str | Path) -> Path:
        """Write the edited skeleton as a user-skeleton YAML file."""
        sk = self.skeleton()
        if sk is None:
            raise ValueError("no pose layer to save the skeleton of")
        return save_skeleton(sk, path)

    def _save_dialog(self) -> None:
        sk = self.skeleton()
        if sk is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save skeleton", str(Path.cwd() / f"{sk.name}.yaml"), "YAML (*.yaml *.yml)"
        )
        if path:
            saved = self.save(path)
            self.name_label.setText(f"{sk.name}: saved to {saved}")
