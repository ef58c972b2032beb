"""npe2 readers: pose files -> keypoint + skeleton layers, videos -> a lazy Image layer.

``get_reader`` returns ``None`` for files the plugin does not understand, so napari can
try other plugins. A reader cannot set the viewer's display mode, so for 3D poses the
reader asks the current viewer (if any) to switch to the 3D view as soon as the layer is
added (:func:`_show_3d_when_added`); headless calls (e.g. ``npe2.read``) are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from napari_vqmap.io import POSE_SUFFIXES, VIDEO_SUFFIXES, detect_format, load_poses
from napari_vqmap.napari import install_fixes, motif_layers
from napari_vqmap.napari.convert import LayerData, pose_layers, video_layer
from napari_vqmap.video import VideoReader

PathOrPaths = str | Sequence[str]
ReaderFunction = Callable[[PathOrPaths], list[LayerData]]
MOTIFS_CSV = "_motifs.csv"
EMPTY: list = [(None,)]  # napari's "nothing to add" sentinel


def _kind(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    if Path(path).name.lower().endswith(MOTIFS_CSV) and Path(path).is_file():
        return "motifs_csv"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in POSE_SUFFIXES and Path(path).is_file() and detect_format(path) is not None:
        return "poses"
    return None


def get_reader(path: PathOrPaths) -> ReaderFunction | None:
    """The reader for ``path`` (or a list of paths) if every file is a pose file or video."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths or any(_kind(str(p)) is None for p in paths):
        return None
    return read


def read(path: PathOrPaths) -> list[LayerData]:
    """Layer data for pose files (skeleton + keypoints) and videos (lazy image)."""
    install_fixes()
    paths = [path] if isinstance(path, str | Path) else list(path)
    layers: list[LayerData] = []
    for p in paths:
        kind = _kind(str(p))
        if kind == "video":
            layers.append(video_layer(VideoReader(p)))
        elif kind == "motifs_csv":
            _apply_motifs_csv(Path(p))
        else:
            ds = load_poses(p)
            if "motif" in ds:
                layers.extend(_results_layers(ds, Path(p)))
            else:
                layers.extend(pose_layers(ds))
    if not layers:
        return EMPTY
    if any(meta["metadata"].get("ndisplay") == 3 for _, meta, _ in layers if "metadata" in meta):
        _show_3d_when_added()
    return layers


def _show_3d_when_added() -> None:
    """Switch the current viewer to 3D once a layer asking for it (``ndisplay`` 3) is added."""
    import napari

    viewer = napari.current_viewer()
    if viewer is None:
        return

    def on_insert(event) -> None:
        if event.value.metadata.get("ndisplay") == 3:
            viewer.layers.events.inserted.disconnect(on_insert)
            viewer.dims.ndisplay = 3

    viewer.layers.events.inserted.connect(on_insert)


def _current_viewer():
    try:
        import napari

        return napari.current_viewer()
    except ImportError:
        return None


def _results_layers(ds, path: Path) -> list[LayerData]:
    """An encoding result (``<stem>_motifs.nc``: poses plus motifs): coloured pose layers,
    or, when the recording's poses are already open, those layers recoloured."""
    poses, result, names = motif_layers.split_results(ds, path)
    stem = path.stem.removesuffix("_motifs")
    folder = str(path.parent)
    open_layers = motif_layers.open_layers_for(
        _current_viewer(), stem, poses.sizes["time"], poses["individual"].values
    )
    if open_layers[0] is not None:
        motif_layers.apply_motifs([open_layers[1], open_layers[0]], result, names, folder)
        return []
    return motif_layers.layer_data_with_motifs(pose_layers(poses, stem), result, names, folder)


def _apply_motifs_csv(path: Path) -> None:
    """A ``<stem>_motifs.csv`` table applies to the open pose layers of ``<stem>``."""
    import pandas as pd

    from napari_vqmap.validators import PoseFileError

    stem = path.name[: -len(MOTIFS_CSV)]
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise PoseFileError(path, f"cannot read motifs table: {err}") from err
    viewer = _current_viewer()
    candidates = (
        []
        if viewer is None
        else [
            la for la in viewer.layers if la.name == f"{stem} keypoints" and "poses" in la.metadata
        ]
    )
    if not candidates:
        raise PoseFileError(path, f"open the poses of {stem!r} first, then drop this table")
    points, skeleton = motif_layers.layers_of(viewer, candidates[0])
    poses = points.metadata["poses"]
    n_types, n_subtypes = motif_layers.codebook_near(path, table)
    try:
        result = motif_layers.result_from_table(table, poses, n_types, n_subtypes)
    except ValueError as err:
        raise PoseFileError(path, str(err)) from err
    names = motif_layers.MotifNames.for_results(path.parent, n_types, n_subtypes)
    motif_layers.apply_motifs([skeleton, points], result, names, str(path.parent))
