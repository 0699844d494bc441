"""The key layout of rosinality/style-based-gan-pytorch's networks, mapped onto this trainer's.

Pure functions on state dicts (no files): :mod:`.convert` reads the reference's checkpoints
and writes a run folder through them. The reference (``model.py``) and this trainer compute
the same functions; only the names and three storage conventions differ:

* **equalized learning rate**: the reference keeps the raw weight as ``<layer>.weight_orig``
  and a forward pre-hook multiplies it by ``sqrt(2 / fan_in)``; here the raw weight is
  ``<layer>.weight`` and ``forward`` applies the same scale. The tensor moves unchanged.
* **fused resampling**: the reference's ``FusedUpsample`` (generator, >= 128 px) stores its
  3x3 weight as (in, out, 3, 3) for ``conv_transpose2d``; here it is (out, in, 3, 3),
  flipped, because :class:`~.model.FusedUpsample` flips the kernel it builds. Below 128 px the
  reference's ``Upsample + EqualConv2d`` weight moves unchanged (this trainer computes that
  pair as a transposed conv of the same weight), and so do both of its downsampling forms.
* **discriminator order**: the reference's ``progression`` and ``from_rgb`` run from 1024 px
  (index 0) down to 4 px (the last); here ``blocks[i]`` and ``from_rgb[i]`` work at
  ``4 * 2**i`` px.

Noise strengths, AdaIN style layers, ``to_rgb`` and the mapping network match by name. Blur
kernels are buffers that both sides build themselves; they are not carried over.

Adam's state moves with its weight (the same permutation for ``exp_avg`` and ``exp_avg_sq``),
indexed as each optimizer numbers its parameters: the reference's G optimizer has the synthesis
parameters (``generator.*``) then the mapping network's (``style.*``, lr x 0.01), its D
optimizer all of D's parameters in module order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .model import CHANNELS, FUSED_FROM

Transform = Callable[[torch.Tensor], torch.Tensor]


class ReferenceLayoutError(ValueError):
    """The state dict is not one of the reference's networks, or not one this trainer has."""


def same(t: torch.Tensor) -> torch.Tensor:
    return t


def fused_up(t: torch.Tensor) -> torch.Tensor:
    """The reference's (in, out, 3, 3) FusedUpsample weight as this trainer's (out, in, 3, 3)."""
    return t.transpose(0, 1).flip(2, 3).contiguous()


@dataclass(frozen=True)
class Pair:
    ref: str  # the reference's key
    ours: str  # this trainer's key
    fn: Transform = same


