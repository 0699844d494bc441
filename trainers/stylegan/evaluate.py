"""Sampling from the EMA generator and the quality metrics (SWD always, FID when asked).

All randomness here comes from private generators seeded by the caller, so sampling and
evaluation never disturb the training RNG (a resumed run stays identical).
"""

from __future__ import annotations

import numpy as np
import torch

from .model import Generator
from .swd import swd


@torch.no_grad()
def generate(G: Generator, z: torch.Tensor, step: int, alpha: float = 1.0, seed: int = 0,
             chunk: int = 64, w_avg: torch.Tensor | None = None, psi: float = 1.0) -> torch.Tensor:
    """Images (N, 3, S, S) in [-1, 1] for latents ``z`` with seeded noise; ``psi`` < 1 truncates
    the styles toward ``w_avg``."""
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = []
    for zc in z.split(chunk):
        noise = [nz.to(device) for nz in G.make_noise(zc.shape[0], step, "cpu", gen)]
        w = G.style(zc.to(device))
        if w_avg is not None and psi != 1.0:
            w = torch.lerp(w_avg.to(device), w, psi)
        out.append(G.synthesize([w] * (step + 1), step, alpha, noise).float())
    return torch.cat(out)


@torch.no_grad()
def mean_style(G: Generator, n: int = 4096, seed: int = 0) -> torch.Tensor:
    device = next(G.parameters()).device
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    return G.style(z).mean(0, keepdim=True)


def latents(n: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def real_subset(images: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
    return images[idx.to(images.device)].float().div(127.5).sub(1.0)


@torch.no_grad()
def evaluate_swd(G: Generator, images: torch.Tensor, step: int, alpha: float, n: int, seed: int) -> dict:
    """SWD between ``n`` dataset images (uint8 N,3,S,S) and ``n`` EMA-generator images."""
    n = min(n, len(images))
    device = next(G.parameters()).device
    real = real_subset(images, n, seed).to(device)
    fake = generate(G, latents(n, G.latent_dim, seed + 1).to(device), step, alpha, seed + 2)
    return swd(real, fake, seed)


@torch.no_grad()
def inception_features(detector: torch.jit.ScriptModule, images: torch.Tensor, chunk: int = 100) -> np.ndarray:
    """Features of images in [-1, 1] from an NVlabs-style TorchScript Inception detector."""
    device = next(detector.parameters()).device
    feats = []
    for x in images.split(chunk):
        x8 = x.float().add(1).mul(127.5).clamp(0, 255).to(torch.uint8).to(device)
        feats.append(detector(x8, return_features=True).double().cpu())
    return torch.cat(feats).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets; the matrix square root through eigenvalues (no scipy)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


@torch.no_grad()
def evaluate_fid(G: Generator, images: torch.Tensor, step: int, alpha: float, n: int, seed: int,
                 detector_path: str) -> float:
    device = next(G.parameters()).device
    detector = torch.jit.load(detector_path, map_location=device).eval()
    real = real_subset(images, len(images), seed)
    fake = generate(G, latents(n, G.latent_dim, seed + 3).to(device), step, alpha, seed + 4)
    return frechet_distance(inception_features(detector, real), inception_features(detector, fake))
