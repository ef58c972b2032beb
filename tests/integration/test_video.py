"""VideoReader: random access equals sequential decoding; lazy; clear errors."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

from napari_vqmap.validators import PoseFileError
from napari_vqmap.video import VideoReader


def _sequential(path, grayscale: bool, stop: int) -> list[np.ndarray]:
    fmt = "gray" if grayscale else "rgb24"
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format=fmt))
            if len(frames) == stop:
                break
    return frames


@pytest.mark.parametrize(
    ("folder", "name", "n_frames", "shape", "fps"),
    [
        ("sleap-tests", "clip.mp4", 1500, (1024, 1024), 25),
        ("vame-tests", "cropped_video.mp4", 749, (1070, 1064), 25),
        ("sleap-tests", "centered_pair_low_quality.mp4", 1100, (384, 384), 15),
    ],
)
def test_random_access_matches_sequential(data_dir, folder, name, n_frames, shape, fps):
    path = data_dir / folder / name
    video = VideoReader(path, cache_size=2)
    assert video.shape == (n_frames, *shape) and video.dtype == np.uint8 and video.ndim == 3
    assert video.grayscale and video.fps == fps  # grayscale h264/mpeg4 -> 2D frames
    wanted = [620, 3, 999 % n_frames, 251, 250, 249, 0, 512, 511, n_frames - 1, 400]
    reference = _sequential(path, video.grayscale, max(wanted) + 1)
    for i in wanted:  # jumps forward and backward, across keyframes, and the last frame
        np.testing.assert_array_equal(video[i], reference[i], err_msg=f"{name} frame {i}")
    for i in range(100, 110):  # stepping forward continues without seeking
        np.testing.assert_array_equal(video[i], reference[i])
    assert len(video._cache) <= 2  # never holds more than the cache


def test_colour_video_and_indexing(data_dir):
    path = data_dir / "sleap-tests" / "small_robot_3_frame.mp4"
    video = VideoReader(path)
    assert not video.grayscale and video.shape == (3, 320, 560, 3)
    reference = np.stack(_sequential(path, False, 3))
    np.testing.assert_array_equal(video[:], reference)
    np.testing.assert_array_equal(video[-1], reference[-1])
    np.testing.assert_array_equal(video[::2, 10:20, ..., 0], reference[::2, 10:20, ..., 0])
    np.testing.assert_array_equal(video[np.int64(1), 5], reference[1, 5])
    gray = VideoReader(path, grayscale=True)
    assert gray.shape == (3, 320, 560)
    with pytest.raises(IndexError):
        video[3]


def test_thread_safe(data_dir):
    path = data_dir / "sleap-tests" / "centered_pair_low_quality.mp4"
    video = VideoReader(path, cache_size=1)
    reference = _sequential(path, True, 400)
    errors: list[int] = []

    def read(indices):
        for i in indices:
            if not np.array_equal(video[i], reference[i]):
                errors.append(i)

    threads = [threading.Thread(target=read, args=(range(k, 400, 37),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_garbage_video_names_the_file(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(np.random.default_rng(1).bytes(10_000))
    with pytest.raises(PoseFileError, match="x.mp4"):
        VideoReader(path)


def test_missing_and_empty_video(tmp_path):
    with pytest.raises(PoseFileError, match="not found"):
        VideoReader(tmp_path / "none.mp4")
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(PoseFileError, match="empty"):
        VideoReader(tmp_path / "empty.avi")
