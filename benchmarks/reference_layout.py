"""The baseline of ``stylegan_throughput.py``: a StyleGAN in the layout of
rosinality/style-based-gan-pytorch's ``model.py``.

The benchmark's own copy of ``tests/helpers/reference_layout.py`` (a benchmark does
not import test modules; the tests check the trainer against theirs, so a change to either
copy that alters the function shows there). Written for this project (not the reference's code): the same modules, nesting and parameter names, so that its
``state_dict()`` has the reference's keys (``generator.progression.5.conv1.0.weight``,
``style.1.linear.weight_orig``, ``progression.8.conv2.0.conv.weight_orig`` ...), and the same
layer structure: equalized lr by a forward pre-hook on ``weight_orig``, nearest upsample + 3x3
conv + blur below 128 px and a fused transposed conv from 128 px in G, blur + conv + average
pool in D (strided fused conv from 128 px), ``nn.InstanceNorm2d``, fp32 NCHW. Channel counts
may be capped (``cap``) to keep tests small; ``cap=512`` is the reference's network.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

SIZES = [4 * 2**i for i in range(9)]  # the reference always builds 4..1024 px
FULL = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def width(size: int, cap: int) -> int:
    return min(FULL[size], cap)


class EqualizedWeight:
    """Forward pre-hook: ``weight = weight_orig * sqrt(2 / fan_in)`` before each call."""

    def __init__(self, module: nn.Module):
        raw = module._parameters.pop("weight")
        module.register_parameter("weight_orig", nn.Parameter(raw.data))
        self.gain = math.sqrt(2 / (raw.shape[1] * raw[0][0].numel()))
        module.register_forward_pre_hook(self)

    def __call__(self, module: nn.Module, _args) -> None:
        module.weight = module.weight_orig * self.gain


def equalized(module: nn.Module) -> nn.Module:
    EqualizedWeight(module)
    return module


class Conv(nn.Module):  # keys: conv.weight_orig, conv.bias
    def __init__(self, i: int, o: int, k: int, padding: int = 0):
        super().__init__()
        c = nn.Conv2d(i, o, k, padding=padding)
        c.weight.data.normal_()
        c.bias.data.zero_()
        self.conv = equalized(c)

    def forward(self, x):
        return self.conv(x)


class Linear(nn.Module):  # keys: linear.weight_orig, linear.bias
    def __init__(self, i: int, o: int):
        super().__init__()
        lin = nn.Linear(i, o)
        lin.weight.data.normal_()
        lin.bias.data.zero_()
        self.linear = equalized(lin)

    def forward(self, x):
        return self.linear(x)


class _BlurOp(torch.autograd.Function):
    """The blur with its backward (and the backward's backward) written as convolutions with
    the flipped kernel, as the reference's ``BlurFunction`` does for its gradient penalties."""

    @staticmethod
    def forward(ctx, x, kernel, kernel_flip):
        ctx.save_for_backward(kernel, kernel_flip)
        return F.conv2d(x, kernel, padding=1, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad):
        kernel, kernel_flip = ctx.saved_tensors
        return _BlurOp.apply(grad, kernel_flip, kernel), None, None


class Blur(nn.Module):  # buffers: weight, weight_flip
    def __init__(self, ch: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        k = (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3)
        self.register_buffer("weight", k.repeat(ch, 1, 1, 1))
        self.register_buffer("weight_flip", k.flip(2, 3).repeat(ch, 1, 1, 1))

    def forward(self, x):
        return _BlurOp.apply(x, self.weight, self.weight_flip)


def _four_shifts(w: torch.Tensor) -> torch.Tensor:
    """3x3 -> 4x4: the mean of the four one-pixel shifts, by padding and slicing."""
    p = F.pad(w, [1, 1, 1, 1])
    return (p[:, :, 1:, 1:] + p[:, :, :-1, 1:] + p[:, :, 1:, :-1] + p[:, :, :-1, :-1]) / 4


class FusedUp(nn.Module):  # weight (in, out, 3, 3) for conv_transpose2d
    def __init__(self, i: int, o: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(i, o, 3, 3))
        self.bias = nn.Parameter(torch.zeros(o))
        self.gain = math.sqrt(2 / (i * 9))

    def forward(self, x):
        return F.conv_transpose2d(x, _four_shifts(self.weight * self.gain), self.bias, stride=2, padding=1)


class FusedDown(nn.Module):  # weight (out, in, 3, 3)
    def __init__(self, i: int, o: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i, 3, 3))
        self.bias = nn.Parameter(torch.zeros(o))
        self.gain = math.sqrt(2 / (i * 9))

    def forward(self, x):
        return F.conv2d(x, _four_shifts(self.weight * self.gain), self.bias, stride=2, padding=1)


class Noise(nn.Module):  # weight_orig (1, ch, 1, 1)
    def __init__(self, ch: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, ch, 1, 1))
        EqualizedWeight(self)

    def forward(self, x, noise):
        return x + self.weight * noise


class AdaIN(nn.Module):
    def __init__(self, ch: int, dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(ch)
        self.style = Linear(dim, 2 * ch)
        self.style.linear.bias.data[:ch], self.style.linear.bias.data[ch:] = 1, 0

    def forward(self, x, w):
        gamma, beta = self.style(w)[:, :, None, None].chunk(2, 1)
        return gamma * self.norm(x) + beta


class Constant(nn.Module):  # key: input
    def __init__(self, ch: int):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, ch, 4, 4))

    def forward(self, x):
        return self.input.repeat(x.shape[0], 1, 1, 1)


