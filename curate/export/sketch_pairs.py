"""`curate export sketch-pairs`: photo | sketch side by side, split into train/ and val/.

Each photo is centre-cropped to a square (its short side), resized with Lanczos to `size`,
and put in the LEFT half of a JPEG twice as wide as high; its sketch (trainers.common.sketch, the
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

from curate.export.common import check_file, fail_on_problems, items_from, run_jobs
from curate.export.folder import ExportResult, export_folder
from curate.export.records import check_destination
from curate.export.registry import SketchPairs
from curate.imaging import BadImage, encode_jpeg, read_image, to_rgb
from curate.progress import Progress, bar as progress_bar
from trainers.common.sketch import sketch

QUALITY = 95  # JPEG quality of the pairs


def square_photo(img: Image.Image, size: int) -> np.ndarray:
    """Centre-cropped square of the short side, resized with Lanczos to size×size (HWC uint8)."""
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return np.asarray(img.resize((size, size), Image.Resampling.LANCZOS,
                                 box=(left, top, left + s, top + s)))


def pair(photo: np.ndarray, **effect) -> np.ndarray:
    """[photo | sketch(photo)]: HxW → Hx2W, photo left, sketch right.

    effect: detail, darkness, levels for trainers.common.sketch.sketch (default: the seed's
    effect there).
    """
    return np.concatenate([photo, sketch(photo, **effect)], axis=1)


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
    effect = dict(detail=detail, darkness=darkness, levels=levels)
    return index, sha, encode_jpeg(pair(photo, **effect), QUALITY)


def export_sketch_pairs(engine, out: str | os.PathLike, source: str | os.PathLike, *,
                        progress: Progress = True, **options) -> ExportResult:
    """Write sketch pairs of the photos of `source` (an export or a folder of images) to `out`.

    options: the fields of registry.SketchPairs, where their defaults live (256 px squares,
    so pairs 512×256; val 0.2; seed 0; the seed's effect: detail 15, darkness 3, levels 10;
    workers None = all cores).
    """
    p = SketchPairs(source=source, **options)
    final = check_destination(out, engine, p.kind)
    items = items_from(p.source, engine)
    splits = split(len(items), p.val, p.seed)
    named = [replace(it, name=f"{sp}/{i + 1:06d}.jpg") for i, (it, sp) in enumerate(zip(items, splits))]
    params = {"source": str(Path(p.source).expanduser().resolve()), "size": p.size, "val": p.val,
              "detail": p.detail, "darkness": p.darkness, "levels": p.levels, "quality": QUALITY}
    jobs = [(i, it, p.size, p.detail, p.darkness, p.levels) for i, it in enumerate(named)]
    workers = p.workers or os.cpu_count() or 1
    problems: list[str] = []
    with export_folder(engine, final, p.kind, params, p.seed, reads=items) as w:
        tmp = w.tmp
        (tmp / "train").mkdir()
        (tmp / "val").mkdir()
        bar = progress_bar(progress, total=len(jobs), desc="sketch pairs", unit="pair")
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
