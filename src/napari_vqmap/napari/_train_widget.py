"""The Train dock widget: pick pose layers and a few hyperparameters, then run
:func:`napari_vqmap.train.train` in a worker thread with live progress.

The widget only gathers choices; :func:`make_config`, :func:`pose_datasets` and
:func:`skeleton_summary` are plain functions, and all training happens in ``train``.
Progress rows reach the GUI through a Qt signal (queued to the GUI thread); Cancel sets
an event that ``train`` polls through ``should_stop`` and answers by saving a resumable
checkpoint.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr
from napari.qt.threading import FunctionWorker, thread_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_vqmap.io import skeleton_of
from napari_vqmap.model import ModelConfig
from napari_vqmap.napari.plots import LossPlot
from napari_vqmap.train import TrainConfig, train

if TYPE_CHECKING:
    import napari

DEVICES = ("auto", "cpu", "cuda")
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


def skeleton_summary(name: str, ds: xr.Dataset) -> str:
    """One-paragraph, read-only description of a layer's skeleton, anchors and regions."""
    sk = skeleton_of(ds)
    regions = Counter(sk.region_of(k) for k in sk.keypoints)
    parts = [
        f"<b>{name}</b>: skeleton <i>{sk.name}</i>, {len(sk.keypoints)} keypoints, "
        f"{ds.sizes['space']}D, {ds.sizes['time']} frames",
        "centre: " + (", ".join(sk.centre) or "-"),
        "anterior: " + (", ".join(sk.anterior) or "-"),
        "posterior: " + (", ".join(sk.posterior) or "-"),
        "regions: " + ", ".join(f"{r} {n}" for r, n in sorted(regions.items())),
    ]
    return "<br>".join(parts)


