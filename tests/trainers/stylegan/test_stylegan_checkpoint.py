"""Checkpoints are data: the version-2 RNG format, version-1 files, and files that are refused."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from trainers.stylegan import checkpoint


def draws() -> tuple:
    return torch.rand(3).tolist(), random.random(), np.random.rand(2).tolist()


def test_rng_states_are_tensors_and_ints_and_restore_exactly(tmp_path):
    random.gauss(0, 1)  # a cached Gaussian is part of Python's state
    state = checkpoint.rng_state()
    expected = draws()
    path = checkpoint.save({"G_ema": {}, "config": {"seed": 1}, "iteration": 3, "rng": state},
                           tmp_path / "000003.pt")
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    loaded = torch.load(path, weights_only=True)  # no allow-list needed
    assert loaded["version"] == checkpoint.VERSION == 2
    draws()
    checkpoint.set_rng_state(checkpoint.load(path)["rng"])
    assert draws() == expected


def test_a_version_1_checkpoint_loads_weights_only_and_resumes_the_same_draws(tmp_path):
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": np.random.get_state()}  # how version 1 kept them
    expected = draws()
    old = tmp_path / "000010.pt"
    torch.save({"version": 1, "G_ema": {"w": torch.ones(2)}, "config": {"seed": 1},
                "iteration": 10, "rng": state}, old)
    assert "numpy.ndarray" in torch.serialization.get_unsafe_globals_in_checkpoint(old)
    ckpt = checkpoint.load(old)
    assert ckpt["version"] == 2 and isinstance(ckpt["rng"]["numpy"]["key"], torch.Tensor)
    checkpoint.set_rng_state(ckpt["rng"])
    assert draws() == expected


@pytest.mark.parametrize("content, says", [
    (b"not a checkpoint at all", "refused, not a data-only StyleGAN checkpoint"),
    (b"", "cannot be read as a checkpoint"),
    (b"PK\x03\x04 a torn zip", "cannot be read as a checkpoint"),
])
def test_files_that_are_not_checkpoints_are_refused_naming_the_file(tmp_path, content, says):
    path = tmp_path / "000001.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{path}: {says}") as e:
        checkpoint.load(path)
    assert "weights_only" not in str(e.value)  # never the advice to load it unsafely


def test_a_dict_without_the_checkpoint_keys_or_with_other_globals_is_refused(tmp_path):
    path = tmp_path / "000001.pt"
    torch.save({"weights": torch.ones(1)}, path)
    with pytest.raises(ValueError, match="not a rostro StyleGAN checkpoint"):
        checkpoint.load(path)
    torch.save({"G_ema": {}, "config": {}, "iteration": 1, "extra": np.float64(1.0)}, path)
    with pytest.raises(ValueError, match=f"{path}: refused.*numpy"):
        checkpoint.load(path)
