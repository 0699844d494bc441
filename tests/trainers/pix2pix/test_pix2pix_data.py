"""Pairs folders: the tutorial's layout is read the tutorial's way; bad folders say why."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.helpers.pix2pix_pairs import write_pairs
from trainers.pix2pix.data import PairsError, decode_pair, find_pairs, train_dataset, val_dataset


def tutorial_load(image_file):
    """The TensorFlow pix2pix tutorial's own loader: input = right half, real = left half."""
    image = tf.io.decode_jpeg(tf.io.read_file(image_file))
    w = tf.shape(image)[1] // 2
    return image[:, w:, :], image[:, :w, :]


def test_reads_the_tutorials_layout_like_the_tutorial(tmp_path):
    paths = write_pairs(tmp_path / "train", 2, 32, seed=0)
    for path in paths:
        sketch, photo = decode_pair(tf.constant(str(path)), 32)
        t_input, t_real = tutorial_load(str(path))
        np.testing.assert_array_equal(sketch.numpy(), t_input.numpy())
        np.testing.assert_array_equal(photo.numpy(), t_real.numpy())
        # The input is the grey sketch, the target the coloured photo.
        s = sketch.numpy().astype(int)
        assert np.abs(s[..., 0] - s[..., 1]).max() <= 8
        p = photo.numpy().astype(int)
        assert np.abs(p[..., 0] - p[..., 2]).max() > 30


def test_pipelines_give_unit_range_batches_of_the_training_size(pairs_dir):
    files = find_pairs(pairs_dir)
    sketch, photo = next(iter(train_dataset(files.train, 32, 3, 0.12, True, seed=0)))
    assert sketch.shape == photo.shape == (3, 32, 32, 3)
    assert -1 <= float(tf.reduce_min(photo)) and float(tf.reduce_max(photo)) <= 1
    # Pairs stored at 32 px train at 32 px, and are resized when trained at another size.
    sketch, _ = next(iter(val_dataset(files.val, 64, 8)))
    assert sketch.shape == (2, 64, 64, 3)


def test_folder_without_val_is_split_by_seed(tmp_path):
    write_pairs(tmp_path, 10, 16, seed=0)
    a = find_pairs(tmp_path, val_share=0.2, seed=3)
    assert len(a.train) == 8 and len(a.val) == 2 and "seed 3" in a.split
    assert a == find_pairs(tmp_path, val_share=0.2, seed=3)
    assert not set(a.train) & set(a.val)


def test_empty_folder_says_what_it_expected(tmp_path):
    with pytest.raises(PairsError, match="no train/ folder.*photo in the left half"):
        find_pairs(tmp_path)
    (tmp_path / "train").mkdir()
    with pytest.raises(PairsError, match="train holds no"):
        find_pairs(tmp_path)


def test_wrong_layout_names_the_file_and_why(tmp_path):
    write_pairs(tmp_path / "train", 2, 16, seed=0)
    bad = tmp_path / "train" / "square.jpg"
    Image.new("RGB", (16, 16)).save(bad)
    with pytest.raises(PairsError, match=r"square\.jpg: 16×16 px is not a pair"):
        find_pairs(tmp_path)
    bad.unlink()
    (tmp_path / "train" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(PairsError, match=r"broken\.jpg: not a readable image"):
        find_pairs(tmp_path)
