"""The training configuration: optimisation, augmentation and bookkeeping, with the model
and preprocessing configs; read from and written as the ``model:``, ``preprocess:``,
``train:`` sections of a YAML file or a model folder's ``config.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from napari_vqmap.errors import ConfigError
from napari_vqmap.model import ModelConfig
from napari_vqmap.preprocess import PreprocessConfig
from napari_vqmap.validators import DEVICES, check_option, is_device_name

SECTIONS = ("model", "preprocess", "train")


RECON_WEIGHTINGS = ("none", "keypoint", "coordinate")
# Train options added after models were first saved, with the value an older folder meant
# (the model section's counterpart is ``checkpoint.LEGACY_MODEL_OPTIONS``).
LEGACY_TRAIN_OPTIONS = {"recon_weighting": "none", "codebook_refit": 0.0, "final_refit": False}


@dataclass
class TrainConfig:
    """Optimisation, augmentation and bookkeeping; ``model`` and ``preprocess`` ride along.

    ``batch_size`` is per process. A batch's skeleton is drawn with probability
    proportional to its number of training windows to the power ``skeleton_weighting``
    (0: every skeleton equally often; 1: in proportion to its data; 0.5, the default, gives
    a skeleton with 100 times the windows 10 times the batches). ``keypoint_dropout`` is
    the chance that a window loses 1..``dropout_max_fraction`` of its keypoints. ``mirror``
    swaps left/right keypoints and negates the lateral (y) axis in half of the windows of
    skeletons with left/right pairs. ``balance_losses`` scales each batch's loss by
    :class:`LossBalance` (no effect with one skeleton). ``recon_weighting`` weights the
    reconstruction error of each keypoint coordinate (:func:`recon_weights`).
    ``codebook_refit`` (a fraction of ``steps``; 0: never) refits the codebooks once by
    k-means on the latents of 32 batches (:func:`~napari_vqmap.training.loop.refit_codebooks`),
    so the codes partition the grown encoder's latents, not those of step
    ``model.codebook_warmup`` (two training seeds then agree more); a refit due before the
    codes are first set is skipped. ``final_refit`` refits them once more after the last
    step, on the latents encoding gives (windows without augmentation, their inner latent
    steps), so what is quantised is what encoding will quantise; two seeds' motifs agree
    more, and the type scores rise (docs/benchmarks.md).
    """

    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    keypoint_dropout: float = 0.5
    dropout_max_fraction: float = 0.3
    mirror: bool = True
    skeleton_weighting: float = 0.5
    balance_losses: bool = True
    recon_weighting: str = "coordinate"
    codebook_refit: float = 0.75
    final_refit: bool = True
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    checkpoint_every: int = 500
    model: ModelConfig = field(default_factory=ModelConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def __post_init__(self) -> None:
        if self.recon_weighting not in RECON_WEIGHTINGS:
            raise ValueError(
                f"recon_weighting must be one of {', '.join(RECON_WEIGHTINGS)}, "
                f"got {self.recon_weighting!r}"
            )
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            check_option("TrainConfig", name, getattr(self, name), 1, integer=True)
        for name in ("warmup_steps", "seed"):
            check_option("TrainConfig", name, getattr(self, name), 0, integer=True)
        for name in ("lr", "grad_clip"):
            check_option("TrainConfig", name, getattr(self, name), 0, above=True)
        check_option("TrainConfig", "weight_decay", self.weight_decay, 0)
        for name in ("min_lr_ratio", "keypoint_dropout", "dropout_max_fraction", "codebook_refit"):
            check_option("TrainConfig", name, getattr(self, name), 0, 1)
        check_option("TrainConfig", "skeleton_weighting", self.skeleton_weighting, 0, 1)
        if not is_device_name(self.device):
            raise ValueError(
                f"TrainConfig.device must be one of {', '.join(DEVICES)} (or cuda:N), "
                f"got {self.device!r}"
            )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{"model": ..., "preprocess": ..., "train": ...}``: the config-file layout."""
        train = {k: v for k, v in asdict(self).items() if k not in ("model", "preprocess")}
        return {
            "model": self.model.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "train": train,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from the config-file layout; missing sections or keys take defaults."""
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        train = dict(d.get("train") or {})
        names = {f.name for f in fields(cls)} - {"model", "preprocess"}
        bad = set(train) - names
        if bad:
            raise ValueError(f"unknown train option(s): {', '.join(sorted(bad))}")
        return cls(
            **train,
            model=ModelConfig.from_dict(d.get("model") or {}),
            preprocess=PreprocessConfig.from_dict(d.get("preprocess") or {}),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        """Read a YAML file with ``model:``, ``preprocess:`` and ``train:`` sections."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(path, "config file not found")
        try:
            return cls.from_dict(yaml.safe_load(path.read_text()) or {})
        except (yaml.YAMLError, ValueError, TypeError) as err:
            raise ConfigError(path, f"invalid training config: {err}") from err


def quick_config(
    window: int,
    n_types: int,
    n_subtypes: int,
    steps: int,
    batch_size: int,
    device: str,
    seed: int,
) -> TrainConfig:
    """A :class:`TrainConfig` from a few choices (the napari Train widget's), other options
    at their defaults.

    Short runs get a shorter learning-rate warm-up and codebook warm-up, so that even a
    trial of a few steps ends with its codes set (the defaults are reached at 500 steps).
    """
    codebook_warmup = min(ModelConfig.codebook_warmup, max(1, steps // 5))
    model = ModelConfig(
        window=window, n_types=n_types, n_subtypes=n_subtypes, codebook_warmup=codebook_warmup
    )
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        device=device,
        seed=seed,
        warmup_steps=min(TrainConfig.warmup_steps, max(1, steps // 10)),
        log_every=max(1, min(TrainConfig.log_every, steps // 100)),
        model=model,
    )
