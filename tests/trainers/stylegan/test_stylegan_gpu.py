"""A few training iterations on CUDA (bf16 autocast, TF32, channels-last, fused Adam): the code
paths the CPU tests cannot take. Skipped where torch sees no GPU."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan_helpers import TINY, read_metrics
from trainers import runs
from trainers.stylegan.__main__ import main
from trainers.stylegan.sampling import load_generator, mixing_grid_for

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_a_few_iterations_on_cuda(tmp_path, tiny_lmdb):
    out = tmp_path / "cuda"
    args = [a if a not in ("20", "10") else "4" for a in TINY]  # 4 iterations, growing 8 -> 16 px
    assert main([str(tiny_lmdb), *args, "--phase", "4", "--device", "cuda", "--out", str(out)]) == 0
    rows = read_metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in rows)
    assert "swd" in rows[-1] and math.isfinite(rows[-1]["swd"])
    ckpt = runs.newest_checkpoint(out)
    assert ckpt.name == "000004.pt"
    G, cfg, info = load_generator(ckpt, "cuda")
    assert next(G.parameters()).is_cuda and cfg.amp and info["iteration"] == 4
    grid = mixing_grid_for(G, info, [1, 2], [3])
    assert grid.ndim == 3 and grid.shape[2] == 3 and grid.std() > 0
