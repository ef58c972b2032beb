"""The simple motif baselines a model must beat: egocentric poses, PCA, k-means.

Both work on one skeleton (one head) and need no training beyond PCA and k-means:

- **per-frame**: each frame's pose in its own egocentric frame (origin at the trunk
  centre, the mean of the skeleton's centre, anterior and posterior anchors: neck, anus
  and chest for SUBTLE; x along the posterior -> anterior heading in the x-y plane; z
  kept), flattened, PCA to 10 components, k-means.
- **windowed**: for each frame, the ``window`` frames centred on it (edges padded by
  repeating the end frames), every pose in the egocentric frame of the window's *centre*
  frame (so the animal's walking and turning inside the window are kept), flattened, PCA to
  20 components, k-means.

Coordinates are the file's units (no body-length scaling); missing keypoints are 0.
Used by ``benchmarks/bench_quality.py`` and the quality regression test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.cluster.vq import kmeans2

from napari_vqmap.preprocess import _anchor, keypoint_mask
from napari_vqmap.skeletons import Skeleton


def _frames(ds: xr.Dataset, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Individual 0's positions (T, K, D) (0 where missing), centre (T, D) and heading (T,)."""
    pos = ds["position"].transpose("individual", "time", "keypoint", "space").values
    pos = pos.astype(np.float64)[:1]
    mask = keypoint_mask(ds)[:1]
    index = {k: i for i, k in enumerate(skeleton.keypoints)}
    trunk = dict.fromkeys([*skeleton.centre, *skeleton.anterior, *skeleton.posterior])
    centre = _anchor(pos, mask, [index[k] for k in trunk])[0]
    ant = _anchor(pos, mask, [index[k] for k in skeleton.anterior])[0]
    post = _anchor(pos, mask, [index[k] for k in skeleton.posterior])[0]
    heading = np.arctan2(ant[:, 1] - post[:, 1], ant[:, 0] - post[:, 0])
    return np.where(mask[0][..., None], pos[0], np.nan), centre, heading


def _egocentric(pos: np.ndarray, centre: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """``pos`` (..., K, D) in the frame given by ``centre`` (..., D) and ``heading`` (...)."""
    rel = pos - centre[..., None, :]
    cos, sin = np.cos(heading)[..., None], np.sin(heading)[..., None]
    out = rel.copy()
    out[..., 0] = cos * rel[..., 0] + sin * rel[..., 1]
    out[..., 1] = -sin * rel[..., 0] + cos * rel[..., 1]
    return np.nan_to_num(out)


def per_frame_features(ds: xr.Dataset, skeleton: Skeleton) -> np.ndarray:
    """(T, K*D) float32: each pose in its own egocentric frame."""
    pos, centre, heading = _frames(ds, skeleton)
    return _egocentric(pos, centre, heading).reshape(len(pos), -1).astype(np.float32)


def windowed_features(ds: xr.Dataset, skeleton: Skeleton, window: int = 32) -> np.ndarray:
    """(T, window*K*D) float32: the ``window`` frames centred on each frame, in the
    egocentric frame of that centre frame."""
    pos, centre, heading = _frames(ds, skeleton)
    n = len(pos)
    out = np.empty((n, window * pos.shape[1] * pos.shape[2]), np.float32)
    offsets = np.arange(-(window // 2), window - window // 2)
    for lo in range(0, n, 4096):  # bounded memory
        t = np.arange(lo, min(lo + 4096, n))
        idx = np.clip(t[:, None] + offsets[None], 0, n - 1)
        feats = _egocentric(pos[idx], centre[t][:, None], heading[t][:, None])
        out[lo : lo + len(t)] = feats.reshape(len(t), -1)
    return out


@dataclass
class PCAKMeans:
    """PCA to ``n_components`` (randomized SVD), then k-means with ``k`` clusters
    (k-means++ seeding, ``n_iter`` Lloyd steps, ``n_init`` restarts, the lowest inertia
    kept)."""

    k: int
    n_components: int
    seed: int = 0
    n_init: int = 3
    n_iter: int = 100
    mean: np.ndarray | None = None
    components: np.ndarray | None = None
    centroids: np.ndarray | None = None

    def fit(self, features: np.ndarray) -> PCAKMeans:
        """Fit on (N, F) features; returns self."""
        x = np.asarray(features, np.float64)
        self.mean = x.mean(0)
        self.components = _randomized_pca(x - self.mean, self.n_components, self.seed)
        z = self.transform(x)
        best = np.inf
        for i in range(self.n_init):
            centroids, labels = kmeans2(
                z, self.k, iter=self.n_iter, seed=self.seed * 1000 + i, minit="++"
            )
            inertia = float(((z - centroids[labels]) ** 2).sum())
            if inertia < best:
                best, self.centroids = inertia, centroids
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        """(N, n_components) PCA scores."""
        return (np.asarray(features, np.float64) - self.mean) @ self.components.T

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(N,) nearest-centroid cluster of each row."""
        z = self.transform(features)
        d = (z**2).sum(1)[:, None] - 2 * z @ self.centroids.T + (self.centroids**2).sum(1)
        return d.argmin(1)


def _randomized_pca(x: np.ndarray, n: int, seed: int, n_iter: int = 4) -> np.ndarray:
    """Top ``n`` principal axes (n, F) of centred ``x`` by randomized SVD (Halko et al.)."""
    rng = np.random.default_rng(seed)
    q = x @ rng.standard_normal((x.shape[1], min(n + 10, x.shape[1])))
    for _ in range(n_iter):
        q, _ = np.linalg.qr(q)
        q = x @ (x.T @ q)
    q, _ = np.linalg.qr(q)
    _, _, vt = np.linalg.svd(q.T @ x, full_matrices=False)
    return vt[:n]
