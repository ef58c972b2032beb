"""``napari-vqmap encode``: encode pose files into per-frame motifs."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_vqmap.cli.args import device_arg, shard_arg, stickiness_arg

HELP = "encode pose files into per-frame motifs"
# napari_vqmap.encode's BATCH_BLOCKS, SPAN and CHUNK_FRAMES (not imported: it imports torch;
# tests/unit/test_cli_startup.py checks they agree)
BATCH_BLOCKS, SPAN, CHUNK_FRAMES = 8, 1024, 32768


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap encode``."""
    parser.add_argument("inputs", nargs="+", help="pose files, folders or glob patterns")
    parser.add_argument("--model", help="trained model folder (default: the bundled model)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--skeleton", help="skeleton preset name or YAML file")
    parser.add_argument("--fps", type=float, help="frame rate, for files that lack one")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_BLOCKS,
        help=f"blocks of {SPAN} frames per batch (memory)",
    )
    parser.add_argument(
        "--chunk-frames", type=int, default=CHUNK_FRAMES, help="frames per chunk (memory)"
    )
    parser.add_argument(
        "--device",
        type=device_arg,
        default="cpu",
        help="cpu (default), cuda, cuda:N, mps or auto (CUDA, then MPS, then CPU)",
    )
    parser.add_argument(
        "--shard",
        type=shard_arg,
        help="I/N: encode every N-th input from the I-th (0-based), for N parallel jobs "
        "(default under torchrun: RANK/WORLD_SIZE)",
    )
    parser.add_argument(
        "--y-up",
        action="store_true",
        help="2D coordinates with y pointing up, or filmed from below the animal: do not "
        "flip them (2D is otherwise read as image coordinates from a camera above)",
    )
    parser.add_argument(
        "--stickiness",
        type=stickiness_arg,
        help="how long motifs last: the cost of changing motif, in median squared "
        "distances between two codes (0: the nearest code at every step; default: the "
        "model's)",
    )
    parser.add_argument(
        "--nwb", action="store_true", help="also write NWB files (poses + motif bouts)"
    )


def run(args: argparse.Namespace) -> int:
    """Encode each input and write its result files into ``--out``."""
    from tqdm import tqdm

    from napari_vqmap.encode import encode_files

    bars: dict[int, tqdm] = {}

    def progress(item: int, name: str, done: int, total: int) -> None:
        bar = bars.get(item)
        if bar is None:
            bar = bars[item] = tqdm(desc=Path(name).name, unit="block")
        bar.total = total
        bar.update(done - bar.n)

    encoded = encode_files(
        args.inputs,
        args.model,
        args.out,
        skeleton=args.skeleton,
        fps=args.fps,
        batch_size=args.batch_size,
        chunk_frames=args.chunk_frames,
        device=args.device,
        y_up=args.y_up,
        stickiness=args.stickiness,
        nwb=args.nwb,
        shard=args.shard,
        progress=progress,
        log=print,
    )
    try:
        for k, item in enumerate(encoded):
            bar = bars.pop(k, None) or tqdm(desc=Path(item.name).name, unit="block")
            bar.close()
            print(f"{item.name}: wrote {', '.join(p.name for p in item.files)}")
    finally:  # a bar left open on Ctrl-C or an error
        for bar in bars.values():
            bar.close()
    return 0
