"""pix2pix on a GPU: one epoch under mixed_float16 with loss scaling, with and without XLA.

Each run is a subprocess (the command as a user runs it), so TensorFlow's hold on the GPU ends
with it and the torch tests in the same session keep theirs. Skipped where no NVIDIA driver is
loaded (the test process never imports TensorFlow to find out)."""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/driver/nvidia").exists(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("xla", ["on", "off"])
def test_one_epoch_in_mixed_float16(pairs_dir, tmp_path, xla):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "trainers.pix2pix", str(pairs_dir), "--out", str(out), "--size", "32",
         "--epochs", "1", "--batch", "2", "--grid-pairs", "2", "--mixed-precision", "on", "--xla", xla],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"mixed precision mixed_float16, XLA {xla == 'on'}" in proc.stderr, proc.stderr[-3000:]
    assert not re.search(r"^[EF]\d{4} ", proc.stderr, re.M), proc.stderr  # no error-level line
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    assert all(math.isfinite(rows[0][k]) for k in ("loss_g", "loss_d", "val_l1"))
    assert any((out / "checkpoints").iterdir())
