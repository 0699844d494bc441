"""Networks: the tutorial's shapes at every size, without its two known faults."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainers.pix2pix.model import build_discriminator, build_generator, encoder_filters
from trainers.pix2pix.optim import RAdam


@pytest.mark.parametrize("size", [32, 64])
def test_generator_maps_size_to_size_and_discriminator_gives_patches(size):
    G, D = build_generator(size), build_discriminator(size)
    x = tf.random.uniform([2, size, size, 3], -1, 1)
    y = G(x, training=True)
    assert y.shape == (2, size, size, 3)
    assert float(tf.reduce_max(tf.abs(y))) <= 1.0
    logits = D([x, y], training=True)
    assert logits.shape[0] == 2 and logits.shape[-1] == 1 and 1 < logits.shape[1] < size


def test_depth_follows_size():
    assert encoder_filters(256) == [64, 128, 256, 512, 512, 512, 512, 512]  # the tutorial's
    assert len(encoder_filters(64)) == 6 and len(encoder_filters(32)) == 5
    assert build_generator(64).get_layer("down5_act").output.shape[1:3] == (1, 1)


def test_bottleneck_carries_the_input_at_batch_one():
    # The tutorial batch-normalises the 1×1 bottleneck: at batch 1 that outputs a constant.
    G = build_generator(32, seed=0)
    inner = tf.keras.Model(G.input, G.get_layer("down4_act").output)
    a = inner(tf.random.uniform([1, 32, 32, 3], -1, 1, seed=1), training=True)
    b = inner(tf.random.uniform([1, 32, 32, 3], -1, 1, seed=2), training=True)
    assert float(tf.reduce_max(tf.abs(a - b))) > 1e-4


def test_leaky_relu_slope_is_the_papers():
    G = build_generator(32)
    leaky = [layer for layer in G.layers if "LeakyReLU" in type(layer).__name__]
    assert leaky
    for layer in leaky:
        assert float(layer(tf.constant([-1.0]))[0]) == pytest.approx(-0.2)


def test_radam_minimises_a_quadratic():
    w = tf.Variable([3.0, -2.0])
    opt = RAdam(learning_rate=0.1, beta_1=0.5)
    for _ in range(200):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(w ** 2)
        opt.apply_gradients([(tape.gradient(loss, w), w)])
    assert np.all(np.abs(w.numpy()) < 0.1)
