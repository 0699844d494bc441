"""Every pix2pix setting, declared once: a frozen dataclass whose fields carry their help; the
command line is generated from them by :mod:`trainers.cli_config` (``--l1-lambda`` and
``--l1_lambda`` alike, ``--dry-run``, default ``--out <workspace>/runs/pix2pix-<UTC timestamp>``).

The defaults are the seed's (the TensorFlow pix2pix tutorial at 256 px, batch 1, Adam 2e-4/0.5,
λ = 100, learning rate divided by 10 every 50 epochs, 150 epochs).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers import cli_config, runs
from trainers.cli_config import setting as _f

SIZES = (32, 64, 128, 256, 512)  # the U-Net goes down to 1×1, so the side must be a power of two
OPTIMIZERS = ("adam", "radam")
SWITCHES = ("auto", "on", "off")


@dataclass(frozen=True)
class Pix2PixConfig:
    pairs: str = _f("", "folder of the sketch-pair export (train/ and val/ of side-by-side JPEGs)",
                    positional=True)
    out: str = _f("", "run folder (default <workspace>/runs/pix2pix-<UTC timestamp>, see trainers.runs.runs_root)")
    size: int = _f(256, "side of the square images the networks take (px: 32, 64, 128, 256, 512)")
    epochs: int = _f(150, "epochs to train in total (a resumed run stops at this epoch too)")
    batch: int = _f(1, "images per optimizer step, summed over all GPUs (the tutorial's is 1)")
    lr: float = _f(2e-4, "Adam learning rate of both networks at epoch 1")
    beta1: float = _f(0.5, "Adam β1 (the paper's 0.5 instead of Keras's 0.9)")
    l1_lambda: float = _f(100.0, "weight of the L1 term in the generator's loss")
    lr_drop_every: int = _f(50, "epochs between learning-rate drops; 0 = never drop")
    lr_drop_factor: float = _f(0.1, "learning rate multiplier at each drop")
    optimizer: str = _f("adam", "adam | radam (rectified Adam, same β1/β2)", choices=OPTIMIZERS)
    val: float = _f(0.2, "share of pairs held out for validation when the folder has no val/")
    seed: int = _f(0, "seed of that split, of weight init and of the jitter")
    jitter: float = _f(0.12, "share the image is enlarged before a random crop back (0 = no jitter)")
    mirror: bool = _f(True, "random left-right flips of training pairs")
    grid_pairs: int = _f(4, "fixed validation pairs shown in each epoch's grid")
    keep_checkpoints: int = _f(3, "checkpoints kept in checkpoints/ (the newest)")
    resume: bool = _f(False, "continue the run in --out from its newest checkpoint")
    mixed_precision: str = _f("auto", "auto | on | off; auto = on with a GPU (float16) or a CPU with AMX-BF16 (bfloat16)",
                              choices=SWITCHES)
    xla: str = _f("auto", "auto | on | off; jit_compile the train step; auto = on when a GPU is present",
                  choices=SWITCHES)

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
        """The settings of a saved config.json; needs neither the pairs folder nor TensorFlow."""
        return cli_config.from_dict(cls, data)


def load_config(run_dir: str | Path) -> Pix2PixConfig:
    if not runs.is_run(run_dir):
        raise FileNotFoundError(f"{run_dir} is not a pix2pix run folder: no config.json")
    data = runs.read_config(run_dir)
    if data.get("trainer") != "pix2pix":
        raise ValueError(f"{Path(run_dir) / runs.CONFIG} is a {data.get('trainer')!r} run, not a pix2pix one")
    return Pix2PixConfig.from_json(data)


def parse_args(argv: list[str] | None = None) -> tuple[Pix2PixConfig, bool]:
    """(config, dry_run) from the command line; raises ValueError on impossible values."""
    return cli_config.parse(Pix2PixConfig, "pix2pix", argv, prog="python -m trainers.pix2pix",
                            description="Train pix2pix (sketch → face photo) on a sketch-pair export.")
