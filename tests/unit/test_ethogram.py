"""Ethogram strip and bout-browsing logic (plain numpy; small hand-made motif arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vqmap.colours import motif_palette
from napari_vqmap.napari.ethogram import (
    bout_starts,
    ethogram_columns,
    ethogram_image,
    index_at,
    next_bout,
    x_of,
    zoomed,
)

# two animals, 12 frames, 2 types x 2 subtypes (ids 0..3), -1 = not encoded
MOTIF = np.array(
    [
        [0, 3], [0, 3], [0, 3], [1, -1], [1, -1], [-1, -1],
        [0, 2], [0, 2], [2, 2], [2, 0], [2, 0], [0, 0],
    ]
)  # fmt: skip


def test_columns_take_the_majority_motif_when_downsampling() -> None:
    cols = ethogram_columns(MOTIF, 4, 4)  # 3 frames per column
    assert cols.shape == (2, 4)
    np.testing.assert_array_equal(cols[0], [0, 1, 0, 2])
    np.testing.assert_array_equal(cols[1], [3, -1, 2, 0])


def test_columns_repeat_frames_when_upsampling() -> None:
    cols = ethogram_columns(MOTIF[:3, :1], 6, 4)
    np.testing.assert_array_equal(cols, [[0, 0, 0, 0, 0, 0]])
    cols = ethogram_columns(np.array([1, 2, 3]), 6, 4)
    np.testing.assert_array_equal(cols, [[1, 1, 2, 2, 3, 3]])


def test_columns_of_a_long_recording_are_fast_and_exact() -> None:
    rng = np.random.default_rng(0)
    motif = np.repeat(rng.integers(-1, 128, size=(2000, 3)), 50, axis=0)  # 100k frames
    cols = ethogram_columns(motif, 500, 128)  # 200 frames = 4 bouts of 50 per column
    assert cols.shape == (3, 500)
    block = motif[:200, 1]
    values, counts = np.unique(block, return_counts=True)
    best = values[counts == counts.max()]
    expected = min(best[best >= 0]) if (best >= 0).any() else -1
    assert cols[1, 0] == expected


def test_image_is_rgba_rows_per_individual() -> None:
    lut = motif_palette(2, 2)
    image = ethogram_image(MOTIF, 4, lut, row_height=3)
    assert image.shape == (6, 4, 4) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[0, 0], np.round(lut[0] * 255))
    np.testing.assert_array_equal(image[3, 1], np.round(lut[-1] * 255))  # grey for -1
    assert (image[0] == image[2]).all()


def test_pixel_and_time_index_round_trip() -> None:
    width, t0, t1 = 200, 100, 1100  # 5 frames per pixel
    assert index_at(0, width, t0, t1) == 100
    assert index_at(199.9, width, t0, t1) == 1099
    assert index_at(1e6, width, t0, t1) == 1099
    for t in (100, 537, 1099):
        assert abs(index_at(x_of(t, width, t0, t1), width, t0, t1) - t) <= 5


def test_zoom_stays_inside_the_recording() -> None:
    assert zoomed(0, 1000, 500, 0.5, 1000) == (250, 750)
    lo, hi = zoomed(0, 1000, 0, 0.5, 1000)
    assert (lo, hi) == (0, 500)
    assert zoomed(250, 750, 500, 4.0, 1000) == (0, 1000)
    lo, hi = zoomed(0, 1000, 990, 0.001, 1000)
    assert hi - lo == 20 and hi <= 1000


def test_bout_starts_per_individual_or_any() -> None:
    np.testing.assert_array_equal(bout_starts(MOTIF, 0, individual=0), [0, 6, 11])
    np.testing.assert_array_equal(bout_starts(MOTIF, 0, individual=1), [9])
    np.testing.assert_array_equal(bout_starts(MOTIF, 0), [0, 6, 9, 11])


@pytest.mark.parametrize(
    ("t", "direction", "individual", "expected"),
    [
        (0, 1, None, 6),
        (6, 1, None, 9),
        (9, 1, 0, 11),
        (11, 1, None, None),
        (7, -1, None, 6),  # inside a bout: back to its start
        (6, -1, None, 0),
        (0, -1, None, None),
        (10, -1, 1, 9),
    ],
)
def test_next_and_previous_bout(t, direction, individual, expected) -> None:
    assert next_bout(MOTIF, t, 0, direction, individual) == expected


def test_next_bout_lands_on_the_motif() -> None:
    for t in range(len(MOTIF)):
        found = next_bout(MOTIF, t, 2, 1)
        if found is not None:
            assert (MOTIF[found] == 2).any() and found > t
