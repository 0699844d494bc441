"""The dataset at each training size, as the training loop asks for it: decoded into memory
(on the GPU, or in pinned host memory) when it fits, streamed from the LMDB by worker processes
(:mod:`.stream`) when not. Reading and checking the LMDB is :mod:`.data`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .data import batch_plan, count, load_images, memory_budget, share
from .stream import LMDBImages, Stream


class ImageBank:
    """The dataset at each training size: decoded into memory when it fits ``budget`` bytes
    (and kept on the GPU up to ``gpu_budget_bytes``), otherwise streamed from the LMDB by worker
    processes (:class:`.stream.Stream`). Either way batch ``it`` holds the images and flips of
    :func:`batch_plan` for ``it``.
    """

    def __init__(self, path: str | Path, device: torch.device, seed: int = 0, budget: int | None = None,
                 workers: int = 0, gpu_budget_bytes: int = 4 << 30):
        self.path, self.device, self.seed = str(path), device, seed
        self.budget = memory_budget(0) if budget is None else budget
        self.workers, self.gpu_budget = workers, gpu_budget_bytes
        self._cache: dict[int, torch.Tensor] = {}
        self._stream = None
        self._staging: list[tuple[torch.Tensor, object] | None] = [None, None]  # pinned, see _gather_pinned
        self._turn = 0
        self.n = count(path)

    def streams(self, size: int) -> bool:
        """Whether images at ``size`` are streamed (their decoded bytes exceed the budget)."""
        return self.n * 3 * size * size > self.budget

    def images(self, size: int):
        """All images at ``size``: a uint8 tensor (N, 3, S, S), or when streamed an
        :class:`.stream.LMDBImages` that decodes the ones asked for (the metrics index it)."""
        if self.streams(size):
            return LMDBImages(self.path, size, self.n)
        if size not in self._cache:
            self._cache.clear()  # one resolution at a time: the previous phase is over
            imgs = load_images(self.path, size)
            if self.device.type == "cuda" and imgs.numel() <= self.gpu_budget:
                imgs = imgs.to(self.device)
            elif self.device.type == "cuda":
                imgs = imgs.pin_memory()
            self._cache[size] = imgs
        return self._cache[size]

    def prepare(self, size: int) -> None:
        """Decode ``size`` now when it is kept in memory (a broken JPEG fails before training)."""
        if not self.streams(size):
            self.images(size)

    def batch(self, size: int, n: int, iteration: int, rank: int = 0, world: int = 1,
              channels_last: bool = False) -> torch.Tensor:
        """Iteration ``iteration``'s batch of ``n`` images at ``size`` (this process's share),
        float in [-1, 1], flipped as planned."""
        if self.streams(size):
            if self._stream is None or not self._stream.serves(size, n, iteration, rank, world):
                self.close()
                self._stream = Stream(self.path, size, n, iteration, self.seed, self.n, rank, world,
                                      self.workers, pin=self.device.type == "cuda")
            x = self._stream.next()
        else:
            imgs = self.images(size)
            idx, flip = batch_plan(self.seed, iteration, self.n, n)
            part = share(n, rank, world)
            idx, flip = idx[part], flip[part]
            if imgs.is_pinned():
                x = self._gather_pinned(imgs, idx)
            else:
                x = imgs[idx.to(imgs.device)]
            flip = flip.to(x.device, non_blocking=True)
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        x = x.to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    def _gather_pinned(self, imgs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """``imgs[idx]`` on the device, from pinned host memory.

        Indexing a pinned tensor returns pageable memory, whose copy to the GPU is synchronous
        and staged by the driver. The batch is gathered into one of two pinned buffers instead,
        used in turn, and copied asynchronously; an event recorded after each copy says when
        its buffer may be overwritten (two iterations later), so the gather of the next batch
        overlaps the GPU's work on this one."""
        shape = (len(idx), *imgs.shape[1:])
        self._turn = 1 - self._turn
        slot = self._staging[self._turn]
        if slot is None or slot[0].shape != shape:
            buf = torch.empty(shape, dtype=imgs.dtype, pin_memory=True)
        else:
            buf, copied = slot
            copied.synchronize()
        torch.index_select(imgs, 0, idx, out=buf)
        x = buf.to(self.device, non_blocking=True)
        copied = torch.cuda.Event()
        copied.record()
        self._staging[self._turn] = (buf, copied)
        return x

    def close(self) -> None:
        """Stop a stream's worker processes."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
