"""`curate export sketch-pairs`: photo | sketch side by side, split into train/ and val/.

Each photo is centre-cropped to a square (its short side), resized with Lanczos to `size`,
and put in the LEFT half of a JPEG twice as wide as high; its sketch (curate.sketch, the
seed's Photocopy + Posterize) fills the RIGHT half — the layout the TensorFlow pix2pix
tutorial reads (input = right half) and pytorch-CycleGAN-and-pix2pix reads as aligned data.
The split is a seeded permutation: round(val · N) items go to val/, the rest to train/.
Output names keep the input order: train/000001.jpg, val/000002.jpg, …
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from dataclasses import replace

import numpy as np
from PIL import Image
from tqdm import tqdm

from curate.export.common import (ExportError, ExportResult, check_destination, check_file,
                                  export_folder, fail_on_problems, items_from,
                                  run_jobs)
from curate.imaging import BadImage, encode_jpeg, read_image, to_rgb
from curate.sketch import sketch

QUALITY = 95  # JPEG quality of the pairs


def square_photo(img: Image.Image, size: int) -> np.ndarray:
    """Centre-cropped square of the short side, resized with Lanczos to size×size (HWC uint8)."""
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return np.asarray(img.resize((size, size), Image.Resampling.LANCZOS,
                                 box=(left, top, left + s, top + s)))


def pair(photo: np.ndarray, detail: float = 15, darkness: float = 3, levels: int = 10) -> np.ndarray:
    """[photo | sketch(photo)]: HxW → Hx2W, photo left, sketch right."""
    return np.concatenate([photo, sketch(photo, detail, darkness, levels)], axis=1)


def split(n: int, val: float, seed: int) -> list[str]:
    """"train" or "val" for each of n items: round(val·n) of them, chosen by a seeded permutation."""
    n_val = int(round(val * n))
    order = np.random.default_rng(seed).permutation(n)
    out = ["train"] * n
    for i in order[:n_val]:
        out[int(i)] = "val"
    return out


def _work(args) -> tuple[int, str, bytes | str]:
    """Worker: → (index, sha256 of the source file, the pair's JPEG bytes or why not)."""
    index, item, size, detail, darkness, levels = args
    data, problem = check_file(item)
    if problem:
        return index, "", problem
    sha = hashlib.sha256(data).hexdigest()
    try:
        photo = square_photo(to_rgb(read_image(data, item.path)), size)
    except BadImage as e:
        return index, sha, f"bad image: {item.path}: {e}"
    return index, sha, encode_jpeg(pair(photo, detail, darkness, levels), QUALITY)


def export_sketch_pairs(engine, out: str | os.PathLike, source: str | os.PathLike, *,
                        size: int = 256, val: float = 0.2, seed: int = 0, detail: float = 15,
                        darkness: float = 3, levels: int = 10, workers: int | None = None,
                        progress: bool = True) -> ExportResult:
    """Write sketch pairs of the photos of `source` (an export or a folder of images) to `out`.

    Defaults: 256 px squares (pairs 512×256), 20 % val, seed 0, the seed's effect (detail 15,
    darkness 3, 10 levels), workers = all cores.
    """
    if size < 8 or size & (size - 1):
        raise ExportError(f"--size {size} is not supported: a power of two of at least 8 (e.g. 256)")
    if not 0 <= val < 1:
        raise ExportError(f"--val {val} must be in [0, 1)")
    for name, v, lo, hi in (("detail", detail, 1, 24), ("darkness", darkness, 1, 50),
                            ("levels", levels, 2, 255)):
        if not lo <= v <= hi:
            raise ExportError(f"--{name} {v} must be in [{lo}, {hi}]")
    final = check_destination(out)
    items = items_from(source, engine)
    splits = split(len(items), val, seed)
    named = [replace(it, name=f"{sp}/{i + 1:06d}.jpg") for i, (it, sp) in enumerate(zip(items, splits))]
    params = {"source": str(Path(source).expanduser().resolve()), "size": size, "val": val,
              "detail": detail, "darkness": darkness, "levels": levels, "quality": QUALITY}
    jobs = [(i, it, size, detail, darkness, levels) for i, it in enumerate(named)]
    workers = workers or os.cpu_count() or 1
    problems: list[str] = []
    with export_folder(engine, final, "sketch_pairs", params, seed) as w:
        tmp = w.tmp
        (tmp / "train").mkdir()
        (tmp / "val").mkdir()
        bar = tqdm(total=len(jobs), desc="sketch pairs", unit="pair", disable=not progress)
        try:
            for i, sha, result in run_jobs(_work, jobs, workers, inline_below=8, chunksize=4):
                if not named[i].content_hash:
                    named[i] = replace(named[i], content_hash=sha)
                if isinstance(result, str):
                    problems.append(result)
                elif not problems:
                    (tmp / named[i].name).write_bytes(result)
                bar.update()
        finally:
            bar.close()
        fail_on_problems(problems)
        counts = {"pairs": len(named), "train": splits.count("train"), "val": splits.count("val")}
        w.done(named, counts)
    return w.result
