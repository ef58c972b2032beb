"""The Encode dock widget: pick a model and pose layers, encode them into motifs in a worker
thread, optionally save the results, and colour the layers by motif.

The widget only gathers choices. :func:`encode_datasets` runs
:func:`napari_vqmap.encode.encode_files` (the CLI's and the demo's path too: progress and
Cancel come after every batch of blocks; results are written with
:func:`napari_vqmap.results.write_results`). The colours and features are computed in the
worker too; the GUI thread then assigns them, one
:func:`~napari_vqmap.napari.motif_layers.apply_steps` step per turn of its event loop, so
the viewer stays responsive; the run ends after the last step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr
from napari.qt.threading import FunctionWorker, thread_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_vqmap.encode import CHUNK_FRAMES, Cancelled, encode_files
from napari_vqmap.names import MotifNames
from napari_vqmap.napari import install_fixes
from napari_vqmap.napari._pose_layer_list import PoseLayerList
from napari_vqmap.napari.background import StepRunner, short_gil_turns
from napari_vqmap.napari.frame_rate import Rate, rate_for, video_layers, with_rate
from napari_vqmap.napari.motif_layers import apply_steps, layers_of, motif_styles, same_layer
from napari_vqmap.results import status_note

if TYPE_CHECKING:
    import napari


@dataclass
class EncodedLayer:
    """One encoded layer: its name, the result, names and results folder."""

    layer: str
    result: xr.Dataset
    names: MotifNames
    results_dir: str | None


def default_model_dir() -> str:
    """The bundled model's folder, or ``""`` when it is not installed."""
    try:
        from napari_vqmap.checkpoint import model_folder

        return str(model_folder(None))
    except Exception:  # missing bundled model: the user picks a folder
        return ""


def model_stickiness(model_dir: str) -> float:
    """The model's default motif stickiness (0 for models that predate it or unreadable)."""
    from napari_vqmap.checkpoint import read_config

    try:
        return float(read_config(model_dir).get("stickiness", 0.0))
    except Exception:
        return 0.0


def model_summary(model_dir: str) -> str:
    """One line about the model in ``model_dir`` (or why it cannot be read)."""
    from napari_vqmap.checkpoint import read_config

    try:
        meta = read_config(model_dir)
    except Exception as err:
        return f"not a model folder: {err}"
    model = meta.get("model", {})
    heads = ", ".join(meta.get("heads", {})) or "-"
    return (
        f"{model.get('n_types', '?')} types × {model.get('n_subtypes', '?')} subtypes, "
        f"window {model.get('window', '?')}, skeletons: {heads}"
    )


def encode_datasets(
    model_dir: str | Path,
    datasets: dict[str, xr.Dataset],
    out_dir: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    chunk_frames: int | None = None,
    y_up: bool = False,
    settings: dict[str, Any] | None = None,
    stickiness: float | None = None,
) -> list[EncodedLayer]:
    """Encode each named pose dataset with the model in ``model_dir``
    (:func:`napari_vqmap.encode.encode_files`); with ``out_dir``, write each one's results
    there. ``progress(fraction)`` is called after every batch of blocks; :class:`Cancelled`
    is raised when ``should_stop()`` turns true. ``y_up``: 2D coordinates with y up, or
    filmed from below (``encode --y-up``); ``stickiness``: how long motifs last
    (``encode --stickiness``; None: the model's); ``settings`` are recorded in each
    ``_encode.json``."""
    n = len(datasets)

    def on_progress(item: int, name: str, done: int, total: int) -> None:
        if progress is not None:
            progress((item + done / max(total, 1)) / n)

    chosen = stickiness if stickiness is not None else model_stickiness(str(model_dir))
    recorded = {"from": "napari Encode widget", "y_up": y_up, "stickiness": float(chosen)}
    encoded = encode_files(
        datasets,
        model_dir,
        out_dir or None,
        chunk_frames=chunk_frames or CHUNK_FRAMES,
        y_up=y_up,
        stickiness=stickiness,
        settings=recorded | (settings or {}),
        progress=on_progress,
        should_stop=should_stop,
    )
    out: list[EncodedLayer] = []
    for item in encoded:
        result = item.result
        result.attrs["model_dir"] = str(Path(model_dir).resolve())  # for prototypes later
        codebook = int(result.attrs["n_types"]), int(result.attrs["n_subtypes"])
        results_dir = str(Path(out_dir)) if item.files else None
        names = MotifNames.for_results(results_dir, *codebook) if results_dir else None
        out.append(EncodedLayer(item.name, result, names or MotifNames(*codebook), results_dir))
    return out


def _same(a: tuple, b: tuple) -> bool:
    """Whether two tuples hold the very same layers (or ``None`` in the same places)."""
    return len(a) == len(b) and all(same_layer(x, y) for x, y in zip(a, b, strict=True))


