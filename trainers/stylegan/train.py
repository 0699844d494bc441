"""The training loop: check the data, build or resume the state, train, write the run folder.

Run folder (:mod:`trainers.runs`): ``config.json``, ``metrics.jsonl``, ``samples/{iteration:06d}.png``,
``checkpoints/{iteration:06d}.pt``, ``mixing/{iteration:06d}.png`` and TensorBoard scalar
events (written by :mod:`.events`, without importing tensorboard or TensorFlow). A resumed run
first removes temp files a killed write left, then drops the metrics rows and events past its
checkpoint (they are trained again; a torn metrics line is dropped too). Each logged row is
appended before its iteration's checkpoint is saved, so the checkpoint's own row survives.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from trainers import runs

from . import checkpoint, events
from .config import Settings
from .bank import ImageBank
from .data import check_lmdb, memory_budget
from .evaluate import evaluate_fid, evaluate_swd
from .grid import make_grid, save_png, to_uint8
from .sampling import generate, latents, mixing_grid_for
from .step import Phase, Trainer, phase_at

log = logging.getLogger(__name__)


# Settings that shape the networks or the schedule; a resumed run must keep them.
MODEL_FIELDS = ("init_size", "max_size", "phase", "sched", "batch", "latent_dim", "mapping_layers", "max_channels")


class RunFolderError(ValueError):
    """The run folder cannot be started or continued as asked."""


def setup_device(cfg: Settings) -> tuple[torch.device, int, int]:
    """(device, rank, world size); joins the torchrun process group when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda but no CUDA device is visible")
    device = torch.device("cpu")
    if cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
        torch.backends.cudnn.allow_tf32 = cfg.tf32
        # cudnn.benchmark times candidate kernels and keeps the fastest, which may differ
        # between an uninterrupted and a resumed process; several backward kernels sum with
        # atomics. Either breaks bit-identical continuation, which --deterministic restores.
        torch.backends.cudnn.benchmark = not cfg.deterministic
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before cuBLAS starts
            torch.backends.cudnn.deterministic = True
            torch.use_deterministic_algorithms(True, warn_only=True)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return device, rank, world


# How long the other ranks wait for rank 0's artefacts (an FID over 50,000 images on a slow
# GPU, a checkpoint on a network disk) before giving up. The collective timeout of the training
# group (nccl's default, 10 min) stays for the all-reduces, where a wait means a hang.
ARTEFACT_TIMEOUT = timedelta(hours=6)


def artefact_group() -> dist.ProcessGroup:
    """A gloo group used only for the barrier after rank 0's artefacts: while rank 0 evaluates,
    the others wait there on the CPU with no nccl collective in flight, so no nccl timeout
    runs; all ranks create it (a collective call)."""
    return dist.new_group(backend="gloo", timeout=ARTEFACT_TIMEOUT)


def check_run(cfg: Settings) -> tuple[int, Path | None]:
    """Validate the files, the data and the run folder without writing; (image count,
    checkpoint to resume)."""
    cfg.check_files()
    n = check_lmdb(cfg.lmdb, cfg.sizes())
    out = Path(cfg.out)
    if cfg.resume:
        ckpt = runs.newest_checkpoint(out)
        if ckpt is None:
            raise RunFolderError(f"--resume: no checkpoint in {out / runs.CHECKPOINTS}")
        return n, ckpt
    if runs.is_run(out) or runs.newest_checkpoint(out) is not None:
        raise RunFolderError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    return n, None


def save_samples(trainer: Trainer, z: torch.Tensor, phase: Phase, path: Path, seed: int) -> None:
    imgs = generate(trainer.G_ema, z, phase.step, phase.alpha, seed)
    save_png(make_grid(to_uint8(imgs), cols=min(8, len(z))), path)


