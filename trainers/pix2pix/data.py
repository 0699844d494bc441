"""Reading a sketch-pair export into ``tf.data`` pipelines.

Layout (DESIGN.md, and the TensorFlow pix2pix tutorial's): ``train/`` and ``val/`` folders of
images twice as wide as high, the photo in the LEFT half and the sketch in the RIGHT half.
The generator's input is the sketch (right half), its target the photo (left half).
A folder of pairs without ``train/``/``val/`` (or with ``train/`` only) is split at random.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png"})
LAYOUT = ("train/ and val/ folders of JPEGs twice as wide as high, "
          "photo in the left half, sketch in the right half")


class PairsError(ValueError):
    """The pairs folder cannot be trained on; str() says which file and why."""


@dataclass(frozen=True)
class PairFiles:
    train: list[str]
    val: list[str]
    split: str  # how val was chosen: "val/ folder" or "random share ... seed ..."


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def check_pair(path: Path) -> None:
    """Raise PairsError unless ``path`` is a readable image exactly twice as wide as high."""
    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError) as e:
        raise PairsError(f"{path}: not a readable image ({e})") from None
    if width != 2 * height:
        raise PairsError(f"{path}: {width}×{height} px is not a pair; expected an image twice as "
                         f"wide as high (photo left, sketch right)")


def find_pairs(root: str | Path, val_share: float = 0.2, seed: int = 0) -> PairFiles:
    """The train and val pair files of an export; checks every file's header first."""
    root = Path(root)
    if not root.is_dir():
        raise PairsError(f"pairs folder {root} does not exist; expected {LAYOUT}")
    train_dir, val_dir = root / "train", root / "val"
    if train_dir.is_dir():
        train = _images(train_dir)
        if not train:
            raise PairsError(f"{train_dir} holds no .jpg/.png pairs; expected {LAYOUT}")
        val = _images(val_dir) if val_dir.is_dir() else []
        if val_dir.is_dir() and not val:
            raise PairsError(f"{val_dir} holds no .jpg/.png pairs; expected {LAYOUT}")
        split = "val/ folder"
    else:
        train = _images(root)
        if not train:
            found = sorted(p.name for p in root.iterdir())[:5]
            raise PairsError(f"{root} has no train/ folder and no .jpg/.png pairs "
                             f"(found: {found or 'nothing'}); expected {LAYOUT}")
        val = []
    for path in train + val:
        check_pair(path)
    if not val:
        if len(train) < 2:
            raise PairsError(f"{root} has a single pair; a train/val split needs at least 2")
        shuffled = train[:]
        random.Random(seed).shuffle(shuffled)
        n_val = min(len(train) - 1, max(1, round(len(train) * val_share)))
        val, train = sorted(shuffled[:n_val]), sorted(shuffled[n_val:])
        split = f"random {val_share:.0%} held out, seed {seed}"
    log.info("pairs: %d train, %d val (%s)", len(train), len(val), split)
    return PairFiles([str(p) for p in train], [str(p) for p in val], split)


def decode_pair(path: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(sketch, photo) uint8 size×size×3 from one side-by-side file: sketch = right half."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    half = tf.shape(image)[1] // 2
    photo, sketch = image[:, :half], image[:, half:2 * half]

    def fit(x):
        same = tf.logical_and(tf.shape(x)[0] == size, tf.shape(x)[1] == size)
        resized = lambda: tf.cast(tf.round(tf.clip_by_value(  # noqa: E731
            tf.image.resize(x, [size, size], antialias=True), 0, 255)), tf.uint8)
        return tf.ensure_shape(tf.cond(same, lambda: x, resized), [size, size, 3])

    return fit(sketch), fit(photo)


def to_unit(x: tf.Tensor) -> tf.Tensor:
    """uint8 [0, 255] → float32 [-1, 1] (the tanh range the generator works in)."""
    return tf.cast(x, tf.float32) / 127.5 - 1.0


def augment(sketch, photo, size: int, jitter: float, mirror: bool):
    """The tutorial's random jitter: enlarge (nearest), random crop back, random mirror.

    Sketch and photo are stacked so they always get the same crop and flip.
    """
    pair = tf.concat([sketch, photo], axis=-1)
    if jitter > 0:
        big = int(round(size * (1 + jitter)))
        pair = tf.image.resize(pair, [big, big], method="nearest")
        pair = tf.image.random_crop(pair, [size, size, 6])
    if mirror:
        pair = tf.image.random_flip_left_right(pair)
    pair = to_unit(pair)
    return pair[..., :3], pair[..., 3:]


def train_dataset(files: list[str], size: int, batch: int, jitter: float, mirror: bool,
                  seed: int) -> tf.data.Dataset:
    """Shuffled, jittered (sketch, photo) batches in [-1, 1]; decoded once, then cached."""
    if len(files) < batch:
        raise PairsError(f"{len(files)} training pairs cannot fill one batch of {batch}")
    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.map(lambda p: decode_pair(p, size), num_parallel_calls=tf.data.AUTOTUNE).cache()
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda s, p: augment(s, p, size, jitter, mirror),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    # Whole batches only: static shapes keep XLA to one compilation and replicas even.
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def val_dataset(files: list[str], size: int, batch: int) -> tf.data.Dataset:
    """(sketch, photo) batches in [-1, 1] in file order, no augmentation."""
    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.map(lambda p: decode_pair(p, size), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda s, p: (to_unit(s), to_unit(p))).cache()
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)
