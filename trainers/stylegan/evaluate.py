"""Quality metrics of the EMA generator: SWD always, FID when a detector file is given.

All randomness here comes from private generators seeded by the caller, so evaluation never
disturbs the training RNG (a resumed run stays identical).

FID is computed as NVlabs' stylegan2-ada/stylegan3 metrics do: generated images go from [-1, 1]
to uint8 by ``x * 127.5 + 128`` clamped to [0, 255] (rounding, so a dataset image that went
through [-1, 1] comes back unchanged), and the dataset's uint8 images are fed as they are, a
batch at a time. The value is logged as ``fid<count>`` (``fid5k`` = 5,000 generated images;
``fid16`` below a thousand) with ``fid_detector``, the first 16 hex digits of the detector
file's SHA-256: two values compare only when both names match.
"""

from __future__ import annotations

import functools
import hashlib
import os

import numpy as np
import torch

from .model import Generator
from .sampling import generate, generate_chunks, latents
from .swd import swd

DETECTOR_HASH_DIGITS = 16


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


def to_detector_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → uint8 as NVlabs' metrics: ``x * 127.5 + 128``, clamped, then truncated (= rounded)."""
    return x.float().mul(127.5).add(128).clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def inception_features(detector: torch.jit.ScriptModule, images: torch.Tensor, chunk: int = 100) -> np.ndarray:
    """Features from an NVlabs-style TorchScript Inception detector, ``chunk`` images at a time.

    images: uint8 (N, 3, H, W), fed as they are, or floats in [-1, 1] (see to_detector_uint8).
    Only one chunk at a time is copied to the detector's device.
    """
    device = next(detector.parameters()).device
    feats = []
    for x in images.split(chunk):
        x8 = x if x.dtype == torch.uint8 else to_detector_uint8(x)
        feats.append(detector(x8.to(device), return_features=True).double().cpu())
    return torch.cat(feats).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets; the matrix square root through eigenvalues (no scipy)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def fid_name(n: int) -> str:
    """``fid5k`` for 5,000 generated images, ``fid50k`` for 50,000, ``fid16`` for 16."""
    return f"fid{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"fid{n}"


def detector_hash(path: str | os.PathLike) -> str:
    """First hex digits of the detector file's SHA-256 (hashed once per file version)."""
    st = os.stat(path)
    return _hash_file(os.fspath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _hash_file(path: str, size: int, mtime_ns: int) -> str:  # size, mtime: the cache key only
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:DETECTOR_HASH_DIGITS]


@torch.no_grad()
def evaluate_fid(G: Generator, images: torch.Tensor, step: int, alpha: float, n: int, seed: int,
                 detector_path: str) -> dict:
    """``{fid_name(n): FID of all dataset images vs n generated ones, "fid_detector": hash}``."""
    device = next(G.parameters()).device
    detector = torch.jit.load(detector_path, map_location=device).eval()
    z = latents(n, G.latent_dim, seed + 3).to(device)
    fake = np.concatenate([inception_features(detector, x)  # one chunk of fakes in memory at a time
                           for x in generate_chunks(G, z, step, alpha, seed + 4)])
    fid = frechet_distance(inception_features(detector, images), fake)
    return {fid_name(n): fid, "fid_detector": detector_hash(detector_path)}
