"""Ingest rate for CelebA-size JPEGs (178×218) into SQLite, images per second.

Target: the whole of CelebA (202,599 images) in under 2 minutes, i.e. ≥ 1,700 images/s.
Usage: python benchmarks/ingest.py [--count 20000] [--workers N]
Prints one JSON line. The images are generated once (distinct synthetic faces with per-image
noise, so every file has its own hash) and cached under $TMPDIR between runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate import synth  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from db import migrate  # noqa: E402
from db.engine import make_engine  # noqa: E402

BASES = 1000  # distinct drawn faces; each file is one of them moved, scaled, mirrored and tinted
FORMAT = 2  # bump when the generated images change, so a stale cache is not reused


def _write_chunk(args: tuple[str, int, int]) -> None:
    folder, start, stop = args
    bases = []
    for b in range(BASES):
        t = synth.draw_truth(np.random.default_rng([1, b]), "x")
        bases.append(synth.render(t, b))
    from PIL import Image, ImageOps
    for i in range(start, stop):
        path = Path(folder) / f"{i + 1:06d}.jpg"
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        img = bases[(i * 7919) % BASES]
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        scale = rng.uniform(0.85, 1.15)
        dx, dy = rng.uniform(-25, 25, 2)
        img = img.transform(img.size, Image.Transform.AFFINE,
                            (1 / scale, 0, dx, 0, 1 / scale, dy), Image.Resampling.BILINEAR,
                            fillcolor=tuple(int(v) for v in rng.integers(0, 255, 3)))
        arr = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, size=(1, 1, 3), dtype=np.int16)
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=90)


def make_images(folder: Path, count: int, workers: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    have = sum(1 for _ in folder.glob("*.jpg"))
    if have >= count:
        return
    step = -(-count // (workers * 4))
    chunks = [(str(folder), s, min(count, s + step)) for s in range(0, count, step)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_chunk, chunks))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=20_000, help="images to ingest (default 20000)")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="decoding processes")
    a = p.parse_args()
    folder = Path(tempfile.gettempdir()) / f"rostro-bench-celeba-v{FORMAT}-{a.count}"
    make_images(folder, a.count, a.workers)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        report = ingest(engine, folder, "celeba", workers=a.workers, progress=False)
        seconds = time.perf_counter() - t0
    rate = report.added / seconds
    print(json.dumps({
        "benchmark": "ingest", "images": report.added, "bad": len(report.bad),
        "duplicates": len(report.duplicates), "near_duplicates": len(report.near_duplicates),
        "seconds": round(seconds, 2),
        "images_per_s": round(rate, 1), "target_images_per_s": 1700,
        "projected_full_celeba_s": round(202_599 / rate, 1), "workers": a.workers,
        "cores": os.cpu_count(), "database": "sqlite",
    }))


if __name__ == "__main__":
    main()
