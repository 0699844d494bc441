"""Multi-scale sliced Wasserstein distance (Karras et al. 2018, "Progressive growing of GANs").

Both image sets are decomposed into Laplacian pyramids down to 16 px; from every level
128 random 7x7 patches per image are taken, normalised per channel, and the distance
between the two patch sets is the sliced Wasserstein distance over random projections.
One number per level (x 1e3 as in the paper) and their mean; lower is better. Needs no
downloaded weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PATCH = 7
PATCHES_PER_IMAGE = 128
DIRECTIONS = 512
REPEATS = 4
MIN_LEVEL = 16  # px


def _gauss(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=x.device, dtype=x.dtype) / 16
    k = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, [2, 2, 2, 2], mode="reflect"), k, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, min_size: int = MIN_LEVEL) -> list[torch.Tensor]:
    """Levels from full resolution down; the last level is the low-pass image."""
    levels = []
    while x.shape[-1] > min_size:
        small = _gauss(x)[:, :, ::2, ::2]
        up = torch.zeros_like(x)
        up[:, :, ::2, ::2] = small
        levels.append(x - _gauss(up) * 4)
        x = small
    levels.append(x)
    return levels


def _patches(level: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n, c, h, w = level.shape
    size = min(PATCH, h)
    ys = torch.randint(h - size + 1, (n, PATCHES_PER_IMAGE), generator=gen)
    xs = torch.randint(w - size + 1, (n, PATCHES_PER_IMAGE), generator=gen)
    off = torch.arange(size)
    rows = (ys[..., None] + off)[..., :, None].expand(-1, -1, size, size)
    cols = (xs[..., None] + off)[..., None, :].expand(-1, -1, size, size)
    img = torch.arange(n)[:, None, None, None].expand_as(rows)
    dev = level.device
    p = level.permute(0, 2, 3, 1)[img.to(dev), rows.to(dev), cols.to(dev)]  # (n, P, size, size, c)
    p = p.permute(0, 1, 4, 2, 3).reshape(n * PATCHES_PER_IMAGE, c, size * size)
    p = (p - p.mean(dim=(0, 2), keepdim=True)) / (p.std(dim=(0, 2), keepdim=True) + 1e-8)
    return p.flatten(1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator) -> float:
    dist = 0.0
    for _ in range(REPEATS):
        d = torch.randn(a.shape[1], DIRECTIONS, generator=gen).to(a.device)
        d = d / d.norm(dim=0, keepdim=True)
        pa, _ = torch.sort(a @ d, dim=0)
        pb, _ = torch.sort(b @ d, dim=0)
        dist += (pa - pb).abs().mean().item()
    return dist / REPEATS


def swd(real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> dict:
    """SWD between two image batches (N, 3, H, W) in [-1, 1] with the same N.

    Returns ``{"swd": mean over levels, "swd_levels": {resolution: value}}`` (x 1e3).
    """
    if real.shape != fake.shape:
        raise ValueError(f"SWD needs equal shapes, got {tuple(real.shape)} and {tuple(fake.shape)}")
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for lr, lf in zip(laplacian_pyramid(real.float()), laplacian_pyramid(fake.float())):
        out[lr.shape[-1]] = 1e3 * sliced_wasserstein(_patches(lr, gen), _patches(lf, gen), gen)
    return {"swd": sum(out.values()) / len(out), "swd_levels": out}
