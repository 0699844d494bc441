"""pix2pix training speed: the full trainer against the tutorial's bare step.

For 256×256 batch 1 and 64×64 batch 16 this prints one JSON line with
- ``bare_img_per_s``: the TensorFlow tutorial's recipe (one ``@tf.function`` train step on
  tensors already in memory; no XLA, no input pipeline, no logging) on the same networks;
- ``trainer_img_per_s``: ``trainers.pix2pix.train.train`` on a pairs folder on disk, i.e. the
  real ``tf.data`` pipeline (decode, cache, jitter, mirror, prefetch), progress bar and loss
  bookkeeping, read from ``metrics.jsonl`` of its last epoch (the first one includes tracing);
- ``ratio`` = trainer / bare (target ≥ 1.2), and ``trainer_epoch_img_per_s``, the same epoch
  counting its end-of-epoch work too (validation L1, grid, checkpoint, TensorBoard).

Rounds alternate bare and trainer (each its own networks and run folder); the medians are
reported beside every round and the 1-minute load average. The trainer runs with its defaults
for this machine: mixed precision in bfloat16 on a CPU with AMX-BF16 (float16 on a GPU), XLA
on a GPU only; the bare step is the tutorial's float32 step.

    python benchmarks/pix2pix_step.py [--steps 24] [--rounds 3] [--configs 256x1 64x16]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from trainers.common.sketch import sketch  # noqa: E402


def write_pairs(folder: Path, count: int, size: int, seed: int) -> None:
    """Synthetic faces (ellipses on white) beside their sketches, in the export's layout."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        img = Image.new("RGB", (size, size), (255, 255, 255))
        d = ImageDraw.Draw(img)
        c = rng.integers(0, 256, (3, 3))
        s = size / 8
        d.ellipse([2 * s, 1 * s, 6 * s, 5 * s], fill=tuple(int(v) for v in c[0]))
        d.ellipse([2.3 * s, 2 * s, 5.7 * s, 7.5 * s], fill=tuple(int(v) for v in c[1]))
        d.ellipse([3 * s, 3.5 * s, 3.6 * s, 4 * s], fill=tuple(int(v) for v in c[2]))
        face = np.asarray(img)
        Image.fromarray(np.concatenate([face, sketch(face)], 1)).save(folder / f"{i:05d}.jpg",
                                                                        quality=95)


def bare_rate(size: int, batch: int, steps: int) -> float:
    """The tutorial's train step, verbatim in structure, on in-memory tensors."""
    import tensorflow as tf

    from trainers.pix2pix.model import build_discriminator, build_generator

    G, D = build_generator(size), build_discriminator(size)
    g_opt = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)
    d_opt = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    x = tf.random.uniform([batch, size, size, 3], -1, 1)
    y = tf.random.uniform([batch, size, size, 3], -1, 1)

    @tf.function
    def train_step(input_image, target):
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            gen_output = G(input_image, training=True)
            disc_real = D([input_image, target], training=True)
            disc_fake = D([input_image, gen_output], training=True)
            gan = bce(tf.ones_like(disc_fake), disc_fake)
            l1 = tf.reduce_mean(tf.abs(target - gen_output))
            gen_loss = gan + 100 * l1
            disc_loss = bce(tf.ones_like(disc_real), disc_real) + bce(tf.zeros_like(disc_fake),
                                                                      disc_fake)
        g_grads = gen_tape.gradient(gen_loss, G.trainable_variables)
        d_grads = disc_tape.gradient(disc_loss, D.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, G.trainable_variables))
        d_opt.apply_gradients(zip(d_grads, D.trainable_variables))
        return gen_loss, disc_loss

    for _ in range(2):  # trace and warm up
        train_step(x, y)[0].numpy()
    start = time.perf_counter()
    for _ in range(steps):
        out = train_step(x, y)
    out[0].numpy()
    return steps * batch / (time.perf_counter() - start)


def trainer_rate(size: int, batch: int, steps: int, root: Path) -> tuple[float, float]:
    from trainers.pix2pix.config import Pix2PixConfig
    from trainers.pix2pix.train import train

    pairs = root / f"pairs{size}"
    write_pairs(pairs / "train", steps * batch, size, seed=0)
    write_pairs(pairs / "val", 2, size, seed=1)
    cfg = Pix2PixConfig(pairs=str(pairs), out=str(root / f"run{size}"), size=size, batch=batch,
                        epochs=2, grid_pairs=2)
    run = train(cfg)
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    return last["images_per_s"], steps * batch / last["epoch_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=24, help="timed steps per measurement")
    parser.add_argument("--configs", nargs="+", default=["256x1", "64x16"], help="SIZExBATCH")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians reported")
    args = parser.parse_args()
    import tensorflow as tf

    from trainers.pix2pix.train import setup_devices
    from trainers.pix2pix.config import Pix2PixConfig

    device = "gpu" if tf.config.list_physical_devices("GPU") else f"cpu ({os.cpu_count()} cores)"
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.configs:
            size, batch = (int(v) for v in spec.split("x"))
            bare, trainer, epoch, loads = [], [], [], []
            for r in range(args.rounds):
                loads.append(os.getloadavg()[0])
                bare.append(bare_rate(size, batch, args.steps))
                t, e = trainer_rate(size, batch, args.steps, Path(tmp) / f"r{r}")
                trainer.append(t)
                epoch.append(e)
            loads.append(os.getloadavg()[0])
            dev = setup_devices(Pix2PixConfig(pairs=tmp, size=size, batch=batch))
            b, t = statistics.median(bare), statistics.median(trainer)
            print(json.dumps({"benchmark": "pix2pix_step", "size": size, "batch": batch,
                              "steps": args.steps, "device": device, "trainer_precision": dev.policy,
                              "trainer_xla": dev.xla, "bare_img_per_s": round(b, 3),
                              "trainer_img_per_s": round(t, 3), "ratio": round(t / b, 3),
                              "ratios": [round(x / y, 3) for x, y in zip(trainer, bare)],
                              "bare_rounds": [round(x, 3) for x in bare],
                              "trainer_rounds": [round(x, 3) for x in trainer],
                              "trainer_epoch_img_per_s": round(statistics.median(epoch), 3),
                              "load_avg_1min": [round(x, 2) for x in loads]}), flush=True)


if __name__ == "__main__":
    main()
