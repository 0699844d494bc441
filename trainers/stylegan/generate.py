"""Load a checkpoint's EMA generator; sample grids and interpolation strips.

``python -m trainers.stylegan.generate CHECKPOINT --n 64`` writes a sample grid and an
interpolation strip (CPU or GPU). CHECKPOINT is a ``.pt`` file or a run folder (its newest
checkpoint). The functions are for in-process callers (galleries) and do not print.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .evaluate import latents, mean_style
from .grid import make_grid, save_png, to_uint8
from .model import Generator

DEFAULT_TRUNCATION = 0.7  # psi, as the reference's generate.py (style_weight 0.7)


def load_generator(checkpoint_path: str | Path, device: str | torch.device = "cpu"):
    """``(G_ema in eval mode, config dict, info)``; info = iteration, size, step, alpha."""
    ckpt = checkpoint.load(checkpoint_path, map_location="cpu")
    cfg = ckpt["config"]
    G = Generator(cfg["max_size"], cfg["latent_dim"], cfg["mapping_layers"], cfg["max_channels"])
    G.load_state_dict(ckpt["G_ema"])
    G = G.to(device).eval().requires_grad_(False)
    info = {k: ckpt[k] for k in ("iteration", "size", "step", "alpha")}
    return G, cfg, info


def _styles(G: Generator, seeds: list[int], psi: float) -> torch.Tensor:
    device = next(G.parameters()).device
    z = torch.stack([latents(1, G.latent_dim, s)[0] for s in seeds]).to(device)
    w = G.style(z)
    return torch.lerp(mean_style(G), w, psi) if psi != 1.0 else w


def _noise(G: Generator, n: int, step: int, seed: int) -> list[torch.Tensor]:
    device = next(G.parameters()).device
    one = G.make_noise(1, step, "cpu", torch.Generator().manual_seed(seed))
    return [x.expand(n, -1, -1, -1).to(device) for x in one]


@torch.no_grad()
def render(G: Generator, ws: list[torch.Tensor], info: dict, noise_seed: int = 0) -> np.ndarray:
    """(N, H, W, 3) uint8 images from one style batch per block, with shared seeded noise."""
    step, alpha = info["step"], info["alpha"]
    return to_uint8(G.synthesize(ws, step, alpha, _noise(G, ws[0].shape[0], step, noise_seed)))


@torch.no_grad()
def sample_grid(checkpoint_path: str | Path, n: int = 64, seed: int = 0,
                truncation: float = DEFAULT_TRUNCATION, device: str | torch.device = "cpu") -> np.ndarray:
    """A grid of ``n`` samples (seeds ``seed .. seed + n - 1``) as HWC uint8."""
    G, _, info = load_generator(checkpoint_path, device)
    w = _styles(G, list(range(seed, seed + n)), truncation)
    images = np.concatenate([render(G, [c] * (info["step"] + 1), info, seed) for c in w.split(64)])
    return make_grid(images, cols=math.ceil(math.sqrt(n)))


@torch.no_grad()
def interpolation_strip(checkpoint_path: str | Path, seed_a: int, seed_b: int, steps: int = 8,
                        device: str | torch.device = "cpu",
                        truncation: float = DEFAULT_TRUNCATION) -> np.ndarray:
    """One row of ``steps`` images from seed_a's face to seed_b's, linear in style space."""
    G, _, info = load_generator(checkpoint_path, device)
    w = _styles(G, [seed_a, seed_b], truncation)
    t = torch.linspace(0, 1, steps, device=w.device)[:, None]
    ws = torch.lerp(w[0:1], w[1:2], t)
    return make_grid(render(G, [ws] * (info["step"] + 1), info, seed_a), cols=steps)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.stylegan.generate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="checkpoint .pt or run folder (newest checkpoint)")
    p.add_argument("--n", type=int, default=64, help="images in the sample grid")
    p.add_argument("--seed", type=int, default=0, help="first latent seed")
    p.add_argument("--steps", type=int, default=8, help="images in the interpolation strip")
    p.add_argument("--truncation", type=float, default=DEFAULT_TRUNCATION, help="psi (1 = none)")
    p.add_argument("--out", default="", help="output folder (default RUN/generated)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    a = p.parse_args(argv)
    device = checkpoint.pick_device(a.device)
    try:
        ckpt_path = checkpoint.resolve(a.checkpoint)
        out = Path(a.out) if a.out else ckpt_path.parent.parent / "generated"
        it = ckpt_path.stem
        grid = sample_grid(ckpt_path, a.n, a.seed, a.truncation, device)
        strip = interpolation_strip(ckpt_path, a.seed, a.seed + 1, a.steps, device, a.truncation)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(save_png(grid, out / f"samples-{it}-seed{a.seed}.png"))
    print(save_png(strip, out / f"interpolation-{it}-seed{a.seed}-{a.seed + 1}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
