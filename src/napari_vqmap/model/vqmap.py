"""VQ-MAP: a keypoint-agnostic encoder, a hierarchical quantiser and per-skeleton heads.

Shapes: B windows, T frames, K keypoints, D coordinates (2 or 3), C channels, M induced
queries, T' = T / 2**n_down latent steps.

* Encoder: each keypoint's trajectory is a token. Temporal conv blocks (weights shared by
  all keypoints, stride 2) alternate with induced set attention across the tokens, with a
  body-region and a dimensionality embedding per token; missing keypoints are masked out
  of attention. 2D input is read as 3D seen from above (``lift_2d``), and the body's own
  motion is one more "root" token (``use_motion``). Induced-set pooling gives the latent
  z (B, T', latent_dim), invariant to the order of keypoints.
* Quantiser: z snaps to a type code, and its residual to one of that type's subtype
  codes (EMA codebooks); ``motif = type * n_subtypes + subtype``.
* Decoder: residual temporal convs and transposed convs back to T frames, then a linear
  head per skeleton (K x D per frame). The loss is the masked, per-coordinate weighted
  MSE (on spans seen from their centre frame with ``anchor_span``, the decoded body
  motion included) plus the weighted latent-geometry and commitment terms.

docs/model.md explains each choice and what it gained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from napari_vqmap.model.config import ModelConfig
from napari_vqmap.model.quantizer import EMAQuantizer, perplexity
from napari_vqmap.skeletons import REGIONS

MOTION_SCALE = 0.5  # body lengths/s and rad/s -> about the spread of aligned coordinates
MOTION_DIMS = 3


@dataclass
class Output:
    """What :meth:`VQMAP.forward` returns for a batch of B windows (T' latent steps)."""

    loss: Tensor  # the training loss: recon + weighted geometry and commitment terms
    recon_loss: Tensor
    geo_loss: Tensor  # latent geometry (see geometry)
    commit_loss: Tensor
    recon: Tensor  # (B, T, K, D) reconstructed poses
    z: Tensor  # (B, T', latent_dim) latents before quantisation
    type_idx: Tensor  # (B, T')
    subtype_idx: Tensor  # (B, T')
    motif_idx: Tensor  # (B, T'): type * n_subtypes + subtype
    perplexity: Tensor  # of the batch's motif usage
    type_usage: Tensor  # (n_types,) the batch's share of each type code
    subtype_usage: Tensor  # (n_subtype_codes,)


def to_seq(x: Tensor) -> Tensor:
    """(N, T, C) -> the (N, C, 1, T) channels-last sequence layout of the conv stacks.

    The conv layers run as 2-D convs of height 1 in channels-last memory (each time step's
    channels contiguous): on the CPU, oneDNN's channels-last kernels are 2-3x faster than
    ``Conv1d`` on (N, C, T), and the per-step channel LayerNorms need no copies.
    """
    return x.contiguous().unsqueeze(1).permute(0, 3, 1, 2)


def from_seq(x: Tensor) -> Tensor:
    """Inverse of :func:`to_seq`: (N, C, 1, T) -> (N, T, C) (a view when channels-last)."""
    return x.permute(0, 2, 3, 1).squeeze(1)


def _height_one(layer: nn.Conv1d | nn.ConvTranspose1d) -> dict[str, tuple[int, int]]:
    """A 1-D conv layer's stride, padding and dilation for the same conv in 2-D, height 1."""
    return {
        "stride": (1, layer.stride[0]),
        "padding": (0, layer.padding[0]),
        "dilation": (1, layer.dilation[0]),
    }


class Conv(nn.Conv1d):
    """``nn.Conv1d`` (same parameters) applied to a :func:`to_seq` sequence."""

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight[:, :, None], self.bias, **_height_one(self))


