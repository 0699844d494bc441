"""Batches streamed from the LMDB by worker processes, for a dataset larger than memory.

The reference streams every batch (a ``DataLoader`` over its ``MultiResolutionDataset``);
here a size streams only when its decoded images would not fit the memory budget
(:class:`.bank.ImageBank`). The plan of each batch (:func:`.data.batch_plan`) is a pure
function of the seed and the iteration, so workers build batches ahead, in order, and the
batches equal the in-memory path's for the same seed.

A torch ``DataLoader`` over iteration numbers: each worker opens the LMDB itself, reads one
batch's JPEGs, decodes and flips them and returns a uint8 (B, 3, S, S) tensor; the loader
keeps ``PREFETCH`` batches per worker in flight and, on CUDA, copies them into pinned memory
so the host-to-GPU copy is asynchronous. Workers ask the kernel to kill them when the
training process dies (``trainers.common.workers``: ``PR_SET_PDEATHSIG``, a parent watchdog
elsewhere); torch's own worker loop would notice only on its next status check.
"""

from __future__ import annotations

import functools
import itertools
import os
from pathlib import Path

import lmdb
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from trainers.common.lmdb_format import key
from trainers.common.workers import die_with_parent

from .data import LMDBError, batch_plan, decode, open_lmdb, share

PREFETCH = 4  # batches queued per worker


def default_workers() -> int:
    """Half the cores, 1 to 8: decoding a 64 px batch of 16 takes a few milliseconds."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


def _worker_init(parent: int, _worker_id: int) -> None:
    die_with_parent(parent)


class _Reader:
    """An LMDB opened lazily in the process that reads it (an environment must not cross a fork)."""

    def __init__(self, path: str):
        self.path = path
        self._env: lmdb.Environment | None = None
        self._pid = -1

    def get(self, keys: list[bytes]) -> list[bytes]:
        if self._env is None or self._pid != os.getpid():
            self._env, self._pid = open_lmdb(self.path), os.getpid()
        with self._env.begin() as txn:
            out = []
            for k in keys:
                v = txn.get(k)
                if v is None:
                    raise LMDBError(f"{self.path}: key {k!r} is missing")
                out.append(bytes(v))
        return out

    def __getstate__(self):
        return {"path": self.path, "_env": None, "_pid": -1}


def read_batch(reader: _Reader, size: int, idx: list[int], flip: list[bool]) -> torch.Tensor:
    """uint8 (B, 3, S, S) of images ``idx`` at ``size``, each mirrored where ``flip``."""
    keys = [key(size, i) for i in idx]
    arrays = [decode((k, v, size)) for k, v in zip(keys, reader.get(keys))]
    out = np.stack([a[:, ::-1] if f else a for a, f in zip(arrays, flip)])
    return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))


class _PlannedBatches(Dataset):
    """Item ``it`` = this process's share of iteration ``it``'s planned batch."""

    def __init__(self, path: str, size: int, batch: int, seed: int, n_images: int, rank: int, world: int):
        self.reader = _Reader(path)
        self.size, self.batch, self.seed, self.n = size, batch, seed, n_images
        self.part = share(batch, rank, world)

    def __len__(self) -> int:
        return 1 << 62

    def __getitem__(self, iteration: int) -> torch.Tensor:
        idx, flip = batch_plan(self.seed, iteration, self.n, self.batch)
        return read_batch(self.reader, self.size, idx[self.part].tolist(), flip[self.part].tolist())


class _From(Sampler):
    def __init__(self, start: int):
        self.start = start

    def __iter__(self):
        return itertools.count(self.start)


class Stream:
    """Iterations ``first, first + 1, ...`` of one size and batch, prepared by workers."""

    def __init__(self, path: str, size: int, batch: int, first: int, seed: int, n_images: int,
                 rank: int = 0, world: int = 1, workers: int = 0, pin: bool = False):
        self.size, self.batch, self.expected, self.rank, self.world = size, batch, first, rank, world
        loader = DataLoader(_PlannedBatches(path, size, batch, seed, n_images, rank, world), batch_size=None,
                            sampler=_From(first), num_workers=workers or default_workers(),
                            prefetch_factor=PREFETCH, pin_memory=pin,
                            worker_init_fn=functools.partial(_worker_init, os.getpid()),
                            generator=torch.Generator().manual_seed(seed))  # not the training RNG
        self._it = iter(loader)

    def serves(self, size: int, batch: int, iteration: int, rank: int = 0, world: int = 1) -> bool:
        """Whether the next prepared batch is this one (a jump or a new size starts anew)."""
        return (size, batch, iteration, rank, world) == (self.size, self.batch, self.expected, self.rank, self.world)

    def next(self) -> torch.Tensor:
        self.expected += 1
        return next(self._it)

    def worker_pids(self) -> list[int]:
        return [w.pid for w in getattr(self._it, "_workers", [])]

    def close(self) -> None:
        shutdown = getattr(self._it, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        self._it = None


class LMDBImages:
    """The images at one size, decoded when indexed: what the metrics read of a streamed size.

    Quacks like the in-memory uint8 tensor as :mod:`.evaluate` uses it: ``len``, ``device``,
    ``images[idx]`` and ``images.split(chunk)``.
    """

    device = torch.device("cpu")

    def __init__(self, path: str | Path, size: int, n_images: int):
        self.reader, self.size, self.n = _Reader(str(path)), size, n_images

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        idx = idx.tolist()
        return read_batch(self.reader, self.size, idx, [False] * len(idx))

    def split(self, chunk: int):
        for lo in range(0, self.n, chunk):
            yield self[torch.arange(lo, min(lo + chunk, self.n))]
