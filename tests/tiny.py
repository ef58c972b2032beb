"""Settings for tiny test models (fast to train, not for quality)."""

from __future__ import annotations

from napari_vqmap.model import ModelConfig
from napari_vqmap.preprocess import PreprocessConfig
from napari_vqmap.training import TrainConfig


def tiny_train_config(**train_options) -> TrainConfig:
    """A training config for tests: a tiny model (window 32, hidden 32) and 6 steps."""
    options = dict(steps=6, batch_size=8, warmup_steps=2, checkpoint_every=100)
    return TrainConfig(
        **(options | train_options),
        model=ModelConfig(window=32, hidden=32, token_dim=16, n_heads=2, res_depth=1),
        preprocess=PreprocessConfig(target_fps=20, stride=16),
    )
