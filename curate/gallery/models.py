"""Using trained models from the galleries: StyleGAN mixing grids and strips, pix2pix rebuilds.

The trainers are imported inside the functions that need them, so a page that lists runs or
datasets never loads torch or TensorFlow (and the two are never needed by the same page).
Generation runs on the GPU when there is one, else on the CPU.
"""
from __future__ import annotations

import io
import os
import random
import re
from pathlib import Path

import numpy as np
from PIL import Image

from curate.gallery.runs import Run
from curate.imaging import read_image, to_rgb

MAX_SEEDS = 8  # source or style faces in one mixing grid
MAX_SEED = 2**31 - 1
MAX_UPLOAD_SIDE = 2048  # px; a larger upload is scaled down before anything else
_PT = re.compile(r"^(\d+)\.pt$")
_TF = re.compile(r"^epoch-(\d+)\.index$")


def stylegan_checkpoints(run: Run) -> list[tuple[int, str]]:
    """(iteration, path) of each checkpoints/NNNNNN.pt, newest first."""
    return sorted(((int(m.group(1)), str(p)) for p in (run.path / "checkpoints").glob("*.pt")
                   if (m := _PT.match(p.name))), reverse=True)


def pix2pix_checkpoints(run: Run) -> list[tuple[int, str]]:
    """(epoch, checkpoint prefix) of each checkpoints/epoch-N, newest first."""
    found = (run.path / "checkpoints").glob("*.index")
    return sorted(((int(m.group(1)), str(p.with_suffix(""))) for p in found
                   if (m := _TF.match(p.name))), reverse=True)


def parse_seeds(text: str, *, limit: int = MAX_SEEDS) -> list[int]:
    """'1, 2 7' → [1, 2, 7]; raises ValueError with a message a person can act on."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise ValueError("give at least one seed (whole numbers, separated by commas)")
    try:
        seeds = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"seeds must be whole numbers, got {text!r}") from None
    if any(not 0 <= s <= MAX_SEED for s in seeds):
        raise ValueError(f"seeds must be between 0 and {MAX_SEED}")
    if len(seeds) > limit:
        raise ValueError(f"at most {limit} seeds, got {len(seeds)}")
    return seeds


def random_seeds(n: int, rng: random.Random | None = None) -> list[int]:
    rng = rng or random.Random()
    return [rng.randrange(0, 100_000) for _ in range(n)]


def torch_device() -> str:
    from trainers.stylegan.checkpoint import pick_device

    return pick_device("auto")


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def load_stylegan(checkpoint: str | os.PathLike, device: str | None = None):
    """(G_ema, config, info) of a StyleGAN checkpoint, on the GPU when there is one."""
    from trainers.stylegan.generate import load_generator

    return load_generator(Path(checkpoint), device or torch_device())


def mixing_png(checkpoint: str | os.PathLike, sources: list[int], styles: list[int],
               device: str | None = None, loaded=None) -> bytes:
    """The style-mixing grid (trainers.stylegan.mix) as PNG bytes.

    loaded: the (G, config, info) of load_stylegan, to skip reading the checkpoint again.
    """
    from trainers.stylegan.mix import mixing_grid_for

    G, _, info = loaded or load_stylegan(checkpoint, device)
    return png_bytes(mixing_grid_for(G, info, sources, styles))


def interpolation_png(checkpoint: str | os.PathLike, seed_a: int, seed_b: int, steps: int = 8,
                      device: str | None = None) -> bytes:
    """The interpolation strip from seed_a's face to seed_b's as PNG bytes."""
    from trainers.stylegan.generate import interpolation_strip

    return png_bytes(interpolation_strip(Path(checkpoint), seed_a, seed_b, steps, device or torch_device()))


def decode_upload(data: bytes, name: str = "") -> np.ndarray:
    """An uploaded file as HWC uint8 RGB, scaled down past MAX_UPLOAD_SIDE; raises BadImage."""
    img = to_rgb(read_image(data, name))
    if max(img.size) > MAX_UPLOAD_SIDE:
        img.thumbnail((MAX_UPLOAD_SIDE, MAX_UPLOAD_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(img)


def load_pix2pix(checkpoint: str | os.PathLike):
    """(generator, config) of a pix2pix checkpoint prefix or run folder (TensorFlow)."""
    from trainers.pix2pix.predict import load_generator

    return load_generator(checkpoint)


def sketch_to_face(generator, rgb: np.ndarray, is_sketch: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the sketch the model sees, the face it rebuilds), both at the model's square size.

    A photo is resized to the model's side (Lanczos) and sketched with the export's effect
    (curate.sketch, its defaults), exactly as trainers.pix2pix.predict.rebuild does.
    """
    from curate.sketch import sketch
    from trainers.pix2pix.predict import rebuild

    side = int(generator.input_shape[1])
    img = Image.fromarray(rgb)
    if img.size != (side, side):
        img = img.resize((side, side), Image.Resampling.LANCZOS)
    x = np.asarray(img)
    drawn = x if is_sketch else sketch(x)
    return drawn, rebuild(generator, drawn, is_sketch=True)


def enlarge(rgb: np.ndarray, side: int) -> np.ndarray:
    """Nearest-neighbour enlargement to at least `side` px (a 32 px model output stays crisp)."""
    h, w = rgb.shape[:2]
    k = max(1, side // max(h, w))
    return np.repeat(np.repeat(rgb, k, 0), k, 1) if k > 1 else rgb


def mtime(path: str | os.PathLike) -> float:
    """A file's modification time (0 when gone): part of a cache key for generated images."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