class ConvTranspose(nn.ConvTranspose1d):
    """``nn.ConvTranspose1d`` (same parameters) applied to a :func:`to_seq` sequence."""

    def forward(self, x: Tensor) -> Tensor:
        extra = (0, self.output_padding[0])
        return F.conv_transpose2d(
            x, self.weight[:, :, None], self.bias, output_padding=extra, **_height_one(self)
        )


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of a :func:`to_seq` sequence, separately at each step."""

    def forward(self, x: Tensor) -> Tensor:
        y = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return y.permute(0, 3, 1, 2)


class ResidualStack(nn.Module):
    """Pre-norm residual units with growing dilation, then norm + ReLU; (N, C, 1, T) -> same."""

    def __init__(self, channels: int, depth: int, growth: int) -> None:
        super().__init__()
        self.units = nn.ModuleList()
        for i in range(depth):
            d = growth**i
            self.units.append(
                nn.Sequential(
                    ChannelNorm(channels),
                    nn.ReLU(),
                    Conv(channels, channels, 3, padding=d, dilation=d),
                    nn.ReLU(),
                    Conv(channels, channels, 1),
                )
            )
        self.norm = ChannelNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        for unit in self.units:
            x = x + unit(x)
        return F.relu(self.norm(x))


class TemporalBlock(nn.Module):
    """Stride-2 conv, residual dilated convs, 1x1 projection on :func:`to_seq` sequences:
    (N, c_in, 1, T) -> (N, c_out, 1, T/2)."""

    def __init__(self, c_in: int, hidden: int, c_out: int, depth: int, growth: int) -> None:
        super().__init__()
        self.down = Conv(c_in, hidden, 4, stride=2, padding=1)
        self.res = ResidualStack(hidden, depth, growth)
        self.out = Conv(hidden, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.res(self.down(x)))


class CrossAttention(nn.Module):
    """Set Transformer MAB: queries attend to a key set, then a feed-forward (post-norm)."""

    def __init__(self, dim: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, q: Tensor, kv: Tensor, kv_valid: Tensor | None = None) -> Tensor:
        """q (N, Lq, C) or (1, Lq, C) (learned queries shared by all N, projected once),
        kv (N, Lk, C), kv_valid (N, Lk) bool (True = attend) -> (N, Lq, C)."""
        lq, c = q.shape[1:]
        n, h = kv.shape[0], self.n_heads
        queries = self.q(q).view(-1, lq, h, c // h).transpose(1, 2)
        keys, values = self.kv(kv).view(n, kv.shape[1], 2, h, c // h).permute(2, 0, 3, 1, 4)
        # Written out rather than F.scaled_dot_product_attention: on the CPU that picks
        # kernels by batch size, so a window's codes would depend on its batch-mates. The
        # softmax too: torch's is 2-5x slower on rows of a few keys.
        scores = queries @ keys.transpose(-1, -2) * (c // h) ** -0.5
        if kv_valid is not None:
            scores = scores.masked_fill(~kv_valid[:, None, None, :], float("-inf"))
        weights = (scores - scores.amax(-1, keepdim=True)).exp()
        a = (weights / weights.sum(-1, keepdim=True)) @ values
        x = self.norm1(q + self.proj(a.transpose(1, 2).reshape(n, lq, c)))
        return self.norm2(x + self.ff(x))


def _with_null(tokens: Tensor, valid: Tensor, null: Tensor) -> tuple[Tensor, Tensor]:
    """Prepend an always-valid learned null token to a key set (so it is never empty)."""
    n = tokens.shape[0]
    keys = torch.cat([null.expand(n, 1, -1), tokens], dim=1)
    return keys, torch.cat([valid.new_ones(n, 1), valid], dim=1)


class InducedSetAttention(nn.Module):
    """ISAB: M induced queries attend to the tokens (h), then tokens attend to h."""

    def __init__(self, dim: int, n_heads: int, n_inducing: int) -> None:
        super().__init__()
        self.inducing = nn.Parameter(torch.randn(n_inducing, dim) * dim**-0.5)
        self.null = nn.Parameter(torch.randn(1, dim) * dim**-0.5)
        self.gather = CrossAttention(dim, n_heads)
        self.scatter = CrossAttention(dim, n_heads)

    def forward(self, tokens: Tensor, valid: Tensor) -> Tensor:
        """tokens (N, K, C), valid (N, K) bool -> (N, K, C)."""
        keys, keys_valid = _with_null(tokens, valid, self.null)
        h = self.gather(self.inducing[None], keys, keys_valid)
        return self.scatter(tokens, h)


class InducedSetPooling(nn.Module):
    """M pooling queries attend to the tokens; flatten M x C -> linear -> latent."""

    def __init__(self, dim: int, n_heads: int, n_queries: int, latent_dim: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(n_queries, dim) * dim**-0.5)
        self.null = nn.Parameter(torch.randn(1, dim) * dim**-0.5)
        self.attend = CrossAttention(dim, n_heads)
        self.proj = nn.Linear(n_queries * dim, latent_dim)

    def forward(self, tokens: Tensor, valid: Tensor) -> Tensor:
        """tokens (N, K, C), valid (N, K) bool -> (N, latent_dim)."""
        keys, keys_valid = _with_null(tokens, valid, self.null)
        pooled = self.attend(self.queries[None], keys, keys_valid)
        return self.proj(pooled.flatten(1))


class Encoder(nn.Module):
    """(B, T, K, D) poses + (B, T, K) mask + (B, K) regions [+ (B, T, 3) motion and its
    (B, T) mask] -> (B, T', latent_dim)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.max_dims = cfg.max_dims
        c_in = [cfg.max_dims + 1] + [cfg.token_dim] * (cfg.n_down - 1)
        self.convs = nn.ModuleList(
            TemporalBlock(c, cfg.hidden, cfg.token_dim, cfg.res_depth, cfg.dilation_growth)
            for c in c_in
        )
        self.sets = nn.ModuleList(
            InducedSetAttention(cfg.token_dim, cfg.n_heads, cfg.n_inducing)
            for _ in range(cfg.n_down)
        )
        self.lift_2d = cfg.lift_2d and cfg.max_dims >= 3
        if self.lift_2d:
            self.register_buffer("region_height", torch.zeros(len(REGIONS)))
            self.register_buffer("top_down_scale", torch.ones(1))
        self.region_emb = nn.Embedding(len(REGIONS), cfg.token_dim)
        self.dims_emb = nn.Embedding(cfg.max_dims + 1, cfg.token_dim)
        for emb in (self.region_emb, self.dims_emb):  # small, so they do not swamp the motion
            nn.init.normal_(emb.weight, std=0.02)
        self.use_motion = cfg.use_motion
        if cfg.use_motion:
            self.root_conv = TemporalBlock(
                MOTION_DIMS + 1, cfg.hidden, cfg.token_dim, cfg.res_depth, cfg.dilation_growth
            )
            self.root_emb = nn.Parameter(torch.randn(cfg.token_dim) * 0.02)
        self.pool = InducedSetPooling(cfg.token_dim, cfg.n_heads, cfg.n_inducing, cfg.latent_dim)

    @torch.no_grad()
    def set_2d_lift(self, region_height: Tensor, top_down_scale: float) -> None:
        """Set how 2D input is read as 3D: each region's height (len(REGIONS),) in body
        lengths from the centre anchor, and the top-down-to-3D body length ratio."""
        if not self.lift_2d:
            raise ValueError("this model reads 2D input zero-padded (lift_2d is off)")
        self.region_height.copy_(region_height)
        self.top_down_scale.fill_(top_down_scale)

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        regions: Tensor,
        motion: Tensor | None = None,
        motion_mask: Tensor | None = None,
    ) -> Tensor:
        if x.shape[-1] == 2 and self.lift_2d:
            scale = self.top_down_scale.to(x.dtype)
            height = self.region_height.to(x.dtype)[regions]  # (B, K)
            x = torch.cat([x * scale, height[:, None, :, None].expand(*x.shape[:3], 1)], -1)
            if motion is not None:  # velocities in body lengths/s, like the positions
                motion = motion * torch.cat([scale, scale, scale.new_ones(1)])
        b, t, k, d = x.shape
        x = torch.where(mask[..., None], x, 0.0)
        x = F.pad(x, (0, self.max_dims - d))
        x = torch.cat([x, mask[..., None].to(x.dtype)], dim=-1)
        # One sequence per keypoint: (B*K, channels, 1, T), see to_seq.
        seq = to_seq(x.transpose(1, 2).reshape(b * k, t, self.max_dims + 1))
        valid = mask.transpose(1, 2).reshape(b * k, 1, t).to(x.dtype)
        for i, (conv, isab) in enumerate(zip(self.convs, self.sets, strict=True)):
            valid = F.max_pool1d(valid, 2)
            feats = from_seq(conv(seq)) * valid.transpose(1, 2)  # (B*K, T', C)
            if i == 0 and self.use_motion:  # the root token joins as keypoint K
                root, root_valid = self._root(motion, motion_mask, x)
                feats = torch.cat([feats.view(b, k, *feats.shape[1:]), root[:, None]], 1)
                valid = torch.cat([valid.view(b, k, 1, -1), root_valid[:, None]], 1)
                k += 1
                feats, valid = feats.flatten(0, 1), valid.flatten(0, 1)
            t = feats.shape[1]
            tokens = feats.view(b, k, t, -1).transpose(1, 2)  # (B, T', K, C)
            if i == 0:
                extra = self.region_emb(regions) + self.dims_emb.weight[d]  # (B, K, C)
                if self.use_motion:
                    extra = torch.cat([extra, self.root_emb.expand(b, 1, -1)], 1)
                tokens = tokens + extra[:, None]
            tok_valid = valid.view(b, k, t).transpose(1, 2).reshape(b * t, k) > 0
            tokens = isab(tokens.reshape(b * t, k, -1), tok_valid)
            tokens = tokens * tok_valid[..., None]
            if i + 1 < len(self.convs):  # back to one sequence per keypoint
                seq = to_seq(tokens.view(b, t, k, -1).transpose(1, 2).reshape(b * k, t, -1))
        z = self.pool(tokens, tok_valid)
        return z.view(b, t, -1)

    def _root(
        self, motion: Tensor | None, motion_mask: Tensor | None, x: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Root token after its conv block (B, T/2, C) and its validity (B, 1, T/2)."""
        b, t = x.shape[:2]
        if motion is None:
            motion = x.new_zeros(b, t, MOTION_DIMS)
            motion_mask = torch.zeros(b, t, dtype=torch.bool, device=x.device)
        elif motion_mask is None:
            motion_mask = torch.ones(b, t, dtype=torch.bool, device=x.device)
        m = motion_mask[..., None]
        inp = torch.cat([torch.where(m, motion * MOTION_SCALE, 0.0), m.to(x.dtype)], -1)
        valid = F.max_pool1d(motion_mask[:, None].to(x.dtype), 2)
        return from_seq(self.root_conv(to_seq(inp))) * valid.transpose(1, 2), valid


class Decoder(nn.Module):
    """(B, T', latent_dim) -> (B, T, hidden) features for the skeleton heads."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        depth = cfg.res_depth if cfg.decoder_depth is None else cfg.decoder_depth
        layers: list[nn.Module] = [Conv(cfg.latent_dim, cfg.hidden, 3, padding=1)]
        for _ in range(cfg.n_down):
            layers += [
                ResidualStack(cfg.hidden, depth, cfg.dilation_growth),
                ConvTranspose(cfg.hidden, cfg.hidden, 4, stride=2, padding=1),
            ]
        layers.append(ResidualStack(cfg.hidden, depth, cfg.dilation_growth))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return from_seq(self.net(to_seq(z)))


def anchored(x: Tensor, motion: Tensor, span: int, frame_time: float | Tensor) -> Tensor:
    """Per-frame aligned poses seen from one frame: (B, T, K, D) poses and (B, T, 3) body
    motion (forward, lateral velocity, angular velocity; see
    :func:`napari_vqmap.preprocess.body_motion`) -> the poses (B, T, K, D) of each span of
    ``span`` frames in the egocentric frame of the span's centre frame (a last, shorter
    span is seen from its frame ``span // 2``, or from its last frame if it is shorter).
    ``frame_time`` is the seconds per frame, one for all windows or (B,).

    The centre's heading and position at frame j relative to the span's centre frame c are
    the motion integrated from c to j (``frame_time`` seconds per frame), so walking,
    turning and standing still differ, as in the windowed baseline. Height is kept.
    """
    b, t, k, d = x.shape
    pad = -t % span  # a last, shorter span: padded with motionless frames, then cut off
    if pad:
        x, motion = F.pad(x, (0, 0, 0, 0, 0, pad)), F.pad(motion, (0, 0, 0, pad))
    n, c = (t + pad) // span, span // 2
    if isinstance(frame_time, Tensor):
        frame_time = frame_time.to(motion.dtype).view(-1, 1, 1)
    step = (motion * frame_time).reshape(b, n, span, 3)
    turn = step[..., 2].cumsum(2)
    phi = turn - turn[:, :, c : c + 1]  # heading at j relative to c
    cos, sin = phi.cos(), phi.sin()
    dx = cos * step[..., 0] - sin * step[..., 1]  # each frame's displacement, c's frame
    dy = sin * step[..., 0] + cos * step[..., 1]
    px, py = dx.cumsum(2), dy.cumsum(2)
    px, py = px - px[:, :, c : c + 1], py - py[:, :, c : c + 1]
    q = x.reshape(b, n, span, k, d)
    cos, sin = cos[..., None], sin[..., None]
    ax = cos * q[..., 0] - sin * q[..., 1] + px[..., None]
    ay = sin * q[..., 0] + cos * q[..., 1] + py[..., None]
    out = torch.stack([ax, ay, *q[..., 2:].unbind(-1)], -1)
    return out.reshape(b, t + pad, k, d)[:, :t]


def centred_spans(
    x: Tensor, mask: Tensor, motion: Tensor, span: int, frame_time: float | Tensor, step: int
) -> tuple[Tensor, Tensor, list[int]]:
    """The ``span`` frames around each latent step whose span fits in the window, seen from
    the step's centre frame (``step * i + step // 2``): poses (B*n, span, K, D), their mask
    and the n latent steps."""
    b, t = x.shape[:2]
    h = span // 2
    steps = [i for i in range(t // step) if h <= step * i + step // 2 <= t - (span - h)]
    centres = torch.tensor([step * i + step // 2 for i in steps], dtype=torch.long)
    idx = (centres[:, None] + torch.arange(-h, span - h)).to(x.device)  # (n, span)
    if not steps:  # a window shorter than a span
        return x.new_zeros(0, span, *x.shape[2:]), mask.new_zeros(0, span, x.shape[2]), []
    n = len(steps)
    if isinstance(frame_time, Tensor):
        frame_time = frame_time.repeat_interleave(n)
    seen = anchored(x[:, idx].flatten(0, 1), motion[:, idx].flatten(0, 1), span, frame_time)
    return seen, mask[:, idx].flatten(0, 1), steps


def geometry(z: Tensor, y: Tensor, m: Tensor, weight: Tensor | None = None) -> Tensor:
    """How far the latents' pairwise distances are from those of their targets.

    z (N, C) latents; y (N, ...K, D) their target poses with mask m (N, ...K); ``weight``
    (K, D) as in :func:`masked_mse`. A target distance uses the coordinates visible in both
    (rescaled to all); both distance sets are divided by their mean, so the latent's scale
    is free. Returns the mean squared difference over distinct pairs.
    """
    if weight is not None:
        y = y * weight.sqrt()
    mm = m[..., None].expand_as(y).flatten(1).to(y.dtype)
    yf = torch.where(mm > 0, y.flatten(1), 0.0)
    y2 = yf * yf
    d2 = y2 @ mm.T + mm @ y2.T - 2 * yf @ yf.T
    d2 = d2.clamp_min(0) / (mm @ mm.T).clamp_min(1)
    off = ~torch.eye(len(z), dtype=torch.bool, device=z.device)
    dy = d2[off].add(1e-8).sqrt()
    dz = (z[:, None] - z[None]).pow(2).sum(-1)[off].add(1e-8).sqrt()
    return (dz / dz.mean() - dy / dy.mean()).pow(2).mean()


def masked_mse(recon: Tensor, x: Tensor, mask: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean squared error over the D coordinates of visible keypoints only (0 if none).

    ``weight`` (K, D), of mean 1, scales each keypoint coordinate's squared error.
    """
    err = (recon - torch.where(mask[..., None], x, 0.0)).pow(2) * mask[..., None]
    if weight is not None:
        err = err * weight
    return err.sum() / (mask.sum() * x.shape[-1]).clamp_min(1)


class VQMAP(nn.Module):
    """VQ-MAP model: shared encoder, type/subtype codebooks, decoder, one head per skeleton.

    ``heads`` maps a head name (usually the skeleton name) to (n_keypoints, n_dims).
    """

    def __init__(self, config: ModelConfig, heads: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        q = dict(
            decay=config.ema_decay,
            beta=config.commitment_beta,
            dead_threshold=config.dead_code_threshold,
            warmup=config.codebook_warmup,
        )
        self.type_q = EMAQuantizer(config.n_types, config.code_dim, **q)
        if config.residual:  # residuals exist only once the type codes are initialised
            q["warmup"] = 2 * config.codebook_warmup
        if self._per_type:  # a section of n_subtypes codes per type
            q["dead_threshold"] = config.dead_code_threshold / config.n_types
            q["n_sections"] = config.n_types
        self.subtype_q = EMAQuantizer(config.n_subtype_codes, config.code_dim, **q)
        self.codes_set_at = int(q["warmup"]) + 1  # training steps before every code is set
        self.decoder = Decoder(config)
        if config.use_motion:
            self.motion_head = nn.Linear(config.hidden, MOTION_DIMS)
        self.heads = nn.ModuleDict()
        self.head_shapes: dict[str, tuple[int, int]] = {}
        for name, (n_keypoints, n_dims) in heads.items():
            self.add_head(name, n_keypoints, n_dims)

    def add_head(self, name: str, n_keypoints: int, n_dims: int) -> None:
        """Add a linear output head for a skeleton with ``n_keypoints`` x ``n_dims`` coords."""
        if not name or "." in name:
            raise ValueError(f"head name {name!r} must be non-empty and contain no '.'")
        if name in self.heads:
            raise ValueError(f"head {name!r} already exists with shape {self.head_shapes[name]}")
        if n_keypoints < 1:
            raise ValueError(f"head {name!r}: n_keypoints must be >= 1, got {n_keypoints}")
        if not 2 <= n_dims <= self.config.max_dims:
            raise ValueError(
                f"head {name!r}: n_dims must be in 2..{self.config.max_dims}, got {n_dims}"
            )
        device = self.decoder.net[0].weight.device
        self.heads[name] = nn.Linear(self.config.hidden, n_keypoints * n_dims, device=device)
        self.head_shapes[name] = (n_keypoints, n_dims)

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        regions: Tensor,
        head: str,
        motion: Tensor | None = None,
        motion_mask: Tensor | None = None,
        codebook_weight: float = 1.0,
        recon_weight: Tensor | None = None,
        frame_time: float | Tensor = 0.05,
    ) -> Output:
        """Encode, quantise and reconstruct windows on ``head``; returns losses and codes.

        x (B, T, K, D) float, mask (B, T, K) bool (True = visible), regions (K,) or (B, K),
        motion (B, T, 3) and motion_mask (B, T) bool (optional: body-centre motion).
        ``codebook_weight`` scales this batch's codebook update (see
        :meth:`EMAQuantizer.forward`); ``recon_weight`` (K, D) weights the reconstruction
        error of each keypoint coordinate (see :func:`masked_mse`). With ``anchor_span``
        and motion, that error is measured on the poses seen from each span's centre frame
        (:func:`anchored`, ``frame_time`` seconds per frame), the decoded motion included.
        """
        self._check_head(x, head)
        mask, regions = self._inputs(x, mask, regions)
        z = self.encoder(x, mask, regions, motion, motion_mask)
        if self.config.residual:
            qt = self.type_q(z, codebook_weight)
            qs = self.subtype_q(z - qt.quantized.detach(), codebook_weight, self._section(qt.idx))
            zq = qt.quantized + qs.quantized.detach()  # value type + subtype code, grad 1
        else:
            z_type, z_sub = z.split(self.config.code_dim, dim=-1)
            qt = self.type_q(z_type, codebook_weight)
            qs = self.subtype_q(z_sub, codebook_weight)
            zq = torch.cat([qt.quantized, qs.quantized], dim=-1)
        features = self.decoder(zq)
        recon = self._head(features, head)
        with_motion = self.config.use_motion and motion is not None
        if with_motion:
            mm = torch.ones_like(mask[..., 0]) if motion_mask is None else motion_mask.bool()
            motion = torch.where(mm[..., None], motion, 0.0)
            pred = self.motion_head(features)
        seen = torch.where(mask[..., None], x, 0.0)
        if with_motion and self.config.anchor_span:  # poses seen from each span's centre
            span = self.config.anchor_span
            recon_loss = masked_mse(
                anchored(recon, pred / MOTION_SCALE, span, frame_time),
                anchored(seen, motion, span, frame_time),
                mask,
                recon_weight,
            )
        else:
            recon_loss = masked_mse(recon, x, mask, recon_weight)
        geo_loss = recon.new_zeros(())
        if with_motion and self.config.geometry_weight:
            step = 2**self.config.n_down
            y, ym, steps = centred_spans(
                seen, mask, motion, self.config.anchor_span or 32, frame_time, step
            )
            if steps:
                weight = recon_weight
                if self.config.geometry_height != 1 and x.shape[-1] == 3:
                    weight = torch.ones_like(x[0, 0]) if weight is None else weight.clone()
                    weight[:, 2] *= self.config.geometry_height
                geo_loss = geometry(z[:, steps].flatten(0, 1), y, ym, weight)
        commit_loss = qt.commit_loss + qs.commit_loss
        subtype_idx = qs.idx % self.config.n_subtypes
        motif = qt.idx * self.config.n_subtypes + subtype_idx
        motif_usage = torch.bincount(motif.flatten(), minlength=self.config.n_motifs).float()
        return Output(
            loss=recon_loss
            + self.config.commitment_weight * commit_loss
            + self.config.geometry_weight * geo_loss,
            recon_loss=recon_loss,
            geo_loss=geo_loss,
            commit_loss=commit_loss,
            recon=recon,
            z=z,
            type_idx=qt.idx,
            subtype_idx=subtype_idx,
            motif_idx=motif,
            perplexity=perplexity(motif_usage),
            type_usage=qt.usage,
            subtype_usage=qs.usage,
        )

    @torch.no_grad()
    def encode(
        self,
        x: Tensor,
        mask: Tensor,
        regions: Tensor,
        motion: Tensor | None = None,
        motion_mask: Tensor | None = None,
        head: str | None = None,
        head_index: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Latents, codes and confidences (B, T'); never updates the codebooks.

        With ``head`` (the skeleton's own head), keypoints missing in frames where others
        are seen are filled in from that head's decoding of the latents, and the windows
        with any such keypoint encoded again (:meth:`fill_missing`). ``head_index`` (K,)
        gives each input keypoint's place in the head's order (default: the same order).
        """
        mask, regions = self._inputs(x, mask, regions)
        z = self.encoder(x, mask, regions, motion, motion_mask)
        if head is not None:
            z = self.fill_missing(z, x, mask, regions, head, head_index, motion, motion_mask)
        if self.config.residual:
            type_idx, type_conf = self.type_q.assign(z)
            residual = z - self.type_q.lookup(type_idx)
            subtype_idx, subtype_conf = self.subtype_q.assign(residual, self._section(type_idx))
            subtype_idx = subtype_idx % self.config.n_subtypes
        else:
            z_type, z_sub = z.split(self.config.code_dim, dim=-1)
            type_idx, type_conf = self.type_q.assign(z_type)
            subtype_idx, subtype_conf = self.subtype_q.assign(z_sub)
        return {
            "z": z,
            "type_idx": type_idx,
            "subtype_idx": subtype_idx,
            "motif_idx": type_idx * self.config.n_subtypes + subtype_idx,
            "confidence": torch.minimum(type_conf, subtype_conf),
            "type_confidence": type_conf,
            "subtype_confidence": subtype_conf,
        }

    @torch.no_grad()
    def fill_missing(
        self,
        z: Tensor,
        x: Tensor,
        mask: Tensor,
        regions: Tensor,
        head: str,
        head_index: Tensor | None = None,
        motion: Tensor | None = None,
        motion_mask: Tensor | None = None,
    ) -> Tensor:
        """Latents z (B, T', latent_dim) of windows x (B, T, K, D), re-encoded where a
        keypoint is missing in a frame with others seen: that keypoint is filled in from
        ``head``'s decoding of z (the latents, not their codes), so hidden keypoints move
        the codes less (docs/model.md has the figures). Frames with nothing seen stay
        masked; windows without such a keypoint are not encoded again.
        """
        fill = mask.any(-1, keepdim=True) & ~mask
        rows = fill.flatten(1).any(1).nonzero().flatten()
        if not len(rows):
            return z
        self._check_head(x, head)
        recon = self._head(self.decoder(z[rows]), head)
        if head_index is not None:
            recon = recon[:, :, head_index]
        fill, x = fill[rows], x[rows]
        x = torch.where(fill[..., None], recon.to(x.dtype), x)
        if motion is not None:
            motion = motion[rows]
            motion_mask = None if motion_mask is None else motion_mask[rows]
        again = self.encoder(x, mask[rows] | fill, regions[rows], motion, motion_mask)
        return z.index_copy(0, rows, again.to(z.dtype))

    @torch.no_grad()
    def decode_codes(self, type_idx: Tensor, subtype_idx: Tensor, head: str) -> Tensor:
        """Pose sequences (B, T, K, D) on ``head`` for code sequences (B, T')."""
        if head not in self.heads:
            raise KeyError(f"unknown head {head!r}; known: {sorted(self.heads)}")
        if self._per_type:
            subtype_idx = type_idx * self.config.n_subtypes + subtype_idx
        codes = self.type_q.lookup(type_idx), self.subtype_q.lookup(subtype_idx)
        zq = codes[0] + codes[1] if self.config.residual else torch.cat(codes, -1)
        return self._head(self.decoder(zq), head)

    @torch.no_grad()
    def refit_codebooks(
        self, z: Tensor, n_batches: int = 1, generator: torch.Generator | None = None
    ) -> None:
        """Refit the type codes, then each type's subtype codes, by k-means on latents
        ``z`` (N, latent_dim) of ``n_batches`` batches (see :meth:`EMAQuantizer.refit`)."""
        if self.config.residual:
            type_idx = self.type_q.refit(z, None, n_batches, generator=generator)
            residual = z - self.type_q.lookup(type_idx)
            self.subtype_q.refit(residual, self._section(type_idx), n_batches, generator=generator)
        else:
            z_type, z_sub = z.split(self.config.code_dim, dim=-1)
            self.type_q.refit(z_type, None, n_batches, generator=generator)
            self.subtype_q.refit(z_sub, None, n_batches, generator=generator)

    @property
    def _per_type(self) -> bool:
        return self.config.n_subtype_codes > self.config.n_subtypes

    def _section(self, type_idx: Tensor) -> Tensor | None:
        """Each latent's section of the subtype codebook (its type) with per-type
        subtypes, else None."""
        return type_idx if self._per_type else None

    def codebook_stats(self) -> dict[str, dict[str, float | int | list[float]]]:
        """Per codebook ("type", "subtype"): EMA usage per code, n_dead, perplexity."""
        return {"type": self.type_q.stats(), "subtype": self.subtype_q.stats()}

    def _head(self, features: Tensor, head: str) -> Tensor:
        k, d = self.head_shapes[head]
        b, t, _ = features.shape
        return self.heads[head](features).view(b, t, k, d)

    def _check_head(self, x: Tensor, head: str) -> None:
        if head not in self.heads:
            raise KeyError(f"unknown head {head!r}; known: {sorted(self.heads)}")
        if tuple(x.shape[2:]) != self.head_shapes[head]:
            raise ValueError(
                f"head {head!r} expects x of shape (B, T, {self.head_shapes[head][0]}, "
                f"{self.head_shapes[head][1]}), got {tuple(x.shape)}"
            )

    def _inputs(self, x: Tensor, mask: Tensor, regions: Tensor) -> tuple[Tensor, Tensor]:
        """Validate shapes; return the mask as bool and regions broadcast to (B, K)."""
        if x.ndim != 4:
            raise ValueError(f"x must have shape (B, T, K, D), got {tuple(x.shape)}")
        b, t, k, d = x.shape
        if tuple(mask.shape) != (b, t, k):
            raise ValueError(f"mask must have shape {(b, t, k)}, got {tuple(mask.shape)}")
        if t % 2**self.config.n_down:
            raise ValueError(f"window length {t} not divisible by {2**self.config.n_down}")
        if not 2 <= d <= self.config.max_dims:
            raise ValueError(f"x has {d} coordinates; the model handles 2..{self.config.max_dims}")
        regions = torch.as_tensor(regions, dtype=torch.long, device=x.device)
        if regions.shape not in ((k,), (b, k)):
            raise ValueError(f"regions must have shape ({k},) or ({b}, {k}), got {regions.shape}")
        if regions.numel() and not 0 <= int(regions.min()) <= int(regions.max()) < len(REGIONS):
            raise ValueError(f"region ids must be in 0..{len(REGIONS) - 1}")
        return mask.bool(), regions.expand(b, k)
