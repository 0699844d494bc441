"""StyleGAN (v1) generator and discriminator with progressive growing.

The architecture follows the paper as implemented by rosinality/style-based-gan-pytorch
(the seed's reference): 8-layer mapping network with pixel norm, a learned constant 4x4
input, AdaIN after every convolution, per-pixel noise, equalized learning rate, a [1 2 1]
blur on every resampling, fused (transposed/strided) resampling from 128 px up, and a
minibatch-stddev channel in the discriminator's last block. Resampling convolutions are
computed as strided (transposed) 3x3 convolutions beside a 2x2 box filter, or as strided 4x4
ones on large maps: the same functions as upsample+conv and conv+avg-pool, at 9/36 or 16/36
of the FLOPs (see ``FusedUpsample``). Block ``i`` works at
``4 * 2**i`` px; ``step`` is the index of the current output block and ``alpha`` the
fade-in weight of its newest block.

Equalized learning rate is a scale applied to the weight in ``forward`` (not a forward
pre-hook as in the reference), so the modules compile and convert to channels-last.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Feature maps per resolution, as in the paper and the reference.
CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
FUSED_FROM = 128  # px: from here the reference's fused upsampling has its 1/4 gain


def channels(size: int, cap: int) -> int:
    return min(CHANNELS[size], cap)


class EqualLinear(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, bias: torch.Tensor | float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        b = bias if isinstance(bias, torch.Tensor) else torch.full((out_dim,), float(bias))
        self.bias = nn.Parameter(b.clone())
        self.scale = math.sqrt(2 / in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The scale goes on the (batch x in) input, not on the weight: no weight-sized
        # multiply forward or backward (addmm's alpha would still scale the weight's gradient).
        return F.linear(x * self.scale, self.weight, self.bias.to(x.dtype))


class EqualConv2d(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, padding: int = 0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale = math.sqrt(2 / (in_ch * kernel * kernel))
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1]
        if self.padding == 0 and x.shape[2] == x.shape[3] == k and self.weight.is_contiguous():
            # A kernel that covers the whole map (D's last 4x4 conv) is a matrix product:
            # as one, its forward and backward run 4-6x faster than the convolution on a CPU.
            out = F.linear(x.flatten(1) * self.scale, self.weight.flatten(1), self.bias.to(x.dtype))
            return out[:, :, None, None]
        return self.conv(x, self.padding)

    def conv(self, x: torch.Tensor, padding: int, stride: int = 1) -> torch.Tensor:
        """conv2d with the scaled weight and the bias."""
        k = self.weight.shape[-1]
        out_numel = x.shape[0] * self.weight.shape[0] * ((x.shape[2] + 2 * padding - k) // stride + 1) * \
            ((x.shape[3] + 2 * padding - k) // stride + 1)
        if out_numel >= self.weight.numel():
            return F.conv2d(x, self.weight * self.scale, self.bias, stride, padding)
        # Small maps (4-32 px, 512 channels): scaling the output is cheaper than the weight,
        # forward and backward; the same function up to rounding.
        return self.scaled_plus_bias(F.conv2d(x, self.weight, None, stride, padding), self.scale)

    def scaled_plus_bias(self, out: torch.Tensor, scale: float) -> torch.Tensor:
        """``out * scale + bias`` in one pass over the map: the weight's scale applied to the
        output of a conv with the raw weight."""
        return torch.add(self.bias.to(out.dtype)[:, None, None], out, alpha=scale)


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 when it is bf16/fp16 (statistics under autocast), else as it is: a
    float64 model stays float64 throughout."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def fuse_matrix(gain: float = 1.0, flip: bool = False) -> torch.Tensor:
    """(9, 16) matrix taking a flattened 3x3 kernel to the 4x4 kernel that sums its four
    one-pixel shifts (times ``gain``; flipped when ``flip``).

    One small matmul per forward: the reference pads the kernel and adds four slices of it,
    whose backward zero-fills and copies the padded 512x512 weight four times (36 % of the
    generator's time at 16 px on a CPU); the matmul's backward is one more matmul.
    """
    shift = torch.zeros(4, 3, dtype=torch.float64)
    for a in range(4):
        for i in (a - 1, a):
            if 0 <= i < 3:
                shift[a, i] = 1.0
    m = torch.kron(shift, shift) * gain  # (16, 9): out (a, b) <- in (i, j)
    if flip:
        m = m.flip(0)  # (a, b) -> (3 - a, 3 - b) is a reversal of the flattened index
    # Kept in float64: a float32 gain (an irrational equal-lr scale) would be a float32 step
    # inside ``model.double()``; :func:`fused_kernel` casts it to the weight's dtype per call.
    return m.t().contiguous()


def fused_kernel(w: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """(A, B, 3, 3) weight -> (A, B, 4, 4) through :func:`fuse_matrix`, contiguous."""
    o, i = w.shape[:2]
    with torch.autocast(w.device.type, enabled=False):  # summed in the weight's precision
        return (w.reshape(o * i, 9) @ matrix.to(w.dtype)).view(o, i, 4, 4)


def _box_sum(x: torch.Tensor) -> torch.Tensor:
    """Sums of 2x2 neighbours: (H+1, W+1) -> (H, W)."""
    h = x[..., 1:] + x[..., :-1]
    return torch.add(h[..., 1:, :], h[..., :-1, :])


class _BoxPad(torch.autograd.Function):
    """2x2 mean over the zero-padded map, (H, W) -> (H+1, W+1): ``avg_pool2d(x, 2, 1, 1)``.
    Its adjoint is :class:`_BoxValid` and the reverse, so every derivative is one of the two.
    As slices and adds they run 5-8x faster than a stride-1 average pool on NCHW maps (CPU)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return _box_sum(F.pad(x, [1, 1, 1, 1])).mul_(0.25)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _BoxValid.apply(grad)


class _BoxValid(torch.autograd.Function):
    """2x2 mean without padding, (H+1, W+1) -> (H, W): ``avg_pool2d(x, 2, 1)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return _box_sum(x).mul_(0.25)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _BoxPad.apply(grad)


# Resampling convolutions: the same function in three forms, each fastest somewhere (measured
# fwd + bwd on a 2-core CPU, batch 4, one thread: 8 px 26 / 31 / 54 ms for upsample+conv as
# two steps / box / fused; 16 px 90 / 59 / 89; 32 px 447 / 176 / 222).
# - two steps (upsample only): nearest upsample, then the 3x3 conv; below UP_TWO_STEP_PIXELS
#   output pixels per call (images x height x width), where the other forms' extra ops cost
#   more than the FLOPs they save;
# - box: the 3x3 conv strided (transposed to upsample), with a 2x2 box filter beside it: 9/36
#   of the two-step FLOPs. A nearest upsample is a zero-insertion followed by a 2x2 box, and a
#   2x2 average pool is a 2x2 box followed by a 2-fold subsampling; the box commutes with the
#   conv, so it moves to the side where the map is the conv's output (up) or input (down);
# - fused: one strided (transposed) 4x4 conv whose kernel is the 3x3 one convolved with the
#   box (16/36 of the FLOPs; the reference's own form from 128 px up), where the map has more
#   than FUSED_MAP_RATIO times the weight's elements: there the box filter's pass over the map
#   costs more than the 7/36 of FLOPs it saves (64 px, 256 channels).
UP_TWO_STEP_PIXELS = 1024
FUSED_MAP_RATIO = 2


class FusedUpsample(EqualConv2d):
    """Nearest 2x upsampling + 3x3 conv, computed in the form fastest for the map (above).

    With ``gain=1`` this is exactly ``conv3x3(upsample_nearest(x))``; the reference's own
    fused layer (>= 128 px) is the same with ``gain=1/4``.
    """

    def __init__(self, in_ch: int, out_ch: int, gain: float = 1.0):
        super().__init__(in_ch, out_ch, 3, padding=1)
        self.gain = gain
        self.register_buffer("fuse", fuse_matrix(self.scale * gain, flip=True), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.shape[0] * x.shape[2] * x.shape[3] * 4
        if pixels < UP_TWO_STEP_PIXELS:
            out = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), self.weight, None, padding=1)
            return self.scaled_plus_bias(out, self.scale * self.gain)
        if pixels * self.weight.shape[0] <= FUSED_MAP_RATIO * self.weight.numel():
            # The transposed conv takes (in, out) kernels, flipped: it correlates the other way
            # round. Its (2H+1)-px output, box-summed (4x the average), is the 2H-px result.
            w = self.weight.transpose(0, 1).flip(2, 3)
            out = _BoxValid.apply(F.conv_transpose2d(x, w, stride=2))
            return self.scaled_plus_bias(out, 4 * self.scale * self.gain)
        # conv_transpose2d takes (in, out, 4, 4): transposing the 3x3 weight before the build
        # copies 9/16 of what transposing the 4x4 kernel would (forward and backward).
        w = fused_kernel(self.weight.transpose(0, 1), self.fuse)
        return F.conv_transpose2d(x, w, self.bias, stride=2, padding=1)


class FusedDownsample(EqualConv2d):
    """3x3 conv + 2x2 average pooling, computed in the form fastest for the map (above): the
    2x2 box (a stride-1 average pool) then the 3x3 conv at stride 2, or one stride-2 4x4 conv.
    The reference uses the two-step form below 128 px and the 4x4 one from there."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(in_ch, out_ch, 3, padding=1)
        self.register_buffer("fuse", fuse_matrix(self.scale / 4), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() <= FUSED_MAP_RATIO * self.weight.numel():
            return self.conv(_BoxPad.apply(x), padding=0, stride=2)
        return F.conv2d(x, fused_kernel(self.weight, self.fuse), self.bias, stride=2, padding=1)


class _SymmetricBlur(torch.autograd.Function):
    """A depthwise conv with a symmetric kernel is its own adjoint: its backward is the same
    blur, and so is every higher derivative. Autograd's generic double backward of a depthwise
    conv (the gradient penalties' path) instead runs one small convolution per channel (512
    calls per blur at 8 px on a CPU); the reference avoids it the same way."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(kernel)
        return F.conv2d(x, kernel, padding=1, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (kernel,) = ctx.saved_tensors
        # Under autocast the forward's conv ran in bf16 whatever the input's dtype was.
        return _SymmetricBlur.apply(grad, kernel.to(grad.dtype)), None


class Blur(nn.Module):
    """Depthwise [1 2 1] x [1 2 1] / 16 low-pass filter."""

    def __init__(self, ch: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).expand(ch, 1, 3, 3).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SymmetricBlur.apply(x, self.kernel.to(x.dtype))


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class NoiseInjection(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, ch, 1, 1))
        self.scale = math.sqrt(2 / ch)

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(x, self.weight, noise, value=self.scale)  # one pass over the map


class AdaIN(nn.Module):
    def __init__(self, ch: int, style_dim: int):
        super().__init__()
        self.style = EqualLinear(style_dim, 2 * ch, bias=torch.cat([torch.ones(ch), torch.zeros(ch)]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.style(w)[:, :, None, None].chunk(2, dim=1)
        if x.is_contiguous():  # NCHW: instance_norm's kernels run 3x faster than var_mean's (CPU)
            return torch.addcmul(beta, F.instance_norm(x), gamma)
        # Instance norm by hand: F.instance_norm would turn channels-last maps back to NCHW.
        # gamma / std is folded per (image, channel), so the map sees a subtract and one
        # multiply-add (x * scale + shift would cancel badly where the mean dwarfs the std).
        var, mean = torch.var_mean(at_least_fp32(x), dim=(2, 3), keepdim=True, unbiased=False)
        return torch.addcmul(beta, x - mean, gamma * torch.rsqrt(var + 1e-5))


class StyledBlock(nn.Module):
    """One generator resolution: (upsample, conv, blur | constant) -> noise -> lrelu -> AdaIN, twice."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, size: int):
        super().__init__()
        self.size = size
        if size == 4:
            self.const = nn.Parameter(torch.randn(1, out_ch, 4, 4))
        else:
            self.up = FusedUpsample(in_ch, out_ch, gain=0.25 if size >= FUSED_FROM else 1.0)
            self.blur1 = Blur(out_ch)
        self.noise1, self.adain1 = NoiseInjection(out_ch), AdaIN(out_ch, style_dim)
        self.conv2 = EqualConv2d(out_ch, out_ch, 3, padding=1)
        self.noise2, self.adain2 = NoiseInjection(out_ch), AdaIN(out_ch, style_dim)

    def forward(self, x: torch.Tensor | None, w: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                noise: torch.Tensor) -> torch.Tensor:
        """``w``: one style for both AdaINs, or a pair (per-layer truncation gives each its own)."""
        w1, w2 = w if isinstance(w, tuple) else (w, w)
        if self.size == 4:
            out = self.const.expand(w1.shape[0], -1, -1, -1).to(w1.dtype)
        else:
            out = self.blur1(self.up(x))
        out = self.adain1(F.leaky_relu(self.noise1(out, noise), 0.2), w1)
        out = self.conv2(out)
        return self.adain2(F.leaky_relu(self.noise2(out, noise), 0.2), w2)


class Generator(nn.Module):
    def __init__(self, max_size: int = 1024, latent_dim: int = 512, mapping_layers: int = 8,
                 max_channels: int = 512):
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = [PixelNorm()]
        for _ in range(mapping_layers):
            layers += [EqualLinear(latent_dim, latent_dim), nn.LeakyReLU(0.2)]
        self.style = nn.Sequential(*layers)
        sizes = [4 * 2**i for i in range(int(math.log2(max_size)) - 1)]
        ch = [channels(s, max_channels) for s in sizes]
        self.blocks = nn.ModuleList(
            StyledBlock(ch[max(i - 1, 0)], ch[i], latent_dim, s) for i, s in enumerate(sizes))
        self.to_rgb = nn.ModuleList(EqualConv2d(c, 3, 1) for c in ch)

    def mapping_parameters(self) -> list[nn.Parameter]:
        return list(self.style.parameters())

    def synthesis_parameters(self) -> list[nn.Parameter]:
        ids = {id(p) for p in self.style.parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def make_noise(self, batch: int, step: int, device, generator: torch.Generator | None = None):
        return [torch.randn(batch, 1, 4 * 2**i, 4 * 2**i, device=device, generator=generator)
                for i in range(step + 1)]

    def synthesize(self, ws: list, step: int, alpha: float,
                   noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Image at 4*2**step px from one style batch per block (len(ws) >= step + 1), or a
        pair per block: one per AdaIN layer (layer 2i and 2i+1 of official StyleGAN's count)."""
        first = ws[0][0] if isinstance(ws[0], tuple) else ws[0]
        if noise is None:
            noise = self.make_noise(first.shape[0], step, first.device)
        out = prev = None
        for i in range(step + 1):
            prev = out
            out = self.blocks[i](out, ws[i], noise[i].to(first.dtype))
        rgb = self.to_rgb[step](out)
        if step > 0 and 0 <= alpha < 1:
            skip = F.interpolate(self.to_rgb[step - 1](prev), scale_factor=2, mode="nearest")
            rgb = torch.lerp(skip, rgb, alpha)
        return rgb

    def forward(self, z: torch.Tensor, step: int, alpha: float = 1.0, z2: torch.Tensor | None = None,
                crossover: int = -1, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Images from latents; with ``z2``, blocks after ``crossover`` take z2's style."""
        w = self.style(z)
        w2 = self.style(z2) if z2 is not None else w
        ws = [w if i <= crossover or z2 is None else w2 for i in range(step + 1)]
        return self.synthesize(ws, step, alpha, noise)


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, size: int):
        super().__init__()
        self.size = size
        if size == 4:  # the minibatch-stddev channel is appended before this block
            self.conv1 = EqualConv2d(in_ch + 1, out_ch, 3, padding=1)
            self.conv2 = EqualConv2d(out_ch, out_ch, 4)
            return
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, padding=1)
        self.blur = Blur(out_ch)
        self.conv2 = FusedDownsample(out_ch, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.conv1(x), 0.2)
        if self.size == 4:
            return F.leaky_relu(self.conv2(out), 0.2)
        return F.leaky_relu(self.conv2(self.blur(out)), 0.2)


class Discriminator(nn.Module):
    def __init__(self, max_size: int = 1024, max_channels: int = 512):
        super().__init__()
        sizes = [4 * 2**i for i in range(int(math.log2(max_size)) - 1)]
        ch = [channels(s, max_channels) for s in sizes]
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(ch[i], ch[max(i - 1, 0)], s) for i, s in enumerate(sizes))
        self.from_rgb = nn.ModuleList(EqualConv2d(3, c, 1) for c in ch)
        self.linear = EqualLinear(ch[0], 1)

    def forward(self, x: torch.Tensor, step: int, alpha: float = 1.0, groups: int = 1) -> torch.Tensor:
        """Scores of ``x``; with ``groups`` > 1, ``x`` is that many batches of equal size side
        by side (real and fake), each scored as if alone: the minibatch-stddev channel is taken
        within each. One pass of the joint batch runs larger, fewer convolutions."""
        out = F.leaky_relu(self.from_rgb[step](x), 0.2)
        for i in range(step, -1, -1):
            if i == 0:
                per = at_least_fp32(out).unflatten(0, (groups, -1))
                std = torch.sqrt(per.var(1, unbiased=False) + 1e-8).flatten(1).mean(1)  # (groups,)
                std = std.to(out.dtype).repeat_interleave(out.shape[0] // groups)
                out = torch.cat([out, std[:, None, None, None].expand(-1, 1, 4, 4)], 1)
            out = self.blocks[i](out)
            if i == step and i > 0 and 0 <= alpha < 1:
                skip = F.leaky_relu(self.from_rgb[i - 1](F.avg_pool2d(x, 2)), 0.2)
                out = torch.lerp(skip, out, alpha)
        return self.linear(out.flatten(1))
