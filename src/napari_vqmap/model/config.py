"""Hyperparameters of the VQ-MAP model as a plain dataclass with a JSON round trip."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

_MAY_BE_ZERO = {"codebook_warmup", "decoder_depth", "anchor_span"}
# Options removed after showing no gain, with the value that had no effect (old model
# folders and training configs may still name them; docs/benchmarks.md has their figures).
RETIRED_OPTIONS = {"slowness_weight": 0.0, "motion_weight": 0.0}


@dataclass
class ModelConfig:
    """Sizes of the VQ-MAP encoder, quantiser and decoder (defaults are small, for CPU)."""

    window: int = 64  # frames per window (must be divisible by 2**n_down)
    n_down: int = 2  # stride-2 temporal conv blocks (latent every 2**n_down frames)
    hidden: int = 64  # per-keypoint conv channels (reference: 256)
    token_dim: int = 32  # channels per keypoint token after each conv block
    n_heads: int = 4
    n_inducing: int = 6  # induced-set queries per set-attention block
    latent_dim: int = 32  # = code_dim (residual), or 2 * code_dim split into type | subtype
    residual: bool = True  # subtypes quantise the latent minus its type code (hierarchical)
    subtypes_per_type: bool = True  # each type its own subtype codes (residual only)
    n_types: int = 8
    n_subtypes: int = 16
    code_dim: int = 32
    ema_decay: float = 0.99
    commitment_beta: float = 0.25
    commitment_weight: float = 0.02  # weight of the commitment term in the total loss
    dead_code_threshold: float = 1e-2  # EMA share of assignments under which a code is reset
    codebook_warmup: int = 100  # training steps with unquantised latents before k-means init
    max_dims: int = 3  # input coordinates handled (2D and 3D)
    lift_2d: bool = True  # 2D read as 3D seen from above (3D body length, region heights)
    res_depth: int = 1  # residual dilated conv units per temporal block (reference: 3)
    decoder_depth: int | None = None  # the decoder's residual units per block (None: res_depth)
    dilation_growth: int = 3  # dilation of unit i is dilation_growth**i
    use_motion: bool = True  # a "root" token with the body centre's motion (see preprocess)
    anchor_span: int = 32  # with use_motion: reconstruction error measured on spans of this
    # many frames seen from their centre frame (0: each pose in its own frame)
    geometry_weight: float = 3.0  # latent distances kept like those of the anchored spans
    geometry_height: float = 1.5  # how much more heights (z) count in those span distances

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low = 0 if f.name in _MAY_BE_ZERO else 1
            if f.type == "int" and (type(value) is not int or value < low):
                raise ValueError(
                    f"ModelConfig.{f.name} must be an integer >= {low}, got {value!r}"
                )
            if f.type == "float" and (not isinstance(value, int | float) or value < 0):
                raise ValueError(f"ModelConfig.{f.name} must be a number >= 0, got {value!r}")
        if self.decoder_depth is not None and (
            type(self.decoder_depth) is not int or self.decoder_depth < 0
        ):
            raise ValueError(
                f"ModelConfig.decoder_depth must be None or an integer >= 0, "
                f"got {self.decoder_depth!r}"
            )
        if self.window % 2**self.n_down:
            raise ValueError(
                f"ModelConfig.window ({self.window}) must be divisible by "
                f"2**n_down ({2**self.n_down})"
            )
        if self.token_dim % self.n_heads:
            raise ValueError(
                f"ModelConfig.token_dim ({self.token_dim}) must be divisible by "
                f"n_heads ({self.n_heads})"
            )
        if self.residual and self.latent_dim != self.code_dim:
            raise ValueError(
                f"ModelConfig.latent_dim ({self.latent_dim}) must equal code_dim "
                f"({self.code_dim}) with residual subtypes"
            )
        if not self.residual and self.latent_dim != 2 * self.code_dim:
            raise ValueError(
                f"ModelConfig.latent_dim ({self.latent_dim}) must be 2 * code_dim "
                f"({self.code_dim}): the latent is split into a type half and a subtype half"
            )
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"ModelConfig.ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.max_dims < 2:
            raise ValueError(f"ModelConfig.max_dims must be at least 2, got {self.max_dims}")

    @property
    def n_motifs(self) -> int:
        """Number of (type, subtype) motifs."""
        return self.n_types * self.n_subtypes

    @property
    def n_subtype_codes(self) -> int:
        """Size of the subtype codebook: ``n_subtypes`` per type with residual, per-type
        subtypes, else ``n_subtypes`` shared by all types."""
        per_type = self.residual and self.subtypes_per_type
        return self.n_subtypes * (self.n_types if per_type else 1)

    @property
    def receptive_field(self) -> int:
        """Frames on each side of a latent step's own frames that can reach it (encoder).

        Each temporal block adds its stride-2 conv (kernel 4: 2 input steps a side) and its
        residual units (dilation ``dilation_growth**i``, kernel 3) at the block's output rate.
        """
        frames, rate = 0, 1
        for _ in range(self.n_down):
            frames += 2 * rate
            rate *= 2
            frames += rate * sum(self.dilation_growth**i for i in range(self.res_depth))
        return frames

    @property
    def decoder_field(self) -> int:
        """Frames on each side of a decoded frame whose latent steps can reach it: the
        first conv (one latent step a side), then per level a residual stack and a
        stride-2 transposed conv (one input step a side), and the last residual stack."""
        depth = self.res_depth if self.decoder_depth is None else self.decoder_depth
        unit = sum(self.dilation_growth**i for i in range(depth))
        rate = 2**self.n_down
        frames = rate
        for _ in range(self.n_down):
            frames += rate * unit + rate
            rate //= 2
        return frames + unit

    @property
    def latent_window(self) -> int:
        """Latent time steps per window (T')."""
        return self.window // 2**self.n_down

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict of all fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise a ValueError naming them.

        A retired option (:data:`RETIRED_OPTIONS`) at its no-effect value is dropped with a
        DeprecationWarning; at any other value it raises, since it can no longer act."""
        d = dict(d)
        for name, inert in RETIRED_OPTIONS.items():
            if name not in d:
                continue
            value = d.pop(name)
            if value != inert:
                raise ValueError(
                    f"ModelConfig.{name} was removed (it showed no gain); only {inert} "
                    f"(no effect) is accepted, got {value!r}"
                )
            warnings.warn(
                f"ModelConfig.{name} was removed and is ignored; drop it from the config",
                DeprecationWarning,
                stacklevel=2,
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown ModelConfig key(s) {unknown}; known keys are {sorted(known)}"
            )
        return cls(**d)
