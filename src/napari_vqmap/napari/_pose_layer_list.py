"""The checklist of pose layers shared by the Train and Encode widgets (the Train widget also
lists pose files loaded without layers: :attr:`PoseLayerList.files`)."""

from __future__ import annotations

from typing import Any

import xarray as xr
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QListWidget, QListWidgetItem

CHECKED, UNCHECKED = Qt.CheckState.Checked, Qt.CheckState.Unchecked


def pose_datasets(layers: Any) -> dict[str, xr.Dataset]:
    """Layer name -> pose dataset for layers holding ``metadata["poses"]``.

    The skeleton and keypoint layers of one file share a dataset; it is listed once,
    under the keypoint (last added) layer's name.
    """
    by_id: dict[int, tuple[str, xr.Dataset]] = {}
    for layer in layers:
        ds = layer.metadata.get("poses")
        if isinstance(ds, xr.Dataset):
            by_id[id(ds)] = (layer.name, ds)
    return dict(by_id.values())


class PoseLayerList(QListWidget):
    """One tickable row per pose file in the viewer (see :func:`pose_datasets`), then one
    per entry of :attr:`files` (label -> pose dataset loaded without layers)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, xr.Dataset] = {}

    def refresh(self, layers: Any) -> None:
        """Re-list the pose layers and files; new ones are ticked, others keep their tick."""
        ticked, known = set(self.selected()), set(self.names())
        self.blockSignals(True)
        self.clear()
        for name in [*pose_datasets(layers), *self.files]:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(CHECKED if name in ticked or name not in known else UNCHECKED)
            self.addItem(item)
        self.blockSignals(False)

    def names(self) -> list[str]:
        """Names listed (ticked or not)."""
        return [self.item(i).text() for i in range(self.count())]

    def selected(self) -> list[str]:
        """Names of the ticked layers."""
        return [self.item(i).text() for i in range(self.count()) if self._ticked(i)]

    def set_selected(self, names: list[str]) -> None:
        """Tick exactly ``names``."""
        for i in range(self.count()):
            item = self.item(i)
            item.setCheckState(CHECKED if item.text() in names else UNCHECKED)

    def chosen(self, layers: Any) -> dict[str, xr.Dataset]:
        """Name -> pose dataset of the ticked layers still in ``layers``, and ticked files."""
        datasets = {**pose_datasets(layers), **self.files}
        return {n: datasets[n] for n in self.selected() if n in datasets}

    def _ticked(self, i: int) -> bool:
        return self.item(i).checkState() == CHECKED
