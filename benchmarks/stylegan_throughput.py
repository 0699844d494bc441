"""Training throughput of the StyleGAN trainer (``trainers.stylegan``).

Prints one JSON line per configuration: iterations/s, images/s, the projected time of the
seed's 100,000-iteration run, peak GPU memory. On CUDA it measures 64 px at batch 16 and 64
(the seed's settings); without CUDA it runs a small CPU configuration and says so.

Comparisons, all in the same process:

* ``reference-reimpl-*``: a minimal re-implementation of the reference's training step
  (rosinality/style-based-gan-pytorch as the seed ran it), written for this benchmark; the
  ``speedup_vs_reference_reimpl`` of each rostro row is against it at the same loss and batch.
* ``baseline-*``: this trainer's code with the reference's numerics (fp32/TF32, NCHW,
  non-fused Adam, WGAN-GP).
* the reference's own H100 figures from the issue: 10.3 it/s (WGAN-GP) and 10.8 it/s (R1) at
  64 px batch 16, 3.2 GiB peak (torch 2.11, TF32).

    python benchmarks/stylegan_throughput.py [--iterations 200] [--compile]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F
from torch import nn

from trainers.stylegan.config import Settings
from trainers.stylegan.model import PixelNorm
from trainers.stylegan.step import Trainer, phase_at

REFERENCE_H100_IT_S = {"wgan-gp": 10.3, "r1": 10.8}  # measured by the author, torch 2.11, TF32
SEED_ITERATIONS = 100_000


def configurations(cuda: bool, compile_: bool) -> list[tuple[str, dict]]:
    if not cuda:
        small = dict(init_size=16, max_size=16, max_channels=64, latent_dim=64)
        return [("baseline", dict(small, batch=4, loss="wgan-gp", amp=False, channels_last=False)),
                ("rostro-r1", dict(small, batch=4)),
                ("rostro-lazy-r1-16", dict(small, batch=4, r1_every=16))]
    base = dict(init_size=64, max_size=64)
    out = []
    for batch in (16, 64):
        out += [(f"baseline-b{batch}", dict(base, batch=batch, loss="wgan-gp", amp=False, channels_last=False)),
                (f"rostro-r1-b{batch}", dict(base, batch=batch)),
                (f"rostro-lazy-r1-16-b{batch}", dict(base, batch=batch, r1_every=16))]
        if compile_:
            out.append((f"rostro-lazy-r1-16-compile-b{batch}", dict(base, batch=batch, r1_every=16, compile=True)))
    return out


def measure(name: str, fields: dict, device: torch.device, iterations: int, warmup: int) -> dict:
    cfg = Settings(lmdb=os.devnull, mixing=True, **fields)
    cuda = device.type == "cuda"
    baseline = name.startswith("baseline")
    torch.manual_seed(0)
    trainer = Trainer(cfg, device)
    if baseline:  # the reference's optimiser: plain (foreach) Adam, no fusing
        for opt in (trainer.opt_G, trainer.opt_D):
            for g in opt.param_groups:
                g["fused"], g["foreach"] = False, True
    phase = phase_at(cfg, 10**9)  # the stable phase at max_size
    # The dataset is decoded once into device memory: 5,000 uint8 images, as the trainer does.
    bank = torch.randint(0, 256, (5000, 3, phase.size, phase.size), dtype=torch.uint8, device=device)
    channels_last = cuda and cfg.channels_last

    def batch() -> torch.Tensor:
        x = bank[torch.randint(len(bank), (phase.batch,), device=device)].float().div_(127.5).sub_(1)
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    for it in range(1, warmup + 1):
        trainer.step(batch(), phase, it)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for it in range(warmup + 1, warmup + iterations + 1):
        trainer.step(batch(), phase, it)
    logs = trainer.pop_logs()  # syncs
    if cuda:
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    it_s = iterations / dt
    row = {"name": name, "device": torch.cuda.get_device_name(device) if cuda else "cpu",
           "size": phase.size, "batch": phase.batch, "loss": cfg.loss, "r1_every": cfg.r1_every,
           "bf16": cfg.amp and cuda, "channels_last": channels_last, "compile": cfg.compile,
           "mixing": cfg.mixing, "iterations_per_s": round(it_s, 4), "images_per_s": round(it_s * phase.batch, 3),
           "projected_100k_iterations_min": round(SEED_ITERATIONS / it_s / 60, 1),
           "peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None,
           "losses_finite": all(v == v and abs(v) != float("inf") for v in logs.values()),
           "torch": torch.__version__}
    if baseline:
        row["note"] = "baseline = this code with the reference's numerics (fp32/TF32, NCHW, WGAN-GP), not the reference code"
    return row


# ---------------------------------------------------------------------------------------
# Reference-style baseline: a minimal re-implementation, written for this benchmark, of the
# training step of rosinality/style-based-gan-pytorch as the seed ran it (not its code):
# equalized lr through forward pre-hooks, nn.Upsample + conv + blur, conv + blur + AvgPool2d,
# nn.InstanceNorm2d, fp32/TF32 NCHW, plain Adam, the fake image for D built with autograd on
# and detached, WGAN-GP (its default) or R1 every step, style mixing with p = 0.9.
# ---------------------------------------------------------------------------------------
def _equal_lr(module: nn.Module, name: str = "weight") -> nn.Module:
    w = getattr(module, name)
    fan_in = w.data.size(1) * w.data[0][0].numel()
    del module._parameters[name]
    module.register_parameter(name + "_orig", nn.Parameter(w.data))
    setattr(module, name, w.data)

    def hook(mod, _inp):
        setattr(mod, name, getattr(mod, name + "_orig") * math.sqrt(2 / fan_in))

    module.register_forward_pre_hook(hook)
    return module


def _conv(i, o, k, p=0):
    c = nn.Conv2d(i, o, k, padding=p)
    c.weight.data.normal_()
    c.bias.data.zero_()
    return _equal_lr(c)


def _linear(i, o):
    lin = nn.Linear(i, o)
    lin.weight.data.normal_()
    lin.bias.data.zero_()
    return _equal_lr(lin)


class _RefBlur(nn.Module):
    def __init__(self, ch):
        super().__init__()
        k = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
        self.register_buffer("k", k.expand(ch, 1, 3, 3).contiguous())

    def forward(self, x):
        return F.conv2d(x, self.k, padding=1, groups=x.shape[1])


class _RefNoise(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, ch, 1, 1))
        _equal_lr(self)

    def forward(self, x, noise):
        return x + self.weight * noise


class _RefAdaIN(nn.Module):
    def __init__(self, ch, dim):
        super().__init__()
        self.norm = nn.InstanceNorm2d(ch)
        self.style = _linear(dim, ch * 2)
        self.style.bias.data[:ch], self.style.bias.data[ch:] = 1, 0

    def forward(self, x, s):
        gamma, beta = self.style(s).unsqueeze(2).unsqueeze(3).chunk(2, 1)
        return gamma * self.norm(x) + beta


class _RefStyledBlock(nn.Module):
    def __init__(self, i, o, dim, initial):
        super().__init__()
        self.initial = initial
        if initial:
            self.const = nn.Parameter(torch.randn(1, o, 4, 4))
        else:
            self.conv1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv(i, o, 3, 1), _RefBlur(o))
        self.noise1, self.adain1 = _RefNoise(o), _RefAdaIN(o, dim)
        self.conv2, self.noise2, self.adain2 = _conv(o, o, 3, 1), _RefNoise(o), _RefAdaIN(o, dim)

    def forward(self, x, s, noise):
        out = self.const.repeat(s.shape[0], 1, 1, 1) if self.initial else self.conv1(x)
        out = self.adain1(F.leaky_relu(self.noise1(out, noise), 0.2), s)
        out = self.conv2(out)
        return self.adain2(F.leaky_relu(self.noise2(out, noise), 0.2), s)


class RefGenerator(nn.Module):
    CH = [512, 512, 512, 512, 256]  # 4..64 px

    def __init__(self, dim=512):
        super().__init__()
        layers = [PixelNorm()]
        for _ in range(8):
            layers += [_linear(dim, dim), nn.LeakyReLU(0.2)]
        self.style = nn.Sequential(*layers)
        ch = self.CH
        self.progression = nn.ModuleList(_RefStyledBlock(ch[max(i - 1, 0)], c, dim, i == 0) for i, c in enumerate(ch))
        self.to_rgb = nn.ModuleList(_conv(c, 3, 1) for c in ch)

    def forward(self, zs, step):
        styles = [self.style(z) for z in zs]
        b = zs[0].shape[0]
        noise = [torch.randn(b, 1, 4 * 2**i, 4 * 2**i, device=zs[0].device) for i in range(step + 1)]
        inject = sorted(random.sample(range(step), len(styles) - 1)) if len(styles) > 1 else [99]
        out, cross = None, 0
        for i in range(step + 1):
            if cross < len(inject) and i > inject[cross]:
                cross = min(cross + 1, len(styles))
            out = self.progression[i](out, styles[cross], noise[i])
        return self.to_rgb[step](out)


class RefDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        ch = RefGenerator.CH  # D block at 4 * 2**i px: ch[i] -> ch[i - 1]

        def block(i):
            if i == 0:
                return nn.Sequential(_conv(513, 512, 3, 1), nn.LeakyReLU(0.2), _conv(512, 512, 4), nn.LeakyReLU(0.2))
            return nn.Sequential(_conv(ch[i], ch[i - 1], 3, 1), nn.LeakyReLU(0.2), _RefBlur(ch[i - 1]),
                                 _conv(ch[i - 1], ch[i - 1], 3, 1), nn.AvgPool2d(2), nn.LeakyReLU(0.2))

        self.blocks = nn.ModuleList(block(i) for i in range(len(ch)))
        self.from_rgb = nn.ModuleList(nn.Sequential(_conv(3, c, 1), nn.LeakyReLU(0.2)) for c in ch)
        self.linear = _linear(512, 1)

    def forward(self, x, step):
        out = self.from_rgb[step](x)
        for i in range(step, -1, -1):
            if i == 0:
                std = torch.sqrt(out.var(0, unbiased=False) + 1e-8).mean()
                out = torch.cat([out, std.expand(out.shape[0], 1, 4, 4)], 1)
            out = self.blocks[i](out)
        return self.linear(out.squeeze(2).squeeze(2))


class ReferenceStep:
    """One iteration of the reference's train.py at 64 px (step 4, alpha 1)."""

    def __init__(self, device, loss="wgan-gp"):
        self.G, self.D = RefGenerator().to(device), RefDiscriminator().to(device)
        self.G_ema = RefGenerator().to(device).requires_grad_(False)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.opt_G = torch.optim.Adam([{"params": self.G.progression.parameters()},
                                       {"params": self.G.to_rgb.parameters()},
                                       {"params": self.G.style.parameters(), "lr": 1e-5}], lr=1e-3, betas=(0.0, 0.99))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=1e-3, betas=(0.0, 0.99))
        self.loss, self.device = loss, device

    def _z(self, b):
        if random.random() < 0.9:
            return list(torch.randn(2, b, 512, device=self.device).unbind(0))
        return [torch.randn(b, 512, device=self.device)]

    def step(self, real, step=4):
        b = real.shape[0]
        self.D.zero_grad()
        self.D.requires_grad_(True)
        if self.loss == "wgan-gp":
            pred = self.D(real, step)
            (-(pred.mean() - 0.001 * (pred**2).mean())).backward()
        else:
            real = real.requires_grad_(True)
            scores = self.D(real, step)
            F.softplus(-scores).mean().backward(retain_graph=True)
            (g,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
            (5 * g.view(b, -1).norm(2, dim=1).pow(2).mean()).backward()
        fake = self.G(self._z(b), step)
        fpred = self.D(fake.detach(), step)
        (fpred.mean() if self.loss == "wgan-gp" else F.softplus(fpred).mean()).backward()
        if self.loss == "wgan-gp":
            eps = torch.rand(b, 1, 1, 1, device=self.device)
            x_hat = (eps * real.data + (1 - eps) * fake.data).requires_grad_(True)
            (g,) = torch.autograd.grad(self.D(x_hat, step).sum(), x_hat, create_graph=True)
            (10 * ((g.view(b, -1).norm(2, dim=1) - 1) ** 2).mean()).backward()
        self.opt_D.step()
        self.G.zero_grad()
        self.D.requires_grad_(False)
        pred = self.D(self.G(self._z(b), step), step)
        (-pred.mean() if self.loss == "wgan-gp" else F.softplus(-pred).mean()).backward()
        self.opt_G.step()
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
                pe.mul_(0.999).add_(p, alpha=0.001)


def measure_reference(device: torch.device, batch: int, loss: str, iterations: int, warmup: int) -> dict:
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    random.seed(0)
    ref = ReferenceStep(device, loss)
    bank = torch.randint(0, 256, (5000, 3, 64, 64), dtype=torch.uint8, device=device)

    def batch_():
        return bank[torch.randint(len(bank), (batch,), device=device)].float().div_(127.5).sub_(1)

    for _ in range(warmup):
        ref.step(batch_())
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(iterations):
        ref.step(batch_())
    if cuda:
        torch.cuda.synchronize()
    it_s = iterations / (time.perf_counter() - t0)
    return {"name": f"reference-reimpl-{loss}-b{batch}", "device": torch.cuda.get_device_name(device) if cuda else "cpu",
            "size": 64, "batch": batch, "loss": loss, "r1_every": 1, "bf16": False, "channels_last": False,
            "compile": False, "mixing": True, "iterations_per_s": round(it_s, 4),
            "images_per_s": round(it_s * batch, 3), "projected_100k_iterations_min": round(SEED_ITERATIONS / it_s / 60, 1),
            "peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None,
            "torch": torch.__version__,
            "note": "re-implementation of the reference's training step written for this benchmark (not its code)"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iterations", type=int, default=0, help="timed iterations (default 200 on CUDA, 5 on CPU)")
    p.add_argument("--warmup", type=int, default=0, help="untimed iterations (default 20 on CUDA, 2 on CPU)")
    p.add_argument("--compile", action="store_true", help="also measure torch.compile")
    p.add_argument("--reference-on-cpu", action="store_true",
                   help="without CUDA, also time the reference re-implementation (64 px, batch 4; slow)")
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    iterations = a.iterations or (200 if cuda else 5)
    warmup = a.warmup or (20 if cuda else 2)
    rows = []
    if cuda or a.reference_on_cpu:
        ref_iters = iterations if cuda else 2
        for batch in ((16, 64) if cuda else (4,)):
            for loss in ("wgan-gp", "r1"):
                row = measure_reference(device, batch, loss, ref_iters, warmup if cuda else 1)
                if cuda and batch == 16:
                    row["reference_h100_it_s"] = REFERENCE_H100_IT_S[loss]
                rows.append(row)
                print(json.dumps(row), flush=True)
    todo = [(n, f, iterations, warmup) for n, f in configurations(cuda, a.compile)]
    if not cuda and a.reference_on_cpu:  # the full 64 px model beside the re-implementation
        todo += [(f"rostro-{loss}-64px", dict(init_size=64, max_size=64, batch=4, loss=loss), 2, 1)
                 for loss in ("wgan-gp", "r1")]
    for name, fields, iters, warm in todo:
        row = measure(name, fields, device, iters, warm)
        if not cuda:
            what = "64 px full model, batch 4" if row["size"] == 64 else "small CPU configuration (16 px, 64 channels, batch 4)"
            row["note"] = (row.get("note", "") + "; " if row.get("note") else "") + \
                f"no CUDA: {what}, not comparable to GPU targets"
        rows.append(row)
        base = next((r for r in rows if r["name"].startswith("baseline") and r["batch"] == row["batch"]
                     and r["size"] == row["size"]), None)
        if base is not None and base is not row:
            row["speedup_vs_baseline"] = round(row["iterations_per_s"] / base["iterations_per_s"], 2)
        ref = next((r for r in rows if r["name"] == f"reference-reimpl-{row['loss']}-b{row['batch']}"
                    and r["size"] == row["size"]), None)
        if ref is not None:
            row["speedup_vs_reference_reimpl"] = round(row["iterations_per_s"] / ref["iterations_per_s"], 2)
        if cuda and row["size"] == 64 and row["batch"] == 16:
            row["reference_h100_it_s"] = REFERENCE_H100_IT_S[row["loss"]]
            row["speedup_vs_reference_h100_figure"] = round(row["iterations_per_s"] / row["reference_h100_it_s"], 2)
            row["target_55_it_s_met"] = row["iterations_per_s"] >= 55
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
