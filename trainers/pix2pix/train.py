"""The pix2pix training loop: ``train(cfg)`` with named phases, small helpers around it.

Run folder (:mod:`trainers.runs`): ``config.json``, ``metrics.jsonl`` (one line per epoch),
``samples/{epoch:04d}.png`` (sketch | real | generated on fixed validation pairs),
``checkpoints/`` (``tf.train.CheckpointManager``, the newest ``keep_checkpoints``), ``tb/``.
An epoch's metrics row is appended before its checkpoint is saved; a resumed run removes temp
files a killed write left and keeps the rows up to its checkpoint's epoch (a torn line dropped).

Inference (grids, validation L1, predict) calls the generator with ``training=True``, as the
tutorial and the paper do: batch norm normalises over the batch the generator is given (the
grid's validation pairs together, a validation batch, or the one image predict rebuilds) and
dropout stays on (the paper's only source of noise).
"""
from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm import tqdm

from trainers import runs
from trainers.common.fsutil import atomic_write_bytes
from trainers.pix2pix.checkpoint import checkpoint_size
from trainers.pix2pix.config import Pix2PixConfig, load_config
from trainers.pix2pix.data import decode_pair, find_pairs, to_unit, train_dataset, val_dataset
from trainers.pix2pix.model import (build_discriminator, build_generator, discriminator_loss,
                                    generator_loss)
from trainers.pix2pix.optim import make_optimizer

log = logging.getLogger(__name__)
LOSS_NAMES = ("loss_g", "loss_g_gan", "loss_g_l1", "loss_d")


class RunFolderError(ValueError):
    """Training stopped because the run folder could not be written."""


@dataclass
class Devices:
    strategy: tf.distribute.Strategy
    mixed_precision: bool
    xla: bool
    replicas: int
    policy: str = "float32"  # Keras dtype policy of the networks

    @property
    def loss_scaling(self) -> bool:
        return self.policy == "mixed_float16"  # bfloat16 has float32's range: no scaling


def cpu_has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (Intel AMX-BF16, ``amx_bf16`` in
    /proc/cpuinfo): oneDNN then runs the convolutions in bfloat16 at a fraction of their
    float32 time. Without it bfloat16 is emulated and slower."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " amx_bf16" in line for line in f)
    except OSError:
        return False


def setup_devices(cfg: Pix2PixConfig) -> Devices:
    """MirroredStrategy over several GPUs; mixed precision (float16 on GPUs, bfloat16 on a CPU
    with AMX-BF16) and XLA (GPUs only: on a CPU it measured 0.66-0.9x) unless switched off."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised (a second run in the same process)
            pass
    if not gpus:
        # On the CPU Grappler's remapper fuses the innermost down block's Conv2D + BiasAdd +
        # LeakyRelu into one oneDNN op and drops the BiasAdd that LeakyReluGrad still reads;
        # the mutation fails ("remapper failed: INVALID_ARGUMENT: Mutation::Apply error:
        # fanout '…/down4_act_1/LeakyRelu/LeakyReluGrad' exist for missing node
        # '…/down4_conv_1/BiasAdd'", an error-level line on every run) and the meta-optimizer
        # keeps the graph as it was before the remapper. Switching the remapper off runs the
        # same training graph without the error. Rewriting the block (max(x, 0.2x)) avoids the
        # fault too but shifts the Keras layer numbering that tf.train.Checkpoint keys on, so
        # existing checkpoints would no longer restore.
        tf.config.optimizer.set_experimental_options({"remapping": False})
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    on = lambda switch, cpu=False: switch == "on" or (switch == "auto" and (bool(gpus) or cpu))  # noqa: E731
    mixed = on(cfg.mixed_precision, cpu_has_bf16_matrix_units())
    policy = ("mixed_float16" if gpus else "mixed_bfloat16") if mixed else "float32"
    return Devices(strategy, mixed, on(cfg.xla), strategy.num_replicas_in_sync, policy)


def prepare_run_dir(cfg: Pix2PixConfig) -> Path:
    """Refuse a non-empty folder unless resuming; on resume, refuse a run of another size."""
    out = Path(cfg.out)
    if cfg.resume:
        if not runs.is_run(out):
            raise FileNotFoundError(f"--resume: {out} is not a pix2pix run folder (no config.json)")
        old = load_config(out)
        if old.size != cfg.size:
            raise ValueError(f"--resume: {out} was trained at {old.size} px, not --size {cfg.size}")
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; pass --resume to continue it or pick another --out")
    for folder in (runs.samples_dir(out, "pix2pix"), out / runs.CHECKPOINTS, out / "tb"):
        folder.mkdir(parents=True, exist_ok=True)
    runs.write_config(out, cfg.to_json())
    return out


def _summary_metadata(plugin: str, data_class: int):
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin),
        data_class=data_class)


def tb_scalar(name: str, value: float, step: int) -> None:
    """A TensorBoard scalar through TF's core summary op (works without the tensorboard package)."""
    from tensorflow.core.framework import summary_pb2

    tf.summary.write(name, tf.constant(value, tf.float32), step=step,
                     metadata=_summary_metadata("scalars", summary_pb2.DATA_CLASS_SCALAR))


