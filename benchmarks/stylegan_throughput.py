"""Training throughput of the StyleGAN trainer against a baseline with the reference's layers.

The baseline is the network of rosinality/style-based-gan-pytorch in its layer structure
(``benchmarks/reference_layout.py``, written for this project, not the reference's code): nearest upsample + 3x3 conv + blur below 128 px, blur + conv + average pool in D,
equalized lr by a forward pre-hook, ``nn.InstanceNorm2d``, fp32 NCHW, 512 channels, all nine
blocks built (as the reference does), trained by the reference's ``train.py`` step: WGAN-GP
by default, three D backward passes, plain Adam, EMA over every parameter, style mixing p = 0.9.

The trainer (``trainers.stylegan.step.Trainer``) runs the same loss, batch and mixing at each
size, with its own defaults for the rest (on CUDA: bf16, channels-last, fused Adam). Rounds
alternate baseline and trainer so that a change in machine load hits both; each prints one
JSON line with both medians and their ratio, then a summary line. ``--loader`` instead times
the streaming data path alone (LMDB -> worker processes -> batches) beside the trainer's step
at 64 px, batch 16.

    python benchmarks/stylegan_throughput.py [--sizes 8,16,32,64] [--batch 4] [--rounds 3]
    python benchmarks/stylegan_throughput.py --loader [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import reference_layout as ref  # this folder's copy (the script's folder is on sys.path)
from trainers.stylegan.config import Settings
from trainers.stylegan.step import Trainer, phase_at

REFERENCE_H100_IT_S = {"wgan-gp": 10.3, "r1": 10.8}  # issue 14's measurement, 64 px batch 16, torch 2.11, TF32
SEED_ITERATIONS = 100_000


class ReferenceStep:
    """One iteration of the reference's ``train.py`` (its order of passes and optimiser)."""

    def __init__(self, device: torch.device, loss: str, mixing: bool = True):
        self.G, self.D = ref.StyledGenerator().to(device), ref.Discriminator().to(device)
        self.G_ema = ref.StyledGenerator().to(device).eval()
        self.G_ema.load_state_dict(self.G.state_dict())
        self.opt_G = torch.optim.Adam(self.G.generator.parameters(), lr=1e-3, betas=(0.0, 0.99))
        self.opt_G.add_param_group({"params": self.G.style.parameters(), "lr": 1e-5, "mult": 0.01})
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=1e-3, betas=(0.0, 0.99))
        self.G.requires_grad_(False)
        self.loss, self.mixing, self.device = loss, mixing, device
        self._pairs = list(zip(self.G_ema.parameters(), self.G.parameters()))

    def _z(self, b: int):
        if self.mixing and random.random() < 0.9:
            return list(torch.randn(2, b, 512, device=self.device).unbind(0))
        return torch.randn(b, 512, device=self.device)

    def step(self, real: torch.Tensor, step: int) -> None:
        b, G, D = real.shape[0], self.G, self.D
        D.zero_grad()
        if self.loss == "wgan-gp":
            pred = D(real, step)
            (-(pred.mean() - 0.001 * (pred**2).mean())).backward()
        else:
            real.requires_grad_(True)
            scores = D(real, step)
            F.softplus(-scores).mean().backward(retain_graph=True)
            (g,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
            (10 / 2 * g.view(b, -1).norm(2, dim=1).pow(2).mean()).backward()
        z1, z2 = self._z(b), self._z(b)
        fake = G(z1, step=step)
        fpred = D(fake, step)
        if self.loss == "wgan-gp":
            fpred.mean().backward()
            eps = torch.rand(b, 1, 1, 1, device=self.device)
            x_hat = (eps * real.data + (1 - eps) * fake.data).requires_grad_(True)
            (g,) = torch.autograd.grad(D(x_hat, step).sum(), x_hat, create_graph=True)
            (10 * ((g.view(b, -1).norm(2, dim=1) - 1) ** 2).mean()).backward()
        else:
            F.softplus(fpred).mean().backward()
        self.opt_D.step()
        G.zero_grad()
        G.requires_grad_(True)
        D.requires_grad_(False)
        pred = D(G(z2, step=step), step)
        (-pred.mean() if self.loss == "wgan-gp" else F.softplus(-pred).mean()).backward()
        self.opt_G.step()
        with torch.no_grad():
            for pe, p in self._pairs:
                pe.mul_(0.999).add_(p, alpha=0.001)
        G.requires_grad_(False)
        D.requires_grad_(True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _batches(device: torch.device, size: int, batch: int):
    bank = torch.randint(0, 256, (512, 3, size, size), dtype=torch.uint8, device=device)
    return lambda: bank[torch.randint(len(bank), (batch,), device=device)].float().div_(127.5).sub_(1)


def time_reference(device, size: int, batch: int, loss: str, iterations: int, warmup: int) -> float:
    torch.manual_seed(0)
    random.seed(0)
    r, draw, step = ReferenceStep(device, loss), _batches(device, size, batch), int(size).bit_length() - 3
    for _ in range(warmup):
        r.step(draw(), step)
    _sync(device)
    t = time.perf_counter()
    for _ in range(iterations):
        r.step(draw(), step)
    _sync(device)
    return iterations / (time.perf_counter() - t)


def time_trainer(device, size: int, batch: int, loss: str, iterations: int, warmup: int, **extra) -> float:
    cfg = Settings(lmdb=os.devnull, init_size=size, max_size=size, batch=batch, loss=loss, mixing=True, **extra)
    torch.manual_seed(0)
    t_ = Trainer(cfg, device)
    phase, draw = phase_at(cfg, 10**9), _batches(device, size, batch)
    cl = device.type == "cuda" and cfg.channels_last

    def real():
        x = draw()
        return x.contiguous(memory_format=torch.channels_last) if cl else x

    for it in range(1, warmup + 1):
        t_.step(real(), phase, it)
    _sync(device)
    t = time.perf_counter()
    for it in range(warmup + 1, warmup + iterations + 1):
        t_.step(real(), phase, it)
    t_.pop_logs()
    _sync(device)
    return iterations / (time.perf_counter() - t)


def size_table(a, device) -> None:
    cuda = device.type == "cuda"
    ratios = {}
    for size in a.sizes:
        base, ours, loads = [], [], []
        for _ in range(a.rounds):
            loads.append(os.getloadavg()[0])
            base.append(time_reference(device, size, a.batch, a.loss, a.iterations, a.warmup))
            ours.append(time_trainer(device, size, a.batch, a.loss, a.iterations, a.warmup, compile=a.compile))
        b, o = statistics.median(base), statistics.median(ours)
        ratios[size] = round(o / b, 2)
        row = {"size": size, "batch": a.batch, "loss": a.loss, "mixing": True,
               "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({torch.get_num_threads()} threads)",
               "baseline_it_s": round(b, 3), "trainer_it_s": round(o, 3), "ratio": ratios[size],
               "baseline_rounds": [round(x, 3) for x in base], "trainer_rounds": [round(x, 3) for x in ours],
               "load_avg_1min": [round(x, 2) for x in loads] + [round(os.getloadavg()[0], 2)],
               "iterations_per_round": a.iterations, "torch": torch.__version__}
        if cuda and size == 64:
            row["projected_100k_iterations_min"] = round(SEED_ITERATIONS / o / 60, 1)
            row["reference_h100_it_s"] = REFERENCE_H100_IT_S[a.loss]
        print(json.dumps(row), flush=True)
    print(json.dumps({"summary": "trainer / reference-layout baseline", "ratios": ratios,
                      "all_at_least_1.2": all(r >= 1.2 for r in ratios.values())}), flush=True)


def write_lmdb(path: Path, n: int, size: int) -> Path:
    """An LMDB of ``n`` random-blob JPEGs at ``size`` px in the trainer's layout."""
    import io

    import lmdb
    import numpy as np
    from PIL import Image

    from trainers.common.lmdb_format import LENGTH_KEY, key

    rng = np.random.default_rng(0)
    env = lmdb.open(str(path), map_size=1 << 30)
    with env.begin(write=True) as txn:
        for i in range(n):
            small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # smooth after upscaling: JPEG-like sizes
            buf = io.BytesIO()
            Image.fromarray(small).resize((size, size), Image.BICUBIC).save(buf, format="jpeg", quality=100)
            txn.put(key(size, i), buf.getvalue())
        txn.put(LENGTH_KEY, str(n).encode("ascii"))
    env.close()
    return path


def loader_vs_step(a, device) -> None:
    """Images/s of the streaming loader alone against the trainer's step, 64 px batch 16."""
    from trainers.stylegan.bank import ImageBank

    batch, size = 16, 64
    with tempfile.TemporaryDirectory(prefix="rostro-loader-") as tmp:
        db = write_lmdb(Path(tmp) / "set.lmdb", a.images, size)
        bank = ImageBank(db, device, budget=1, workers=a.workers)  # budget 1 byte: always streamed
        bank.batch(size, batch, 1)
        n_batches = a.loader_batches
        loads = [os.getloadavg()[0]]
        t = time.perf_counter()
        for it in range(2, n_batches + 2):
            bank.batch(size, batch, it)
        _sync(device)
        loader = n_batches * batch / (time.perf_counter() - t)
        bank.close()
    step = time_trainer(device, size, batch, "r1", a.iterations, a.warmup) * batch
    loads.append(os.getloadavg()[0])
    print(json.dumps({"benchmark": "stylegan loader vs step", "size": size, "batch": batch,
                      "workers": a.workers, "loader_images_per_s": round(loader, 1),
                      "step_images_per_s": round(step, 2), "loader_over_step": round(loader / step, 1),
                      "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                      "load_avg_1min": [round(x, 2) for x in loads]}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="8,16,32,64", help="resolutions (px)")
    p.add_argument("--batch", type=int, default=0, help="batch (default 16 on CUDA, 4 on CPU)")
    p.add_argument("--loss", default="wgan-gp", choices=("wgan-gp", "r1"), help="both sides' loss")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per size; medians reported")
    p.add_argument("--iterations", type=int, default=0, help="timed iterations per round (default 100 CUDA, 3 CPU)")
    p.add_argument("--warmup", type=int, default=0, help="untimed iterations per round (default 10 CUDA, 1 CPU)")
    p.add_argument("--compile", action="store_true", help="the trainer with torch.compile")
    p.add_argument("--loader", action="store_true", help="time the streaming loader against the step")
    p.add_argument("--workers", type=int, default=2, help="loader worker processes (--loader)")
    p.add_argument("--images", type=int, default=512, help="images in the loader's LMDB (--loader)")
    p.add_argument("--loader-batches", type=int, default=200, help="batches timed (--loader)")
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    a.sizes = [int(s) for s in a.sizes.split(",")]
    a.batch = a.batch or (16 if cuda else 4)
    a.iterations = a.iterations or (100 if cuda else 3)
    a.warmup = a.warmup or (10 if cuda else 1)
    if a.loader:
        loader_vs_step(a, device)
    else:
        size_table(a, device)


if __name__ == "__main__":
    main()
