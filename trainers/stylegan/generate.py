"""``python -m trainers.stylegan.generate CHECKPOINT --n 64``: a sample grid and an interpolation
strip (CPU or GPU). CHECKPOINT is a ``.pt`` file or a run folder (its newest checkpoint).

Command line only; the functions live in :mod:`trainers.stylegan.sampling`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import checkpoint
from .grid import save_png
from .sampling import DEFAULT_TRUNCATION, DEFAULT_TRUNCATION_CUTOFF, interpolation_strip, sample_grid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.stylegan.generate",
                                description="Sample grid and interpolation strip of a checkpoint.")
    p.add_argument("checkpoint", help="checkpoint .pt or run folder (newest checkpoint)")
    p.add_argument("--n", type=int, default=64, help="images in the sample grid")
    p.add_argument("--seed", type=int, default=0, help="first latent seed")
    p.add_argument("--steps", type=int, default=8, help="images in the interpolation strip")
    p.add_argument("--truncation", type=float, default=DEFAULT_TRUNCATION, help="psi (1 = none)")
    p.add_argument("--truncation_cutoff", "--truncation-cutoff", type=int, default=DEFAULT_TRUNCATION_CUTOFF,
                   help="style inputs truncated, 2 per block from 4 px (8 = 4-32 px, official StyleGAN's; "
                        "18 = all)")
    p.add_argument("--out", default="", help="output folder (default RUN/generated)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    a = p.parse_args(argv)
    device = checkpoint.pick_device(a.device)
    try:
        ckpt_path = checkpoint.resolve(a.checkpoint)
        out = Path(a.out) if a.out else ckpt_path.parent.parent / "generated"
        it = ckpt_path.stem
        grid = sample_grid(ckpt_path, a.n, a.seed, a.truncation, device, a.truncation_cutoff)
        strip = interpolation_strip(ckpt_path, a.seed, a.seed + 1, a.steps, device, a.truncation,
                                    a.truncation_cutoff)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(save_png(grid, out / f"samples-{it}-seed{a.seed}.png"))
    print(save_png(strip, out / f"interpolation-{it}-seed{a.seed}-{a.seed + 1}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
