"""The Motifs dock widget: ethogram strip, motif table, bout browser, prototypes, names.

It works on pose layers that carry motifs (``metadata["motifs"]``, see
:mod:`napari_vqmap.napari.motif_layers`). The logic lives in plain functions
(:mod:`napari_vqmap.napari.ethogram`, :mod:`napari_vqmap.napari.prototype_view`,
:mod:`napari_vqmap.names`); this module wires them to Qt and the viewer.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_vqmap.analysis import motif_stats, type_usage
from napari_vqmap.colours import motif_palette, palette
from napari_vqmap.names import NAMES_FILE, MotifNames
from napari_vqmap.napari import install_fixes, motif_layers
from napari_vqmap.napari._ethogram_strip import EthogramStrip
from napari_vqmap.napari.background import StepRunner, short_gil_turns
from napari_vqmap.napari.ethogram import next_bout
from napari_vqmap.napari.frame_rate import video_for, video_layers
from napari_vqmap.napari.prototype_view import (
    Prototypes,
    PrototypeView,
    find_model_dir,
    load_prototypes,
)
from napari_vqmap.results import motifs_table

if TYPE_CHECKING:
    import napari

ANY = "any individual"
COLUMNS = ("motif", "usage %", "bouts", "median")
ROLE_KIND, ROLE_ID = Qt.ItemDataRole.UserRole, Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2


class _Row(QTreeWidgetItem):
    """A tree row that sorts numeric columns by value."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(column, SORT_ROLE), other.data(column, SORT_ROLE)
        if a is None or b is None:
            return self.text(column).lower() < other.text(column).lower()
        return a < b


def _swatch(rgba: np.ndarray) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor.fromRgbF(*[float(c) for c in rgba[:3]]))
    return QIcon(pixmap)


def names_path(metadata: dict[str, Any]) -> Path | None:
    """Where a recording's names file goes: its results folder, else beside the pose file
    (``None`` when neither is known)."""
    if metadata.get("results_dir"):
        return Path(metadata["results_dir"]) / NAMES_FILE
    source = metadata.get("source_file")
    return Path(source).with_name(NAMES_FILE) if source else None


