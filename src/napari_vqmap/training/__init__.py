"""Training a VQ-MAP model: configuration (:mod:`.config`), data and batches
(:mod:`.data`, :mod:`.mirror`), optimiser (:mod:`.optim`), resumable state
(:mod:`.state`) and the loop (:mod:`.loop`). ``torchrun -m napari_vqmap.training`` runs
it on several processes (``napari-vqmap train`` takes the same arguments)."""

from napari_vqmap.training.config import SECTIONS, TrainConfig, quick_config
from napari_vqmap.training.loop import train

__all__ = ["SECTIONS", "TrainConfig", "quick_config", "train"]
