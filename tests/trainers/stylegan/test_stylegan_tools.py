"""The mix / generate commands and the sampling functions they (and the galleries) use."""

from __future__ import annotations

import numpy as np
from PIL import Image

from trainers.stylegan import generate, mix, sampling
from trainers.stylegan.config import Settings


def test_load_generator(tiny_run):
    G, cfg, info = sampling.load_generator(tiny_run / "checkpoints" / "000010.pt")
    assert not G.training and isinstance(cfg, Settings) and cfg.to_dict()["trainer"] == "stylegan"
    assert info["iteration"] == 10 and info["size"] in (8, 16)


def test_mixing_grid_layout(tiny_run):
    grid = sampling.mixing_grid(tiny_run / "checkpoints" / "000020.pt", [1, 2], [3, 4, 5])
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    cell = 16 + 2
    assert grid.shape[:2] == (2 + cell * (1 + 3 * 2), 2 + cell * (1 + 3))
    assert grid[2:18, 2:18].min() == 255  # empty corner
    coarse = grid[2 + cell: 2 + cell + 16, 2 + cell: 2 + cell + 16]
    source = grid[2 + cell: 2 + cell + 16, 2:18]
    assert not np.array_equal(coarse, source)  # the style face changed the source


def test_interpolation_strip_ends_differ(tiny_run):
    strip = sampling.interpolation_strip(tiny_run, 0, 1, steps=5)
    assert strip.shape == (20, 2 + 5 * 18, 3)
    assert not np.array_equal(strip[2:18, 2:18], strip[2:18, -18:-2])


def test_tools_write_images(tiny_run, tmp_path):
    assert mix.main([str(tiny_run / "checkpoints" / "000010.pt"), "--out", str(tmp_path / "m.png"),
                     "--device", "cpu", "--truncation_cutoff", "4"]) == 0
    assert generate.main([str(tiny_run), "--n", "9", "--out", str(tmp_path / "g"), "--device", "cpu"]) == 0
    with Image.open(tmp_path / "m.png") as im:
        assert im.size[0] > 16 * 6
    names = sorted(p.name for p in (tmp_path / "g").iterdir())
    assert names == ["interpolation-000020-seed0-1.png", "samples-000020-seed0.png"]


def test_mixing_grid_for_a_loaded_generator_matches(tiny_run):
    """The galleries load a generator once and call mixing_grid_for with it."""
    path = tiny_run / "checkpoints" / "000010.pt"
    G, _, info = sampling.load_generator(path)
    assert np.array_equal(sampling.mixing_grid_for(G, info, [1, 2], [3]), sampling.mixing_grid(path, [1, 2], [3]))


def test_truncation_cutoff_pulls_only_the_first_style_inputs(tiny_run):
    """Official StyleGAN's truncation: psi moves the first `cutoff` style inputs (2 per block)
    toward the mean style and leaves the rest; a cutoff covering every layer is the old ψ-everywhere."""
    import torch

    G, _, info = sampling.load_generator(tiny_run)
    step = info["step"]  # 16 px: blocks 4, 8, 16 px = 6 style inputs
    raw = sampling.styles(G, [1, 2], 1.0, step)
    cut = sampling.styles(G, [1, 2], 0.5, step, truncation_cutoff=3)
    avg = sampling.mean_style(G)
    assert torch.allclose(cut[:, :3], torch.lerp(avg[:, None], raw[:, :3], 0.5))
    assert torch.equal(cut[:, 3:], raw[:, 3:])
    every = sampling.styles(G, [1, 2], 0.5, step, truncation_cutoff=18)
    assert torch.allclose(every, torch.lerp(avg[:, None], raw, 0.5))
    path = tiny_run / "checkpoints" / "000020.pt"
    default = sampling.mixing_grid(path, [1], [2])
    assert np.array_equal(default, sampling.mixing_grid(path, [1], [2], truncation_cutoff=8))
    assert not np.array_equal(default, sampling.mixing_grid(path, [1], [2], truncation_cutoff=0))
