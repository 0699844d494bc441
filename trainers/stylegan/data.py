"""The multi-resolution LMDB (DESIGN.md), checked up front and decoded once into memory.

Layout: ``b"length"`` -> count as ASCII digits; ``f"{size}-{index:05d}"`` -> JPEG bytes of
image ``index`` at ``size`` x ``size``. It is the layout of the reference's prepare_data.py.
"""

from __future__ import annotations

import io
import logging
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


def _decode(args: tuple[bytes, bytes, int]) -> np.ndarray:
    k, v, size = args
    try:
        with Image.open(io.BytesIO(v)) as im:
            im.load()
            arr = np.asarray(im.convert("RGB"))
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
        arrays = list(pool.map(_decode, items))
    log.info("decoded %d images at %d px", n, size)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


class ImageBank:
    """Decoded images per resolution, kept on the training device when they fit.

    ``batch`` draws indices and flips from the global torch RNG of the images' device (its
    state is checkpointed), so a resumed run draws the same batches as an uninterrupted one.
    """

    def __init__(self, path: str | Path, device: torch.device, gpu_budget_bytes: int = 4 << 30):
        self.path, self.device, self.budget = str(path), device, gpu_budget_bytes
        self._cache: dict[int, torch.Tensor] = {}

    def images(self, size: int) -> torch.Tensor:
        if size not in self._cache:
            self._cache.clear()  # one resolution at a time: the previous phase is over
            imgs = load_images(self.path, size)
            if self.device.type == "cuda" and imgs.numel() <= self.budget:
                imgs = imgs.to(self.device)
            elif self.device.type == "cuda":
                imgs = imgs.pin_memory()
            self._cache[size] = imgs
        return self._cache[size]

    def batch(self, size: int, n: int, rank: int = 0, world: int = 1,
              channels_last: bool = False) -> torch.Tensor:
        """A float batch in [-1, 1], randomly flipped, this process's share of ``n`` images."""
        imgs = self.images(size)
        # Drawn where the images live: a host-to-device index copy would stall the GPU queue.
        idx = torch.randint(len(imgs), (n,), device=imgs.device)
        flip = torch.rand(n, device=imgs.device) < 0.5
        share = slice(rank * n // world, (rank + 1) * n // world)
        idx, flip = idx[share], flip[share].to(self.device)
        x = imgs[idx].to(self.device, non_blocking=True).float()
        x = torch.where(flip[:, None, None, None], x.flip(3), x).div_(127.5).sub_(1.0)
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x
