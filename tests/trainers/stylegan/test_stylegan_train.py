"""End-to-end behaviour of `python -m trainers.stylegan` at 8 -> 16 px on CPU."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys

import pytest

import torch
from PIL import Image

from tests.helpers.stylegan import TINY, read_metrics
from trainers import runs
from trainers.stylegan import checkpoint
from trainers.stylegan.__main__ import main


def test_losses_finite_and_growing_reaches_max_size(tiny_run):
    rows = read_metrics(tiny_run)
    assert [r["iteration"] for r in rows] == list(range(1, 21))
    for r in rows:
        assert math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) and r["images_per_s"] > 0
    sizes = [r["size"] for r in rows]
    assert sizes[0] == 8 and sizes[-1] == 16 and sizes == sorted(sizes)
    fading = [r["alpha"] for r in rows if r["size"] == 16]
    assert 0 < fading[0] < 1 and fading == sorted(fading) and fading[-1] == 1.0
    swd_rows = [r for r in rows if "swd" in r]
    assert [r["iteration"] for r in swd_rows] == [10, 20] and all(math.isfinite(r["swd"]) for r in swd_rows)


def test_run_folder_names_and_config(tiny_run):
    assert sorted(p.name for p in (tiny_run / "samples").iterdir()) == ["000010.png", "000020.png"]
    assert sorted(p.name for p in (tiny_run / "checkpoints").iterdir()) == ["000010.pt", "000020.pt"]
    assert sorted(p.name for p in (tiny_run / "mixing").iterdir()) == ["000010.png", "000020.png"]
    with Image.open(tiny_run / "samples" / "000020.png") as im:  # 4 images of 16 px in a row
        assert im.size[1] == 16 + 4 and im.size[0] > 4 * 16
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["trainer"] == "stylegan" and cfg["max_size"] == 16 and cfg["batch"] == 4
    ckpt = checkpoint.load(tiny_run / "checkpoints" / "000020.pt")
    assert {"G", "D", "G_ema", "opt_G", "opt_D", "config", "iteration", "version"} <= set(ckpt)
    assert ckpt["iteration"] == 20 and ckpt["size"] == 16


def test_resume_matches_uninterrupted_run(tmp_path, tiny_lmdb, tiny_run):
    out = tmp_path / "resumed"
    args = [str(tiny_lmdb), *TINY, "--out", str(out), "--seed", "3"]
    first = [a if a != "20" else "10" for a in args]  # stop after the checkpoint at 10
    assert main(first) == 0
    assert main([str(tiny_lmdb), "--out", str(out), "--resume", "--iterations", "20"]) == 0
    full, resumed = read_metrics(tiny_run), read_metrics(out)
    assert [r["iteration"] for r in resumed] == list(range(1, 21))
    for a, b in zip(full[10:], resumed[10:]):
        assert (a["loss_d"], a["loss_g"], a["size"], a["alpha"]) == (b["loss_d"], b["loss_g"], b["size"], b["alpha"])
    ca = checkpoint.load(tiny_run / "checkpoints" / "000020.pt")
    cb = checkpoint.load(out / "checkpoints" / "000020.pt")
    for part in ("G", "D", "G_ema"):
        for k in ca[part]:
            assert torch.equal(ca[part][k], cb[part][k]), (part, k)


def test_resume_after_kill_mid_save_uses_previous_checkpoint(tmp_path, tiny_run):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    good = (tiny_run / "checkpoints" / "000010.pt").read_bytes()
    (run / "checkpoints" / "000010.pt").write_bytes(good)
    (run / "checkpoints" / ".000020.pt.1234.tmp").write_bytes(good[: len(good) // 2])  # killed writer
    assert runs.newest_checkpoint(run).name == "000010.pt"
    assert checkpoint.load(run)["iteration"] == 10


def test_resume_refuses_a_different_model(tiny_lmdb, tiny_run, capsys):
    assert main([str(tiny_lmdb), "--out", str(tiny_run), "--resume", "--max_channels", "32"]) == 2
    assert "--max_channels 16 -> 32" in capsys.readouterr().err


def test_existing_run_needs_resume(tiny_lmdb, tiny_run, capsys):
    assert main([str(tiny_lmdb), *TINY, "--out", str(tiny_run)]) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, tiny_lmdb):
    """Two CPU processes (gloo) under torchrun: one run folder, checkpoints from rank 0."""
    out = tmp_path / "ddp"
    args = [a if a != "20" else "4" for a in TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trainers.stylegan", str(tiny_lmdb), *args, "--out", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("run folder:") == 1
    rows = read_metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    assert (out / "checkpoints" / "000004.pt").exists()


@pytest.mark.slow
def test_compiled_and_eager_runs_draw_the_same_noise_and_agree(tmp_path, tiny_lmdb):
    """The noise is drawn outside the compiled graph: the same seed gives the same losses
    compiled or not (to float32 reordering), where noise drawn inside would differ at once.
    Lazy R1 (every 2nd iteration) runs its eager pass beside the compiled D."""
    args = [a if a != "20" else "3" for a in TINY]
    rows = {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        assert main([str(tiny_lmdb), *args, "--init_size", "8", "--max_size", "8", *extra,
                     "--r1_every", "2", "--out", str(tmp_path / name)]) == 0
        rows[name] = read_metrics(tmp_path / name)
    for eager, compiled in zip(rows["eager"], rows["compiled"], strict=True):
        for key in ("loss_d", "loss_g"):
            assert compiled[key] == pytest.approx(eager[key], rel=1e-3, abs=1e-4), (key, eager, compiled)


def test_fid_with_a_local_torchscript_detector(tmp_path, tiny_lmdb):
    """FID is computed only from a detector file the user points to (no download)."""

    class FakeInception(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(12, 6)

        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            pooled = torch.nn.functional.adaptive_avg_pool2d(x.float() / 255, 2).flatten(1)
            return self.proj(pooled)

    detector = tmp_path / "inception.pt"
    torch.jit.script(FakeInception()).save(str(detector))
    out = tmp_path / "fid"
    args = [a if a not in ("20", "10") else "2" for a in TINY]
    assert main([str(tiny_lmdb), *args, "--init_size", "8", "--max_size", "8", "--fid_inception", str(detector),
                 "--fid_images", "16", "--out", str(out)]) == 0
    rows = [r for r in read_metrics(out) if "fid16" in r]  # fid<generated images>
    assert [r["iteration"] for r in rows] == [2] and math.isfinite(rows[0]["fid16"]) and rows[0]["fid16"] >= -1e-6
    assert rows[0]["fid_detector"] == hashlib.sha256(detector.read_bytes()).hexdigest()[:16]
