"""``python -m trainers.stylegan.convert REF.model --out runs/NAME [--size 64]``: a run folder
from a checkpoint of rosinality/style-based-gan-pytorch (the seed's reference).

Two kinds of file enter (both plain dicts of tensors, read weights-only):

* ``checkpoint/train_step-N.model`` (and the released ``stylegan-256px-new.model``):
  ``generator``, ``discriminator``, ``g_running`` (the EMA generator), ``g_optimizer``,
  ``d_optimizer``: everything ``--resume`` needs, Adam's moments included;
* ``checkpoint/NNNNNN.model``: the EMA generator's state dict alone. ``generate``, ``mix``
  and the galleries use it as it is; ``--resume`` starts G from it, with a fresh D and fresh
  optimizers.

The run folder gets ``config.json`` (model settings read from the weights: latent size,
mapping layers, channels; init and max size = the converted size; ``device: auto``, so that
``--resume`` trains on the GPU where there is one, though the conversion itself ran on the CPU) and one checkpoint in this
trainer's format (:mod:`.checkpoint`), named by the iteration the file's name gives (0 for
``train_step-N``). The mapping itself is in :mod:`.reference`.

The size: ``--size``, else what the file name says (``train_step-N`` was saved on leaving
4 * 2**(N-1) px; released files say ``256px``), else the largest resolution the weights show
trained (noise strengths moved from zero). The networks are cut to that size.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any

import torch

from trainers import runs

from . import checkpoint, reference
from .config import Settings
from .step import Trainer

log = logging.getLogger(__name__)

WHAT = "reference StyleGAN checkpoint"
NO_LMDB = "(converted: give the LMDB when resuming)"  # config.json's lmdb until a resume names one


NETWORKS = ("g_running", "generator", "discriminator")  # state dicts of a train_step file
OPTIMIZERS = ("g_optimizer", "d_optimizer")


def classify(obj: Any, path: Path) -> tuple[str, dict[str, Any]]:
    """("train_step", the dict) or ("ema", {"g_running": state dict}); ValueError otherwise.

    Every network it holds must be a dict of names to plain tensors (no stride-0 or oversized
    tensor: :func:`.checkpoint.check_tensors`), and an optimizer state a dict: a crafted file
    is refused here, in one line, before any of it is used."""
    if isinstance(obj, dict) and ("g_running" in obj or "generator" in obj):
        kind = "train_step"
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        kind, obj = "ema", {"g_running": obj}
    else:
        keys = list(obj)[:5] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path}: not a {WHAT} (it holds {keys})")
    for name in NETWORKS:
        if name in obj:
            checkpoint.check_tensors(path, obj[name], name=name)
    for name in OPTIMIZERS:
        if name in obj and not isinstance(obj[name], dict):
            raise ValueError(f"{path}: its {name} is a {type(obj[name]).__name__}, not an "
                             "optimizer state")
    return kind, obj


def pick_size(requested: int | None, path: Path, g: dict, shape: reference.Shape) -> int:
    size = requested or reference.size_from_name(path.name)
    if size is None:
        trained = reference.trained_blocks(g)
        if trained == 0:
            raise ValueError(f"{path}: cannot tell the trained size from the weights; pass --size")
        size = 4 * 2 ** (trained - 1)
    if size < 4 or size & (size - 1) or size > shape.max_size:
        raise ValueError(f"--size {size}: the file holds sizes 4 to {shape.max_size} px (powers of two)")
    return size


def _order(model: torch.nn.Module, opt: torch.optim.Optimizer) -> list[str]:
    """Parameter names in the optimizer's numbering (its groups in order)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [names[id(p)] for group in opt.param_groups for p in group["params"]]


def convert(src: str | Path, out: str | Path, size: int | None = None, lmdb: str = "",
            batch: int = 32, loss: str = "wgan-gp", mixing: bool = False) -> Path:
    """Write the run folder ``out`` from the reference checkpoint ``src``; returns the
    checkpoint written. Raises ValueError (a file that is not a reference checkpoint, a layout
    this trainer lacks, a used folder) before anything is written."""
    src, out = Path(src), Path(out)
    kind, obj = classify(checkpoint.read_data(src, WHAT), src)
    try:
        return _convert(src, out, kind, obj, size, lmdb, batch, loss, mixing)
    except reference.ReferenceLayoutError as e:
        raise ValueError(f"{src}: {e}") from None
    except (KeyError, IndexError, TypeError, AttributeError, RuntimeError) as e:
        # Any other way the file departs from the reference's layout (a missing key, a tensor
        # of the wrong shape for its neighbours): one line, never a traceback.
        raise ValueError(f"{src}: not a {WHAT} this converter reads "
                         f"({type(e).__name__}: {str(e)[:200]})") from None


