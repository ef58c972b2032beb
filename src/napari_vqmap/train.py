"""Deprecated: training moved to :mod:`napari_vqmap.training` (and devices to
:mod:`napari_vqmap.runtime`); the old names here work for one more release, with a
:class:`DeprecationWarning`. ``python -m napari_vqmap.train`` still runs
``python -m napari_vqmap.training``."""

from __future__ import annotations

import sys

from napari_vqmap.deprecated import moved

_MOVED = {
    "napari_vqmap.training.config": ("SECTIONS", "RECON_WEIGHTINGS", "TrainConfig"),
    "napari_vqmap.training.data:SkeletonData": ("Group",),
    "napari_vqmap.training.data:build_skeleton_data": ("build_groups",),
    "napari_vqmap.training.data": (
        "common_fps",
        "recon_weights",
        "region_heights",
        "top_down_scale",
        "skeleton_probabilities",
        "codebook_weights",
        "sample_batch",
        "augment",
    ),
    "napari_vqmap.training.mirror": ("mirror_permutation",),
    "napari_vqmap.training.optim": ("lr_at", "make_optimizer", "LossBalance"),
    "napari_vqmap.training.state": ("save_train_state", "load_train_state"),
    "napari_vqmap.training.loop": ("train", "set_2d_lift"),
    "napari_vqmap.runtime": (
        "available_devices",
        "resolve_device",
        "autocast_for",
        "launched_rank_world",
        "setup_distributed",
    ),
    "napari_vqmap.validators": ("DEVICES", "is_device_name"),
    "napari_vqmap.io.files": ("expand_inputs", "file_sha256"),
    "napari_vqmap.cli.args": ("device_arg",),
    "napari_vqmap.cli.train:add_arguments": ("add_train_arguments",),
    "napari_vqmap.cli.train:run": ("run_train",),
}
__getattr__ = moved(__name__, {name: module for module, names in _MOVED.items() for name in names})


if __name__ == "__main__":
    from napari_vqmap.console import print_warnings_plainly

    print_warnings_plainly()
    from napari_vqmap.cli.train import main

    sys.exit(main(prog="python -m napari_vqmap.train"))
