"""GAN losses: non-saturating logistic with R1 (default) and WGAN-GP (the reference's default).

Each discriminator loss returns ``(total, logs)``; ``total`` is what to backpropagate and
``logs`` holds detached scalars for metrics.jsonl.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import autograd


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d D(x) / d x||^2 (needs ``real.requires_grad``)."""
    (grad,) = autograd.grad(real_logits.float().sum(), real, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def d_loss_r1(D, real: torch.Tensor, fake: torch.Tensor, step: int, alpha: float,
              gamma: float, apply_r1: bool, r1_scale: float = 1.0, D_r1=None):
    """softplus(D(fake)) + softplus(-D(real)) [+ gamma/2 * R1 * r1_scale when ``apply_r1``].

    ``D_r1`` (default ``D``) scores the real images when R1 is due: a compiled D cannot
    run the double backward, so the trainer passes the eager module there.
    """
    if apply_r1:
        real = real.detach().requires_grad_(True)
        real_logits = (D_r1 or D)(real, step, alpha)
        fake_logits = D(fake, step, alpha)
    elif real.shape == fake.shape:  # one pass, each half on its own (bf16 -> fp32 is exact)
        real_logits, fake_logits = D(torch.cat([real, fake.to(real.dtype)]), step, alpha, groups=2).chunk(2)
    else:
        real_logits, fake_logits = D(real, step, alpha), D(fake, step, alpha)
    loss = F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()
    logs = {"d_real": real_logits.detach().float().mean(), "d_fake": fake_logits.detach().float().mean()}
    if apply_r1:
        r1 = r1_penalty(real_logits, real)
        loss = loss + gamma / 2 * r1 * r1_scale
        logs["r1"] = r1.detach()
    return loss, logs


def d_loss_wgan_gp(D, real: torch.Tensor, fake: torch.Tensor, step: int, alpha: float,
                   gp_lambda: float, D_gp=None):
    """WGAN-GP with the reference's 0.001 drift term on real scores."""
    if real.shape == fake.shape:  # one pass, each half on its own (bf16 -> fp32 is exact)
        real_logits, fake_logits = D(torch.cat([real, fake.to(real.dtype)]), step, alpha, groups=2).float().chunk(2)
    else:
        real_logits, fake_logits = D(real, step, alpha).float(), D(fake, step, alpha).float()
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    mixed = torch.lerp(fake.detach().float(), real.detach().float(), eps).to(real.dtype)
    mixed.requires_grad_(True)
    (grad,) = autograd.grad((D_gp or D)(mixed, step, alpha).float().sum(), mixed, create_graph=True)
    gp = (grad.float().flatten(1).norm(2, dim=1) - 1).pow(2).mean()
    loss = -real_logits.mean() + 0.001 * real_logits.pow(2).mean() + fake_logits.mean() + gp_lambda * gp
    logs = {"d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean(), "gp": gp.detach()}
    return loss, logs


def g_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "wgan-gp":
        return -fake_logits.float().mean()
    return F.softplus(-fake_logits.float()).mean()
