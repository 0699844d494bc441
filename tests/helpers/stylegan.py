"""Helpers for the StyleGAN tests: tiny LMDBs written directly with lmdb + Pillow."""

from __future__ import annotations

import io
import json
from pathlib import Path

import lmdb
import numpy as np
from PIL import Image

TINY = ["--init_size", "8", "--max_size", "16", "--phase", "16", "--batch", "4", "--iterations", "20",
        "--ckpt_every", "10", "--sample_every", "10", "--log_every", "1", "--swd_every", "10",
        "--swd_images", "8", "--sample_n", "4", "--max_channels", "16", "--latent_dim", "16",
        "--mapping_layers", "2"]


def synthetic_image(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A coloured blob on a gradient background (HWC uint8)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    bg = np.stack([xx, yy, 1 - xx], -1) * rng.uniform(0.3, 1.0, 3)
    cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
    blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r)[..., None]
    img = np.where(blob, rng.uniform(0, 1, 3), bg)
    return (img * 255).clip(0, 255).astype(np.uint8)


def resize_and_convert(img: Image.Image, size: int) -> bytes:
    """As the reference's prepare_data.py: short side to size (Lanczos), centre crop, JPEG q100."""
    w, h = img.size
    s = size / min(w, h)
    img = img.resize((max(size, round(w * s)), max(size, round(h * s))), Image.LANCZOS)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    buf = io.BytesIO()
    img.save(buf, format="jpeg", quality=100)
    return buf.getvalue()


def write_lmdb(path: Path, n: int = 24, sizes=(8, 16), key_fmt="{size}-{i:05d}", map_size=1 << 28,
               length: bytes | None = None, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    env = lmdb.open(str(path), map_size=map_size, readahead=False)
    with env.begin(write=True) as txn:
        for i in range(n):
            img = Image.fromarray(synthetic_image(rng, 48 + 8 * (i % 3)))
            for size in sizes:
                txn.put(key_fmt.format(size=size, i=i).encode("utf-8"), resize_and_convert(img, size))
        txn.put(b"length", length if length is not None else str(n).encode("utf-8"))
    env.close()
    return path


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