def table_stats(
    result: xr.Dataset, layers: list[Any], names: MotifNames
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-motif and per-type usage and bouts of the motifs that occur in a recording (plain
    pandas work, 0.1 s for 100,000 frames: after a rename or merge it runs in a worker)."""
    fps = float(result.attrs.get("fps") or 0.0) or None
    table = motifs_table(result, layers[-1].metadata.get("poses"), names)
    by_motif, by_type = motif_stats(table, names, fps), type_usage(table, names, fps)
    return by_motif[by_motif["frames"] > 0], by_type[by_type["frames"] > 0]


class _ClipProgress(QObject):
    """Carries clip progress from the worker thread to the GUI thread (queued signal)."""

    progress = Signal(int, int)


class MotifsWidget(QWidget):
    """Dock widget to browse, name and merge the motifs of encoded pose layers."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        install_fixes()
        super().__init__()
        self.viewer = napari_viewer
        self.points: Any = None
        self.skeleton: Any = None
        self.result: xr.Dataset | None = None
        self.names: MotifNames | None = None
        self.motif = np.zeros((0, 1), np.int64)  # (time, individual), merges applied
        self.frames = np.zeros(0, np.int64)
        self.selected: tuple[str, int] | None = None  # ("type" | "motif", id)
        self.protos: Prototypes | None = None
        self.proto_worker: Any = None
        self._proto_failed: tuple[tuple, str] = ((), "")
        self._recolour_worker: Any = None
        self._recolour_again = False  # names changed while the layers were being recoloured
        self._recolour_steps = StepRunner(self)

        self.recording = QComboBox()
        self.recording.currentIndexChanged.connect(self._on_recording)
        self.individual = QComboBox()
        top = QHBoxLayout()
        top.addWidget(self.recording, 2)
        top.addWidget(self.individual, 1)

        self.strip = EthogramStrip()
        self.strip.seek.connect(self.seek_index)
        self.strip.describe = self._describe
        self.now = QLabel("")
        # fixed size: a new text each frame must not re-lay out the dock during playback
        self.now.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.now.setFixedHeight(self.now.fontMetrics().height() + 4)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setSortingEnabled(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.tree.setMinimumHeight(160)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_select)
        self.tree.itemChanged.connect(self._on_edit)

        self.prev_button = QPushButton("◀ Previous bout")
        self.next_button = QPushButton("Next bout ▶")
        self.merge_button = QPushButton("Merge into…")
        self.prev_button.clicked.connect(lambda: self.jump(-1))
        self.next_button.clicked.connect(lambda: self.jump(1))
        self.merge_button.clicked.connect(self._ask_merge)
        buttons = QHBoxLayout()
        for button in (self.prev_button, self.next_button, self.merge_button):
            buttons.addWidget(button)

        self.model_dir = QLineEdit()
        self.model_dir.setPlaceholderText("model folder (default: the one that encoded)")
        self.model_dir.editingFinished.connect(self._on_model_dir)
        browse = QPushButton("Model…")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_dir)
        model_row.addWidget(browse)
        self.prototype = PrototypeView()

        self.clips_button = QPushButton("Example clips…")
        self.clips_button.setToolTip(
            "Write one mp4 per motif of this recording into a folder: up to 16 of its bouts "
            "side by side, cropped around the animal, skeleton in the motif's colour"
        )
        self.clips_button.clicked.connect(self._ask_clips)
        self.clips_bar = QProgressBar()
        self.clips_bar.setVisible(False)
        self.clips_worker: Any = None
        self._clip_signal = _ClipProgress()
        self._clip_signal.progress.connect(self._on_clip_progress)
        clips_row = QHBoxLayout()
        clips_row.addWidget(self.clips_button)
        clips_row.addWidget(self.clips_bar, 1)

        self.status = QLabel("")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.strip)
        layout.addWidget(self.now)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        self.proto_title = QLabel("Prototype (decoded motif)")
        layout.addWidget(self.proto_title)
        layout.addLayout(model_row)
        layout.addWidget(self.prototype)
        layout.addLayout(clips_row)
        layout.addWidget(self.status)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self.refresh_layers)
        self.viewer.layers.events.inserted.connect(self._on_inserted)
        self.viewer.layers.events.removed.connect(self._on_removed)
        for layer in self.viewer.layers:
            self._watch(layer, True)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.refresh_layers()

    # ------------------------------------------------------------ recordings

    def _watch(self, layer: Any, on: bool) -> None:
        emitter = getattr(layer.events, "features", None)  # points and vectors have it
        if emitter is not None:
            (emitter.connect if on else emitter.disconnect)(self._later)

    def _on_inserted(self, event: Any) -> None:
        self._watch(event.value, True)
        self.refresh_layers()

    def _on_removed(self, event: Any) -> None:
        self._watch(event.value, False)
        self.refresh_layers()

    def _later(self, event: Any = None) -> None:
        # motifs set on existing layers (encoding) change their features first and their
        # metadata right after, so look once the current call has returned
        self._refresh_timer.start(0)

    def refresh_layers(self, event: Any = None) -> None:
        """Re-list the encoded pose layers (keeping the current choice when it remains)."""
        current = self.recording.currentText()
        found = motif_layers.find_motif_layers(self.viewer)
        self._found = {points.name: (points, skeleton) for points, skeleton in found}
        self.recording.blockSignals(True)
        self.recording.clear()
        self.recording.addItems(list(self._found))
        if current in self._found:
            self.recording.setCurrentText(current)
        self.recording.blockSignals(False)
        if not self._found:
            self.status.setText("No encoded pose layers: encode them with the Encode widget.")
        chosen = self._found.get(self.recording.currentText())
        if chosen is None or chosen[0] is not self.points or self.result is None:
            self._on_recording()
        elif chosen[0].metadata.get("motifs") is not self.result:
            self._on_recording()  # re-encoded

    def _on_recording(self, *args: Any) -> None:
        pair = self._found.get(self.recording.currentText()) if self._found else None
        self.points, self.skeleton = pair if pair else (None, None)
        self.protos = None
        if self.points is None:
            self.result, self.names = None, None
            self.motif = np.zeros((0, 1), np.int64)
            self.strip.clear()
            self.tree.clear()
            self.individual.clear()
            self.prototype.show_message("No encoded pose layers.")
            return
        meta = self.points.metadata
        self.result = meta["motifs"]
        self.names = meta.get("motif_names") or MotifNames(
            int(self.result.attrs["n_types"]), int(self.result.attrs["n_subtypes"])
        )
        poses = meta.get("poses")
        n_time = self.result.sizes["time"]
        if isinstance(poses, xr.Dataset) and "frame" in poses.coords:
            self.frames = poses["frame"].values.astype(np.int64)
        else:
            self.frames = np.arange(n_time)
        individuals = [str(i) for i in self.result["individual"].values]
        self.individual.clear()
        self.individual.addItems([ANY, *individuals] if len(individuals) > 1 else individuals)
        self.status.setText("")
        self._refresh_motifs(keep_range=False)
        self.prototype.show_message("Select a motif to see its prototype.")

    def layers(self) -> list[Any]:
        """The current recording's layers, for :func:`motif_layers.apply_motifs`."""
        return [layer for layer in (self.skeleton, self.points) if layer is not None]

    # ------------------------------------------------------------ motifs

    @property
    def n_subtypes(self) -> int:
        """Subtypes per type of the current encoding."""
        return self.names.n_subtypes if self.names else 1

    def _refresh_motifs(self, keep_range: bool = True, table: bool = True) -> None:
        """Recompute merged motifs, the strip and (with ``table``) the table from ``result``
        and ``names``."""
        self.motif = self.names.apply(self.result["motif"].values).reshape(len(self.frames), -1)
        lut = motif_palette(self.names.n_types, self.names.n_subtypes)
        labels = [str(i) for i in self.result["individual"].values]
        self.strip.set_data(self.motif, lut, labels, self.frames, keep_range=keep_range)
        self.strip.set_index(self.current_index())
        if table:
            self._fill_tree(table_stats(self.result, self.layers(), self.names))
        self._update_now()

    def _fps(self) -> float:
        return float(self.result.attrs.get("fps") or 0.0) if self.result is not None else 0.0

    def _fill_tree(self, stats: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        names, fps = self.names, self._fps()
        by_motif, by_type = stats
        lut = motif_palette(names.n_types, names.n_subtypes)
        unit = "s" if fps else "frames"
        self.tree.setHeaderLabels([*COLUMNS[:3], f"median ({unit})"])
        self.tree.headerItem().setToolTip(3, f"median bout duration ({unit})")
        duration = "median_duration_s" if fps else "median_duration"
        selected = self.selected
        self.tree.blockSignals(True)
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        parents: dict[int, QTreeWidgetItem] = {}
        for row in by_type.itertuples():
            item = self._row("type", int(row.type), names.type_name(row.type), row, duration)
            item.setIcon(0, _swatch(palette(names.n_types)[int(row.type)]))
            self.tree.addTopLevelItem(item)
            parents[int(row.type)] = item
        for row in by_motif.itertuples():
            item = self._row("motif", int(row.motif), names.name(row.motif), row, duration)
            item.setIcon(0, _swatch(lut[int(row.motif)]))
            parents[int(row.type)].addChild(item)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.tree.expandAll()
        self.tree.blockSignals(False)
        if selected is not None:
            self.select(*selected)

    def _row(self, kind: str, ident: int, name: str, stats: Any, duration: str) -> _Row:
        median = float(getattr(stats, duration))
        item = _Row([name, f"{100 * stats.usage:.1f}", str(stats.n_bouts), f"{median:.2f}"])
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        item.setData(0, ROLE_KIND, kind)
        item.setData(0, ROLE_ID, ident)
        for column, value in enumerate((None, stats.usage, stats.n_bouts, median)):
            if value is not None:
                item.setData(column, SORT_ROLE, float(value))
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
        return item

    def items(self) -> list[QTreeWidgetItem]:
        """All rows of the table (types and their motifs)."""
        rows = []
        for i in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(i)
            rows += [parent, *(parent.child(j) for j in range(parent.childCount()))]
        return rows

    def item_for(self, kind: str, ident: int) -> QTreeWidgetItem | None:
        """The row of a type or motif id, if listed."""
        for item in self.items():
            if item.data(0, ROLE_KIND) == kind and item.data(0, ROLE_ID) == ident:
                return item
        return None

    def select(self, kind: str, ident: int) -> None:
        """Select the row of a type (``"type"``) or motif (``"motif"``)."""
        item = self.item_for(kind, ident)
        if item is not None:
            self.tree.setCurrentItem(item)

    def _on_select(self, item: QTreeWidgetItem | None, previous: Any = None) -> None:
        if item is None:
            return
        self.selected = (item.data(0, ROLE_KIND), int(item.data(0, ROLE_ID)))
        self.merge_button.setEnabled(self.selected[0] == "motif")
        self.show_prototype()

    # ------------------------------------------------------------ frames

    def current_index(self) -> int:
        """Time index of the viewer's current frame (nearest encoded frame)."""
        if not len(self.frames):
            return 0
        frame = int(round(self.viewer.dims.point[0]))
        t = int(np.searchsorted(self.frames, frame))
        return int(np.clip(t, 0, len(self.frames) - 1))

    def seek_index(self, t: int) -> None:
        """Move the viewer to the frame of time index ``t``."""
        if 0 <= t < len(self.frames):
            self.viewer.dims.set_point(0, float(self.frames[t]))

    def _on_step(self, event: Any = None) -> None:
        if self.result is not None:
            self.strip.set_index(self.current_index())
            self._update_now()

    def _describe(self, t: int, i: int) -> str:
        return self.names.name(int(self.motif[t, i])) or "not encoded"

    def _update_now(self) -> None:
        t = self.current_index()
        labels = [str(i) for i in self.result["individual"].values]
        parts = [f"{lab}: <b>{self._describe(t, i)}</b>" for i, lab in enumerate(labels)]
        self.now.setText(f"frame {int(self.frames[t])} — " + ", ".join(parts))

    def chosen_individual(self) -> int | None:
        """Index of the individual picked for bout jumps (``None`` for any)."""
        text = self.individual.currentText()
        labels = [str(i) for i in self.result["individual"].values]
        return labels.index(text) if text in labels else None

    def jump(self, direction: int) -> int | None:
        """Go to the start of the next (1) or previous (-1) bout of the selected motif or
        type; returns the time index, or ``None`` (and says so) when there is none."""
        if self.result is None or self.selected is None:
            self.status.setText("Select a motif or type in the table first.")
            return None
        kind, ident = self.selected
        ids = (
            self.motif
            if kind == "motif"
            else np.where(self.motif >= 0, self.motif // self.n_subtypes, -1)
        )
        t = next_bout(ids, self.current_index(), ident, direction, self.chosen_individual())
        if t is None:
            self.status.setText(f"No {'next' if direction > 0 else 'previous'} bout.")
            return None
        self.status.setText("")
        self.seek_index(t)
        return t

    # ------------------------------------------------------------ names

    def _on_edit(self, item: QTreeWidgetItem, column: int) -> None:
        if column != 0 or self.names is None:
            return
        kind, ident, text = (
            item.data(0, ROLE_KIND),
            int(item.data(0, ROLE_ID)),
            item.text(0).strip(),
        )
        self.rename(kind, ident, text)

    def rename(self, kind: str, ident: int, name: str) -> None:
        """Name a type or motif (an empty name restores the default), save and apply."""
        if kind == "type":
            if name and name != f"T{ident}":
                self.names.types[ident] = name
            else:
                self.names.types.pop(ident, None)
        elif name != self.names.name(ident):
            self.names.rename(ident, name)
        self._save_and_apply()

    def _ask_merge(self) -> None:
        if self.selected is None or self.selected[0] != "motif":
            self.status.setText("Select a motif (a subtype row) to merge.")
            return
        source = self.selected[1]
        targets = [int(m) for m in np.unique(self.motif[self.motif >= 0]) if m != source]
        labels = [
            f"{self.names.name(m)}  (T{m // self.n_subtypes}.{m % self.n_subtypes})"
            for m in targets
        ]
        if not targets:
            return
        label, ok = QInputDialog.getItem(
            self, "Merge motif", f"Merge {self.names.name(source)} into:", labels, 0, False
        )
        if ok:
            self.merge(source, targets[labels.index(label)])

    def merge(self, source: int, target: int) -> None:
        """Merge motif ``source`` into ``target``, save and apply."""
        try:
            self.names.merge_into(source, target)
        except ValueError as err:
            self._fail(str(err))
            return
        self.selected = ("motif", self.names.resolve(target))
        self._save_and_apply()

    def _save_and_apply(self) -> None:
        path = names_path(self.points.metadata)
        if path is None or not path.parent.is_dir():
            folder = QFileDialog.getExistingDirectory(self, "Folder for the motif names file")
            if not folder:
                self.status.setText("Names not saved (no folder chosen).")
                path = None
            else:
                path = Path(folder) / NAMES_FILE
        if path is not None:
            try:
                self.names.save(path)
                self.status.setText(f"Names saved to {path}")
            except OSError as err:
                self._fail(f"Cannot save the names file: {err}")
        for layer in self.layers():
            layer.metadata["motif_names"] = self.names
        self._refresh_motifs(table=False)  # the table is refilled by recolour()
        self.recolour()

    @property
    def recolouring(self) -> bool:
        """Whether the layers are being recoloured after a rename or merge."""
        return self._recolour_worker is not None or self._recolour_steps.busy

    def recolour(self) -> None:
        """Refill the table and recolour the current recording's layers with the current
        names, as the Encode widget colours them: the table's statistics and the layers'
        styles are computed in a worker, then assigned one napari property per turn of the
        event loop (0.6-0.9 s of work for 100,000 frames). Names changed meanwhile are
        applied by one more run when this one ends."""
        if self.recolouring:
            self._recolour_again = True
            return
        self._recolour_again = False
        layers, result = self.layers(), self.result
        names = copy.deepcopy(self.names)  # the worker's own: later edits go in a new run

        @thread_worker(ignore_errors=True)  # errors go to _recolour_failed
        def run() -> tuple[tuple, list]:
            with short_gil_turns():
                stats = table_stats(result, layers, names)
                return stats, motif_layers.motif_styles(layers, result, names)

        def assign(done: tuple[tuple, list]) -> None:
            if result is not self.result or any(
                a is not b for a, b in zip(layers, self.layers(), strict=False)
            ):
                return  # another recording was chosen meanwhile
            stats, styles = done
            self._fill_tree(stats)
            # the layers keep the live names; names shown as text are updated
            steps = motif_layers.apply_steps(layers, result, self.names, text=False, styles=styles)
            self._recolour_steps.start(steps, self._recoloured, self._recolour_failed)

        self._recolour_worker = run()
        self._recolour_worker.returned.connect(assign)
        self._recolour_worker.errored.connect(self._recolour_failed)
        self._recolour_worker.finished.connect(self._recolour_worker_done)
        self._recolour_worker.start()

    def _recolour_worker_done(self) -> None:
        self._recolour_worker = None
        if not self._recolour_steps.busy:  # no steps (failed or recording changed)
            self._recoloured()

    def _recoloured(self) -> None:
        if self._recolour_again and not self.recolouring:
            self.recolour()

    def _recolour_failed(self, err: Exception) -> None:
        self._fail(f"Recolouring the layers failed: {err}")

    # ------------------------------------------------------------ prototypes

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder", self.model_dir.text())
        if folder:
            self.model_dir.setText(folder)
            self._on_model_dir()

    def _on_model_dir(self) -> None:
        self.protos = None
        self.show_prototype()

    def _model_dir(self) -> Path | None:
        text = self.model_dir.text().strip()
        if text:
            return Path(text)
        if self.points is None:
            return None
        return find_model_dir(self.points.metadata, self.result)

    def _shown_motif(self) -> int | None:
        if self.selected is None:
            return None
        kind, ident = self.selected
        if kind == "motif":
            return ident
        in_type = self.motif[(self.motif >= 0) & (self.motif // self.n_subtypes == ident)]
        return int(np.bincount(in_type).argmax()) if in_type.size else None

    def show_prototype(self) -> None:
        """Animate the selected motif's prototype, loading the model in a worker once."""
        motif = self._shown_motif()
        if motif is None or self.points is None:
            return
        if self.protos is not None:
            rgba = motif_palette(self.names.n_types, self.names.n_subtypes)[motif]
            p = self.protos
            self.prototype.show_sequence(p.poses[motif], p.edges, rgba, p.fps)
            return
        if self.proto_worker is not None:
            return  # shown when loaded
        model_dir = self._model_dir()
        if model_dir is None:
            self.prototype.show_message("No model: pick the model folder to see prototypes.")
            return
        poses = self.points.metadata.get("poses")
        key = (str(model_dir), id(poses), id(self.result))
        if key == self._proto_failed[0]:
            self.prototype.show_message(self._proto_failed[1])
            return
        self.prototype.show_message("Decoding prototypes…")
        names = self.names

        @thread_worker(ignore_errors=True)
        def run() -> tuple[tuple, Prototypes]:
            with short_gil_turns():
                return key, load_prototypes(model_dir, poses, names)

        self.proto_worker = run()
        self.proto_worker.returned.connect(self._on_protos)
        self.proto_worker.errored.connect(lambda err: self._on_proto_error(key, err))
        self.proto_worker.finished.connect(self._on_proto_finished)
        self.proto_worker.start()

    def _proto_key(self) -> tuple:
        poses = self.points.metadata.get("poses") if self.points is not None else None
        return (str(self._model_dir()), id(poses), id(self.result))

    def _on_protos(self, keyed: tuple[tuple, Prototypes]) -> None:
        key, protos = keyed
        if key != self._proto_key():
            return  # another recording or model was chosen meanwhile
        self.protos = protos
        note = f"; {protos.note}" if protos.note else ""
        self.proto_title.setText(
            f"Prototype (decoded by {protos.model_dir.name}, head {protos.head}{note})"
        )
        self.proto_title.setWordWrap(True)

    def _on_proto_error(self, key: tuple, err: Exception) -> None:
        message = f"No prototype: {err}"
        self._proto_failed = (key, message)
        if key == self._proto_key():
            self.prototype.show_message(message)

    def _on_proto_finished(self) -> None:
        self.proto_worker = None
        if self.protos is not None or self._proto_failed[0] != self._proto_key():
            self.show_prototype()

    # ------------------------------------------------------------ example clips

    def _ask_clips(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the example clips")
        if folder:
            self.write_clips(folder)

    def write_clips(self, folder: str | Path, top: int | None = None) -> None:
        """Write example clips of the current recording's motifs into ``folder`` in a
        worker (:func:`napari_vqmap.clips.write_clips`), with the video open beside its
        poses when there is one."""
        from napari_vqmap.clips import ClipSource, write_clips

        if self.points is None or self.result is None or self.clips_worker is not None:
            return
        poses = self.points.metadata["poses"]
        source = str(poses.attrs.get("source_file") or "")
        video, video_fps = video_for(source, video_layers(self.viewer.layers))
        name = self.recording.currentText().removesuffix(" keypoints")
        fps = self._fps() or video_fps or None
        clip = ClipSource(name, poses, self.motif.copy(), Path(video) if video else None, fps)
        names, emit = self.names, self._clip_signal.progress.emit
        self.clips_button.setEnabled(False)
        self.clips_bar.setValue(0)
        self.clips_bar.setVisible(True)
        self.status.setText(f"Writing example clips into {folder}…")

        @thread_worker(ignore_errors=True)
        def run() -> list[Path]:
            with short_gil_turns():
                return write_clips([clip], folder, names, top, progress=emit)

        self.clips_worker = run()
        self.clips_worker.returned.connect(self._on_clips)
        self.clips_worker.errored.connect(lambda err: self._fail(f"Clips failed: {err}"))
        self.clips_worker.finished.connect(self._on_clips_finished)
        self.clips_worker.start()

    def _on_clip_progress(self, done: int, total: int) -> None:
        self.clips_bar.setRange(0, max(total, 1))
        self.clips_bar.setValue(done)

    def _on_clips(self, files: list[Path]) -> None:
        where = files[0].parent if files else "-"
        self.status.setText(f"Wrote {len(files)} example clip(s) into {where}.")

    def _on_clips_finished(self) -> None:
        self.clips_worker = None
        self.clips_button.setEnabled(True)
        self.clips_bar.setVisible(False)

    def _fail(self, message: str) -> None:
        self.status.setText(message)
        show_error(message)
