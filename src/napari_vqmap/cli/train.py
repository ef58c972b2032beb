"""Train one VQ-MAP model on pose datasets with any mix of skeletons (CPU, GPU or DDP).

    napari-vqmap train DATA... --out MODEL_DIR             # one process
    torchrun --nproc_per_node=4 -m napari_vqmap.training DATA... --out MODEL_DIR   # DDP

Each batch holds windows of one skeleton (one decoder head); skeletons, then recordings,
are drawn uniformly. Batches are a pure function of (seed, step, rank), so a resumed run
draws exactly the batches the uninterrupted run would have drawn.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from napari_vqmap.cli.args import at_least, device_arg
from napari_vqmap.errors import InputError

HELP = "train a VQ-MAP model on pose files (any skeletons)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``napari-vqmap train`` (and ``python -m napari_vqmap.training``)."""
    parser.add_argument("data", nargs="+", help="pose files, folders of pose files, or globs")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--skeleton", help="skeleton preset name or YAML file for the data")
    parser.add_argument("--config", help="YAML file with model:, preprocess:, train: sections")
    parser.add_argument("--steps", type=at_least(1), help="number of optimisation steps")
    parser.add_argument(
        "--device", type=device_arg, help="auto (default), cpu, cuda, cuda:N or mps"
    )
    parser.add_argument("--seed", type=at_least(0), help="random seed")
    parser.add_argument("--fps", type=float, help="frame rate, for files that lack one")
    parser.add_argument("--resume", action="store_true", help="continue a run in --out")


def run(args: argparse.Namespace) -> int:
    """Run ``train`` for parsed command-line arguments; returns the exit code."""
    import torch

    from napari_vqmap.checkpoint import read_config
    from napari_vqmap.runtime import is_distributed, rank_world, setup_distributed
    from napari_vqmap.training import SECTIONS, TrainConfig, train

    if args.config:
        config = TrainConfig.from_yaml(args.config)
    elif args.resume:
        config = TrainConfig.from_dict({k: read_config(args.out)[k] for k in SECTIONS})
    else:
        config = TrainConfig()
    given = {k: getattr(args, k) for k in ("steps", "device", "seed")}
    config = replace(config, **{k: v for k, v in given.items() if v is not None})
    setup_distributed(config.device)
    rank = rank_world()[0]
    try:
        out = train(
            args.data, args.out, config, skeleton=args.skeleton, resume=args.resume, fps=args.fps
        )
        if is_distributed():  # rank 0 may still be writing: leave the group together
            torch.distributed.barrier()
    finally:
        if is_distributed():
            torch.distributed.destroy_process_group()
    if rank == 0:
        print(f"model written to {out}")
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "python -m napari_vqmap.training") -> int:
    """``python -m napari_vqmap.training`` (the entry point for torchrun)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except InputError as err:
        print(f"napari-vqmap: error: {err}", file=sys.stderr)
        return 2
