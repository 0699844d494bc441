"""Sampling from a StyleGAN generator: latents, styles, rendering, sample grids, interpolation
strips and style-mixing grids. The training loop, the metrics, the ``generate`` and ``mix``
commands and the galleries all draw images through here; nothing here prints.

All randomness comes from private generators seeded by the caller, so sampling never disturbs
the training RNG (a resumed run stays identical).

Layout of :func:`mixing_grid` (rows top to bottom), as in the seed's peruvian_mix figures:

* row 0: an empty cell, then the style faces (one column each);
* then three sections, each with one row per source face: **coarse** (styles of the
  4-8 px blocks taken from the style face: pose, face shape), **middle** (16-32 px: features,
  hair), **fine** (64 px and up: colours, micro-structure). Each row starts with the source
  face itself. A model smaller than 64 px has no fine blocks: its fine rows repeat the source.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .config import Settings
from .grid import make_grid, to_uint8
from .model import Generator

DEFAULT_TRUNCATION = 0.7  # psi, as the reference's generate.py (style_weight 0.7)
CROSSOVER = {"coarse": (0, 1), "middle": (2, 3), "fine": (4, 8)}  # block indices (4 * 2**i px)


def latents(n: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def mean_style(G: Generator, n: int = 4096, seed: int = 0) -> torch.Tensor:
    device = next(G.parameters()).device
    return G.style(latents(n, G.latent_dim, seed).to(device)).mean(0, keepdim=True)


def generate_chunks(G: Generator, z: torch.Tensor, step: int, alpha: float = 1.0, seed: int = 0,
                    chunk: int = 64, w_avg: torch.Tensor | None = None, psi: float = 1.0):
    """:func:`generate` ``chunk`` images at a time, for callers that need not hold them all."""
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    for zc in z.split(chunk):
        with torch.no_grad():
            noise = [nz.to(device) for nz in G.make_noise(zc.shape[0], step, "cpu", gen)]
            w = G.style(zc.to(device))
            if w_avg is not None and psi != 1.0:
                w = torch.lerp(w_avg.to(device), w, psi)
            yield G.synthesize([w] * (step + 1), step, alpha, noise).float()


def generate(G: Generator, z: torch.Tensor, step: int, alpha: float = 1.0, seed: int = 0,
             chunk: int = 64, w_avg: torch.Tensor | None = None, psi: float = 1.0) -> torch.Tensor:
    """Images (N, 3, S, S) in [-1, 1] for latents ``z``, each with its own seeded noise;
    ``psi`` < 1 truncates the styles toward ``w_avg``."""
    return torch.cat(list(generate_chunks(G, z, step, alpha, seed, chunk, w_avg, psi)))


def load_generator(checkpoint_path: str | Path, device: str | torch.device = "cpu"):
    """``(G_ema in eval mode, Settings, info)``; info = iteration, size, step, alpha.

    ``checkpoint_path``: a ``.pt`` file or a run folder (its newest checkpoint).
    """
    ckpt = checkpoint.load(checkpoint_path, map_location="cpu")
    cfg = Settings.from_dict(ckpt["config"])
    G = Generator(cfg.max_size, cfg.latent_dim, cfg.mapping_layers, cfg.max_channels)
    G.load_state_dict(ckpt["G_ema"])
    G = G.to(device).eval().requires_grad_(False)
    info = {k: ckpt[k] for k in ("iteration", "size", "step", "alpha")}
    return G, cfg, info


@torch.no_grad()
def styles(G: Generator, seeds: list[int], psi: float) -> torch.Tensor:
    """One style vector per latent seed, truncated toward the mean style when ``psi`` < 1."""
    device = next(G.parameters()).device
    z = torch.stack([latents(1, G.latent_dim, s)[0] for s in seeds]).to(device)
    w = G.style(z)
    return torch.lerp(mean_style(G), w, psi) if psi != 1.0 else w


def shared_noise(G: Generator, n: int, step: int, seed: int) -> list[torch.Tensor]:
    """One seeded noise map per block, the same for all ``n`` images (faces differ by style only)."""
    device = next(G.parameters()).device
    one = G.make_noise(1, step, "cpu", torch.Generator().manual_seed(seed))
    return [x.expand(n, -1, -1, -1).to(device) for x in one]


@torch.no_grad()
def render(G: Generator, ws: list[torch.Tensor], info: dict, noise_seed: int = 0) -> np.ndarray:
    """(N, H, W, 3) uint8 images from one style batch per block, with shared seeded noise."""
    step, alpha = info["step"], info["alpha"]
    return to_uint8(G.synthesize(ws, step, alpha, shared_noise(G, ws[0].shape[0], step, noise_seed)))


@torch.no_grad()
def sample_grid(checkpoint_path: str | Path, n: int = 64, seed: int = 0,
                truncation: float = DEFAULT_TRUNCATION, device: str | torch.device = "cpu") -> np.ndarray:
    """A grid of ``n`` samples (seeds ``seed .. seed + n - 1``) as HWC uint8."""
    G, _, info = load_generator(checkpoint_path, device)
    w = styles(G, list(range(seed, seed + n)), truncation)
    images = np.concatenate([render(G, [c] * (info["step"] + 1), info, seed) for c in w.split(64)])
    return make_grid(images, cols=math.ceil(math.sqrt(n)))


@torch.no_grad()
def interpolation_strip(checkpoint_path: str | Path, seed_a: int, seed_b: int, steps: int = 8,
                        device: str | torch.device = "cpu",
                        truncation: float = DEFAULT_TRUNCATION) -> np.ndarray:
    """One row of ``steps`` images from seed_a's face to seed_b's, linear in style space."""
    G, _, info = load_generator(checkpoint_path, device)
    w = styles(G, [seed_a, seed_b], truncation)
    t = torch.linspace(0, 1, steps, device=w.device)[:, None]
    ws = torch.lerp(w[0:1], w[1:2], t)
    return make_grid(render(G, [ws] * (info["step"] + 1), info, seed_a), cols=steps)


@torch.no_grad()
def mixing_grid(checkpoint_path: str | Path, source_seeds: list[int], style_seeds: list[int],
                device: str | torch.device = "cpu", truncation: float = DEFAULT_TRUNCATION) -> np.ndarray:
    """The style-mixing grid (HWC uint8 RGB); row order in the module docstring."""
    G, _, info = load_generator(checkpoint_path, device)
    return mixing_grid_for(G, info, source_seeds, style_seeds, truncation)


@torch.no_grad()
def mixing_grid_for(G: Generator, info: dict, source_seeds: list[int], style_seeds: list[int],
                    truncation: float = DEFAULT_TRUNCATION) -> np.ndarray:
    """:func:`mixing_grid` for a generator in memory; ``info`` holds its step and alpha."""
    step = info["step"]
    src, sty = styles(G, source_seeds, truncation), styles(G, style_seeds, truncation)
    n_src, n_sty = len(source_seeds), len(style_seeds)
    sources = render(G, [src] * (step + 1), info)
    faces = render(G, [sty] * (step + 1), info)
    size = sources.shape[1]
    cells = [np.full((size, size, 3), 255, np.uint8), *faces]
    for lo, hi in CROSSOVER.values():
        base = src.repeat_interleave(n_sty, 0)  # source i, style j at row i * n_sty + j
        other = sty.repeat(n_src, 1)
        ws = [other if lo <= i <= hi else base for i in range(step + 1)]
        mixed = render(G, ws, info).reshape(n_src, n_sty, size, size, 3)
        for i in range(n_src):
            cells += [sources[i], *mixed[i]]
    return make_grid(np.stack(cells), cols=n_sty + 1)
