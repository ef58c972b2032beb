"""The VQ-MAP model: set-attention encoder, type/subtype EMA codebooks, per-skeleton heads."""

from napari_vqmap.model.config import ModelConfig
from napari_vqmap.model.quantizer import EMAQuantizer
from napari_vqmap.model.vqmap import VQMAP

__all__ = ["VQMAP", "EMAQuantizer", "ModelConfig"]