def save_mixing(trainer: Trainer, phase: Phase, path: Path, cfg: Settings) -> None:
    """A small style-mixing grid per checkpoint (3 sources x 3 styles)."""
    info = {"step": phase.step, "alpha": phase.alpha}
    save_png(mixing_grid_for(trainer.G_ema, info, [cfg.seed, cfg.seed + 1, cfg.seed + 2],
                             [cfg.seed + 3, cfg.seed + 4, cfg.seed + 5]), path)


def train(cfg: Settings, progress: bool = True) -> Path:
    """Train as ``cfg`` says; returns the run folder. Raises before writing on bad data or folder.

    A failed write (a full disk, a folder that became read-only) removes the temp files it
    left and raises RunFolderError naming the run folder: the newest checkpoint stays whole,
    and ``--resume`` continues from it."""
    try:
        return _train(cfg, progress)
    except (FileNotFoundError, FileExistsError):  # a missing input, a used folder: as they are
        raise
    except OSError as e:
        if os.environ.get("RANK", "0") == "0":
            runs.clean_leftovers(cfg.out)
        what = e.strerror or str(e)
        raise RunFolderError(f"{cfg.out}: training stopped, {what}"
                             f"{f' ({e.filename})' if e.filename else ''}; temp files removed, "
                             "--resume continues from the newest checkpoint") from None


def _train(cfg: Settings, progress: bool) -> Path:
    device, rank, world = setup_device(cfg)
    n_images, resume_from = check_run(cfg)
    run_dir = Path(cfg.out)
    if world > 1:
        dist.barrier()  # every process has checked the folder before the first one writes

    # Build networks (same init on every process), then per-process RNG streams.
    torch.manual_seed(cfg.seed)
    trainer = Trainer(cfg, device, world)
    torch.manual_seed(cfg.seed * 7919 + rank)
    start = 0
    if resume_from is not None:
        ckpt = checkpoint.load(resume_from, map_location=device)
        changed = [f"--{k} {ckpt['config'].get(k)} -> {getattr(cfg, k)}" for k in MODEL_FIELDS
                   if ckpt["config"].get(k) != getattr(cfg, k)]
        if changed:
            raise RunFolderError(f"--resume cannot change the model of {resume_from}: {', '.join(changed)}")
        trainer.load_state_dict(ckpt)
        start = int(ckpt["iteration"])
        if world == 1 and "rng" in ckpt:  # a converted reference checkpoint has none
            checkpoint.set_rng_state(ckpt["rng"])
        else:
            torch.manual_seed(cfg.seed * 7919 + rank + 104729 * start)
        log.info("resuming %s at iteration %d on %s (--device %s)", resume_from, start, device, cfg.device)
        if device.type == "cpu" and cfg.device == "cpu" and torch.cuda.is_available():
            log.warning("%s asks for --device cpu though a GPU is visible; pass --device auto to use it",
                        run_dir / runs.CONFIG)

    # Load data: decode the first phase's images when they fit the memory budget (a corrupt
    # JPEG fails here, before writing); sizes that do not fit stream from the LMDB.
    bank = ImageBank(cfg.lmdb, device, cfg.seed, memory_budget(cfg.data_cache_gb), cfg.data_workers)
    try:
        return _loop(cfg, trainer, bank, start, device, rank, world, n_images, run_dir, progress)
    finally:
        bank.close()


