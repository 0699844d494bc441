"""The StyleGAN trainer's CUDA-only paths: bf16 autocast through R1's double backward against
fp32, bit-identical resume under --deterministic, --compile agreeing with eager and resuming,
the pinned-memory batch path, and a few iterations with every speed option on. Skipped
where torch sees no GPU.

Bounds for bf16 (also in docs/stylegan.md, "Precision on CUDA"), against an fp32 pass with
TF32 off, same weights, inputs and noise, 32 px, 32 channels, R1 due:
- D's loss, G's loss and the R1 penalty within 5 % of the fp32 value;
- each network's gradient (all parameters as one vector): cosine similarity to fp32's at least
  0.99 for D and 0.97 for G, and the difference at most 15 % (D) and 30 % (G) of fp32's norm.
The same comparison with CPU bf16 autocast over six seeds gave at most 1.8 % (losses, R1),
cosines 0.997 (D) and 0.983 (G), norms 7.5 % and 18 %: G's gradient runs through both
networks in bf16, twice the rounding of D's.
"""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers.stylegan import TINY, read_metrics, write_lmdb
from trainers import runs
from trainers.stylegan import checkpoint, loss
from trainers.stylegan.__main__ import main
from trainers.stylegan.bank import ImageBank
from trainers.stylegan.model import Discriminator, Generator
from trainers.stylegan.sampling import load_generator, mixing_grid_for

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

LOSS_REL = 0.05
COSINE = {"D": 0.99, "G": 0.97}
NORM_REL = {"D": 0.15, "G": 0.30}


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


def _losses_and_grads(G, D, real, z, noise, step, bf16: bool):
    """D's loss with R1 and G's loss, and the gradients of both networks, as the trainer
    computes them (autocast around the forward passes, R1 through the double backward)."""
    for m in (G, D):
        m.zero_grad(set_to_none=True)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16)
    with torch.no_grad(), ctx:
        fake = G(z, step, 1.0, noise=noise)
    with ctx:
        loss_d, logs = loss.d_loss_r1(D, real, fake, step, 1.0, gamma=10.0, apply_r1=True)
    loss_d.backward()
    d_grad = torch.cat([p.grad.float().flatten() for p in D.parameters() if p.grad is not None])
    D.requires_grad_(False)
    with ctx:
        loss_g = loss.g_loss(D(G(z, step, 1.0, noise=noise), step, 1.0), "r1")
    loss_g.backward()
    D.requires_grad_(True)
    g_grad = torch.cat([p.grad.float().flatten() for p in G.parameters() if p.grad is not None])
    return {"loss_d": loss_d.item(), "r1": logs["r1"].item(), "loss_g": loss_g.item()}, {"D": d_grad, "G": g_grad}


