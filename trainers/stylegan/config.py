"""Every setting of the StyleGAN trainer, declared once.

The command line is generated from the fields of :class:`Settings` by
:mod:`trainers.cli_config` (names as in rosinality/style-based-gan-pytorch's ``train.py`` where
they mean the same). ``__post_init__`` rejects impossible values before any folder is created;
it checks values only, so a saved run's config.json reads back after the LMDB has moved.
:meth:`Settings.check_files` and the world-size check run where training starts.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers import cli_config
from trainers.cli_config import setting as _f

LOSSES = ("r1", "wgan-gp")
DEVICES = ("auto", "cpu", "cuda")

# The reference's --sched schedules: learning rate and batch per resolution.
SCHED_LR = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
SCHED_BATCH = {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32}

# Upper bounds the trainer can honour. A config.json or a checkpoint's "config" comes from a run
# folder someone else may have written: without them a 7 KB checkpoint claiming latent_dim=8000
# made the model worker build 8000-wide layers (5 GB, minutes of CPU per grid).
UPPER = {"latent_dim": 2048, "mapping_layers": 32, "max_channels": 2048, "batch": 8192,
         "phase": 10**10, "iterations": 10**9, "ckpt_every": 10**9, "sample_every": 10**9,
         "sample_n": 256, "log_every": 10**9, "r1_every": 10**6, "swd_every": 10**9,
         "swd_images": 65_536, "fid_images": 200_000, "data_workers": 64, "seed": 2**63 - 1}
MAX_FLOAT = {"lr": 10.0, "r1_gamma": 1e6, "gp_lambda": 1e6, "data_cache_gb": 1e5}


@dataclass(frozen=True)
class Settings:
    lmdb: str = _f("", "LMDB made by `curate prepare` or the reference's prepare_data.py", positional=True)
    # Progressive growing.
    init_size: int = _f(8, "first training resolution (px, power of two, 4-1024)")  # px
    max_size: int = _f(1024, "final training resolution (px); equal to init_size = no growing")  # px
    phase: int = _f(600_000, "images shown per fade-in phase; each resolution lasts two phases")  # images
    sched: bool = _f(False, "the reference's per-resolution lr/batch schedule")  # flag
    # Optimisation.
    batch: int = _f(16, "global batch size, split across GPUs under torchrun")  # images
    lr: float = _f(0.001, "Adam learning rate (the mapping network uses lr x 0.01)")  # 1
    loss: str = _f("r1", "D/G loss: non-saturating logistic + R1, or WGAN-GP", choices=LOSSES)
    r1_gamma: float = _f(10.0, "R1 penalty weight gamma")  # 1
    r1_every: int = _f(1, "lazy R1: penalise every k iterations, scaled by k (1 = every step)")  # iterations
    gp_lambda: float = _f(10.0, "WGAN-GP gradient penalty weight")  # 1
    mixing: bool = _f(True, "style-mixing regularisation")  # flag
    mixing_prob: float = _f(0.9, "probability of mixing two latents in a batch")  # probability
    ema_decay: float = _f(0.999, "decay of the EMA generator used for samples, per iteration")  # 1
    # Model size (512 / 512 / 8 is the StyleGAN of the paper and the reference).
    latent_dim: int = _f(512, "latent and style vector size")  # features
    mapping_layers: int = _f(8, "layers of the mapping network")  # layers
    max_channels: int = _f(512, "cap on feature maps per layer (512 = the reference)")  # channels
    # Length and artefacts.
    iterations: int = _f(100_000, "iterations to train (each = one D step + one G step)")  # iterations
    ckpt_every: int = _f(10_000, "checkpoint period")  # iterations
    sample_every: int = _f(100, "sample-grid period")  # iterations
    sample_n: int = _f(32, "images in each sample grid")  # images
    log_every: int = _f(100, "metrics.jsonl / progress period")  # iterations
    swd_every: int = _f(10_000, "sliced Wasserstein distance period (0 = never)")  # iterations
    swd_images: int = _f(2048, "images per side for the SWD")  # images
    fid_inception: str = _f("", "local TorchScript Inception detector (NVlabs inception-2015-12-05.pt) for FID")
    fid_images: int = _f(5000, "generated images for FID")  # images
    out: str = _f("", "run folder (default <workspace>/runs/stylegan-<UTC timestamp>, see trainers.runs.runs_root)")
    resume: bool = _f(False, "continue the run in --out from its newest checkpoint")  # flag
    seed: int = _f(0, "random seed")  # 1
    # Data.
    data_cache_gb: float = _f(0.0, "decoded images kept in memory at most (GB); a larger set streams "
                                   "from the LMDB in worker processes (0 = half the available memory)")  # GB
    data_workers: int = _f(0, "worker processes decoding a streamed set (0 = half the cores, 1-8)")  # processes
    # Speed.
    device: str = _f("auto", "auto, cpu or cuda", choices=DEVICES)
    amp: bool = _f(True, "bf16 autocast (CUDA only)")  # flag
    channels_last: bool = _f(True, "NHWC memory format (CUDA only)")  # flag
    compile: bool = _f(False, "torch.compile G and D (the R1 pass stays eager)")  # flag
    tf32: bool = _f(True, "allow TF32 matmuls/convolutions where fp32 remains")  # flag
    deterministic: bool = _f(False, "CUDA: deterministic kernels, no cudnn.benchmark (slower); "
                                    "needed for a bit-identical resume on a GPU")  # flag

    def __post_init__(self) -> None:
        problems = []
        for name in ("init_size", "max_size"):
            v = getattr(self, name)
            if v < 4 or v > 1024 or v & (v - 1):
                problems.append(f"--{name} must be a power of two from 4 to 1024, got {v}")
        if self.init_size > self.max_size:
            problems.append(f"--init_size {self.init_size} is larger than --max_size {self.max_size}")
        positive = ("batch", "phase", "iterations", "ckpt_every", "sample_every", "sample_n",
                    "log_every", "r1_every", "latent_dim", "mapping_layers", "max_channels",
                    "swd_images", "fid_images")
        problems += [f"--{n} must be >= 1, got {getattr(self, n)}" for n in positive if getattr(self, n) < 1]
        problems += [f"--{n} must be at most {hi:,}, got {getattr(self, n)}"
                     for n, hi in UPPER.items() if getattr(self, n) > hi]
        problems += [f"--{n} must be a number at most {hi:g}, got {getattr(self, n)}"
                     for n, hi in MAX_FLOAT.items()
                     if not (math.isfinite(getattr(self, n)) and getattr(self, n) <= hi)]
        if self.seed < 0:
            problems.append(f"--seed must be >= 0, got {self.seed}")
        if self.data_cache_gb < 0 or self.data_workers < 0:
            problems.append("--data_cache_gb and --data_workers must be >= 0")
        if self.swd_every < 0:
            problems.append(f"--swd_every must be >= 0, got {self.swd_every}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            problems.append(f"--lr must be a positive number, got {self.lr}")
        if not 0 <= self.mixing_prob <= 1:
            problems.append(f"--mixing_prob must be in [0, 1], got {self.mixing_prob}")
        if not 0 <= self.ema_decay < 1:
            problems.append(f"--ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.r1_gamma < 0 or self.gp_lambda < 0:
            problems.append("--r1_gamma and --gp_lambda must be >= 0")
        if self.loss not in LOSSES:
            problems.append(f"--loss must be one of {LOSSES}, got {self.loss!r}")
        if self.device not in DEVICES:
            problems.append(f"--device must be one of {DEVICES}, got {self.device!r}")
        if not self.lmdb:
            problems.append("the LMDB path is required")
        if self.resume and not self.out:
            problems.append("--resume needs --out runs/NAME (the run to continue)")
        if problems:
            raise ValueError("; ".join(problems))

    def check_files(self) -> None:
        """What the machine must provide to train: the files named and a batch that splits over
        the processes. Not in ``__post_init__``, which a saved config also goes through."""
        problems = []
        if self.batch % world_size():
            problems.append(f"--batch {self.batch} does not split over {world_size()} processes")
        if self.sched and any(b % world_size() for b in SCHED_BATCH.values()):
            problems.append(f"--sched batches do not split over {world_size()} processes")
        if not Path(self.lmdb).exists():
            problems.append(f"LMDB not found: {self.lmdb}")
        if self.fid_inception and not Path(self.fid_inception).is_file():
            problems.append(f"--fid_inception file not found: {self.fid_inception}")
        if problems:
            raise ValueError("; ".join(problems))

    # Derived values ----------------------------------------------------------
    def sizes(self) -> list[int]:
        """Resolutions trained, init_size..max_size (px)."""
        return [2**k for k in range(int(math.log2(self.init_size)), int(math.log2(self.max_size)) + 1)]

    def batch_at(self, size: int) -> int:
        return SCHED_BATCH.get(size, self.batch) if self.sched else self.batch

    def lr_at(self, size: int) -> float:
        return SCHED_LR.get(size, self.lr) if self.sched else self.lr

    def to_dict(self) -> dict[str, Any]:
        return {"trainer": "stylegan", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], **overrides: Any) -> "Settings":
        """Settings of a saved config.json (or a checkpoint's "config"); needs no LMDB."""
        return cli_config.from_dict(cls, d, **overrides)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def parse_args(argv: list[str] | None = None) -> tuple[Settings, bool]:
    """(settings, dry_run) from the command line (trainers.cli_config's conventions)."""
    return cli_config.parse(Settings, "stylegan", argv, prog="python -m trainers.stylegan",
                            description="Train a StyleGAN (v1).")
