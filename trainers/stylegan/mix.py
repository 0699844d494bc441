"""``python -m trainers.stylegan.mix CHECKPOINT``: one style-mixing grid as a PNG.

Command line only; the grid's layout is described in :mod:`trainers.stylegan.sampling`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import checkpoint
from .grid import save_png
from .sampling import DEFAULT_TRUNCATION, DEFAULT_TRUNCATION_CUTOFF, mixing_grid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.stylegan.mix", description="Style-mixing grid.")
    p.add_argument("checkpoint", help="checkpoint .pt or run folder (newest checkpoint)")
    p.add_argument("--sources", type=int, default=5, help="source faces (rows per section)")
    p.add_argument("--styles", type=int, default=5, help="style faces (columns)")
    p.add_argument("--seed", type=int, default=0, help="sources use seeds seed.., styles the next ones")
    p.add_argument("--truncation", type=float, default=DEFAULT_TRUNCATION, help="psi (1 = none)")
    p.add_argument("--truncation_cutoff", "--truncation-cutoff", type=int, default=DEFAULT_TRUNCATION_CUTOFF,
                   help="style inputs truncated, 2 per block from 4 px (8 = 4-32 px, official StyleGAN's; "
                        "18 = all)")
    p.add_argument("--out", default="", help="output PNG (default RUN/mixing-ITERATION.png)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    a = p.parse_args(argv)
    device = checkpoint.pick_device(a.device)
    try:
        path = checkpoint.resolve(a.checkpoint)
        src = list(range(a.seed, a.seed + a.sources))
        sty = list(range(a.seed + a.sources, a.seed + a.sources + a.styles))
        grid = mixing_grid(path, src, sty, device, a.truncation, a.truncation_cutoff)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(a.out) if a.out else path.parent.parent / f"mixing-{path.stem}.png"
    print(save_png(grid, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
