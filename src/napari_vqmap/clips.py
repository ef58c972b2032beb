"""Example clips per motif ("grid movies"): for each motif, one mp4 tiling up to 16 of its
bouts, each cropped around the animal, with the skeleton drawn in the motif's colour and
the bout's file and time in a corner (numpy + PyAV; no Qt).

Video frames come from :class:`~napari_vqmap.video.VideoReader` (frame-accurate: a bout's
frames are the pose file's ``frame`` coordinate, the video frame index). A recording
without a video (or with 3D poses, shown from above) gets the skeleton alone on a plain
background. Memory is bounded by the grid being written: each tile's frames are cropped
and shrunk as they are read, so at most ``tiles × frames × tile_px² × 3`` bytes are held
(about 90 MB with the defaults), whatever the recordings' length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pandas as pd
import xarray as xr

from napari_vqmap.analysis.motif_video import _X264, _label, _put, draw_skeleton, motif_colours
from napari_vqmap.io import VIDEO_SUFFIXES, skeleton_of
from napari_vqmap.io.atomic import atomic_write
from napari_vqmap.names import MotifNames

TILES = 16
TILE_PX = 160
MAX_SECONDS = 3.0
MIN_BOUT_FRAMES = 3
HEADER_PX = 24
BACKGROUND = 40  # grey level of tiles without video
CROP_BODIES = 2.2  # crop side, in body sizes (keypoint bounding-box diagonals)


@dataclass
class ClipSource:
    """One encoded recording: its poses (``frame`` = video frame index), per-frame motif
    ids ``(time, individual)`` with merges applied (-1: not encoded), its video (or
    ``None``) and frame rate (or ``None``: times are given in frames)."""

    name: str
    poses: xr.Dataset
    motif: np.ndarray
    video: Path | None = None
    fps: float | None = None


@dataclass
class Bout:
    """A run of one motif: recording index, individual index, time indices [start, stop)."""

    source: int
    individual: int
    start: int
    stop: int
    motif: int


def find_video(pose_file: str | Path) -> Path | None:
    """The video beside a pose file: one whose stem starts the pose file's name (``clip.mp4``
    for ``clip.slp`` or ``clip.predictions.slp``; the longest such stem), else ``None``."""
    pose_file = Path(pose_file)
    if not pose_file.parent.is_dir():
        return None
    name = pose_file.name.lower()
    found = [
        p
        for p in pose_file.parent.iterdir()
        if p.suffix.lower() in VIDEO_SUFFIXES and name.startswith(p.stem.lower())
    ]
    return max(found, key=lambda p: len(p.stem)) if found else None


def find_bouts(sources: Sequence[ClipSource], min_frames: int = MIN_BOUT_FRAMES) -> list[Bout]:
    """Every run of one motif of at least ``min_frames`` consecutive frames."""
    out = []
    for s, src in enumerate(sources):
        frames = _frames(src.poses)
        for i in range(src.motif.shape[1]):
            ids = src.motif[:, i]
            new = np.r_[True, (np.diff(ids) != 0) | (np.diff(frames) != 1)]
            starts = np.flatnonzero(new)
            stops = np.r_[starts[1:], len(ids)]
            for a, b in zip(starts, stops, strict=True):
                if ids[a] >= 0 and b - a >= min_frames:
                    out.append(Bout(s, i, int(a), int(b), int(ids[a])))
    return out


def choose_bouts(
    bouts: Sequence[Bout], top: int | None = None, tiles: int = TILES
) -> dict[int, list[Bout]]:
    """Motif -> its longest bouts (at most ``tiles``; ties: earlier first), for every motif
    with a bout, or only the ``top`` motifs with the most frames in bouts."""
    table = pd.DataFrame(
        [(b.motif, b.stop - b.start, k) for k, b in enumerate(bouts)],
        columns=["motif", "frames", "k"],
    )
    if table.empty:
        return {}
    used = table.groupby("motif")["frames"].sum().sort_values(ascending=False, kind="stable")
    motifs = list(used.index[:top] if top else sorted(used.index))
    chosen = {}
    for m in motifs:
        rows = table[table["motif"] == m].sort_values("frames", ascending=False, kind="stable")
        chosen[int(m)] = [bouts[k] for k in rows["k"].head(tiles)]
    return chosen


def write_clips(
    sources: Sequence[ClipSource],
    out_dir: str | Path,
    names: MotifNames,
    top: int | None = None,
    tiles: int = TILES,
    tile_px: int = TILE_PX,
    max_seconds: float = MAX_SECONDS,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``motif_<id>.mp4`` into ``out_dir`` for every motif with a bout (or the ``top``
    most used): up to ``tiles`` of its longest bouts side by side, each at most
    ``max_seconds`` long (the middle of a longer bout; shorter ones loop).
    ``progress(done, total)`` counts grids. Each file is written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tile_px = max(16, int(tile_px) // 2 * 2)
    chosen = choose_bouts(find_bouts(sources), top, tiles)
    rates = [s.fps for s in sources if s.fps]
    fps = float(rates[0]) if rates else 25.0
    written = []
    for done, (motif, bouts) in enumerate(chosen.items()):
        path = out_dir / f"motif_{motif:03d}_{_safe(names.name(motif))}.mp4"
        n_frames = max(1, int(round(max_seconds * fps)))
        colour = motif_colours(np.array([motif]), names.n_types, names.n_subtypes)[0]
        grids = [_tile_frames(sources[b.source], b, n_frames, tile_px, colour) for b in bouts]
        header = _header(names.name(motif), len(bouts), colour, tile_px, len(grids))
        atomic_write(path, lambda tmp, g=grids, h=header: _write_grid(tmp, g, h, fps))
        written.append(path)
        if progress is not None:
            progress(done + 1, len(chosen))
    return written


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:40] or "motif"


def _frames(poses: xr.Dataset) -> np.ndarray:
    if "frame" in poses.coords:
        return poses["frame"].values.astype(np.int64)
    return np.arange(poses.sizes["time"], dtype=np.int64)


def _grid_shape(n: int) -> tuple[int, int]:
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def _header(name: str, n: int, colour: np.ndarray, tile_px: int, n_tiles: int) -> np.ndarray:
    """The title bar: a colour swatch and the motif's name and bout count."""
    _, cols = _grid_shape(n_tiles)
    bar = np.zeros((HEADER_PX, cols * tile_px, 3), np.uint8)
    bar[3:-3, 3 : HEADER_PX - 3] = np.asarray(colour[:3] * 255, np.uint8)
    _put(bar, _label(f"motif {name}: {n} bout{'s' * (n != 1)}", HEADER_PX - 6), 3, HEADER_PX)
    return bar


