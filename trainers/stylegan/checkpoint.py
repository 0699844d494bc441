"""Checkpoints: a plain dict of state_dicts, written atomically, with the RNG states.

``{"G", "D", "G_ema", "opt_G", "opt_D", "config", "iteration", "version", "size", "step",
"alpha", "rng"}``. A kill during ``save`` leaves the previous checkpoints intact
(curate.fsutil's temp file + fsync + rename). Names and discovery: :mod:`trainers.runs`.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from curate.fsutil import atomic_write_bytes
from trainers import runs

VERSION = 1


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save(ckpt: dict[str, Any], path: str | Path) -> Path:
    buf = io.BytesIO()
    torch.save({"version": VERSION, **ckpt}, buf)
    atomic_write_bytes(path, buf.getbuffer())
    return Path(path)


def resolve(path: str | Path) -> Path:
    """A checkpoint file as given, or the newest one when ``path`` is a run folder."""
    path = Path(path)
    if path.is_dir():
        found = runs.newest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no checkpoints in {path / 'checkpoints'}")
        return found
    return path


def pick_device(name: str = "auto") -> str:
    """``auto`` means CUDA when torch sees a GPU, else the CPU; other names pass through."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file, or the newest one when ``path`` is a run folder."""
    path = resolve(path)
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(ckpt, dict) or "G_ema" not in ckpt or "config" not in ckpt:
        raise ValueError(f"{path} is not a rostro StyleGAN checkpoint")
    return ckpt
