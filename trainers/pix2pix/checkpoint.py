"""What the predict command and the galleries need from a pix2pix run: find its checkpoint, load
the generator, and rebuild a face from a photo or a sketch.

A checkpoint is TensorFlow's ``checkpoints/epoch-N`` prefix (``epoch-N.index`` +
``epoch-N.data-*``, written by the trainer's CheckpointManager); the run's settings are its
``config.json`` (:mod:`trainers.runs`). Both are data: TensorFlow reads the tensor bundle
(protocol buffers and raw tensor bytes) into variables built here, and the settings are JSON;
nothing is unpickled or evaluated, and a file that is not a checkpoint gives a ValueError
naming it. Inference calls the generator with ``training=True``, as
the tutorial and the paper do (batch statistics and dropout; see docs/pix2pix.md).

TensorFlow is imported inside the functions that need it, so importing this module is cheap.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from trainers import runs
from trainers.common.sketch import sketch
from trainers.pix2pix.config import load_config

log = logging.getLogger(__name__)


def resolve(run_or_checkpoint: str | Path) -> tuple[Path, str]:
    """(run folder, checkpoint prefix) from a run folder (its newest checkpoint), its
    checkpoints/ folder, or a checkpoint prefix such as ``runs/x/checkpoints/epoch-3``."""
    path = Path(run_or_checkpoint)
    if runs.is_run(path):
        run_dir = path
    elif path.is_dir() and runs.is_run(path.parent):
        run_dir = path.parent
    elif Path(f"{path}.index").is_file():
        return path.parent.parent, str(path)
    else:
        raise FileNotFoundError(f"{path} is neither a pix2pix run folder nor a checkpoint "
                                f"(expected runs/<name>, its checkpoints/ or checkpoints/epoch-N)")
    prefix = runs.newest_checkpoint(run_dir)
    if prefix is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet (checkpoints/ is empty)")
    return run_dir, str(prefix)


def _unreadable(prefix: str, e: Exception) -> ValueError:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return ValueError(f"{prefix}: cannot be read as a pix2pix checkpoint ({first})")


def checkpoint_size(prefix: str) -> int:
    """The image size a checkpoint was trained at (saved alongside the weights); ValueError
    naming the checkpoint when it cannot be read as one."""
    import tensorflow as tf

    try:
        return int(tf.train.load_checkpoint(prefix).get_tensor("size/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.OpError, ValueError) as e:
        raise _unreadable(prefix, e) from None


def load_generator(run_or_checkpoint: str | Path):
    """(generator, config) of a run's newest checkpoint, or of the given checkpoint."""
    import tensorflow as tf

    from trainers.pix2pix.model import build_generator

    run_dir, prefix = resolve(run_or_checkpoint)
    config = load_config(run_dir)
    trained_at = checkpoint_size(prefix)
    if trained_at != config.size:
        raise ValueError(f"checkpoint {prefix} was trained at {trained_at} px but {run_dir}/"
                         f"config.json says {config.size} px")
    generator = build_generator(config.size)
    try:
        tf.train.Checkpoint(generator=generator).restore(prefix).expect_partial()
    except (tf.errors.OpError, ValueError, AssertionError) as e:
        raise _unreadable(prefix, e) from None
    log.info("loaded %s (%d px)", prefix, config.size)
    return generator, config


def model_input(rgb: np.ndarray, side: int, is_sketch: bool) -> np.ndarray:
    """What the generator sees: ``rgb`` resized to side×side (Lanczos), then sketched with the
    export's effect (trainers.common.sketch, its defaults) unless it is a sketch already.
    HWC uint8."""
    if rgb.shape[:2] != (side, side):
        rgb = np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.LANCZOS))
    return rgb if is_sketch else sketch(rgb)


def rebuild(generator, rgb: np.ndarray, is_sketch: bool = False,
            size: int | None = None) -> np.ndarray:
    """A face photo (HWC uint8, the input's height and width) rebuilt from ``rgb``.

    rgb: HWC uint8 RGB photo (sketched first) or, with ``is_sketch``, a sketch.
    size: the generator's input side; default: read from the generator.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rebuild takes an HxWx3 uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    side = size or int(generator.input_shape[1])
    if side != generator.input_shape[1]:
        raise ValueError(f"size {side} does not match the generator's {generator.input_shape[1]} px")
    x = model_input(rgb, side, is_sketch).astype(np.float32)[None] / 127.5 - 1
    y = generator(x, training=True)  # batch statistics and dropout, as in training's grids
    y = np.clip(np.round((np.asarray(y)[0] + 1) * 127.5), 0, 255).astype(np.uint8)
    h, w = rgb.shape[:2]
    if (h, w) != (side, side):
        y = np.asarray(Image.fromarray(y).resize((w, h), Image.BICUBIC))
    return y
