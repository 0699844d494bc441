"""Training throughput of the StyleGAN trainer (``trainers.stylegan``).

Prints one JSON line per configuration: iterations/s, images/s, the projected time of the
seed's 100,000-iteration run, peak GPU memory. On CUDA it measures 64 px at batch 16 and 64
(the seed's settings); without CUDA it runs a small CPU configuration and says so.

``baseline`` is this same code run with the reference's numerics (fp32 with TF32, NCHW,
non-fused Adam, WGAN-GP with the gradient penalty every step, style mixing) in the same
process: a stand-in for rosinality/style-based-gan-pytorch, not its code. The reference's
own H100 figures (given in the issue) are printed alongside: 10.3 it/s (WGAN-GP) and
10.8 it/s (R1) at 64 px batch 16, 3.2 GiB peak.

    python benchmarks/stylegan_throughput.py [--iterations 200] [--compile]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import torch

from trainers.stylegan.config import Settings
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
           "mixing": cfg.mixing, "iterations_per_s": round(it_s, 2), "images_per_s": round(it_s * phase.batch, 1),
           "projected_100k_iterations_min": round(SEED_ITERATIONS / it_s / 60, 1),
           "peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None,
           "losses_finite": all(v == v and abs(v) != float("inf") for v in logs.values()),
           "torch": torch.__version__}
    if baseline:
        row["note"] = "baseline = this code with the reference's numerics (fp32/TF32, NCHW, WGAN-GP), not the reference code"
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iterations", type=int, default=0, help="timed iterations (default 200 on CUDA, 5 on CPU)")
    p.add_argument("--warmup", type=int, default=0, help="untimed iterations (default 20 on CUDA, 2 on CPU)")
    p.add_argument("--compile", action="store_true", help="also measure torch.compile")
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
    for name, fields in configurations(cuda, a.compile):
        row = measure(name, fields, device, iterations, warmup)
        if not cuda:
            row["note"] = (row.get("note", "") + "; " if row.get("note") else "") + \
                "no CUDA: small CPU configuration (16 px, 64 channels, batch 4), not comparable to GPU targets"
        rows.append(row)
        base = next((r for r in rows if r["name"].startswith("baseline") and r["batch"] == row["batch"]), None)
        if base is not None and base is not row:
            row["speedup_vs_baseline"] = round(row["iterations_per_s"] / base["iterations_per_s"], 2)
        if cuda and row["size"] == 64 and row["batch"] == 16:
            row["reference_h100_it_s"] = REFERENCE_H100_IT_S[row["loss"]]
            row["speedup_vs_reference_h100_figure"] = round(row["iterations_per_s"] / row["reference_h100_it_s"], 2)
            row["target_55_it_s_met"] = row["iterations_per_s"] >= 55
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
