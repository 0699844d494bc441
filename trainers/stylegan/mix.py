"""Style-mixing grids, as in the seed's peruvian_mix figures.

``python -m trainers.stylegan.mix CHECKPOINT`` writes one PNG. Layout of
:func:`mixing_grid` (rows top to bottom):

* row 0: an empty cell, then the style faces (one column each);
* then three sections, each with one row per source face: **coarse** (styles of the
  4-8 px blocks taken from the style face: pose, face shape), **middle** (16-32 px: features,
  hair), **fine** (64 px and up: colours, micro-structure). Each row starts with the source
  face itself. A model smaller than 64 px has no fine blocks: its fine rows repeat the source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from .generate import DEFAULT_TRUNCATION, _styles, load_generator, render
from .grid import make_grid, save_png

CROSSOVER = {"coarse": (0, 1), "middle": (2, 3), "fine": (4, 8)}  # block indices (4 * 2**i px)


@torch.no_grad()
def mixing_grid(checkpoint_path: str | Path, source_seeds: list[int], style_seeds: list[int],
                device: str | torch.device = "cpu", truncation: float = DEFAULT_TRUNCATION) -> np.ndarray:
    """The style-mixing grid (HWC uint8 RGB); row order in the module docstring."""
    G, _, info = load_generator(checkpoint_path, device)
    return mixing_grid_for(G, info, source_seeds, style_seeds, truncation)


@torch.no_grad()
def mixing_grid_for(G, info: dict, source_seeds: list[int], style_seeds: list[int],
                    truncation: float = DEFAULT_TRUNCATION) -> np.ndarray:
    """:func:`mixing_grid` for a generator in memory; ``info`` holds its step and alpha."""
    step = info["step"]
    src, sty = _styles(G, source_seeds, truncation), _styles(G, style_seeds, truncation)
    n_src, n_sty = len(source_seeds), len(style_seeds)
    sources = render(G, [src] * (step + 1), info)
    styles = render(G, [sty] * (step + 1), info)
    size = sources.shape[1]
    cells = [np.full((size, size, 3), 255, np.uint8), *styles]
    for lo, hi in CROSSOVER.values():
        base = src.repeat_interleave(n_sty, 0)  # source i, style j at row i * n_sty + j
        other = sty.repeat(n_src, 1)
        ws = [other if lo <= i <= hi else base for i in range(step + 1)]
        mixed = render(G, ws, info).reshape(n_src, n_sty, size, size, 3)
        for i in range(n_src):
            cells += [sources[i], *mixed[i]]
    return make_grid(np.stack(cells), cols=n_sty + 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.stylegan.mix", description="Style-mixing grid.")
    p.add_argument("checkpoint", help="checkpoint .pt or run folder (newest checkpoint)")
    p.add_argument("--sources", type=int, default=5, help="source faces (rows per section)")
    p.add_argument("--styles", type=int, default=5, help="style faces (columns)")
    p.add_argument("--seed", type=int, default=0, help="sources use seeds seed.., styles the next ones")
    p.add_argument("--truncation", type=float, default=DEFAULT_TRUNCATION, help="psi (1 = none)")
    p.add_argument("--out", default="", help="output PNG (default RUN/mixing-ITERATION.png)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    a = p.parse_args(argv)
    from . import checkpoint

    device = checkpoint.pick_device(a.device)
    try:
        path = checkpoint.resolve(a.checkpoint)
        src = list(range(a.seed, a.seed + a.sources))
        sty = list(range(a.seed + a.sources, a.seed + a.sources + a.styles))
        grid = mixing_grid(path, src, sty, device, a.truncation)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(a.out) if a.out else path.parent.parent / f"mixing-{path.stem}.png"
    print(save_png(grid, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