def tb_image(name: str, image: np.ndarray, step: int) -> None:
    """A TensorBoard image (HWC uint8) in the images plugin's format: [width, height, png]."""
    from tensorflow.core.framework import summary_pb2

    h, w = image.shape[:2]
    png = tf.io.encode_png(image)
    tensor = tf.stack([tf.as_string(w), tf.as_string(h), png])
    tf.summary.write(name, tensor, step=step,
                     metadata=_summary_metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE))


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[-1, 1] float → [0, 255] uint8."""
    return np.clip(np.round((np.asarray(x, np.float32) + 1) * 127.5), 0, 255).astype(np.uint8)


def save_grid(path: Path, sketches, reals, fakes) -> np.ndarray:
    """One row per pair: sketch | real | generated, as a PNG; returns the HWC uint8 grid."""
    rows = [np.concatenate([to_uint8(s), to_uint8(r), to_uint8(f)], axis=1)
            for s, r, f in zip(sketches, reals, fakes)]
    grid = np.concatenate(rows, axis=0)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())  # the Runs page may be showing the folder
    return grid


def make_train_step(G, D, g_opt, d_opt, cfg: Pix2PixConfig, dev: Devices, global_batch: int):
    """One optimizer step of both networks; returns [loss_g, loss_g_gan, loss_g_l1, loss_d]."""

    def replica_step(sketch, photo):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = G(sketch, training=True)
            real_logits = D([sketch, photo], training=True)
            fake_logits = D([sketch, fake], training=True)
            g_total, g_gan, g_l1 = generator_loss(fake_logits, fake, photo, cfg.l1_lambda,
                                                  global_batch)
            d_loss = discriminator_loss(real_logits, fake_logits, global_batch)
            g_scaled = g_opt.scale_loss(g_total) if dev.loss_scaling else g_total
            d_scaled = d_opt.scale_loss(d_loss) if dev.loss_scaling else d_loss
        g_grads = g_tape.gradient(g_scaled, G.trainable_variables)
        d_grads = d_tape.gradient(d_scaled, D.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, G.trainable_variables))
        d_opt.apply_gradients(zip(d_grads, D.trainable_variables))
        return tf.stack([g_total, g_gan, g_l1, d_loss])

    inner = tf.function(replica_step, jit_compile=True) if dev.xla else replica_step

    @tf.function
    def train_step(iterator):
        # Pulling the batch inside the graph saves a Python round trip per step.
        per_replica = dev.strategy.run(inner, args=next(iterator))
        return dev.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return train_step


def fixed_val_pairs(files: list[str], size: int, count: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The first ``count`` validation pairs (file order), the same in every epoch's grid."""
    pairs = [decode_pair(tf.constant(f), size) for f in files[:count]]
    return (tf.stack([to_unit(s) for s, _ in pairs]), tf.stack([to_unit(p) for _, p in pairs]))


def train(cfg: Pix2PixConfig) -> Path:
    """Train (or resume) a run as ``cfg`` says; returns the run folder.

    A failed write (a full disk, a folder that became read-only) removes the temp files it left
    (runs.clean_leftovers: atomic-write temps, TensorFlow's ``_temp`` checkpoint folders) and
    raises RunFolderError naming the run folder; ``--resume`` continues from the newest
    checkpoint."""
    try:
        return _train(cfg)
    except (FileNotFoundError, FileExistsError):  # a missing input, a used folder: as they are
        raise
    except (OSError, tf.errors.ResourceExhaustedError, tf.errors.UnknownError,
            tf.errors.PermissionDeniedError, tf.errors.DataLossError) as e:
        runs.clean_leftovers(cfg.out)
        what = e.strerror if isinstance(e, OSError) and e.strerror else str(e).strip().splitlines()[0][:200]
        raise RunFolderError(f"{cfg.out}: training stopped, {what}; temp files removed, "
                             "--resume continues from the newest checkpoint") from None


