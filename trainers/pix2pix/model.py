"""The pix2pix networks and losses, as in the TensorFlow tutorial and the paper (Isola et al. 2017).

Generator: a U-Net that halves the image with kernel-4 stride-2 convolutions down to 1×1 and
doubles it back with transposed convolutions, with skip connections between mirror blocks.
Its depth follows the size: log2(size) blocks down (8 at 256 px, as in the tutorial).

Two departures from the tutorial's code, both to match the paper's reference implementation:
- no batch norm on the innermost (1×1) block: at batch 1 batch norm of a 1×1 map outputs its
  bias whatever the input, so nothing would pass through the bottleneck;
- LeakyReLU slope 0.2 (Keras 3's default is 0.3).

Discriminator: a PatchGAN on the (input, image) pair concatenated along channels; 70×70 patches
at 256 px (3 stride-2 blocks), one fewer at 32 px where 3 would leave a 2×2 map.
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers

LEAKY_SLOPE = 0.2  # the paper's; Keras 3 defaults to 0.3
CHANNELS = 3


def _init(seed: int | None):
    return keras.initializers.RandomNormal(0.0, 0.02, seed=seed)


def encoder_filters(size: int) -> list[int]:
    """Filters of each down block: 64, 128, 256, then 512 down to 1×1 (the tutorial's at 256)."""
    depth = int(math.log2(size))
    return [min(64 * 2 ** i, 512) for i in range(depth)]


def _down(x, filters: int, norm: bool, seed: int | None, name: str):
    x = layers.Conv2D(filters, 4, strides=2, padding="same", kernel_initializer=_init(seed),
                      use_bias=not norm, name=f"{name}_conv")(x)
    if norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_act")(x)


def _up(x, filters: int, dropout: bool, seed: int | None, name: str):
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                               kernel_initializer=_init(seed), name=f"{name}_deconv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if dropout:
        x = layers.Dropout(0.5, name=f"{name}_dropout")(x)
    return layers.ReLU(name=f"{name}_act")(x)


def build_generator(size: int, seed: int | None = None) -> keras.Model:
    """U-Net from a sketch in [-1, 1] (size×size×3) to a photo in [-1, 1]; float32 output."""
    filters = encoder_filters(size)
    inputs = layers.Input((size, size, CHANNELS), name="sketch")
    x, skips = inputs, []
    for i, f in enumerate(filters):
        # No norm on the first block (the tutorial's) nor on the 1×1 innermost one (the paper's).
        x = _down(x, f, norm=0 < i < len(filters) - 1, seed=seed, name=f"down{i}")
        skips.append(x)
    # Up blocks mirror the down blocks except the innermost; dropout on the first three.
    for i, (f, skip) in enumerate(zip(reversed(filters[:-1]), reversed(skips[:-1]))):
        x = _up(x, f, dropout=i < 3, seed=seed, name=f"up{i}")
        x = layers.Concatenate(name=f"skip{i}")([x, skip])
    x = layers.Conv2DTranspose(CHANNELS, 4, strides=2, padding="same",
                               kernel_initializer=_init(seed), name="to_rgb")(x)
    # float32 so that mixed precision keeps the image (and the L1 loss) in full precision.
    outputs = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(inputs, outputs, name=f"generator{size}")


def build_discriminator(size: int, seed: int | None = None) -> keras.Model:
    """PatchGAN: (sketch, image) → a map of real/fake logits, one per overlapping patch."""
    sketch = layers.Input((size, size, CHANNELS), name="sketch")
    image = layers.Input((size, size, CHANNELS), name="image")
    x = layers.Concatenate(name="pair")([sketch, image])
    for i, f in enumerate([64, 128, 256][: 3 if size >= 64 else 2]):
        x = _down(x, f, norm=i > 0, seed=seed, name=f"down{i}")
    x = layers.ZeroPadding2D(name="pad0")(x)
    x = layers.Conv2D(512, 4, strides=1, kernel_initializer=_init(seed), use_bias=False,
                      name="conv")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name="act")(x)
    x = layers.ZeroPadding2D(name="pad1")(x)
    x = layers.Conv2D(1, 4, strides=1, kernel_initializer=_init(seed), name="logits")(x)
    outputs = layers.Activation("linear", dtype="float32", name="patch_logits")(x)
    return keras.Model([sketch, image], outputs, name=f"discriminator{size}")


def _bce_per_example(labels, logits):
    per_patch = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(per_patch, axis=[1, 2, 3])


def generator_loss(fake_logits, fake, target, l1_lambda: float, global_batch: int):
    """(total, gan, l1): BCE from logits against "real" plus λ·mean |target − fake|.

    Per-example means averaged over the global batch, so the sum over GPUs is the batch mean.
    """
    gan = _bce_per_example(tf.ones_like(fake_logits), fake_logits)
    l1 = tf.reduce_mean(tf.abs(target - fake), axis=[1, 2, 3])
    gan = tf.nn.compute_average_loss(gan, global_batch_size=global_batch)
    l1 = tf.nn.compute_average_loss(l1, global_batch_size=global_batch)
    return gan + l1_lambda * l1, gan, l1


def discriminator_loss(real_logits, fake_logits, global_batch: int):
    """BCE from logits: real pairs → 1, generated pairs → 0 (summed, as in the tutorial)."""
    real = _bce_per_example(tf.ones_like(real_logits), real_logits)
    fake = _bce_per_example(tf.zeros_like(fake_logits), fake_logits)
    return tf.nn.compute_average_loss(real + fake, global_batch_size=global_batch)