def make_config(
    window: int,
    n_types: int,
    n_subtypes: int,
    steps: int,
    batch_size: int,
    device: str,
    seed: int,
) -> TrainConfig:
    """A :class:`TrainConfig` from the widget's choices (other options at their defaults)."""
    model = ModelConfig(window=window, n_types=n_types, n_subtypes=n_subtypes)
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        device=device,
        seed=seed,
        warmup_steps=min(TrainConfig.warmup_steps, max(1, steps // 10)),
        log_every=max(1, min(TrainConfig.log_every, steps // 100)),
        model=model,
    )


class _Bridge(QObject):
    """Carries progress rows from the worker thread to the GUI thread (queued signal)."""

    progress = Signal(dict)


class TrainWidget(QWidget):
    """Dock widget that trains a VQ-MAP model on the viewer's pose layers."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker: FunctionWorker | None = None
        self.history: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)

        self.layer_list = QListWidget()
        self.layer_list.setMaximumHeight(110)
        self.layer_list.itemChanged.connect(self._update_summary)
        self.summary = QLabel("Tick the pose layers to train on.")
        self.summary.setWordWrap(True)

        self.window_spin = self._spin(8, 1024, ModelConfig.window, step=4)
        self.n_types = self._spin(1, 1024, ModelConfig.n_types)
        self.n_subtypes = self._spin(1, 1024, ModelConfig.n_subtypes)
        self.steps = self._spin(1, 10_000_000, TrainConfig.steps)
        self.batch_size = self._spin(1, 4096, TrainConfig.batch_size)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.seed = self._spin(0, 2**31 - 1, TrainConfig.seed)
        self.out_dir = QLineEdit(str(Path.cwd() / "vqmap-model"))
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        folder = QHBoxLayout()
        folder.addWidget(self.out_dir)
        folder.addWidget(self.browse)

        form = QFormLayout()
        form.addRow("window (frames)", self.window_spin)
        form.addRow("motif types", self.n_types)
        form.addRow("subtypes per type", self.n_subtypes)
        form.addRow("steps", self.steps)
        form.addRow("batch size", self.batch_size)
        form.addRow("device", self.device)
        form.addRow("seed", self.seed)
        form.addRow("output folder", folder)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)

        self.progress_bar = QProgressBar()
        self.plot = LossPlot()
        self.plot.setMinimumHeight(180)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Pose layers"))
        layout.addWidget(self.layer_list)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.plot)
        layout.addWidget(self.status)
        layout.addStretch()

        for event in ("inserted", "removed"):
            getattr(self.viewer.layers.events, event).connect(self.refresh_layers)
        self.refresh_layers()

    @staticmethod
    def _spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setValue(value)
        return spin

    # ------------------------------------------------------------ layers

    def refresh_layers(self, event: Any = None) -> None:
        """Re-list the viewer's pose layers; new ones are ticked, others keep their tick."""
        ticked, known = set(self.selected_names()), set(self.layer_names())
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for name in pose_datasets(self.viewer.layers):
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(CHECKED if name in ticked or name not in known else UNCHECKED)
            self.layer_list.addItem(item)
        self.layer_list.blockSignals(False)
        self._update_summary()

    def layer_names(self) -> list[str]:
        """Names listed (ticked or not)."""
        return [self.layer_list.item(i).text() for i in range(self.layer_list.count())]

    def selected_names(self) -> list[str]:
        """Names of the ticked layers."""
        items = (self.layer_list.item(i) for i in range(self.layer_list.count()))
        return [it.text() for it in items if it.checkState() == CHECKED]

    def set_selected(self, names: list[str]) -> None:
        """Tick exactly ``names``."""
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            item.setCheckState(CHECKED if item.text() in names else UNCHECKED)

    def _update_summary(self, *args: Any) -> None:
        datasets = pose_datasets(self.viewer.layers)
        names = [n for n in self.selected_names() if n in datasets]
        text = "<br><br>".join(skeleton_summary(n, datasets[n]) for n in names)
        self.summary.setText(text or "Tick the pose layers to train on.")

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out_dir.text())
        if path:
            self.out_dir.setText(path)

    # ------------------------------------------------------------ training

    def start(self) -> None:
        """Start training on the ticked layers in a worker thread."""
        if self.worker is not None:
            return
        datasets = pose_datasets(self.viewer.layers)
        chosen = [datasets[n] for n in self.selected_names() if n in datasets]
        out = self.out_dir.text().strip()
        if not chosen or not out:
            self._fail("Tick at least one pose layer and choose an output folder.")
            return
        try:
            config = make_config(
                self.window_spin.value(),
                self.n_types.value(),
                self.n_subtypes.value(),
                self.steps.value(),
                self.batch_size.value(),
                self.device.currentText(),
                self.seed.value(),
            )
        except ValueError as err:
            self._fail(str(err))
            return
        self.history = []
        self.plot.set_data([], [], [])
        self.progress_bar.setRange(0, config.steps)
        self.progress_bar.setValue(0)
        self._stop.clear()
        self.status.setText(f"Training on {len(chosen)} layer(s)…")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)

        @thread_worker(ignore_errors=True)  # errors go to _on_error, not re-raised
        def run() -> Path:
            return train(
                chosen,
                out,
                config,
                progress=self._bridge.progress.emit,
                should_stop=self._stop.is_set,
            )

        self.worker = run()
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def cancel(self) -> None:
        """Ask the running training to save a resumable checkpoint and stop."""
        if self.worker is not None:
            self._stop.set()
            self.status.setText("Stopping after the current step…")

    def _on_progress(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        self.progress_bar.setMaximum(int(row["steps"]))
        self.progress_bar.setValue(int(row["step"]))
        self.plot.set_data(
            [r["step"] for r in self.history],
            [r["loss"] for r in self.history],
            [r["perplexity"] for r in self.history],
        )

    def _on_done(self, out: Path) -> None:
        if self._stop.is_set():
            step = self.history[-1]["step"] if self.history else 0
            self.status.setText(f"Stopped at step {step}; resumable checkpoint in {out}")
        else:
            self.progress_bar.setValue(self.progress_bar.maximum())
            self.status.setText(f"Model saved to {out}")

    def _on_error(self, err: Exception) -> None:
        self._fail(f"Training failed: {err}")

    def _on_finished(self) -> None:
        self.worker = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _fail(self, message: str) -> None:
        self.status.setText(message)
        show_error(message)
