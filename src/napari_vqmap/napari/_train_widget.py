"""The Train dock widget: pick pose layers and a few hyperparameters, then run
:func:`napari_vqmap.training.train` in a worker thread with live progress.

The widget only gathers choices; the configuration is built by
:func:`napari_vqmap.training.quick_config`, and all training happens in ``train``.
The skeleton editor (:mod:`._skeleton_editor`) changes the mapping of a layer's pose dataset
in place, so training uses the edited regions and anchors; **Save model…** copies the
trained model folder elsewhere (:func:`~napari_vqmap.checkpoint.export_model`).
Progress rows reach the GUI through a Qt signal (queued to the GUI thread); the plots are
redrawn from them at most every ``PLOT_INTERVAL_MS`` (a redraw takes tens of milliseconds
while training shares the CPU). Cancel sets an event that ``train`` polls through
``should_stop`` and answers by saving a resumable checkpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr
from napari.qt.threading import FunctionWorker, thread_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_vqmap.checkpoint import export_model
from napari_vqmap.io import load_poses, skeleton_of
from napari_vqmap.model import ModelConfig
from napari_vqmap.napari import install_fixes
from napari_vqmap.napari._pose_layer_list import PoseLayerList
from napari_vqmap.napari._skeleton_editor import SkeletonEditor
from napari_vqmap.napari.background import short_gil_turns
from napari_vqmap.napari.plots import LossPlot, UsagePlot
from napari_vqmap.napari.skeleton_edit import ANCHORS
from napari_vqmap.runtime import available_devices
from napari_vqmap.training import TrainConfig, quick_config, train

if TYPE_CHECKING:
    import napari

PLOT_INTERVAL_MS = 1000


def skeleton_summary(name: str, ds: xr.Dataset) -> str:
    """Two-line description of a layer's skeleton and anchors (the regions are in the
    skeleton editor)."""
    sk = skeleton_of(ds)
    anchors = " · ".join(f"{r}: " + (", ".join(getattr(sk, r)) or "-") for r in ANCHORS)
    return (
        f"<b>{name}</b>: skeleton <i>{sk.name}</i>, {len(sk.keypoints)} keypoints, "
        f"{ds.sizes['space']}D, {ds.sizes['time']} frames<br>{anchors}"
    )


def load_pose_files(
    paths: list[str | Path], taken: Collection[str] = ()
) -> tuple[dict[str, xr.Dataset], list[str]]:
    """(label -> pose dataset, error messages) for pose files; a label is ``folder/name``,
    numbered when it is in ``taken`` or repeats. Plain Python: the widget runs it in a
    worker."""
    files: dict[str, xr.Dataset] = {}
    errors: list[str] = []
    used = set(taken)
    for path in map(Path, paths):
        try:
            ds = load_poses(path)
        except (OSError, ValueError) as err:  # PoseFileError is a ValueError
            errors.append(str(err))
            continue
        label = base = f"{path.parent.name}/{path.name}"
        n = 1
        while label in used:
            n += 1
            label = f"{base} ({n})"
        files[label] = ds
        used.add(label)
    return files, errors


class _Bridge(QObject):
    """Carries progress rows from the worker thread to the GUI thread (queued signal)."""

    progress = Signal(dict)


class TrainWidget(QWidget):
    """Dock widget that trains a VQ-MAP model on the viewer's pose layers."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        install_fixes()
        super().__init__()
        self.viewer = napari_viewer
        self.worker: FunctionWorker | None = None
        self.history: list[dict[str, Any]] = []
        self.model_dir: Path | None = None  # the last run's model folder
        self._stop = threading.Event()
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)
        self._plot_timer = QTimer(self)
        self._plot_timer.setInterval(PLOT_INTERVAL_MS)
        self._plot_timer.timeout.connect(self._refresh_plots)
        self._plotted_rows = 0

        self.layer_list = PoseLayerList()
        self.layer_list.setMaximumHeight(100)
        self.layer_list.itemChanged.connect(self._update_summary)
        self.add_files_button = QPushButton("Add pose files…")
        self.add_files_button.setToolTip(
            "train on pose files without opening them as layers (e.g. a lab's sessions)"
        )
        self.add_files_button.clicked.connect(self._add_files_dialog)
        self.files_worker: FunctionWorker | None = None
        self.summary = QLabel("Tick the pose layers to train on.")
        self.summary.setWordWrap(True)
        self.editor = SkeletonEditor()
        self.editor.changed.connect(self._update_summary)

        self.window_spin = self._spin(8, 1024, ModelConfig.window, step=4)
        self.n_types = self._spin(1, 1024, ModelConfig.n_types)
        self.n_subtypes = self._spin(1, 1024, ModelConfig.n_subtypes)
        self.steps = self._spin(1, 10_000_000, TrainConfig.steps)
        self.batch_size = self._spin(1, 4096, TrainConfig.batch_size)
        self.device = QComboBox()
        self.device.addItems(available_devices())  # only what this machine has
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
        self.save_model_button = QPushButton("Save model…")
        self.save_model_button.setEnabled(False)
        self.save_model_button.setToolTip("copy the trained model folder to another folder")
        self.save_model_button.clicked.connect(self._save_model_dialog)
        buttons.addWidget(self.save_model_button)

        self.progress_bar = QProgressBar()
        self.plot = LossPlot()
        self.plot.setMinimumHeight(180)
        self.usage_plot = UsagePlot()
        self.usage_plot.setMinimumHeight(140)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        inner = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout = QVBoxLayout(inner)
        layout.addWidget(QLabel("Pose layers and files"))
        layout.addWidget(self.layer_list)
        layout.addWidget(self.add_files_button)
        layout.addWidget(self.summary)
        layout.addWidget(self.editor)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.plot)
        layout.addWidget(self.usage_plot)
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
        self.layer_list.refresh(self.viewer.layers)
        self._update_summary()

    def add_files(self, paths: list[str | Path]) -> None:
        """Load pose files (any format the reader opens) in a worker and list them, ticked,
        as training data; files that fail are named in the status line."""
        listed = {
            Path(ds.attrs["source_file"]).resolve()
            for ds in self.layer_list.files.values()
            if ds.attrs.get("source_file")
        }
        paths = [p for p in paths if Path(p).resolve() not in listed]  # each file once
        if self.files_worker is not None or not paths:
            return
        self.add_files_button.setEnabled(False)
        self.status.setText(f"Loading {len(paths)} pose file(s)…")

        @thread_worker(ignore_errors=True)
        def run() -> tuple[dict[str, xr.Dataset], list[str]]:
            with short_gil_turns():
                return load_pose_files(paths, taken=set(self.layer_list.names()))

        self.files_worker = run()
        self.files_worker.returned.connect(self._on_files)
        self.files_worker.errored.connect(lambda err: self._fail(f"Cannot load files: {err}"))
        self.files_worker.finished.connect(self._on_files_finished)
        self.files_worker.start()

    def _on_files(self, loaded: tuple[dict[str, xr.Dataset], list[str]]) -> None:
        files, errors = loaded
        self.layer_list.files.update(files)
        self.refresh_layers()
        message = f"Added {len(files)} pose file(s)."
        if errors:
            message += " Not added: " + " ".join(errors)
            show_error(message)
        self.status.setText(message)

    def _on_files_finished(self) -> None:
        self.files_worker = None
        self.add_files_button.setEnabled(True)

    def _add_files_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Pose files to train on", str(Path.cwd()))
        self.add_files(paths)

    def _update_summary(self, *args: Any) -> None:
        chosen = self.layer_list.chosen(self.viewer.layers)
        names = list(chosen)
        text = "<br><br>".join(skeleton_summary(n, chosen[n]) for n in names)
        self.summary.setText(text or "Tick the pose layers to train on.")
        if set(names) != set(self.editor.datasets):
            self.editor.set_datasets(chosen)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out_dir.text())
        if path:
            self.out_dir.setText(path)

    # ------------------------------------------------------------ training

    def start(self) -> None:
        """Start training on the ticked layers in a worker thread."""
        if self.worker is not None:
            return
        chosen = list(self.layer_list.chosen(self.viewer.layers).values())
        out = self.out_dir.text().strip()
        if not chosen or not out:
            self._fail("Tick at least one pose layer and choose an output folder.")
            return
        try:
            config = quick_config(
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
        self._plotted_rows = 0
        self.plot.set_data([], [], [])
        self.progress_bar.setRange(0, config.steps)
        self.progress_bar.setValue(0)
        self._stop.clear()
        self._final_refit = config.final_refit
        self.status.setText(f"Training on {len(chosen)} layer(s)…")
        self.start_button.setEnabled(False)
        self.save_model_button.setEnabled(False)
        self.editor.setEnabled(False)  # the skeletons are read when training starts
        self.cancel_button.setEnabled(True)

        @thread_worker(ignore_errors=True)  # errors go to _on_error, not re-raised
        def run() -> Path:
            with short_gil_turns():
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
        self._plot_timer.start()

    def cancel(self) -> None:
        """Ask the running training to save a resumable checkpoint and stop."""
        if self.worker is not None:
            self._stop.set()
            self.status.setText("Stopping after the current step…")

    def _on_progress(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        self.progress_bar.setMaximum(int(row["steps"]))
        self.progress_bar.setValue(int(row["step"]))
        coded = row["perplexity"] == row["perplexity"]  # nan until the codes are set
        if row["step"] >= row["steps"] and coded and self._final_refit:
            self.status.setText("Last step done; refitting the codebooks…")

    def _refresh_plots(self) -> None:
        """Redraw the loss and usage plots if progress rows came since the last redraw."""
        if self._plotted_rows == len(self.history):
            return
        self._plotted_rows = len(self.history)
        self.plot.set_data(
            [r["step"] for r in self.history],
            [r["loss"] for r in self.history],
            [r["perplexity"] for r in self.history],
        )
        if "codebook" in self.history[-1]:
            self.usage_plot.set_stats(self.history[-1]["codebook"])

    def _on_done(self, out: Path) -> None:
        self.model_dir = Path(out)
        self.save_model_button.setEnabled(True)
        if self._stop.is_set():
            step = self.history[-1]["step"] if self.history else 0
            self.status.setText(f"Stopped at step {step}; resumable checkpoint in {out}")
        else:
            self.progress_bar.setValue(self.progress_bar.maximum())
            self.status.setText(f"Model saved to {out}")

    def _on_error(self, err: Exception) -> None:
        self._fail(f"Training failed: {err}")

    def _on_finished(self) -> None:
        self._plot_timer.stop()
        self._refresh_plots()
        self.worker = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.editor.setEnabled(True)

    # ------------------------------------------------------------ saving

    def save_model(self, dest: str | Path) -> Path:
        """Copy the last run's model folder to ``dest`` (a new or empty folder)."""
        if self.model_dir is None:
            raise ValueError("no trained model yet: press Start first")
        saved = export_model(self.model_dir, dest)
        self.status.setText(f"Model saved to {saved} (trained in {self.model_dir})")
        return saved

    def _save_model_dialog(self) -> None:
        if self.model_dir is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Save model in", str(Path.cwd()))
        if not folder:
            return
        dest = Path(folder)
        if any(dest.iterdir()):  # a non-empty folder: save in a subfolder of it
            dest = dest / self.model_dir.name
        try:
            self.save_model(dest)
        except (OSError, ValueError) as err:
            self._fail(f"Cannot save the model: {err}")

    def _fail(self, message: str) -> None:
        self.status.setText(message)
        show_error(message)
