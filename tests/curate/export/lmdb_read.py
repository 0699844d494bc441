"""Read a multi-resolution LMDB in tests through the one key format (trainers.common.lmdb_format).

curate keeps no LMDB reader of its own (the trainer's is the one that matters, and it needs
torch); tests only need every key and value, which lmdb gives directly.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import lmdb
import numpy as np
from PIL import Image

from trainers.common.lmdb_format import LENGTH_KEY, key


@dataclass(frozen=True)
class Contents:
    """Every key → value of an LMDB, with the length and the sizes present at index 0."""

    data: dict[bytes, bytes]

    @property
    def length(self) -> int:
        return int(self.data[LENGTH_KEY].decode("ascii"))

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(s for s in (2 ** k for k in range(1, 13)) if key(s, 0) in self.data)

    def jpeg(self, size: int, index: int) -> bytes | None:
        return self.data.get(key(size, index))

    def image(self, size: int, index: int) -> np.ndarray:
        """Image `index` at `size` as HWC uint8 RGB."""
        return np.asarray(Image.open(io.BytesIO(self.data[key(size, index)])).convert("RGB"))


def read_lmdb(path) -> Contents:
    with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
        return Contents({bytes(k): bytes(v) for k, v in txn.cursor()})
