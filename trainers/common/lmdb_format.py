"""The keys of the multi-resolution LMDB (DESIGN.md contract), written once for both sides.

``LENGTH_KEY`` → the image count as ASCII digits; ``key(size, index)`` = ``f"{size}-{index:05d}"``
→ JPEG bytes of image `index` at size×size. This is the layout of rosinality/style-based-gan-
pytorch (`prepare_data.py` writes it, `MultiResolutionDataset` reads it).

Kept free of any import beyond the standard library: `curate.export.lmdb` writes through it and
`trainers.stylegan.data` and `.stream` read through it.
"""
from __future__ import annotations

LENGTH_KEY = b"length"


def key(size: int, index: int) -> bytes:
    """The key of image `index` at `size` px: ``b"64-00012"`` (index zero-padded to 5 digits)."""
    return f"{size}-{index:05d}".encode()


def length_value(count: int) -> bytes:
    """The value stored under LENGTH_KEY: the count as ASCII digits (``b"2500"``)."""
    return str(count).encode("ascii")