def _train(cfg: Pix2PixConfig) -> Path:
    # Check the data before anything is written.
    pairs = find_pairs(cfg.pairs, cfg.val, cfg.seed)
    dev = setup_devices(cfg)
    global_batch = cfg.batch
    if global_batch % dev.replicas:
        raise ValueError(f"--batch {cfg.batch} does not split over {dev.replicas} GPUs")
    steps_per_epoch = len(pairs.train) // global_batch
    if steps_per_epoch == 0:
        raise ValueError(f"{len(pairs.train)} training pairs cannot fill one batch of {cfg.batch}")
    run_dir = prepare_run_dir(cfg)
    runs.clean_leftovers(run_dir)  # temp files of a run that was killed mid-write
    keras.utils.set_random_seed(cfg.seed)

    # Build networks.
    policy = keras.mixed_precision.global_policy()
    if dev.mixed_precision:
        keras.mixed_precision.set_global_policy(dev.policy)
    try:
        with dev.strategy.scope():
            G = build_generator(cfg.size)
            D = build_discriminator(cfg.size)
            g_opt = make_optimizer(cfg.optimizer, cfg.lr, cfg.beta1, dev.loss_scaling)
            d_opt = make_optimizer(cfg.optimizer, cfg.lr, cfg.beta1, dev.loss_scaling)
            g_opt.build(G.trainable_variables)
            d_opt.build(D.trainable_variables)
            epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
            step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
            size_var = tf.Variable(cfg.size, dtype=tf.int64, trainable=False)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    ckpt = tf.train.Checkpoint(generator=G, discriminator=D, g_opt=g_opt, d_opt=d_opt,
                               epoch=epoch_var, step=step_var, size=size_var)
    manager = tf.train.CheckpointManager(ckpt, str(run_dir / runs.CHECKPOINTS),
                                         max_to_keep=cfg.keep_checkpoints, checkpoint_name="epoch")
    if cfg.resume and manager.latest_checkpoint:
        trained_at = checkpoint_size(manager.latest_checkpoint)
        if trained_at != cfg.size:
            raise ValueError(f"checkpoint {manager.latest_checkpoint} was trained at "
                             f"{trained_at} px; this run uses --size {cfg.size}")
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log.info("resumed %s at epoch %d, step %d", manager.latest_checkpoint,
                 int(epoch_var), int(step_var))
    start_epoch, step = int(epoch_var) + 1, int(step_var)
    runs.truncate_metrics(run_dir, "epoch", start_epoch - 1)  # epochs past the checkpoint are redone

    # Load data.
    # One endless iterator: the next epoch's batches are prefetched while an epoch is logged.
    batches = iter(dev.strategy.experimental_distribute_dataset(train_dataset(
        pairs.train, cfg.size, global_batch, cfg.jitter, cfg.mirror, cfg.seed).repeat()))
    val_ds = val_dataset(pairs.val, cfg.size, max(global_batch, 8))
    grid_sketch, grid_photo = fixed_val_pairs(pairs.val, cfg.size, cfg.grid_pairs)
    generate = tf.function(lambda x: G(x, training=True))
    train_step = make_train_step(G, D, g_opt, d_opt, cfg, dev, global_batch)
    writer = tf.summary.create_file_writer(str(run_dir / "tb"))
    log.info("training %s: %d px, batch %d, %d steps/epoch, epochs %d..%d, mixed precision %s, "
             "XLA %s, %d replica(s)", run_dir, cfg.size, cfg.batch, steps_per_epoch,
             start_epoch, cfg.epochs, dev.policy, dev.xla, dev.replicas)

    # Train.
    for epoch in range(start_epoch, cfg.epochs + 1):
        lr = cfg.lr_at(epoch)
        g_opt.learning_rate = lr
        d_opt.learning_rate = lr
        epoch_start = time.perf_counter()
        sums = tf.zeros(len(LOSS_NAMES))
        bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch}/{cfg.epochs}", unit="step",
                   leave=False, disable=None, mininterval=1.0)
        for _ in range(steps_per_epoch):
            sums += train_step(batches)  # stays on device: no sync per step
            step += 1
            bar.update(1)
        bar.close()
        losses = (sums / steps_per_epoch).numpy()  # the one host sync of the epoch
        train_s = time.perf_counter() - epoch_start
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(f"epoch {epoch}: losses are not finite {losses.tolist()}")

        # Evaluate and log.
        l1_sum, n = 0.0, 0
        for sketch, photo in val_ds:
            l1_sum += float(tf.reduce_sum(tf.reduce_mean(tf.abs(generate(sketch) - photo), [1, 2, 3])))
            n += int(sketch.shape[0])
        grid = save_grid(runs.sample_path(run_dir, "pix2pix", epoch), grid_sketch.numpy(),
                         grid_photo.numpy(), generate(grid_sketch).numpy())
        record = {"epoch": epoch, "step": step,
                  **{k: float(v) for k, v in zip(LOSS_NAMES, losses)},
                  "val_l1": l1_sum / n, "lr": lr,
                  "images_per_s": steps_per_epoch * global_batch / train_s,
                  "epoch_s": time.perf_counter() - epoch_start, "time": time.time()}
        runs.append_metrics(run_dir, record)  # before the checkpoint: its row is never missing
        epoch_var.assign(epoch)
        step_var.assign(step)
        manager.save(checkpoint_number=epoch)
        with writer.as_default():
            for key in (*LOSS_NAMES, "val_l1", "lr", "images_per_s"):
                tb_scalar(key, record[key], step)
            tb_image("sketch_real_generated", grid, step)
        writer.flush()
        log.info("epoch %d: loss_g %.3f loss_d %.3f val_l1 %.4f, %.2f img/s", epoch,
                 record["loss_g"], record["loss_d"], record["val_l1"], record["images_per_s"])
    writer.close()
    return run_dir
