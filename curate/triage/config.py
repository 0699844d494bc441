"""The triage training settings, declared once: the CLI flags and the Admin page read them here.

No torch here: `curate --help` and the app server import this module.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

SIDES = (32, 48, 64, 96, 128)  # image sides the network is built for
MAX_MEMBERS = 8  # networks in one committee


class TriageError(ValueError):
    """Training or scoring cannot go on; str() says why in one line."""


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    seed: int = _f(0, "the same decisions and seed give the same model on the CPU")
    side: int = _f(64, "px: the image side the network sees (32, 48, 64, 96 or 128)")
    width: int = _f(16, "channels of the first convolution (then ×2, ×4, ×6)")
    members: int = _f(2, "networks trained from their own starts, their scores averaged "
                         "(steadier ranking; each costs one training)")
    epochs: int = _f(0, "passes over the training images (0: chosen by their number)")
    batch: int = _f(64, "images per step")
    lr: float = _f(3e-3, "peak learning rate of the one-cycle schedule")
    held_out: float = _f(0.2, "share of the decided images judged, never trained on")
    pool: float = _f(1.0, "images nobody decided, per decided training image, learnt as weak "
                          "rejects (0: none)")
    pool_weight: float = _f(0.1, "the loss weight of those weak rejects (a decided image: 1)")
    device: str = _f("auto", "auto (CUDA when there is one), cpu or cuda")
    workers: int = _f(0, "image decoding processes (0: all cores)")

    def __post_init__(self):
        if self.side not in SIDES:
            raise TriageError("--side must be one of 32, 48, 64, 96, 128")
        if not 1 <= self.width <= 64:
            raise TriageError("--width must be between 1 and 64")
        if not 1 <= self.members <= MAX_MEMBERS:
            raise TriageError(f"--members must be between 1 and {MAX_MEMBERS}")
        if not 0 <= self.epochs <= 200 or not 2 <= self.batch <= 1024:
            raise TriageError("--epochs must be 0–200 and --batch 2–1024")
        if not 0.05 <= self.held_out <= 0.5:
            raise TriageError("--held-out must be between 0.05 and 0.5")
        if not 0 < self.lr <= 1:
            raise TriageError("--lr must be in (0, 1]")
        if not 0 <= self.pool <= 10 or not 0 <= self.pool_weight <= 1:
            raise TriageError("--pool must be 0–10 and --pool-weight 0–1")
        if self.device not in ("auto", "cpu", "cuda"):
            raise TriageError("--device must be auto, cpu or cuda")
        if not 0 <= self.workers <= 64:
            raise TriageError("--workers must be between 0 and 64")


def add_train_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (`--held-out` for held_out), with its help and default."""
    for f in dataclasses.fields(TrainConfig):
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=type(f.default),
                       default=f.default, help=f"{f.metadata['help']} (default {f.default})")


def from_flags(a: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(a, f.name) for f in dataclasses.fields(TrainConfig)})
