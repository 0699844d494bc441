"""Every pix2pix setting, declared once: a frozen dataclass, the CLI generated from its fields.

The defaults are the seed's (the TensorFlow pix2pix tutorial at 256 px, batch 1, Adam 2e-4/0.5,
λ = 100, learning rate divided by 10 every 50 epochs, 150 epochs).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SIZES = (32, 64, 128, 256, 512)  # the U-Net goes down to 1×1, so the side must be a power of two
OPTIMIZERS = ("adam", "radam")
SWITCHES = ("auto", "on", "off")


@dataclass(frozen=True)
class Pix2PixConfig:
    pairs: str = field(default="", metadata={"positional": True,
                       "help": "folder of the sketch-pair export (train/ and val/ of side-by-side JPEGs)"})
    out: str = ""  # run folder; "" = the next numbered folder under runs/
    size: int = 256  # px, side of the square images the networks take (32, 64, 128, 256, 512)
    epochs: int = 150  # epochs to train in total (a resumed run stops at this epoch too)
    batch: int = 1  # images per optimizer step, summed over all GPUs (the tutorial's is 1)
    lr: float = 2e-4  # Adam learning rate of both networks at epoch 1
    beta1: float = 0.5  # Adam β1 (the paper's 0.5 instead of Keras's 0.9)
    l1_lambda: float = 100.0  # weight of the L1 term in the generator's loss
    lr_drop_every: int = 50  # epochs between learning-rate drops; 0 = never drop
    lr_drop_factor: float = 0.1  # learning rate multiplier at each drop
    optimizer: str = "adam"  # adam | radam (rectified Adam, same β1/β2)
    val: float = 0.2  # share of pairs held out for validation when the folder has no val/
    seed: int = 0  # seed of that split, of weight init and of the jitter
    jitter: float = 0.12  # share the image is enlarged before a random crop back (0 = no jitter)
    mirror: bool = True  # random left-right flips of training pairs
    grid_pairs: int = 4  # fixed validation pairs shown in each epoch's grid
    keep_checkpoints: int = 3  # checkpoints kept in checkpoints/ (the newest)
    resume: bool = False  # continue the run in --out from its newest checkpoint
    mixed_precision: str = "auto"  # auto | on | off; auto = on when a GPU is present
    xla: str = "auto"  # auto | on | off; jit_compile the train step; auto = on when a GPU is present

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"--size {self.size} is not one the U-Net can take; use one of {SIZES}")
        for name in ("epochs", "batch", "grid_pairs", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"--beta1 must be in [0, 1), got {self.beta1}")
        if self.l1_lambda < 0:
            raise ValueError(f"--l1-lambda must be >= 0, got {self.l1_lambda}")
        if self.lr_drop_every < 0:
            raise ValueError(f"--lr-drop-every must be >= 0 (0 = never), got {self.lr_drop_every}")
        if not 0 < self.lr_drop_factor <= 1:
            raise ValueError(f"--lr-drop-factor must be in (0, 1], got {self.lr_drop_factor}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not 0 < self.val < 1:
            raise ValueError(f"--val must be in (0, 1), got {self.val}")
        if not 0 <= self.jitter <= 0.5:
            raise ValueError(f"--jitter must be in [0, 0.5], got {self.jitter}")
        for name in ("mixed_precision", "xla"):
            if getattr(self, name) not in SWITCHES:
                raise ValueError(f"--{name.replace('_', '-')} must be one of {SWITCHES}")
        if self.resume and not self.out:
            raise ValueError("--resume needs --out, the run folder to continue")

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 1-based ``epoch``: epochs 1..every at lr, then ×factor per block."""
        if self.lr_drop_every == 0:
            return self.lr
        return self.lr * self.lr_drop_factor ** ((epoch - 1) // self.lr_drop_every)

    def to_json(self) -> dict[str, Any]:
        return {"trainer": "pix2pix", **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Pix2PixConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def load_config(run_dir: str | Path) -> Pix2PixConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a pix2pix run folder: no config.json")
    data = json.loads(path.read_text())
    if data.get("trainer") != "pix2pix":
        raise ValueError(f"{path} is a {data.get('trainer')!r} run, not a pix2pix one")
    return Pix2PixConfig.from_json(data)


def next_run_dir(root: str | Path = "runs") -> Path:
    """runs/0001, runs/0002, ...: one past the highest numbered folder (nothing is created)."""
    root = Path(root)
    numbers = [int(m.group(1)) for p in root.glob("*")
               if (m := re.match(r"(\d+)", p.name)) and p.is_dir()] if root.is_dir() else []
    return root / f"{max(numbers, default=0) + 1:04d}"


def _comment(name: str) -> str:
    """The field's inline comment in this file is its --help text (declared once)."""
    src = Path(__file__).read_text().splitlines()
    for line in src:
        m = re.match(rf"\s+{name}: [^=]+=.*?#\s*(.*)$", line)
        if m:
            return m.group(1)
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainers.pix2pix",
        description="Train pix2pix (sketch → face photo) on a sketch-pair export.")
    for f in fields(Pix2PixConfig):
        help_text = f.metadata.get("help") or _comment(f.name)
        if f.metadata.get("positional"):
            parser.add_argument(f.name, help=help_text)
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default,
                                help=help_text)
        else:
            kind = {"int": int, "float": float, "str": str}[str(f.type)]
            choices = {"optimizer": OPTIMIZERS, "mixed_precision": SWITCHES, "xla": SWITCHES}
            parser.add_argument(flag, type=kind, default=f.default, help=help_text,
                                choices=choices.get(f.name), metavar=None)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved settings and write nothing")
    return parser


def parse_args(argv: list[str] | None = None) -> tuple[Pix2PixConfig, bool]:
    """(config, dry_run) from the command line; bad values exit with argparse's message."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    dry_run = args.pop("dry_run")
    try:
        cfg = Pix2PixConfig(**args)
    except ValueError as e:
        parser.error(str(e))
    if not cfg.out:
        cfg = dataclasses.replace(cfg, out=str(next_run_dir()))
    return cfg, dry_run
