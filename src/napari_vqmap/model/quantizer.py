"""Vector quantiser with an EMA-updated codebook, dead-code reset and a commitment loss.

Each latent vector is replaced by its nearest code (Euclidean). Gradients flow to the
encoder through the straight-through estimator; the codebook itself is not trained by
gradients but follows an exponential moving average (EMA) of the latents assigned to each
code (van den Oord et al. 2017, appendix). All EMA statistics are buffers, so they are in
the state dict and training resumes exactly.

Training-mode forward passes also:

* pass the latents through unquantised for the first ``warmup`` steps, so the encoder
  spreads its latents before any code is fixed (codes picked from a fresh encoder's
  near-identical outputs collapse to a handful in use);
* then initialise the codebook by k-means (k-means++ seeding, a few Lloyd steps) on
  latents kept from the last :data:`RESERVOIR_BATCHES` warm-up batches and the current one
  (one batch alone holds one skeleton, or a few windows of a small dataset);
* reset "dead" codes, whose EMA share of assignments fell under ``dead_threshold``, to
  latents of the current batch drawn with probability proportional to their squared
  distance to their code (the worst-served latents, as in k-means++ seeding).

Under ``torch.distributed`` the per-batch counts and sums are all-reduced (summed) and the
latents used for initialisation and resets are broadcast from rank 0, so every rank
keeps an identical codebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

RESERVOIR_BATCHES = 16  # warm-up batches whose latents feed the k-means initialisation
RESERVOIR_PER_BATCH = 64  # latents kept per warm-up batch


def kmeans(z: Tensor, k: int, iters: int = 10, generator: torch.Generator | None = None) -> Tensor:
    """``k`` centroids of ``z`` (N, dim): k-means++ seeding then ``iters`` Lloyd steps."""
    centroids = z[torch.randint(z.shape[0], (1,), device=z.device, generator=generator)]
    for _ in range(1, k):
        d = torch.cdist(z, centroids).min(1).values.pow(2)
        w = d if float(d.sum()) > 0 else torch.ones_like(d)
        centroids = torch.cat([centroids, z[torch.multinomial(w, 1, generator=generator)]])
    for _ in range(iters):
        idx = torch.cdist(z, centroids).argmin(1)
        counts = torch.bincount(idx, minlength=k).float()
        sums = torch.zeros_like(centroids).index_add_(0, idx, z)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def best_kmeans(
    z: Tensor, k: int, restarts: int, generator: torch.Generator | None = None
) -> Tensor:
    """The :func:`kmeans` centroids (50 Lloyd steps) of lowest inertia of ``restarts``."""
    best, best_inertia = None, float("inf")
    for _ in range(restarts):
        c = kmeans(z, k, 50, generator)
        inertia = float(torch.cdist(z, c).min(1).values.pow(2).sum())
        if inertia < best_inertia:
            best, best_inertia = c, inertia
    return best


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


@dataclass
class QuantizerOutput:
    """Result of :meth:`EMAQuantizer.forward` (leading dims as the input latents)."""

    quantized: Tensor  # straight-through codes, same shape as the input
    idx: Tensor  # nearest-code index, long
    commit_loss: Tensor  # beta * mean squared distance latent -> (detached) code
    usage: Tensor  # (n_codes,) share of this batch assigned to each code
    perplexity: Tensor  # exp(entropy) of ``usage``


def perplexity(p: Tensor) -> Tensor:
    """exp(entropy) of a probability vector: the effective number of codes in use."""
    p = p / p.sum().clamp_min(1e-12)
    return torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())


class EMAQuantizer(nn.Module):
    """A codebook of ``n_codes`` vectors of size ``dim`` with EMA updates."""

    codebook: Tensor
    cluster_size: Tensor
    embed_sum: Tensor
    initialised: Tensor
    steps: Tensor
    reservoir: Tensor

    def __init__(
        self,
        n_codes: int,
        dim: int,
        decay: float = 0.99,
        beta: float = 0.25,
        dead_threshold: float = 1e-3,
        eps: float = 1e-5,
        warmup: int = 0,
        n_sections: int = 1,
    ) -> None:
        super().__init__()
        self.n_codes, self.dim = n_codes, dim
        self.section_size = n_codes // n_sections  # codes [s * size, (s + 1) * size): section s
        self.decay, self.beta, self.dead_threshold, self.eps = decay, beta, dead_threshold, eps
        self.warmup = warmup
        self.register_buffer("codebook", torch.randn(n_codes, dim))
        self.register_buffer("cluster_size", torch.ones(n_codes))
        self.register_buffer("embed_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.tensor(False))
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long))  # training forwards
        # Latents of recent warm-up batches for the k-means init (zeroed once used).
        self.register_buffer(
            "reservoir", torch.zeros(RESERVOIR_BATCHES * RESERVOIR_PER_BATCH, dim)
        )

    def distances(self, z: Tensor) -> Tensor:
        """Squared Euclidean distances (N, n_codes) from latents (N, dim) to every code."""
        z = z.float()
        d = z.pow(2).sum(1, keepdim=True) - 2 * z @ self.codebook.T
        return (d + self.codebook.pow(2).sum(1)).clamp_min(0)

    def _within(self, d: Tensor, section: Tensor | None) -> Tensor:
        """Distances (N, n_codes) with every code outside each latent's ``section`` (...,)
        set to infinity (no change without sections)."""
        if section is None:
            return d
        code_section = torch.arange(self.n_codes, device=d.device) // self.section_size
        return d.masked_fill(code_section != section.reshape(-1, 1), float("inf"))

    def assign(self, z: Tensor, section: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Nearest code index and a confidence in [0, 1] for latents (..., dim), among
        the codes of each latent's ``section`` when given.

        The confidence is the margin between the nearest (d1) and second-nearest (d2) code
        distances, ``(d2 - d1) / (d2 + d1)``: 0 when equidistant, 1 on a code.
        """
        d = self._within(self.distances(z.reshape(-1, self.dim)), section)
        top = d.topk(2, dim=1, largest=False).values.sqrt()
        conf = (top[:, 1] - top[:, 0]) / (top[:, 1] + top[:, 0]).clamp_min(1e-12)
        return d.argmin(1).view(z.shape[:-1]), conf.view(z.shape[:-1])

    def lookup(self, idx: Tensor) -> Tensor:
        """Code vectors for indices of any shape -> (*idx.shape, dim)."""
        return F.embedding(idx, self.codebook)

    def forward(
        self, z: Tensor, weight: float = 1.0, section: Tensor | None = None
    ) -> QuantizerOutput:
        """Quantise latents (..., dim); in training mode also update the codebook.

        With ``section`` (...,), each latent takes the nearest code of its own section.

        ``weight`` in (0, 1] scales this batch's say in the codebook: the EMA moves
        ``weight`` times as far, and only ``weight`` of the dead codes are revived from it
        (see :func:`napari_vqmap.training.data.codebook_weights`).
        """
        flat = z.reshape(-1, self.dim)
        if self.training:
            self.steps += 1
            if not bool(self.initialised):
                if int(self.steps) <= self.warmup:
                    self._keep(flat.detach().float())
                    return self._passthrough(z, section)
                kept = min(self.warmup, RESERVOIR_BATCHES) * RESERVOIR_PER_BATCH
                self._initialise(torch.cat([self.reservoir[:kept], flat.detach().float()]))
                self.reservoir.zero_()
        idx = self._within(self.distances(flat.detach()), section).argmin(1)
        q = self.lookup(idx).to(z.dtype)
        commit = self.beta * F.mse_loss(flat, q.detach())
        counts = torch.bincount(idx, minlength=self.n_codes).float()
        if self.training:
            self._update(flat.detach().float(), idx, counts, weight)
        usage = counts / counts.sum().clamp_min(1)
        quantized = flat + (q - flat).detach()
        return QuantizerOutput(
            quantized=quantized.view(z.shape),
            idx=idx.view(z.shape[:-1]),
            commit_loss=commit,
            usage=usage,
            perplexity=perplexity(usage),
        )

    def stats(self) -> dict[str, float | int | bool | list[float]]:
        """EMA usage per code, number of dead codes, perplexity of the EMA usage, whether
        the codebook is initialised (after ``warmup`` training steps) and ``warmup``."""
        usage = self.cluster_size / self.cluster_size.sum().clamp_min(1e-12)
        return {
            "usage": usage.tolist(),
            "n_dead": int((usage < self.dead_threshold).sum()),
            "perplexity": float(perplexity(usage)),
            "initialised": bool(self.initialised),
            "warmup": self.warmup,
        }

    def _passthrough(self, z: Tensor, section: Tensor | None = None) -> QuantizerOutput:
        """Warm-up output: the latents themselves, no commitment, no codebook update."""
        idx = self._within(self.distances(z.detach().reshape(-1, self.dim)), section).argmin(1)
        usage = torch.bincount(idx, minlength=self.n_codes).float() / max(idx.numel(), 1)
        return QuantizerOutput(
            quantized=z,
            idx=idx.view(z.shape[:-1]),
            commit_loss=z.new_zeros(()),
            usage=usage,
            perplexity=perplexity(usage),
        )

    @torch.no_grad()
    def _keep(self, z: Tensor) -> None:
        """Store a sample of this warm-up batch's latents in the reservoir (round robin)."""
        slot = (int(self.steps) - 1) % RESERVOIR_BATCHES * RESERVOIR_PER_BATCH
        self.reservoir[slot : slot + RESERVOIR_PER_BATCH] = self._sample_latents(
            z, RESERVOIR_PER_BATCH
        )

    def _sample_latents(self, z: Tensor, n: int, weights: Tensor | None = None) -> Tensor:
        """``n`` latents of the batch (uniformly, or with probability proportional to
        ``weights``), without replacement where possible; identical on all ranks."""
        w = torch.ones(z.shape[0], device=z.device) if weights is None else weights.clamp_min(0)
        if float(w.sum()) <= 0:
            w = torch.ones_like(w)
        pick = torch.multinomial(w, n, replacement=int((w > 0).sum()) < n)
        fresh = z[pick].contiguous()
        if _distributed():
            dist.broadcast(fresh, src=0)
        return fresh

    @torch.no_grad()
    def _initialise(self, z: Tensor) -> None:
        fresh = kmeans(z, self.n_codes).contiguous()
        if _distributed():
            dist.broadcast(fresh, src=0)
        self.codebook.copy_(fresh)
        self.cluster_size.fill_(1.0)
        self.embed_sum.copy_(fresh)
        self.initialised.fill_(True)

    @torch.no_grad()
    def refit(
        self,
        z: Tensor,
        section: Tensor | None = None,
        n_batches: int = 1,
        restarts: int = 10,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Replace the codebook by k-means (the best of ``restarts``) of latents ``z`` (N,
        dim), section by section with ``section`` (N,); returns each latent's new code.

        The EMA statistics restart from the new assignments, counted per batch as if ``z``
        were ``n_batches`` batches. A section with no latents keeps its codes."""
        size = self.section_size if section is not None else self.n_codes
        for s in range(self.n_codes // size):
            zs = z if section is None else z[section == s]
            if len(zs):
                codes = self.codebook[s * size : (s + 1) * size]
                codes.copy_(best_kmeans(zs, size, restarts, generator))
        if _distributed():
            dist.broadcast(self.codebook, src=0)
        idx = self._within(self.distances(z), section).argmin(1)
        counts = torch.bincount(idx, minlength=self.n_codes).float() / n_batches
        if _distributed():
            dist.broadcast(counts, src=0)
        self.cluster_size.copy_(counts)
        self.embed_sum.copy_(self.codebook * counts[:, None])
        return idx

    @torch.no_grad()
    def _update(self, z: Tensor, idx: Tensor, counts: Tensor, weight: float = 1.0) -> None:
        sums = torch.zeros_like(self.embed_sum).index_add_(0, idx, z)
        if _distributed():
            stacked = torch.cat([counts[:, None], sums], dim=1)
            dist.all_reduce(stacked)
            counts, sums = stacked[:, 0], stacked[:, 1:]
        rate = (1 - self.decay) * weight
        self.cluster_size.mul_(1 - rate).add_(counts, alpha=rate)
        self.embed_sum.mul_(1 - rate).add_(sums, alpha=rate)
        # Laplace smoothing keeps codes with no assignments from dividing by zero.
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.n_codes * self.eps) * n
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        self._reset_dead(z, weight)

    @torch.no_grad()
    def _reset_dead(self, z: Tensor, weight: float = 1.0) -> None:
        usage = self.cluster_size / self.cluster_size.sum()
        n_dead = int(int((usage < self.dead_threshold).sum()) * weight)
        if n_dead == 0:
            return
        dead = usage.argsort(stable=True)[:n_dead]  # the least used first
        far = self.distances(z).min(1).values
        fresh = self._sample_latents(z, n_dead, far)
        # A revived code starts with an average count, so it is not reset again at once.
        mean_size = self.cluster_size.mean()
        self.codebook[dead] = fresh
        self.cluster_size[dead] = mean_size
        self.embed_sum[dead] = fresh * mean_size
