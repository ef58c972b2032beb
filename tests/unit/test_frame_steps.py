"""Frame steps of pose layers find the frame's rows by binary search in the sorted frame
column: the same rows (and sizes) as napari's mask over every row, for points and vectors;
napari's mask where the column is not sorted; a new index when the data change."""

from __future__ import annotations

import numpy as np
import xarray as xr
from napari.components import Dims
from napari.layers import Points, Vectors

from napari_vqmap.napari import frame_steps


def _points(frames: np.ndarray) -> Points:
    data = np.zeros((len(frames), 3), np.float32, order="F")
    data[:, 0] = frames
    data[:, 1:] = np.arange(2 * len(frames)).reshape(-1, 2)
    sizes = np.arange(len(frames)) + 1.0
    return Points(
        data,
        size=sizes,
        shown=frames != 3,
        projection_mode="none",  # as the reader's layers
        metadata={"poses": xr.Dataset()},
    )


def _mask_rows(layer, frame: float) -> np.ndarray:
    column = layer.data[:, 0, 0] if layer.data.ndim == 3 else layer.data[:, 0]
    inside = (column >= frame - 0.5) & (column <= frame + 0.5)
    if isinstance(layer, Points):
        inside &= np.asarray(layer.shown)
    return np.flatnonzero(inside)


def _step(layer, frame: float) -> None:
    ranges = ((-5, 20, 1), (0, 100, 1), (0, 100, 1))
    layer._slice_dims(Dims(ndim=3, ndisplay=2, range=ranges, point=(frame, 0, 0)))


def test_binary_search_finds_the_rows_napari_finds(monkeypatch) -> None:
    assert frame_steps.install()
    frames = np.repeat(np.arange(10.0), [3, 0, 2, 4, 1, 0, 5, 2, 2, 3])
    points = _points(frames)
    vectors = Vectors(
        np.stack([points.data, np.ones_like(points.data)], axis=1),
        projection_mode="none",
        metadata={"poses": xr.Dataset()},
    )
    searches: list[int] = []
    search = np.searchsorted
    monkeypatch.setattr(np, "searchsorted", lambda *a: searches.append(1) or search(*a))
    for layer in (points, vectors):
        for frame in (0, 2, 3, 1, 6, 9, 12, -1, 5):
            _step(layer, frame)
            np.testing.assert_array_equal(layer._view_indices, _mask_rows(layer, frame))
        assert frame_steps.frame_index(layer) is not None
    assert len(searches) == 2 * (2 * 9 - 2)  # two per step; each layer's first is napari's
    np.testing.assert_array_equal(points._view_size, points.size[_mask_rows(points, 5)])
    # data changed in place (napari's data event): a new index
    points.data[:, 0] = points.data[::-1, 0]  # now descending: napari's mask
    points.data = points.data
    assert frame_steps.frame_index(points) is None
    searches.clear()
    for frame in (2, 7):
        _step(points, frame)
        np.testing.assert_array_equal(points._view_indices, _mask_rows(points, frame))
    assert not searches


def test_other_layers_are_left_to_napari() -> None:
    layer = _points(np.repeat(np.arange(4.0), 3))
    layer.metadata = {}
    for frame in (2, 0):
        _step(layer, frame)
        np.testing.assert_array_equal(layer._view_indices, _mask_rows(layer, frame))
    assert "_napari_vqmap_frame_index" not in layer.__dict__