def _loop(cfg: Settings, trainer: Trainer, bank: ImageBank, start: int, device: torch.device, rank: int,
          world: int, n_images: int, run_dir: Path, progress: bool) -> Path:
    lead = rank == 0
    bank.prepare(phase_at(cfg, start).size)
    streamed = [s for s in cfg.sizes() if bank.streams(s)]
    log.info("%d images, sizes %s (streamed from the LMDB: %s), device %s, %d process(es)",
             n_images, cfg.sizes(), streamed or "none", device, world)

    writer = None
    if lead:
        runs.clean_leftovers(run_dir)  # temp files of a run that was killed mid-write
        (run_dir / runs.SAMPLES).mkdir(parents=True, exist_ok=True)
        (run_dir / runs.CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        runs.write_config(run_dir, cfg.to_dict())
        runs.truncate_metrics(run_dir, "iteration", start)
        events.truncate(run_dir, start)
        writer = events.EventWriter(run_dir)
    channels_last = device.type == "cuda" and cfg.channels_last
    artefact_wait = artefact_group() if world > 1 else None
    sample_z = latents(cfg.sample_n, cfg.latent_dim, cfg.seed).to(device)

    # Train. The bar is closed on errors too, so an error line starts a line of its own.
    with tqdm(total=cfg.iterations, initial=start, disable=not (progress and lead), unit="it") as bar:
        t_window, img_window, t_start, last_log = time.perf_counter(), 0, time.perf_counter(), start
        for it in range(start + 1, cfg.iterations + 1):
            phase = phase_at(cfg, it - 1)
            real = bank.batch(phase.size, phase.batch, it, rank, world, channels_last)
            trainer.step(real, phase, it)
            img_window += phase.batch
            bar.update(1)

            do_swd = cfg.swd_every > 0 and (it % cfg.swd_every == 0 or it == cfg.iterations)
            # Rank 0's artefacts (SWD, FID, samples, checkpoints) can outlast the collective
            # timeout; the other ranks wait for them at a barrier of their own (artefact_group).
            artefacts = (do_swd or it % cfg.sample_every == 0 or it % cfg.ckpt_every == 0
                         or it == cfg.iterations)
            if not lead:
                if artefacts and artefact_wait is not None:
                    dist.barrier(group=artefact_wait)
                continue
            if not (artefacts or it % cfg.log_every == 0):
                continue
            row = None
            if it % cfg.log_every == 0 or it == cfg.iterations or do_swd:
                logs = trainer.pop_logs()
                dt = time.perf_counter() - t_window
                row = {"iteration": it, "size": phase.size, "alpha": phase.alpha, "batch": phase.batch,
                       "lr": phase.lr, **logs, "images_per_s": img_window / dt,
                       "iterations_per_s": (it - last_log) / dt, "elapsed_s": time.perf_counter() - t_start}
            t_art = time.perf_counter()
            if it % cfg.sample_every == 0 or it == cfg.iterations:
                save_samples(trainer, sample_z, phase, runs.sample_path(run_dir, "stylegan", it), cfg.seed)
            if do_swd and row is not None:
                row.update(evaluate_swd(trainer.G_ema, bank.images(phase.size), phase.step, phase.alpha,
                                        cfg.swd_images, cfg.seed))
                if cfg.fid_inception:
                    row.update(evaluate_fid(trainer.G_ema, bank.images(phase.size), phase.step, phase.alpha,
                                            cfg.fid_images, cfg.seed, cfg.fid_inception))
            if row is not None:  # before the checkpoint: a checkpoint's own row is never missing
                runs.append_metrics(run_dir, row)
                if writer is not None:
                    writer.scalars({k: v for k, v in row.items()
                                    if isinstance(v, (int, float)) and k != "iteration"}, it)
                bar.set_postfix(size=phase.size, d=f"{row.get('loss_d', 0):.3f}", g=f"{row.get('loss_g', 0):.3f}",
                                ips=f"{row['images_per_s']:.0f}")
            if it % cfg.ckpt_every == 0 or it == cfg.iterations:
                checkpoint.save({**trainer.state_dict(), "config": cfg.to_dict(), "iteration": it,
                                 "size": phase.size, "step": phase.step, "alpha": phase.alpha,
                                 "rng": checkpoint.rng_state()}, runs.checkpoint_path(run_dir, it))
                save_mixing(trainer, phase, run_dir / runs.MIXING / runs.step_name("stylegan", it, ".png"),
                            cfg)
            if artefacts and artefact_wait is not None:
                dist.barrier(group=artefact_wait)
            if row is not None:
                t_window, img_window, last_log = time.perf_counter(), 0, it
            else:
                t_window += time.perf_counter() - t_art  # artefacts do not count against throughput
    if writer is not None:
        writer.close()
    if world > 1:
        dist.barrier()
    return run_dir
