"""Tiny pair folders for the pix2pix tests: synthetic faces sketched with trainers.common.sketch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from trainers.common.sketch import sketch


def synthetic_face(size: int, rng: np.random.Generator) -> np.ndarray:
    """A white-background cartoon face whose skin, hair and placement vary with ``rng``."""
    s = size / 64
    skin = tuple(int(v) for v in rng.integers(120, 230, 3))
    hair = tuple(int(v) for v in rng.integers(20, 110, 3))
    dx, dy = (rng.integers(-4, 5, 2) * s).tolist()
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.ellipse([13 * s + dx, 6 * s + dy, 51 * s + dx, 40 * s + dy], fill=hair)
    d.ellipse([16 * s + dx, 11 * s + dy, 48 * s + dx, 56 * s + dy], fill=skin)
    for x0 in (22, 35):
        d.ellipse([x0 * s + dx, 25 * s + dy, (x0 + 7) * s + dx, 30 * s + dy], fill=(40, 30, 25))
    d.arc([24 * s + dx, 40 * s + dy, 40 * s + dx, 49 * s + dy], 20, 160, fill=(150, 40, 40),
          width=max(1, round(2 * s)))
    return np.asarray(img)


def write_pairs(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    """``count`` side-by-side JPEGs: photo left, its sketch right (the export's layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        face = synthetic_face(size, rng)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(np.concatenate([face, sketch(face)], axis=1)).save(path, quality=95)
        paths.append(path)
    return paths