def _tile_frames(
    src: ClipSource, bout: Bout, n_frames: int, tile_px: int, colour: np.ndarray
) -> np.ndarray:
    """``(frames, tile_px, tile_px, 3)`` uint8: the bout (its middle ``n_frames`` when
    longer, looped when shorter) cropped around the animal, skeleton in the motif's colour,
    file and time in the top-left corner."""
    poses = src.poses
    length = bout.stop - bout.start
    first = bout.start + max(0, (length - n_frames) // 2)
    times = first + np.arange(min(n_frames, length))
    sk = skeleton_of(poses)
    keypoints = [str(k) for k in poses["keypoint"].values]
    body = np.array([k not in sk.arena for k in keypoints])
    index = {k: i for i, k in enumerate(keypoints)}
    edges = [(index[a], index[b]) for a, b in (poses.attrs.get("skeleton") or sk.edges)]
    edges = [(a, b) for a, b in edges if body[a] and body[b]]
    pos = poses["position"].isel(individual=bout.individual, time=times)
    xy = pos.transpose("time", "keypoint", "space").values[..., :2].astype(np.float64)
    xy[:, ~body] = np.nan
    centre = _smooth(np.nanmean(xy, axis=1))
    extent = np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1)
    side = CROP_BODIES * float(np.nanmedian(np.hypot(extent[:, 0], extent[:, 1])))
    side = side if np.isfinite(side) and side > 0 else 100.0
    frames = _frames(poses)[times]
    who = (
        str(poses["individual"].values[bout.individual])[:10]
        if poses.sizes["individual"] > 1
        else ""
    )
    video = _open(src) if poses.sizes["space"] == 2 else None
    out = np.empty((len(times), tile_px, tile_px, 3), np.uint8)
    scale = tile_px / side
    try:
        for j in range(len(times)):
            origin = centre[j] - side / 2
            img = _crop(video, int(frames[j]), origin, side, tile_px)
            draw_skeleton(img, (xy[j] - origin) * scale, edges, colour, 1)
            seconds = f"{frames[j] / src.fps:.1f} s" if src.fps else f"frame {frames[j]}"
            _put(img, _label(f"{src.name[:16]} {who} {seconds}", 12), 0, 0)
            out[j] = img
    finally:
        if video is not None:
            video.close()
    reps = -(-n_frames // len(out))
    return np.concatenate([out] * reps)[:n_frames]


def _smooth(centre: np.ndarray, width: int = 5) -> np.ndarray:
    """Moving average of the per-frame centre (gaps filled from the nearest frame)."""
    out = centre.copy()
    for d in range(2):
        v = out[:, d]
        ok = np.isfinite(v)
        if not ok.any():
            out[:, d] = 0.0
            continue
        v = np.interp(np.arange(len(v)), np.flatnonzero(ok), v[ok])
        pad = np.pad(v, width // 2, mode="edge")
        out[:, d] = np.convolve(pad, np.ones(width) / width, mode="valid")
    return out


def _open(src: ClipSource):
    if src.video is None:
        return None
    from napari_vqmap.video import VideoReader

    return VideoReader(src.video, grayscale=False, cache_size=2)


def _crop(video, frame: int, origin: np.ndarray, side: float, tile_px: int) -> np.ndarray:
    """A ``tile_px`` square of ``video``'s ``frame`` from ``origin`` (x, y) with ``side``
    pixels (nearest-neighbour), plain grey outside the image or without a video."""
    img = np.full((tile_px, tile_px, 3), BACKGROUND, np.uint8)
    if video is None or not 0 <= frame < video.n_frames:
        return img
    source = video.frame(frame)
    steps = (np.arange(tile_px) + 0.5) * side / tile_px
    cols = np.floor(origin[0] + steps).astype(np.int64)
    rows = np.floor(origin[1] + steps).astype(np.int64)
    r_ok = (rows >= 0) & (rows < source.shape[0])
    c_ok = (cols >= 0) & (cols < source.shape[1])
    patch = source[np.ix_(rows[r_ok], cols[c_ok])]
    img[np.ix_(np.flatnonzero(r_ok), np.flatnonzero(c_ok))] = patch
    return img


def _write_grid(path: Path, grids: list[np.ndarray], header: np.ndarray, fps: float) -> None:
    n_rows, n_cols = _grid_shape(len(grids))
    tile = grids[0].shape[1]
    height, width = HEADER_PX + n_rows * tile, n_cols * tile
    with av.open(str(path), "w", format="mp4") as sink:
        stream = sink.add_stream("libx264", rate=max(1, int(round(fps))), options=_X264)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        canvas = np.zeros((height, width, 3), np.uint8)
        canvas[:HEADER_PX] = header
        for j in range(grids[0].shape[0]):
            for k, grid in enumerate(grids):
                r, c = divmod(k, n_cols)
                top = HEADER_PX + r * tile
                canvas[top : top + tile, c * tile : (c + 1) * tile] = grid[j]
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                sink.mux(packet)
        for packet in stream.encode():
            sink.mux(packet)
