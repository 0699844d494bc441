"""Use a trained pix2pix run: photo or sketch of any size → rebuilt face photo of the same size.

``python -m trainers.pix2pix.predict RUN_OR_CHECKPOINT INPUT... --out DIR [--is-sketch] [--export]``

The command line, and the export of a generator for serving. In-process callers (the
galleries) use :mod:`trainers.pix2pix.checkpoint`::

    generator, config = load_generator("runs/pix2pix-20250101-120000")
    face = rebuild(generator, rgb)            # rgb: HWC uint8, a photo; sketched first
    face = rebuild(generator, drawing, is_sketch=True)

The input is resized to the run's square size (Lanczos), sketched with the export's effect
(trainers.common.sketch, its defaults) unless it is a sketch already, rebuilt, and resized back.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from trainers.pix2pix.checkpoint import load_generator, rebuild
from trainers.pix2pix.config import Pix2PixConfig
from trainers.pix2pix.quiet import tensorflow_output


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
    with tensorflow_output():  # TF's harmless start-up lines filtered (quiet.py)
        return _predict(args)


def _predict(args: argparse.Namespace) -> int:
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
