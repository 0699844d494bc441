"""The multi-resolution LMDB (DESIGN.md), checked up front; each size decoded once into memory
when it fits the budget, streamed from the LMDB by worker processes when not (:mod:`.stream`).

Layout: ``b"length"`` -> count as ASCII digits; ``f"{size}-{index:05d}"`` -> JPEG bytes of
image ``index`` at ``size`` x ``size``. It is the layout of the reference's prepare_data.py.
"""

from __future__ import annotations

import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lmdb
import numpy as np
import torch
from PIL import Image

from curate.export.lmdb_format import LENGTH_KEY, key

log = logging.getLogger(__name__)


class LMDBError(ValueError):
    """The LMDB cannot train: missing sizes, wrong keys or an undecodable image."""


def _open(path: str | Path) -> lmdb.Environment:
    try:
        return lmdb.open(str(path), max_readers=32, readonly=True, lock=False, readahead=False,
                         meminit=False)
    except lmdb.Error as e:
        raise LMDBError(f"{path} is not a readable LMDB: {e}") from e


def _key_examples(txn: lmdb.Transaction, n: int = 5) -> list[bytes]:
    out = []
    for k, _ in txn.cursor():
        out.append(bytes(k))
        if len(out) >= n:
            break
    return out


def check_lmdb(path: str | Path, sizes: list[int]) -> int:
    """Number of images; raises LMDBError unless every key of every size holds a JPEG.

    Cheap: it reads every value but decodes none (JPEG start and end markers only).
    """
    env = _open(path)
    try:
        with env.begin() as txn:
            raw = txn.get(LENGTH_KEY)
            if raw is None:
                raise LMDBError(f"{path}: no b'length' key; keys look like {_key_examples(txn)}")
            try:
                n = int(bytes(raw).decode("ascii"))
            except ValueError:
                raise LMDBError(f"{path}: b'length' is {bytes(raw)[:20]!r}, not ASCII digits") from None
            if n < 1:
                raise LMDBError(f"{path}: the LMDB holds no images (length {n})")
            for size in sizes:
                for i in range(n):
                    v = txn.get(key(size, i))
                    if v is None:
                        have = _key_examples(txn)
                        raise LMDBError(
                            f"{path}: key {key(size, i)!r} is missing (size {size} px, image {i} of {n}); "
                            f"keys look like {have}. Re-export with size {size} included.")
                    v = bytes(v)
                    if not (v[:2] == b"\xff\xd8" and v.rstrip(b"\x00")[-2:] == b"\xff\xd9"):
                        raise LMDBError(f"{path}: value of {key(size, i)!r} is not a complete JPEG")
    finally:
        env.close()
    return n


def decode(args: tuple[bytes, bytes, int]) -> np.ndarray:
    """The image of key ``k`` as (size, size, 3) uint8. Its header is read first: an image of
    another size is refused before a pixel is decoded (four 10000x10000 JPEGs of 1.1 MB each
    made a 4.5 GB peak when decoding came first)."""
    k, v, size = args
    try:
        with Image.open(io.BytesIO(v)) as im:
            if im.size != (size, size):
                raise LMDBError(f"image {k!r} is {im.size[0]}x{im.size[1]}, expected {size}x{size}")
            im.load()
            arr = np.asarray(im.convert("RGB"))
    except LMDBError:
        raise
    except Exception as e:  # PIL raises many types for broken data
        raise LMDBError(f"image {k!r} cannot be decoded: {e}") from e
    if arr.shape != (size, size, 3):
        raise LMDBError(f"image {k!r} is {arr.shape[1]}x{arr.shape[0]}, expected {size}x{size}")
    return arr


def load_images(path: str | Path, size: int, limit: int | None = None, workers: int = 8) -> torch.Tensor:
    """All images at ``size`` as a uint8 tensor (N, 3, size, size)."""
    env = _open(path)
    try:
        with env.begin() as txn:
            n = int(bytes(txn.get(LENGTH_KEY)).decode("ascii"))
            n = min(n, limit) if limit else n
            items = []
            for i in range(n):
                v = txn.get(key(size, i))
                if v is None:
                    raise LMDBError(f"{path}: key {key(size, i)!r} is missing")
                items.append((key(size, i), bytes(v), size))
    finally:
        env.close()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        arrays = list(pool.map(decode, items))
    log.info("decoded %d images at %d px", n, size)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def batch_plan(seed: int, iteration: int, n_images: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, flips) of iteration ``iteration``'s batch: a pure function of the seed and the
    iteration, so the in-memory and the streaming paths draw the same batches, a streaming
    loader can prepare them ahead, and a resumed run draws what an uninterrupted one would
    (no data RNG state to checkpoint). Every process draws the whole batch and takes its share."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + iteration)
    return torch.randint(n_images, (batch,), generator=g), torch.rand(batch, generator=g) < 0.5


def share(n: int, rank: int, world: int) -> slice:
    return slice(rank * n // world, (rank + 1) * n // world)


def memory_budget(gb: float) -> int:
    """Bytes of decoded images kept in memory: ``gb``, or half the available memory when 0."""
    if gb > 0:
        return int(gb * 1e9)
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024 // 2
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") // 2


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
            from .stream import LMDBImages

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
                from .stream import Stream

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


def count(path: str | Path) -> int:
    env = _open(path)
    try:
        with env.begin() as txn:
            return int(bytes(txn.get(LENGTH_KEY)).decode("ascii"))
    finally:
        env.close()