class StyledConvBlock(nn.Module):
    def __init__(self, i: int, o: int, dim: int, size: int):
        super().__init__()
        if size == 4:
            self.conv1 = Constant(i)
        elif size >= 128:
            self.conv1 = nn.Sequential(FusedUp(i, o), Blur(o))
        else:
            self.conv1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), Conv(i, o, 3, 1), Blur(o))
        self.noise1, self.adain1, self.lrelu1 = Noise(o), AdaIN(o, dim), nn.LeakyReLU(0.2)
        self.conv2 = Conv(o, o, 3, 1)
        self.noise2, self.adain2, self.lrelu2 = Noise(o), AdaIN(o, dim), nn.LeakyReLU(0.2)

    def forward(self, x, w, noise):
        out = self.adain1(self.lrelu1(self.noise1(self.conv1(x), noise)), w)
        return self.adain2(self.lrelu2(self.noise2(self.conv2(out), noise)), w)


class Synthesis(nn.Module):
    def __init__(self, dim: int, cap: int):
        super().__init__()
        ch = [width(s, cap) for s in SIZES]
        self.progression = nn.ModuleList(
            StyledConvBlock(ch[max(i - 1, 0)], ch[i], dim, s) for i, s in enumerate(SIZES))
        self.to_rgb = nn.ModuleList(Conv(c, 3, 1) for c in ch)

    def forward(self, styles, noise, step, alpha):
        inject = sorted(random.sample(range(step), len(styles) - 1)) if len(styles) > 1 else [99]
        out, prev, cross = noise[0], None, 0
        for i in range(step + 1):
            if cross < len(inject) and i > inject[cross]:
                cross = min(cross + 1, len(styles))
            prev, out = out, self.progression[i](out, styles[cross], noise[i])
        rgb = self.to_rgb[step](out)
        if step > 0 and 0 <= alpha < 1:
            skip = F.interpolate(self.to_rgb[step - 1](prev), scale_factor=2, mode="nearest")
            rgb = (1 - alpha) * skip + alpha * rgb
        return rgb


class StyledGenerator(nn.Module):
    def __init__(self, dim: int = 512, n_mlp: int = 8, cap: int = 512):
        super().__init__()
        self.generator = Synthesis(dim, cap)
        layers: list[nn.Module] = [PixelNormRef()]
        for _ in range(n_mlp):
            layers += [Linear(dim, dim), nn.LeakyReLU(0.2)]
        self.style = nn.Sequential(*layers)

    def forward(self, z, noise=None, step=0, alpha=-1):
        zs = list(z) if isinstance(z, (list, tuple)) else [z]
        styles = [self.style(x) for x in zs]
        if noise is None:
            noise = [torch.randn(zs[0].shape[0], 1, 4 * 2**i, 4 * 2**i, device=zs[0].device)
                     for i in range(step + 1)]
        return self.generator(styles, noise, step, alpha)


class PixelNormRef(nn.Module):
    def forward(self, x):
        return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class ConvBlock(nn.Module):
    def __init__(self, i: int, o: int, size: int):
        super().__init__()
        if size == 4:  # 3x3 then 4x4 valid conv, after the minibatch-stddev channel
            self.conv1 = nn.Sequential(Conv(i + 1, o, 3, 1), nn.LeakyReLU(0.2))
            self.conv2 = nn.Sequential(Conv(o, o, 4), nn.LeakyReLU(0.2))
            return
        self.conv1 = nn.Sequential(Conv(i, o, 3, 1), nn.LeakyReLU(0.2))
        if size >= 128:
            self.conv2 = nn.Sequential(Blur(o), FusedDown(o, o), nn.LeakyReLU(0.2))
        else:
            self.conv2 = nn.Sequential(Blur(o), Conv(o, o, 3, 1), nn.AvgPool2d(2), nn.LeakyReLU(0.2))

    def forward(self, x):
        return self.conv2(self.conv1(x))


class Discriminator(nn.Module):
    """Blocks from 1024 px (index 0) down to 4 px (index 8), as the reference numbers them."""

    def __init__(self, cap: int = 512):
        super().__init__()
        down = SIZES[::-1]  # 1024 .. 4
        # the block at size s maps width(s) -> width(s / 2); the 4 px block keeps its width
        self.progression = nn.ModuleList(
            ConvBlock(width(s, cap), width(max(s // 2, 4), cap), s) for s in down)
        self.from_rgb = nn.ModuleList(nn.Sequential(Conv(3, width(s, cap), 1), nn.LeakyReLU(0.2)) for s in down)
        self.n_layer = len(down)
        self.linear = Linear(width(4, cap), 1)

    def forward(self, x, step=0, alpha=-1):
        out = None
        for i in range(step, -1, -1):
            k = self.n_layer - i - 1
            if i == step:
                out = self.from_rgb[k](x)
            if i == 0:
                std = torch.sqrt(out.var(0, unbiased=False) + 1e-8).mean()
                out = torch.cat([out, std.expand(out.shape[0], 1, 4, 4)], 1)
            out = self.progression[k](out)
            if i > 0 and i == step and 0 <= alpha < 1:
                skip = self.from_rgb[k + 1](F.avg_pool2d(x, 2))
                out = (1 - alpha) * skip + alpha * out
        return self.linear(out.squeeze(2).squeeze(2))