def _convert(src: Path, out: Path, kind: str, obj: dict, size: int | None, lmdb: str, batch: int,
             loss: str, mixing: bool) -> Path:
    if runs.is_run(out) or runs.newest_checkpoint(out) is not None:
        raise ValueError(f"{out} already holds a run; choose another --out")
    g_ema = reference.strip_prefix(obj["g_running"] if "g_running" in obj else obj["generator"])
    shape = reference.generator_shape(g_ema)
    size = pick_size(size, src, g_ema, shape)
    blocks = reference.step_of(size) + 1
    m = re.fullmatch(r"(\d+)\.model", src.name)
    iteration = int(m.group(1)) if kind == "ema" and m else 0
    cfg = Settings(lmdb=lmdb or NO_LMDB, init_size=size, max_size=size, latent_dim=shape.latent_dim,
                   mapping_layers=shape.mapping_layers, max_channels=shape.max_channels, batch=batch,
                   loss=loss, mixing=mixing, out=str(out))  # device: "auto"
    torch.manual_seed(cfg.seed)
    t = Trainer(cfg, torch.device("cpu"), amp=False)
    ckpt: dict[str, Any] = {"G_ema": reference.convert_weights(
        g_ema, reference.generator_pairs(g_ema, blocks), t.G_ema.state_dict())}
    t.G_ema.load_state_dict(ckpt["G_ema"])  # strict: every key and shape in place
    if kind == "train_step" and "generator" in obj:
        g = reference.strip_prefix(obj["generator"])
        g_pairs = reference.generator_pairs(g, blocks)
        ckpt["G"] = reference.convert_weights(g, g_pairs, t.G.state_dict())
        t.G.load_state_dict(ckpt["G"])
        if "g_optimizer" in obj:
            ckpt["opt_G"] = reference.convert_adam(obj["g_optimizer"], reference.generator_optimizer_order(g),
                                                   g_pairs, _order(t.G, t.opt_G), t.opt_G.state_dict())
    if kind == "train_step" and "discriminator" in obj:
        d = reference.strip_prefix(obj["discriminator"])
        try:
            d_pairs = reference.discriminator_pairs(d, blocks)
        except reference.ReferenceLayoutError as e:
            log.warning("%s: discriminator not converted (%s); --resume starts a fresh D", src, e)
        else:
            ckpt["D"] = reference.convert_weights(d, d_pairs, t.D.state_dict())
            t.D.load_state_dict(ckpt["D"])
            if "d_optimizer" in obj:
                ckpt["opt_D"] = reference.convert_adam(obj["d_optimizer"], reference.parameter_names(d),
                                                       d_pairs, _order(t.D, t.opt_D), t.opt_D.state_dict())
    ckpt.update(config=cfg.to_dict(), iteration=iteration, size=size, step=blocks - 1, alpha=1.0,
                converted_from={"file": str(src), "kind": kind})
    runs.write_config(out, cfg.to_dict())
    return checkpoint.save(ckpt, runs.checkpoint_path(out, iteration))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.stylegan.convert",
                                description="A run folder from a rosinality/style-based-gan-pytorch checkpoint.")
    p.add_argument("checkpoint", help="train_step-N.model or NNNNNN.model (or a released .model)")
    p.add_argument("--out", required=True, help="the run folder to create (runs/NAME)")
    p.add_argument("--size", type=int, default=None, help="resolution to convert (default: from the file)")
    p.add_argument("--lmdb", default="", help="the LMDB to record in config.json (a resume names it anyway)")
    p.add_argument("--batch", type=int, default=32, help="batch of the continued run (the reference's default 32)")
    p.add_argument("--loss", default="wgan-gp", choices=("wgan-gp", "r1"), help="loss of the continued run")
    p.add_argument("--mixing", action=argparse.BooleanOptionalAction, default=False,
                   help="style mixing in the continued run (the reference's default: off)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    try:
        path = convert(a.checkpoint, a.out, a.size, a.lmdb, a.batch, a.loss, a.mixing)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
