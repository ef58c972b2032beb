"""Lazy, frame-accurate video reading with PyAV, shaped like a numpy array.

:class:`VideoReader` behaves like a read-only array of shape ``(n_frames, H, W)`` for
grayscale videos or ``(n_frames, H, W, 3)`` for colour ones (uint8), so napari (or any
code) can index it without decoding the whole file. Random access seeks to the keyframe
before the wanted frame and decodes forward; recently decoded frames stay in a small LRU
cache, and stepping forward continues decoding without a new seek.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from napari_vqmap.validators import PoseFileError, check_file

# chroma planes within this distance of neutral (128) count as a grayscale video
_GRAY_TOLERANCE = 2
# when seeking, stop skipping non-reference frames this many frames before the target
_SKIP_MARGIN = 8
# slice threading only: frame threading delays output and slows every seek
_THREADS = "SLICE"


class VideoReader:
    """A video file as a lazy uint8 array indexed by frame.

    Parameters
    ----------
    path
        Any video PyAV/FFmpeg can decode (``.mp4``, ``.avi``, ``.mov``, ...).
    grayscale
        ``True`` gives 2D frames (luma), ``False`` RGB frames; ``None`` (default) decides from
        the first frame: a video whose colour planes are neutral is read as grayscale.
    cache_size
        How many decoded frames to keep.
    """

    def __init__(
        self, path: str | Path, grayscale: bool | None = None, cache_size: int = 32
    ) -> None:
        self.path = check_file(path)
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError, UnicodeDecodeError) as err:
            raise PoseFileError(self.path, f"not a readable video: {err}") from err
        stream = self._stream
        stream.thread_type = _THREADS
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise PoseFileError(self.path, "video stream has no frame rate")
        self.fps = float(rate)
        self._rate = Fraction(rate)
        self._time_base = stream.time_base or Fraction(1, 1)
        self._start = stream.start_time or 0
        self._skipping = False
        self._frames = self._decode()  # the decoder's iterator; lives until the next seek
        self._next_index = 0
        first = self._next_frame()
        if first is None:
            raise PoseFileError(self.path, "video has no decodable frames")
        if grayscale is None:
            grayscale = _is_gray(first)
        self.grayscale = bool(grayscale)
        image = self._to_array(first)
        self._store(0, image)
        self.height, self.width = image.shape[:2]
        self.n_frames = self._count_frames()

    # --- array protocol ---------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_frames, H, W)`` or ``(n_frames, H, W, 3)``."""
        tail = () if self.grayscale else (3,)
        return (self.n_frames, self.height, self.width, *tail)

    @property
    def dtype(self) -> np.dtype:
        """Always uint8."""
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        """3 for grayscale, 4 for RGB."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements (as numpy defines it)."""
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, key) -> np.ndarray:
        key = _expand_ellipsis(key if isinstance(key, tuple) else (key,), self.ndim)
        first, rest = key[0], key[1:]
        if isinstance(first, int | np.integer):
            return self.frame(int(first))[rest] if rest else self.frame(int(first))
        indices = np.arange(self.n_frames)[first]
        frames = [self.frame(int(i)) for i in np.atleast_1d(indices)]
        out = np.stack(frames) if frames else np.empty((0, *self.shape[1:]), np.uint8)
        return out[(slice(None), *rest)] if rest else out

    def __repr__(self) -> str:
        return f"VideoReader({str(self.path)!r}, shape={self.shape}, fps={self.fps:g})"

    # --- decoding -----------------------------------------------------------------------
    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end) as a uint8 array."""
        if index < 0:
            index += self.n_frames
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {index} out of range for {self.n_frames} frames")
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            if index == self._next_index:  # stepping forward: keep decoding
                plans: list[tuple[int, bool] | None] = [None, (index, False), (0, False)]
            else:
                plans = [(index, True), (index, False), (0, False)]
            for plan in plans:  # fall back to safer plans if the decoder passes the frame
                if plan is not None:
                    self._seek(*plan)
                image = self._decode_until(index)
                if image is not None:
                    return image
        raise PoseFileError(self.path, f"frame {index} not found (variable frame rate video?)")

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            self._container.close()
            self._cache.clear()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _decode(self):
        return self._container.decode(self._stream)

    def _next_frame(self) -> av.VideoFrame | None:
        """Decode the next frame and set ``_next_index`` past it; ``None`` at the end."""
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except av.FFmpegError as err:
            raise PoseFileError(self.path, f"video decoding failed: {err}") from err
        self._next_index = self._index_of(frame) + 1
        return frame

    def _index_of(self, frame: av.VideoFrame) -> int:
        if frame.pts is None:
            return self._next_index
        seconds = (frame.pts - self._start) * self._time_base
        return int(round(seconds * self._rate))

    def _seek(self, index: int, skip: bool) -> None:
        """Position the decoder at the keyframe at or before frame ``index``.

        With ``skip``, frames no other frame depends on are not decoded until the decoder
        is within :data:`_SKIP_MARGIN` frames of ``index`` (about twice as fast).
        """
        target = self._start + int(round(Fraction(index) / self._rate / self._time_base))
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._frames = self._decode()
        self._next_index = -1  # unknown until the first decoded frame
        self._set_skipping(skip)

    def _set_skipping(self, skip: bool) -> None:
        if skip != self._skipping:
            self._stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self._skipping = skip

    def _decode_until(self, index: int) -> np.ndarray | None:
        """Decode forward to frame ``index``; ``None`` if the decoder went past it."""
        while True:
            if self._skipping and self._next_index >= index - _SKIP_MARGIN:
                self._set_skipping(False)
            frame = self._next_frame()
            if frame is None:
                raise PoseFileError(self.path, f"could not decode frame {index} (truncated?)")
            got = self._next_index - 1
            if got == index:
                image = self._to_array(frame)
                self._store(index, image)
                return image
            if got > index:
                return None

    def _to_array(self, frame: av.VideoFrame) -> np.ndarray:
        fmt = "gray" if self.grayscale else "rgb24"
        return np.ascontiguousarray(frame.to_ndarray(format=fmt))

    def _store(self, index: int, image: np.ndarray) -> None:
        image.flags.writeable = False
        self._cache[index] = image
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _count_frames(self) -> int:
        if self._stream.frames:
            return int(self._stream.frames)
        # no count in the metadata: decode the whole stream once with a separate handle
        with av.open(str(self.path)) as container:
            return sum(1 for _ in container.decode(video=0))


def _expand_ellipsis(key: tuple, ndim: int) -> tuple:
    """Replace an ``...`` in an index tuple by the full slices it stands for."""
    for i, k in enumerate(key):
        if k is Ellipsis:
            return key[:i] + (slice(None),) * (ndim - len(key) + 1) + key[i + 1 :]
    return key


def _is_gray(frame: av.VideoFrame) -> bool:
    """True if the frame's chroma is neutral (or the format has no chroma)."""
    if frame.format.name.startswith("gray"):
        return True
    if not frame.format.name.startswith(("yuv", "yuvj")):
        rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
        return bool(np.abs(rgb - rgb[..., :1]).max() <= _GRAY_TOLERANCE)
    yuv = frame.to_ndarray(format="yuv444p")
    chroma = yuv[1:].astype(np.int16) - 128
    return bool(np.abs(chroma).max() <= _GRAY_TOLERANCE)
