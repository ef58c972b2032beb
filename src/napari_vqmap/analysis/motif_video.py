"""A video clip with the skeleton drawn in its motif's colour (no Qt: numpy + PyAV).

Each frame shows the tracked skeleton in the colour of the frame's motif (hue per type,
shade per subtype; grey where not encoded), the motif's name, and an ethogram strip along
the bottom with a cursor at the current frame.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import xarray as xr

from napari_vqmap.colours import motif_colours
from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.validators import PoseFileError

STRIP_HEIGHT = 14  # ethogram strip height, pixels
_X264 = {"crf": "23", "preset": "veryfast"}
# gamma 0.6: dark arena videos stay readable under the overlay
_BRIGHTEN = np.rint(255 * (np.arange(256) / 255) ** 0.6).astype(np.uint8)


def _disk(radius: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    inside = dy**2 + dx**2 <= radius**2
    return dy[inside], dx[inside]


def _stamp(img: np.ndarray, yx: np.ndarray, colour: np.ndarray, radius: int) -> None:
    """Paint a disk of ``radius`` at each (row, col) of ``yx`` (finite points only)."""
    yx = yx[np.isfinite(yx).all(axis=1)]
    if not len(yx):
        return
    dy, dx = _disk(radius)
    rows = (np.rint(yx[:, :1]) + dy).ravel().astype(np.int64)
    cols = (np.rint(yx[:, 1:]) + dx).ravel().astype(np.int64)
    keep = (rows >= 0) & (rows < img.shape[0]) & (cols >= 0) & (cols < img.shape[1])
    img[rows[keep], cols[keep]] = colour


def draw_skeleton(
    img: np.ndarray,
    xy: np.ndarray,
    edges: list[tuple[int, int]],
    colour: np.ndarray,
    width: int = 2,
) -> None:
    """Draw edges (between keypoint indices) and keypoints of ``xy`` ((K, 2) x, y pixels,
    NaN for missing) onto the RGB uint8 ``img`` in place."""
    colour = np.asarray(colour[:3] * 255, np.uint8)
    points = []
    for a, b in edges:
        p, q = xy[a], xy[b]
        if not (np.isfinite(p).all() and np.isfinite(q).all()):
            continue
        n = int(np.ceil(np.hypot(*(q - p)))) + 1
        points.append(p + np.linspace(0, 1, n)[:, None] * (q - p))
    if points:
        _stamp(img, np.concatenate(points)[:, ::-1], colour, width)
    _stamp(img, xy[:, ::-1], np.full(3, 255, np.uint8), width + 2)
    _stamp(img, xy[:, ::-1], colour, width + 1)


@lru_cache(maxsize=512)
def _label(text: str, height: int) -> np.ndarray:
    """White text on black as an RGB uint8 image ``height`` pixels tall (matplotlib Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width = max(40, int(height * 0.62 * len(text)) + 12)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="black")
    fig.text(0.5, 0.5, text, color="white", ha="center", va="center", fontsize=height * 0.5)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _put(img: np.ndarray, sprite: np.ndarray, row: int, col: int) -> None:
    h = min(sprite.shape[0], img.shape[0] - row)
    w = min(sprite.shape[1], img.shape[1] - col)
    img[row : row + h, col : col + w] = sprite[:h, :w]


def ethogram_strip(colours: np.ndarray, width: int, height: int = STRIP_HEIGHT) -> np.ndarray:
    """An RGB uint8 strip ``width`` pixels wide: the per-frame RGBA ``colours`` resampled."""
    idx = np.minimum((np.arange(width) * len(colours)) // width, len(colours) - 1)
    row = np.asarray(colours[idx, :3] * 255, np.uint8)
    return np.broadcast_to(row, (height, width, 3)).copy()


def write_motif_video(
    video: str | Path,
    poses: xr.Dataset,
    motif: np.ndarray,
    names: np.ndarray,
    n_types: int,
    n_subtypes: int,
    out_path: str | Path,
    seconds: float = 10.0,
    downscale: int = 2,
    individual: int = 0,
) -> int:
    """Write the first ``seconds`` of ``video`` with the skeleton of ``poses`` (2D, video
    pixel coordinates) coloured by per-frame ``motif`` (ids, -1 not encoded; ``names`` their
    display names) as an H.264 mp4 at the video's frame rate; returns the frame count.

    The video is shrunk by ``downscale`` and brightened (gamma 0.6).
    """
    video, out_path = Path(video), Path(out_path)
    if poses.sizes["space"] != 2:
        raise PoseFileError(video, "a motif video needs 2D poses in the video's pixels")
    keypoints = [str(k) for k in poses["keypoint"].values]
    index = {k: i for i, k in enumerate(keypoints)}
    edges = [(index[a], index[b]) for a, b in poses.attrs.get("skeleton") or []]
    xy = poses["position"].isel(individual=individual).transpose("time", "keypoint", "space")
    xy = xy.values
    colours = motif_colours(motif, n_types, n_subtypes)
    try:
        source = av.open(str(video))
    except (av.error.FFmpegError, OSError) as err:
        raise PoseFileError(video, f"cannot open the video: {err}") from err
    with source:
        stream = source.streams.video[0]
        fps = float(stream.average_rate or 25)
        n_frames = min(int(round(seconds * fps)), len(motif), len(xy))
        height = stream.height // downscale // 2 * 2
        width = stream.width // downscale // 2 * 2
        strip = ethogram_strip(colours[:n_frames], width)
        xy = xy * np.array([width / stream.width, height / stream.height])

        def write(tmp: Path) -> int:
            with av.open(str(tmp), "w", format="mp4") as sink:
                out = sink.add_stream("libx264", rate=int(round(fps)), options=_X264)
                out.width, out.height, out.pix_fmt = width, height, "yuv420p"
                count = 0
                for frame in source.decode(stream):
                    if count >= n_frames:
                        break
                    small = frame.reformat(width=width, height=height, format="rgb24")
                    img = _BRIGHTEN[small.to_ndarray()]
                    draw_skeleton(img, xy[count], edges, colours[count], max(1, 4 // downscale))
                    name = str(names[count]) or "not encoded"
                    rgb = np.asarray(colours[count, :3] * 255, np.uint8)
                    _overlay(img, strip, count, n_frames, name, rgb)
                    for packet in out.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                        sink.mux(packet)
                    count += 1
                for packet in out.encode():
                    sink.mux(packet)
            return count

        written: list[int] = []
        atomic_write(out_path, lambda tmp: written.append(write(tmp)))
    return written[0]


def _overlay(
    img: np.ndarray, strip: np.ndarray, frame: int, n_frames: int, name: str, colour: np.ndarray
) -> None:
    """The ethogram strip at the bottom with a cursor, and the motif name and colour swatch
    at the top left."""
    height, width = img.shape[:2]
    img[height - strip.shape[0] :] = strip
    cursor = min(width - 1, frame * width // max(n_frames, 1))
    img[height - strip.shape[0] - 4 :, max(0, cursor - 1) : cursor + 2] = 255
    label = _label(f"motif {name}", 24)
    _put(img, label, 6, 6)
    img[6:30, 6 + label.shape[1] : 30 + label.shape[1]] = colour
