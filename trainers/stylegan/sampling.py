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
# Style inputs truncated, counted as official StyleGAN counts them: two per block (one per
# AdaIN) from 4 px up, so 8 = the 4-32 px blocks (coarse and middle), as its default. A
# cutoff of 2 * blocks or more truncates every layer (this trainer's behaviour before).
DEFAULT_TRUNCATION_CUTOFF = 8
CROSSOVER = {"coarse": (0, 1), "middle": (2, 3), "fine": (4, 8)}  # block indices (4 * 2**i px)


def latents(n: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def mean_style(G: Generator, n: int = 4096, seed: int = 0) -> torch.Tensor:
    device = next(G.parameters()).device
    return G.style(latents(n, G.latent_dim, seed).to(device)).mean(0, keepdim=True)


def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int, layers: int) -> torch.Tensor:
    """(N, layers, D): style ``w`` (N, D) for each AdaIN layer, the first ``cutoff`` layers
    pulled toward ``w_avg`` (1, D) by ``psi`` (official StyleGAN's truncation)."""
    out = w[:, None, :].expand(-1, layers, -1)
    k = max(0, min(cutoff, layers))
    if psi == 1.0 or k == 0:
        return out
    near = torch.lerp(w_avg.to(w.device)[:, None, :], out[:, :k], psi)
    return torch.cat([near, out[:, k:]], 1)