class _Bridge(QObject):
    """Carries progress from the worker thread to the GUI thread (queued signal)."""

    progress = Signal(float)


class EncodeWidget(QWidget):
    """Dock widget that encodes the viewer's pose layers into motifs."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        install_fixes()
        super().__init__()
        self.viewer = napari_viewer
        self.worker: FunctionWorker | None = None
        self._colouring = StepRunner(self)  # colouring steps after a run
        self._targets: dict[str, tuple[Any, Any]] = {}  # layers being encoded, per file
        self._stop = threading.Event()
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)

        self.model_dir = QLineEdit(default_model_dir())
        self.model_dir.setPlaceholderText("model folder (model.safetensors + config.json)")
        self.model_dir.textChanged.connect(self._update_model_info)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_dir)
        model_row.addWidget(browse)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)

        self.layer_list = PoseLayerList()
        self.layer_list.setMaximumHeight(110)
        self.layer_list.itemChanged.connect(self.update_rates)

        self.fps = QDoubleSpinBox()
        self.fps.setRange(0.0, 100_000.0)
        self.fps.setDecimals(3)
        self.fps.setSuffix(" fps")
        self.fps.setSpecialValueText("from the file or its video")
        self.fps.setToolTip(
            "Frame rate for pose files that have none and no video open beside them"
        )
        self.fps.valueChanged.connect(self.update_rates)
        fps_row = QHBoxLayout()
        fps_row.addWidget(QLabel("Frame rate"))
        fps_row.addWidget(self.fps)
        self.fps_info = QLabel("")
        self.fps_info.setWordWrap(True)
        self.y_up = QCheckBox("2D: y points up, or filmed from below the animal")
        self.y_up.setToolTip(
            "Do not flip 2D coordinates (they are otherwise read as image coordinates "
            "from a camera above), as encode --y-up"
        )

        self.stickiness = QDoubleSpinBox()
        self.stickiness.setRange(0.0, 100.0)
        self.stickiness.setSingleStep(0.5)
        self.stickiness.setToolTip(
            "How long motifs last: the cost of changing motif, in median squared distances "
            "between two codes (0: the nearest code at every step), as encode --stickiness"
        )
        stickiness_row = QHBoxLayout()
        stickiness_row.addWidget(QLabel("Motif stickiness"))
        stickiness_row.addWidget(self.stickiness)

        self.save = QCheckBox("Save results to folder")
        self.out_dir = QLineEdit(str(Path.cwd() / "vqmap-results"))
        self.out_dir.setEnabled(False)
        self.save.toggled.connect(self.out_dir.setEnabled)
        browse_out = QPushButton("…")
        browse_out.clicked.connect(self._browse_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.save)
        out_row.addWidget(self.out_dir)
        out_row.addWidget(browse_out)
        self.show_names = QCheckBox("Show motif names next to each animal")
        self.show_names.setChecked(True)

        self.encode_button = QPushButton("Encode")
        self.encode_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.encode_button)
        buttons.addWidget(self.cancel_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Model"))
        layout.addLayout(model_row)
        layout.addWidget(self.model_info)
        layout.addWidget(QLabel("Pose layers"))
        layout.addWidget(self.layer_list)
        layout.addLayout(fps_row)
        layout.addWidget(self.fps_info)
        layout.addWidget(self.y_up)
        layout.addLayout(stickiness_row)
        layout.addLayout(out_row)
        layout.addWidget(self.show_names)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addStretch()

        for event in ("inserted", "removed"):
            getattr(self.viewer.layers.events, event).connect(self.refresh_layers)
        self.refresh_layers()
        self._update_model_info()

    # ------------------------------------------------------------ choices

    def refresh_layers(self, event: Any = None) -> None:
        """Re-list the viewer's pose layers; new ones are ticked, others keep their tick."""
        self.layer_list.refresh(self.viewer.layers)
        self.update_rates()

    def rates(self, datasets: dict[str, xr.Dataset] | None = None) -> dict[str, Rate]:
        """The frame rate each (ticked) recording will be encoded at, and its origin."""
        if datasets is None:
            datasets = self.layer_list.chosen(self.viewer.layers)
        videos = video_layers(self.viewer.layers)
        return {n: rate_for(ds, videos, self.fps.value()) for n, ds in datasets.items()}

    def update_rates(self, *args: Any) -> None:
        """Say at which rate each ticked recording will be encoded (warns when unknown)."""
        rates = self.rates()
        lines = [f"{n.removesuffix(' keypoints')}: {r.describe()}" for n, r in rates.items()]
        missing = any(r.fps is None for r in rates.values())
        self.fps_info.setText("\n".join(lines))
        self.fps_info.setStyleSheet("color: #e0a030;" if missing else "")

    def _update_model_info(self, *args: Any) -> None:
        path = self.model_dir.text().strip()
        self.model_info.setText(model_summary(path) if path else "Choose a model folder.")
        self.stickiness.setValue(model_stickiness(path) if path else 0.0)

    def _browse_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder", self.model_dir.text())
        if path:
            self.model_dir.setText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Results folder", self.out_dir.text())
        if path:
            self.out_dir.setText(path)
            self.save.setChecked(True)

    # ------------------------------------------------------------ encoding

    def start(self) -> None:
        """Encode the ticked layers in a worker thread."""
        if self.worker is not None:
            return
        chosen = self.layer_list.chosen(self.viewer.layers)
        model_dir = self.model_dir.text().strip()
        out_dir = self.out_dir.text().strip() if self.save.isChecked() else None
        if not chosen or not model_dir:
            self._fail("Choose a model folder and tick at least one pose layer.")
            return
        if self.save.isChecked() and not out_dir:
            self._fail("Choose a folder to save the results to.")
            return
        rates = self.rates(chosen)
        missing = [n.removesuffix(" keypoints") for n, r in rates.items() if r.fps is None]
        if missing:
            self._fail(
                f"No frame rate for {', '.join(missing)}: open its video, or enter the "
                "frame rate (fps)."
            )
            return
        chosen = {n: with_rate(ds, rates[n]) for n, ds in chosen.items()}
        y_up = self.y_up.isChecked()
        stickiness = self.stickiness.value()
        settings = {"fps": self.fps.value() or None}
        self._stop.clear()
        self.progress_bar.setValue(0)
        self.status.setText(f"Encoding {len(chosen)} recording(s)…")
        self.encode_button.setEnabled(False)
        self.cancel_button.setEnabled(True)

        # (points, skeleton) per file, found now on the GUI thread
        targets = {name: layers_of(self.viewer, self.viewer.layers[name]) for name in chosen}
        self._targets = targets

        @thread_worker(ignore_errors=True)  # errors go to _on_error
        def run() -> list[tuple[EncodedLayer, list]]:
            with short_gil_turns():
                encoded = encode_datasets(
                    model_dir,
                    chosen,
                    out_dir,
                    self._bridge.progress.emit,
                    self._stop.is_set,
                    y_up=y_up,
                    settings=settings,
                    stickiness=stickiness,
                )
                # colours and features are computed here: the GUI thread only assigns them
                return [
                    (e, motif_styles(targets[e.layer][::-1], e.result, e.names)) for e in encoded
                ]

        self.worker = run()
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def cancel(self) -> None:
        """Stop encoding after the current batch (nothing is applied or saved)."""
        if self.worker is not None:
            self._stop.set()
            self.status.setText("Stopping after the current batch…")

    def _on_progress(self, fraction: float) -> None:
        self.progress_bar.setValue(int(round(1000 * fraction)))

    def _on_done(self, done: list[tuple[EncodedLayer, list]]) -> None:
        """Queue the colouring of the encoded layers, one step per turn of the event loop
        (each step is one napari property set on a large layer, and its redraw)."""
        encoded = [item for item, _ in done]
        steps: list[Callable[[], None]] = []
        for item, styles in done:
            if item.layer not in self.viewer.layers:
                continue  # removed while encoding
            points, skeleton = layers_of(self.viewer, self.viewer.layers[item.layer])
            steps += apply_steps(
                [skeleton, points],
                item.result,
                item.names,
                item.results_dir,
                text=self.show_names.isChecked(),
                # styles were computed for the layers found at Start; recompute if they changed
                styles=styles if _same((points, skeleton), self._targets[item.layer]) else None,
            )
        steps.append(lambda: self._report(encoded))
        self._colouring.start(steps, self._idle, self._colouring_failed)

    def _colouring_failed(self, err: Exception) -> None:
        self._fail(f"Colouring the layers failed: {err}")
        self._idle()

    def _report(self, encoded: list[EncodedLayer]) -> None:
        self.progress_bar.setValue(1000)
        saved = (
            f"; results in {encoded[0].results_dir}" if encoded and encoded[0].results_dir else ""
        )
        note = status_note([item.result for item in encoded])
        message = f"Encoded {len(encoded)} recording(s){saved}." + (f" {note}" if note else "")
        self.status.setText(message)
        show_info(message)

    def _on_error(self, err: Exception) -> None:
        if isinstance(err, Cancelled):
            self.status.setText("Encoding cancelled; the layers were left as they were.")
            return
        self._fail(f"Encoding failed: {err}")

    def _on_finished(self) -> None:
        if not self._colouring.busy:  # else the colouring's end ends the run
            self._idle()

    def _idle(self) -> None:
        self.worker = None
        self.encode_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _fail(self, message: str) -> None:
        self.status.setText(message)
        show_error(message)
