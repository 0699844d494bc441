"""Use a trained pix2pix run: photo or sketch of any size → rebuilt face photo of the same size.

``python -m trainers.pix2pix.predict RUN_OR_CHECKPOINT INPUT... --out DIR [--is-sketch] [--export]``

In-process (the galleries call this; no printing, CPU is fine)::

    generator, config = load_generator("runs/0003")
    face = rebuild(generator, rgb)            # rgb: HWC uint8, a photo; sketched first
    face = rebuild(generator, drawing, is_sketch=True)

The input is resized to the run's square size (Lanczos), sketched with the export's effect
(curate.sketch, its defaults) unless it is a sketch already, rebuilt, and resized back.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from curate.sketch import sketch
from trainers.pix2pix.config import Pix2PixConfig, load_config

log = logging.getLogger(__name__)


def _resolve(run_or_checkpoint: str | Path) -> tuple[Path, str]:
    """(run folder, checkpoint prefix) from a run folder, its checkpoints/ or a checkpoint."""
    import tensorflow as tf

    path = Path(run_or_checkpoint)
    if (path / "config.json").is_file():
        run_dir, ckpt_dir = path, path / "checkpoints"
        prefix = tf.train.latest_checkpoint(str(ckpt_dir))
    elif path.is_dir() and (path.parent / "config.json").is_file():
        run_dir, prefix = path.parent, tf.train.latest_checkpoint(str(path))
    elif Path(f"{path}.index").is_file():
        run_dir, prefix = path.parent.parent, str(path)
    else:
        raise FileNotFoundError(f"{path} is neither a pix2pix run folder nor a checkpoint "
                                f"(expected runs/<name>, its checkpoints/ or checkpoints/epoch-N)")
    if not prefix:
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet (checkpoints/ is empty)")
    return run_dir, prefix


def load_generator(run_or_checkpoint: str | Path):
    """(generator, config) of a run's newest checkpoint, or of the given checkpoint."""
    import tensorflow as tf

    from trainers.pix2pix.model import build_generator
    from trainers.pix2pix.train import checkpoint_size

    run_dir, prefix = _resolve(run_or_checkpoint)
    config = load_config(run_dir)
    trained_at = checkpoint_size(prefix)
    if trained_at != config.size:
        raise ValueError(f"checkpoint {prefix} was trained at {trained_at} px but {run_dir}/"
                         f"config.json says {config.size} px")
    generator = build_generator(config.size)
    tf.train.Checkpoint(generator=generator).restore(prefix).expect_partial()
    log.info("loaded %s (%d px)", prefix, config.size)
    return generator, config


def _square(rgb: np.ndarray, size: int) -> np.ndarray:
    if rgb.shape[:2] == (size, size):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.LANCZOS))


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
    x = _square(rgb, side)
    if not is_sketch:
        x = sketch(x)
    x = x.astype(np.float32)[None] / 127.5 - 1
    y = generator(x, training=True)  # batch statistics and dropout, as in training's grids
    y = np.clip(np.round((np.asarray(y)[0] + 1) * 127.5), 0, 255).astype(np.uint8)
    h, w = rgb.shape[:2]
    if (h, w) != (side, side):
        y = np.asarray(Image.fromarray(y).resize((w, h), Image.BICUBIC))
    return y


def export(generator, config: Pix2PixConfig, out: Path) -> list[Path]:
    """``generator.keras`` (Keras 3) and ``saved_model/`` (TF Serving, TFLite converters).

    The SavedModel's ``serve`` (and ``serving_default``) takes float32 [N, size, size, 3] sketches in [-1, 1]
    and returns images in [-1, 1], with batch statistics as in training.
    """
    import keras
    import tensorflow as tf

    out.mkdir(parents=True, exist_ok=True)
    keras_path = out / "generator.keras"
    generator.save(keras_path)
    # ExportArchive (not a bare tf.Module) also tracks the dropout layers' seed state.
    archive = keras.export.ExportArchive()
    archive.track(generator)
    spec = tf.TensorSpec([None, config.size, config.size, 3], tf.float32, name="sketch")
    archive.add_endpoint(name="serve", fn=lambda x: generator(x, training=True),
                         input_signature=[spec])
    saved = out / "saved_model"
    archive.write_out(str(saved), verbose=False)
    (out / "pix2pix.json").write_text(json.dumps(config.to_json(), indent=2) + "\n")
    return [keras_path, saved]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainers.pix2pix.predict",
        description="Rebuild face photos from photos (sketched first) or sketches.")
    parser.add_argument("run", help="run folder (runs/<name>), its checkpoints/, or a checkpoint")
    parser.add_argument("inputs", nargs="+", help="image files (any size)")
    parser.add_argument("--out", required=True, help="folder for the rebuilt PNGs")
    parser.add_argument("--is-sketch", action="store_true",
                        help="the inputs are sketches already: skip the sketch effect")
    parser.add_argument("--export", action="store_true",
                        help="also write generator.keras and saved_model/ into --out")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = Path(args.out)
    try:
        generator, config = load_generator(args.run)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.inputs:
        try:
            with Image.open(name) as img:
                rgb = np.asarray(img.convert("RGB"))
        except (OSError, ValueError) as e:
            print(f"skipped {name}: not a readable image ({e})", file=sys.stderr)
            failed += 1
            continue
        face = rebuild(generator, rgb, is_sketch=args.is_sketch)
        target = out / f"{Path(name).stem}.png"
        Image.fromarray(face).save(target)
        print(target)
    if args.export:
        for path in export(generator, config, out):
            print(path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
