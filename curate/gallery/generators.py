"""Trained generators in the galleries: StyleGAN mixing grids and strips, pix2pix rebuilds.

(Named generators, not models, to stay apart from db/models.py, the database tables.)

The trainers are imported inside the functions that need them, so a page that lists runs or
datasets never loads torch or TensorFlow (and the two are never needed by the same page).
Generation runs on the GPU when there is one, else on the CPU.

Checkpoints are listed and loaded only inside their run's root (:mod:`curate.gallery.runs`):
a checkpoint file (StyleGAN ``.pt``; pix2pix ``.index`` and ``.data-*``) that resolves elsewhere
is not offered, and :func:`checked_checkpoint` checks again right before a page loads one.
Loading itself is data only: StyleGAN files through ``torch.load(weights_only=True)``
(trainers.stylegan.checkpoint), pix2pix through TensorFlow's tensor-bundle reader.
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
from trainers import runs as layout

MAX_SEEDS = 8  # source or style faces in one mixing grid
MAX_SEED = 2**31 - 1
MAX_UPLOAD_SIDE = 2048  # px; a larger upload is scaled down before anything else


def checkpoint_files(checkpoint: str | os.PathLike) -> list[str]:
    """The files a checkpoint is read from: the ``.pt`` itself, or a pix2pix prefix's
    ``.index`` and ``.data-*`` files."""
    path = str(checkpoint)
    if path.endswith(".pt"):
        return [path]
    folder, name = os.path.split(path)
    try:
        data = [os.path.join(folder, n) for n in os.listdir(folder) if n.startswith(f"{name}.data-")]
    except OSError:
        data = []
    return [f"{path}.index", *data]


def checkpoints(run: Run) -> list[tuple[int, str]]:
    """(iteration or epoch, checkpoint) of each of the run's checkpoints, newest first:
    StyleGAN ``checkpoints/NNNNNN.pt`` files, pix2pix ``checkpoints/epoch-N`` prefixes.
    A checkpoint any of whose files resolves outside the run's root is left out."""
    return [(step, str(path)) for step, path in layout.checkpoints(run.path)
            if all(run.holds(f) for f in checkpoint_files(path))]


def checked_checkpoint(run: Run, checkpoint: str | os.PathLike) -> str:
    """``checkpoint`` with its folder's symlinks resolved, after checking that its folder and
    every file it is read from stay inside the run's root; ValueError if not."""
    path = Path(os.path.realpath(Path(checkpoint).parent)) / Path(checkpoint).name
    if not (run.holds(path.parent) and all(run.holds(f) for f in checkpoint_files(path))):
        raise ValueError(f"{Path(checkpoint).name} lies outside the run folders and is not read")
    return str(path)


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
    from trainers.stylegan.sampling import load_generator

    return load_generator(Path(checkpoint), device or torch_device())


def mixing_png(checkpoint: str | os.PathLike, sources: list[int], styles: list[int],
               device: str | None = None, loaded=None) -> bytes:
    """The style-mixing grid (trainers.stylegan.sampling.mixing_grid_for) as PNG bytes.

    loaded: the (G, config, info) of load_stylegan, to skip reading the checkpoint again.
    """
    from trainers.stylegan.sampling import mixing_grid_for

    G, _, info = loaded or load_stylegan(checkpoint, device)
    return png_bytes(mixing_grid_for(G, info, sources, styles))


def interpolation_png(checkpoint: str | os.PathLike, seed_a: int, seed_b: int, steps: int = 8,
                      device: str | None = None) -> bytes:
    """The interpolation strip from seed_a's face to seed_b's as PNG bytes."""
    from trainers.stylegan.sampling import interpolation_strip

    return png_bytes(interpolation_strip(Path(checkpoint), seed_a, seed_b, steps, device or torch_device()))


def decode_upload(data: bytes, name: str = "") -> np.ndarray:
    """An uploaded file as HWC uint8 RGB, scaled down past MAX_UPLOAD_SIDE; raises BadImage."""
    img = to_rgb(read_image(data, name))
    if max(img.size) > MAX_UPLOAD_SIDE:
        img.thumbnail((MAX_UPLOAD_SIDE, MAX_UPLOAD_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(img)


def load_pix2pix(checkpoint: str | os.PathLike):
    """(generator, config) of a pix2pix checkpoint prefix or run folder (TensorFlow)."""
    from trainers.pix2pix.checkpoint import load_generator

    return load_generator(checkpoint)


def sketch_to_face(generator, rgb: np.ndarray, is_sketch: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the sketch the model sees, the face it rebuilds), both at the model's square size.

    A photo is resized to the model's side (Lanczos) and sketched with the export's effect
    (trainers.common.sketch, its defaults): trainers.pix2pix.checkpoint.model_input, as rebuild
    does.
    """
    from trainers.pix2pix.checkpoint import model_input, rebuild

    drawn = model_input(rgb, int(generator.input_shape[1]), is_sketch)
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