def test_bf16_losses_and_gradients_stay_near_fp32_r1_included(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    torch.manual_seed(0)
    G, D = Generator(32, 64, 2, 32).cuda(), Discriminator(32, 32).cuda()
    step = 3  # 32 px
    g = torch.Generator().manual_seed(1)
    real = (torch.rand(8, 3, 32, 32, generator=g) * 2 - 1).cuda()
    z = torch.randn(8, 64, generator=g).cuda()
    noise = [n.cuda() for n in G.make_noise(8, step, "cpu", g)]
    ref_losses, ref_grads = _losses_and_grads(G, D, real, z, noise, step, bf16=False)
    losses, grads = _losses_and_grads(G, D, real, z, noise, step, bf16=True)
    for k, v in ref_losses.items():
        assert math.isfinite(losses[k])
        assert abs(losses[k] - v) <= LOSS_REL * abs(v), (k, v, losses[k])
    for k, ref in ref_grads.items():
        cosine = torch.nn.functional.cosine_similarity(grads[k], ref, dim=0).item()
        assert cosine >= COSINE[k], (k, cosine)
        assert (grads[k] - ref).norm() <= NORM_REL[k] * ref.norm(), (k, ((grads[k] - ref).norm() / ref.norm()).item())


def _train(lmdb, out, iterations: int, *extra: str, resume: bool = False) -> None:
    args = [a if a not in ("20", "10") else "2" for a in TINY]  # checkpoints every 2 iterations
    args += ["--iterations", str(iterations), "--phase", "4", "--device", "cuda", "--swd_every", "0"]
    assert main([str(lmdb), *args, *extra, "--out", str(out), *(["--resume"] if resume else [])]) == 0


def _same_networks(a, b, exact: bool) -> None:
    ca, cb = checkpoint.load(a), checkpoint.load(b)
    for net in ("G", "D", "G_ema"):
        for k, t in ca[net].items():
            if exact:
                assert torch.equal(t, cb[net][k]), (net, k)
            else:
                torch.testing.assert_close(t, cb[net][k], rtol=2e-3, atol=2e-4, msg=f"{net}.{k}")


def test_resume_is_bit_identical_under_deterministic(tmp_path, tiny_lmdb):
    """Growing 8 -> 16 px through a fade-in, bf16, channels-last: 4 iterations at once, or 2
    and a resume to 4, give the same bits with --deterministic."""
    _train(tiny_lmdb, tmp_path / "whole", 4, "--deterministic")
    _train(tiny_lmdb, tmp_path / "split", 2, "--deterministic")
    _train(tiny_lmdb, tmp_path / "split", 4, "--deterministic", resume=True)
    whole, split = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "split")
    assert [(r["loss_d"], r["loss_g"]) for r in whole] == [(r["loss_d"], r["loss_g"]) for r in split]
    _same_networks(runs.newest_checkpoint(tmp_path / "whole"), runs.newest_checkpoint(tmp_path / "split"),
                   exact=True)


def test_compiled_runs_resume_and_agree_with_eager(tmp_path):
    """--compile (8 px, no fade-in, so the compiled graphs run from the first iteration):
    a resumed compiled run continues where the uninterrupted one goes, and both stay within
    rounding of the eager run, since the noise is drawn outside the graphs."""
    lmdb = write_lmdb(tmp_path / "data.lmdb", sizes=(8,))
    fixed = ["--init_size", "8", "--max_size", "8", "--r1_every", "2", "--deterministic"]
    _train(lmdb, tmp_path / "eager", 4, *fixed)
    _train(lmdb, tmp_path / "whole", 4, *fixed, "--compile")
    _train(lmdb, tmp_path / "split", 2, *fixed, "--compile")
    _train(lmdb, tmp_path / "split", 4, *fixed, "--compile", resume=True)
    rows = {name: read_metrics(tmp_path / name) for name in ("eager", "whole", "split")}
    for name in ("whole", "split"):
        for a, b in zip(rows["eager"], rows[name], strict=True):
            assert b["loss_d"] == pytest.approx(a["loss_d"], rel=1e-2, abs=1e-3), (name, a, b)
            assert b["loss_g"] == pytest.approx(a["loss_g"], rel=1e-2, abs=1e-3), (name, a, b)
    _same_networks(runs.newest_checkpoint(tmp_path / "whole"), runs.newest_checkpoint(tmp_path / "split"),
                   exact=False)


def test_pinned_batches_stay_pinned_and_match_the_gpu_resident_ones(tiny_lmdb):
    on_gpu = ImageBank(tiny_lmdb, torch.device("cuda"), seed=3)
    pinned = ImageBank(tiny_lmdb, torch.device("cuda"), seed=3, gpu_budget_bytes=0)  # too large for the GPU
    assert on_gpu.images(16).is_cuda and pinned.images(16).is_pinned()
    for it in range(1, 6):  # more than the two staging buffers
        a, b = on_gpu.batch(16, 4, it), pinned.batch(16, 4, it)
        assert b.is_cuda and torch.equal(a, b), it
    assert all(slot is not None and slot[0].is_pinned() for slot in pinned._staging)
