"""The training state (networks, EMA, optimisers) and one training iteration.

The progressive schedule is a pure function of the iteration count (:func:`phase_at`),
so a resumed run lands in the same phase with the same fade-in weight.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass

import torch
import torch.distributed as dist

from . import loss as losses
from .config import Settings
from .model import Discriminator, Generator

MAPPING_LR_MULT = 0.01  # the reference trains the mapping network at lr / 100


@dataclass(frozen=True)
class Phase:
    step: int  # index of the output block (size = 4 * 2**step)
    size: int  # px
    alpha: float  # fade-in weight of the newest block, 1 = fully faded in
    batch: int  # images per iteration (all processes)
    lr: float  # learning rate


def phase_at(cfg: Settings, done: int) -> Phase:
    """The phase of the iteration that follows ``done`` finished iterations.

    As in the reference: each resolution below max_size lasts 2 x ``phase`` images (the
    first ``phase`` fading in, except at init_size); max_size fades in, then stays.
    """
    sizes = cfg.sizes()
    k = done
    for size in sizes:
        b = cfg.batch_at(size)
        n = 2 * cfg.phase // b + 1
        if size == sizes[-1] or k < n:
            alpha = 1.0 if size == cfg.init_size else min(1.0, (k * b + 1) / cfg.phase)
            return Phase(int(math.log2(size)) - 2, size, alpha, b, cfg.lr_at(size))
        k -= n
    raise AssertionError("unreachable")


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)


def build_networks(cfg: Settings) -> tuple[Generator, Discriminator]:
    G = Generator(cfg.max_size, cfg.latent_dim, cfg.mapping_layers, cfg.max_channels)
    D = Discriminator(cfg.max_size, cfg.max_channels)
    return G, D


class Trainer:
    """G, D, the EMA generator, their Adam optimisers, and :meth:`step`."""

    def __init__(self, cfg: Settings, device: torch.device, world: int = 1, amp: bool | None = None):
        self.cfg, self.device, self.world = cfg, device, world
        cuda = device.type == "cuda"
        self.amp = (cfg.amp and cuda) if amp is None else amp
        self.G, self.D = (m.to(device) for m in build_networks(cfg))
        if cuda and cfg.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        adam = dict(betas=(0.0, 0.99), fused=True)  # one kernel per optimizer, CPU and CUDA
        self.opt_G = torch.optim.Adam([
            {"params": self.G.synthesis_parameters(), "mult": 1.0},
            {"params": self.G.mapping_parameters(), "mult": MAPPING_LR_MULT}], lr=cfg.lr, **adam)
        self.opt_D = torch.optim.Adam([{"params": list(self.D.parameters()), "mult": 1.0}], lr=cfg.lr, **adam)
        self.G_c, self.D_c = self.G, self.D
        if cfg.compile:
            # One graph per (resolution, crossover block, mixing on/off): more than the default 8.
            for name in ("cache_size_limit", "recompile_limit"):
                if hasattr(torch._dynamo.config, name):
                    setattr(torch._dynamo.config, name, max(64, getattr(torch._dynamo.config, name)))
            self.G_c, self.D_c = torch.compile(self.G), torch.compile(self.D)
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    # State ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict()}

    def load_state_dict(self, ckpt: dict) -> None:
        """Networks and optimizers from a checkpoint. A converted EMA-only file (the
        reference's ``NNNNNN.model``) has no G, D or optimizers: G starts from G_ema, and D and
        the optimizers as built. The optimizers keep this machine's fused/foreach choice."""
        self.G_ema.load_state_dict(ckpt["G_ema"])
        self.G.load_state_dict(ckpt.get("G", ckpt["G_ema"]))
        if "D" in ckpt:
            self.D.load_state_dict(ckpt["D"])
        for name in ("opt_G", "opt_D"):
            if name not in ckpt:
                continue
            opt = getattr(self, name)
            saved = ckpt[name]
            groups = [{**g, **{k: ours[k] for k in ("fused", "foreach") if k in ours}}
                      for g, ours in zip(saved["param_groups"], opt.param_groups)]
            opt.load_state_dict({**saved, "param_groups": groups})

    # One iteration ------------------------------------------------------------------
    def _autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _latents(self, n: int, step: int):
        z = torch.randn(n, self.cfg.latent_dim, device=self.device)
        if self.cfg.mixing and step > 0 and torch.rand(()).item() < self.cfg.mixing_prob:
            z2 = torch.randn(n, self.cfg.latent_dim, device=self.device)
            return z, z2, int(torch.randint(step, ()).item())
        return z, None, -1

    def _noise(self, n: int, step: int) -> list[torch.Tensor]:
        """The per-pixel noise, drawn here, eagerly, from the global generator: inside a
        ``torch.compile`` graph ``randn`` is lowered to the compiler's own RNG, so a compiled
        run would draw other noise than an eager one and a resume would not reproduce it.
        The same draws, in the same order, as the generator's own ``make_noise``."""
        return self.G.make_noise(n, step, self.device)

    def _set_lr(self, lr: float) -> None:
        for opt in (self.opt_G, self.opt_D):
            for g in opt.param_groups:
                g["lr"] = lr * g["mult"]

    def _reduce(self, module: torch.nn.Module) -> None:
        """Average gradients over processes (the DDP all-reduce, done by hand so that the
        R1 double backward and torch.compile need no DDP wrapper)."""
        if self.world == 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        for g, f in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(f.view_as(g))

    def step(self, real: torch.Tensor, phase: Phase, iteration: int) -> None:
        """One D update and one G update on this process's share of a batch, then EMA."""
        cfg, n = self.cfg, real.shape[0]
        self._set_lr(phase.lr)
        faded = phase.alpha >= 1.0  # compiled modules only outside fade-in (alpha is baked in)
        G, D = (self.G_c, self.D_c) if faded else (self.G, self.D)
        step, alpha = phase.step, phase.alpha

        # Discriminator.
        self.D.requires_grad_(True)
        z, z2, cross = self._latents(n, step)
        with torch.no_grad(), self._autocast():
            fake = G(z, step, alpha, z2, cross, noise=self._noise(n, step))
        with self._autocast():
            if cfg.loss == "wgan-gp":
                loss_d, logs = losses.d_loss_wgan_gp(D, real, fake, step, alpha, cfg.gp_lambda, D_gp=self.D)
            else:
                due = iteration % cfg.r1_every == 0
                loss_d, logs = losses.d_loss_r1(D, real, fake, step, alpha, cfg.r1_gamma, due,
                                                r1_scale=cfg.r1_every, D_r1=self.D)
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self._reduce(self.D)
        self.opt_D.step()

        # Generator.
        self.D.requires_grad_(False)
        z, z2, cross = self._latents(n, step)
        with self._autocast():
            loss_g = losses.g_loss(D(G(z, step, alpha, z2, cross, noise=self._noise(n, step)), step, alpha),
                                   cfg.loss)
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self._reduce(self.G)
        self.opt_G.step()
        ema_update(self.G_ema, self.G, cfg.ema_decay)

        self._add({"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), **logs})

    # Metrics -----------------------------------------------------------------------
    def _add(self, values: dict[str, torch.Tensor]) -> None:
        for k, v in values.items():
            self._sums[k] = self._sums.get(k, 0) + v.float()
            self._counts[k] = self._counts.get(k, 0) + 1

    def pop_logs(self) -> dict[str, float]:
        """Mean of each logged value since the last call (one device sync)."""
        if not self._sums:
            return {}
        keys = list(self._sums)
        vals = torch.stack([self._sums[k] / self._counts[k] for k in keys]).tolist()
        self._sums, self._counts = {}, {}
        return dict(zip(keys, vals))