def per_block(W: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(N, 2 * blocks, D) per-layer styles as :meth:`Generator.synthesize` takes them."""
    return [(W[:, 2 * i], W[:, 2 * i + 1]) for i in range(W.shape[1] // 2)]


def generate_chunks(G: Generator, z: torch.Tensor, step: int, alpha: float = 1.0, seed: int = 0,
                    chunk: int = 64, w_avg: torch.Tensor | None = None, psi: float = 1.0,
                    truncation_cutoff: int = DEFAULT_TRUNCATION_CUTOFF):
    """:func:`generate` ``chunk`` images at a time, for callers that need not hold them all."""
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    for zc in z.split(chunk):
        with torch.no_grad():
            noise = [nz.to(device) for nz in G.make_noise(zc.shape[0], step, "cpu", gen)]
            w = G.style(zc.to(device))
            if w_avg is not None and psi != 1.0:
                ws = per_block(truncate(w, w_avg, psi, truncation_cutoff, 2 * (step + 1)))
            else:
                ws = [w] * (step + 1)
            yield G.synthesize(ws, step, alpha, noise).float()


def generate(G: Generator, z: torch.Tensor, step: int, alpha: float = 1.0, seed: int = 0,
             chunk: int = 64, w_avg: torch.Tensor | None = None, psi: float = 1.0,
             truncation_cutoff: int = DEFAULT_TRUNCATION_CUTOFF) -> torch.Tensor:
    """Images (N, 3, S, S) in [-1, 1] for latents ``z``, each with its own seeded noise;
    ``psi`` < 1 truncates the first ``truncation_cutoff`` style inputs toward ``w_avg``."""
    return torch.cat(list(generate_chunks(G, z, step, alpha, seed, chunk, w_avg, psi, truncation_cutoff)))


def load_generator(checkpoint_path: str | Path, device: str | torch.device = "cpu"):
    """``(G_ema in eval mode, Settings, info)``; info = iteration, size, step, alpha.

    ``checkpoint_path``: a ``.pt`` file or a run folder (its newest checkpoint).
    """
    ckpt = checkpoint.load(checkpoint_path, map_location="cpu")
    cfg = Settings.from_dict(ckpt["config"])  # every model size within its upper bound
    with torch.device("meta"):  # the shapes the config implies, nothing allocated
        wanted = Generator(cfg.max_size, cfg.latent_dim, cfg.mapping_layers, cfg.max_channels)
    checkpoint.check_tensors(checkpoint_path, ckpt["G_ema"],
                             {k: tuple(v.shape) for k, v in wanted.state_dict().items()}, "G_ema")
    G = Generator(cfg.max_size, cfg.latent_dim, cfg.mapping_layers, cfg.max_channels)
    G.load_state_dict(ckpt["G_ema"])
    G = G.to(device).eval().requires_grad_(False)
    info = {k: ckpt[k] for k in ("iteration", "size", "step", "alpha")}
    return G, cfg, info


@torch.no_grad()
def styles(G: Generator, seeds: list[int], psi: float, step: int,
           truncation_cutoff: int = DEFAULT_TRUNCATION_CUTOFF) -> torch.Tensor:
    """(N, 2 * (step + 1), D): the style of each latent seed per AdaIN layer, its first
    ``truncation_cutoff`` layers truncated toward the mean style when ``psi`` < 1."""
    device = next(G.parameters()).device
    z = torch.stack([latents(1, G.latent_dim, s)[0] for s in seeds]).to(device)
    w = G.style(z)
    w_avg = mean_style(G) if psi != 1.0 else w[:1]
    return truncate(w, w_avg, psi, truncation_cutoff, 2 * (step + 1))


def shared_noise(G: Generator, n: int, step: int, seed: int) -> list[torch.Tensor]:
    """One seeded noise map per block, the same for all ``n`` images (faces differ by style only)."""
    device = next(G.parameters()).device
    one = G.make_noise(1, step, "cpu", torch.Generator().manual_seed(seed))
    return [x.expand(n, -1, -1, -1).to(device) for x in one]


@torch.no_grad()
def render(G: Generator, W: torch.Tensor, info: dict, noise_seed: int = 0) -> np.ndarray:
    """(N, H, W, 3) uint8 images from per-layer styles (N, 2 * blocks, D), shared seeded noise."""
    step, alpha = info["step"], info["alpha"]
    return to_uint8(G.synthesize(per_block(W), step, alpha, shared_noise(G, W.shape[0], step, noise_seed)))


@torch.no_grad()
def sample_grid(checkpoint_path: str | Path, n: int = 64, seed: int = 0,
                truncation: float = DEFAULT_TRUNCATION, device: str | torch.device = "cpu",
                truncation_cutoff: int = DEFAULT_TRUNCATION_CUTOFF) -> np.ndarray:
    """A grid of ``n`` samples (seeds ``seed .. seed + n - 1``) as HWC uint8."""
    G, _, info = load_generator(checkpoint_path, device)
    W = styles(G, list(range(seed, seed + n)), truncation, info["step"], truncation_cutoff)
    images = np.concatenate([render(G, c, info, seed) for c in W.split(64)])
    return make_grid(images, cols=math.ceil(math.sqrt(n)))


@torch.no_grad()
def interpolation_strip(checkpoint_path: str | Path, seed_a: int, seed_b: int, steps: int = 8,
                        device: str | torch.device = "cpu", truncation: float = DEFAULT_TRUNCATION,
                        truncation_cutoff: int = DEFAULT_TRUNCATION_CUTOFF) -> np.ndarray:
    """One row of ``steps`` images from seed_a's face to seed_b's, linear in style space."""
    G, _, info = load_generator(checkpoint_path, device)
    W = styles(G, [seed_a, seed_b], truncation, info["step"], truncation_cutoff)
    t = torch.linspace(0, 1, steps, device=W.device)[:, None, None]
    return make_grid(render(G, torch.lerp(W[0:1], W[1:2], t), info, seed_a), cols=steps)


@torch.no_grad()
def mixing_grid(checkpoint_path: str | Path, source_seeds: list[int], style_seeds: list[int],
                device: str | torch.device = "cpu", truncation: float = DEFAULT_TRUNCATION,
                truncation_cutoff: int = DEFAULT_TRUNCATION_CUTOFF) -> np.ndarray:
    """The style-mixing grid (HWC uint8 RGB); row order in the module docstring."""
    G, _, info = load_generator(checkpoint_path, device)
    return mixing_grid_for(G, info, source_seeds, style_seeds, truncation, truncation_cutoff)


@torch.no_grad()
def mixing_grid_for(G: Generator, info: dict, source_seeds: list[int], style_seeds: list[int],
                    truncation: float = DEFAULT_TRUNCATION,
                    truncation_cutoff: int = DEFAULT_TRUNCATION_CUTOFF) -> np.ndarray:
    """:func:`mixing_grid` for a generator in memory; ``info`` holds its step and alpha."""
    step = info["step"]
    src = styles(G, source_seeds, truncation, step, truncation_cutoff)
    sty = styles(G, style_seeds, truncation, step, truncation_cutoff)
    n_src, n_sty = len(source_seeds), len(style_seeds)
    sources, faces = render(G, src, info), render(G, sty, info)
    size = sources.shape[1]
    cells = [np.full((size, size, 3), 255, np.uint8), *faces]
    for lo, hi in CROSSOVER.values():
        mixed = src.repeat_interleave(n_sty, 0).clone()  # source i, style j at row i * n_sty + j
        mixed[:, 2 * lo: 2 * hi + 2] = sty.repeat(n_src, 1, 1)[:, 2 * lo: 2 * hi + 2]
        rows = render(G, mixed, info).reshape(n_src, n_sty, size, size, 3)
        for i in range(n_src):
            cells += [sources[i], *rows[i]]
    return make_grid(np.stack(cells), cols=n_sty + 1)