def strip_prefix(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys without ``module.`` (a state dict taken from an ``nn.DataParallel`` wrapper)."""
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}


def parameter_names(sd: dict[str, torch.Tensor]) -> list[str]:
    """The keys of ``sd`` that are parameters, in module order: all but the Blur buffers
    (``X.weight`` beside an ``X.weight_flip``)."""
    blur = {k[: -len("_flip")] for k in sd if k.endswith(".weight_flip")}
    return [k for k in sd if k not in blur and not k.endswith(".weight_flip")]


def _count(sd: dict, pattern: str) -> int:
    found = {int(m.group(1)) for k in sd if (m := re.match(pattern, k))}
    if found != set(range(len(found))):
        raise ReferenceLayoutError(f"numbering of {pattern!r} has gaps: {sorted(found)}")
    return len(found)


@dataclass(frozen=True)
class Shape:
    """What the weights say about the networks: this trainer's model settings."""

    blocks: int  # generator blocks in the file (the reference always has 9: 4..1024 px)
    latent_dim: int
    mapping_layers: int
    max_channels: int

    @property
    def max_size(self) -> int:
        return 4 * 2 ** (self.blocks - 1)


def generator_shape(g: dict[str, torch.Tensor]) -> Shape:
    """Model settings of a reference ``StyledGenerator`` state dict; raises
    ReferenceLayoutError when the keys or channel counts are not the reference's layout."""
    if "generator.progression.0.conv1.input" not in g or "style.1.linear.weight_orig" not in g:
        some = ", ".join(list(g)[:4])
        raise ReferenceLayoutError(f"not a reference StyledGenerator (keys look like {some})")
    blocks = _count(g, r"generator\.progression\.(\d+)\.")
    mapping = len([k for k in g if re.fullmatch(r"style\.\d+\.linear\.weight_orig", k)])
    latent = g["style.1.linear.weight_orig"].shape[1]
    cap = g["generator.progression.0.conv1.input"].shape[1]
    for i in range(blocks):
        want = min(CHANNELS[4 * 2**i], cap)
        have = g[f"generator.progression.{i}.conv2.conv.weight_orig"].shape[0]
        if have != want:
            raise ReferenceLayoutError(
                f"block {i} ({4 * 2**i} px) has {have} channels; this trainer's layout with "
                f"{cap} at 4 px has {want}")
    return Shape(blocks, latent, mapping, cap)


def generator_pairs(g: dict[str, torch.Tensor], blocks: int) -> list[Pair]:
    """(reference key, our key, transform) of every parameter of our generator with ``blocks``
    blocks (4 .. 4 * 2**(blocks - 1) px)."""
    pairs = []
    for k in sorted({int(m.group(1)) for k in g if (m := re.fullmatch(r"style\.(\d+)\.linear\.weight_orig", k))}):
        pairs += [Pair(f"style.{k}.linear.weight_orig", f"style.{k}.weight"),
                  Pair(f"style.{k}.linear.bias", f"style.{k}.bias")]
    for i in range(blocks):
        r, o = f"generator.progression.{i}.", f"blocks.{i}."
        if i == 0:
            pairs.append(Pair(r + "conv1.input", o + "const"))
        elif r + "conv1.0.weight" in g:  # FusedUpsample + Blur
            if 4 * 2**i < FUSED_FROM:
                raise ReferenceLayoutError(f"fused upsampling at {4 * 2**i} px: not the reference's layout")
            pairs += [Pair(r + "conv1.0.weight", o + "up.weight", fused_up), Pair(r + "conv1.0.bias", o + "up.bias")]
        else:  # Upsample + EqualConv2d + Blur
            if 4 * 2**i >= FUSED_FROM:
                raise ReferenceLayoutError(
                    f"block {i} ({4 * 2**i} px) upsamples without fusing (the reference's fused=False): "
                    "this trainer's model fuses from 128 px, as the reference's default")
            pairs += [Pair(r + "conv1.1.conv.weight_orig", o + "up.weight"), Pair(r + "conv1.1.conv.bias", o + "up.bias")]
        for n in ("1", "2"):
            pairs += [Pair(f"{r}noise{n}.weight_orig", f"{o}noise{n}.weight"),
                      Pair(f"{r}adain{n}.style.linear.weight_orig", f"{o}adain{n}.style.weight"),
                      Pair(f"{r}adain{n}.style.linear.bias", f"{o}adain{n}.style.bias")]
        pairs += [Pair(r + "conv2.conv.weight_orig", o + "conv2.weight"), Pair(r + "conv2.conv.bias", o + "conv2.bias"),
                  Pair(f"generator.to_rgb.{i}.conv.weight_orig", f"to_rgb.{i}.weight"),
                  Pair(f"generator.to_rgb.{i}.conv.bias", f"to_rgb.{i}.bias")]
    return pairs


def discriminator_pairs(d: dict[str, torch.Tensor], blocks: int) -> list[Pair]:
    """The same for the reference's ``Discriminator``, whose block order is reversed. Raises
    ReferenceLayoutError for a discriminator without the activation after ``from_rgb``
    (``--no_from_rgb_activate``, and the reference's old checkpoints): this trainer's has it."""
    n = _count(d, r"progression\.(\d+)\.conv1\.0\.conv\.weight_orig")
    if n < blocks:
        raise ReferenceLayoutError(f"the discriminator has {n} blocks, {blocks} needed")
    if "from_rgb.0.0.conv.weight_orig" not in d:
        raise ReferenceLayoutError("the discriminator has no activation after from_rgb "
                                   "(trained with --no_from_rgb_activate, or an old reference checkpoint)")
    pairs = [Pair("linear.linear.weight_orig", "linear.weight"), Pair("linear.linear.bias", "linear.bias")]
    for i in range(blocks):
        k = n - 1 - i
        r, o = f"progression.{k}.", f"blocks.{i}."
        pairs += [Pair(r + "conv1.0.conv.weight_orig", o + "conv1.weight"), Pair(r + "conv1.0.conv.bias", o + "conv1.bias"),
                  Pair(f"from_rgb.{k}.0.conv.weight_orig", f"from_rgb.{i}.weight"),
                  Pair(f"from_rgb.{k}.0.conv.bias", f"from_rgb.{i}.bias")]
        if i == 0:
            pairs += [Pair(r + "conv2.0.conv.weight_orig", o + "conv2.weight"), Pair(r + "conv2.0.conv.bias", o + "conv2.bias")]
        elif r + "conv2.1.weight" in d:  # Blur + FusedDownsample
            pairs += [Pair(r + "conv2.1.weight", o + "conv2.weight"), Pair(r + "conv2.1.bias", o + "conv2.bias")]
        else:  # Blur + EqualConv2d + AvgPool2d: the same function as the fused form
            pairs += [Pair(r + "conv2.1.conv.weight_orig", o + "conv2.weight"), Pair(r + "conv2.1.conv.bias", o + "conv2.bias")]
    return pairs


def convert_weights(ref: dict[str, torch.Tensor], pairs: list[Pair],
                    ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``ours`` (a fresh state dict of our network: it supplies the buffers and the shapes)
    with every paired parameter taken from ``ref``."""
    out = dict(ours)
    for p in pairs:
        if p.ref not in ref:
            raise ReferenceLayoutError(f"key {p.ref!r} is missing")
        t = p.fn(ref[p.ref].detach().float())
        if t.shape != out[p.ours].shape:
            raise ReferenceLayoutError(f"{p.ref} has shape {tuple(ref[p.ref].shape)}, "
                                       f"{p.ours} needs {tuple(out[p.ours].shape)}")
        out[p.ours] = t
    return out


def convert_adam(ref_opt: dict, ref_order: list[str], pairs: list[Pair],
                 our_order: list[str], our_opt: dict) -> dict:
    """Our optimizer's state dict (``our_opt``, fresh: its param_groups) with the Adam state of
    each paired parameter from ``ref_opt``. ``ref_order`` / ``our_order``: the parameter names
    in each optimizer's numbering. Parameters the reference never stepped have no state."""
    ref_ids = [i for g in ref_opt["param_groups"] for i in g["params"]]
    if len(ref_ids) != len(ref_order):
        raise ReferenceLayoutError(f"the optimizer holds {len(ref_ids)} parameters, the network {len(ref_order)}")
    by_name = {name: ref_opt["state"].get(i) for name, i in zip(ref_order, ref_ids)}
    our_index = {name: i for i, name in enumerate(our_order)}
    state = {}
    for p in pairs:
        s = by_name.get(p.ref)
        if not s:
            continue
        step = s["step"]
        state[our_index[p.ours]] = {
            "step": torch.tensor(float(step.item() if isinstance(step, torch.Tensor) else step)),
            "exp_avg": p.fn(s["exp_avg"].float()), "exp_avg_sq": p.fn(s["exp_avg_sq"].float())}
    return {"state": state, "param_groups": our_opt["param_groups"]}


def generator_optimizer_order(g: dict[str, torch.Tensor]) -> list[str]:
    """The reference G optimizer's numbering: ``generator.*`` parameters, then ``style.*``."""
    names = parameter_names(g)
    return [k for k in names if k.startswith("generator.")] + [k for k in names if k.startswith("style.")]


def trained_blocks(g: dict[str, torch.Tensor]) -> int:
    """Blocks whose noise strengths moved from their initial zeros: the resolutions trained.
    (A block the reference never reached keeps its initial values: no gradient, no Adam step.)"""
    blocks = 0
    for i in range(_count(g, r"generator\.progression\.(\d+)\.")):
        w = [g.get(f"generator.progression.{i}.noise{n}.weight_orig") for n in ("1", "2")]
        if any(t is not None and bool(t.abs().sum() > 0) for t in w):
            blocks = i + 1
    return blocks


def size_from_name(name: str) -> int | None:
    """The trained size a reference file name tells: ``train_step-N.model`` was saved when
    the reference moved on from 4 * 2**(N-1) px; released files say ``256px``."""
    if m := re.search(r"train_step-(\d+)", name):
        return 4 * 2 ** (int(m.group(1)) - 1)
    if m := re.search(r"(\d+)px", name):
        size = int(m.group(1))
        return size if size >= 4 and not size & (size - 1) else None
    return None


def step_of(size: int) -> int:
    return int(math.log2(size)) - 2
