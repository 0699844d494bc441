"""The multi-resolution LMDB (DESIGN.md): opened, checked up front, decoded; the plan of each
batch. What holds the images while training (in memory or streamed) is :mod:`.bank`.

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

from trainers.common.lmdb_format import LENGTH_KEY, key

log = logging.getLogger(__name__)


class LMDBError(ValueError):
    """The LMDB cannot train: missing sizes, wrong keys or an undecodable image."""


def open_lmdb(path: str | Path) -> lmdb.Environment:
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
    env = open_lmdb(path)
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
    env = open_lmdb(path)
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


def count(path: str | Path) -> int:
    env = open_lmdb(path)
    try:
        with env.begin() as txn:
            return int(bytes(txn.get(LENGTH_KEY)).decode("ascii"))
    finally:
        env.close()
