"""Thumbnails cached on disk: `<thumbs>/<key[:2]>/<key>_<size>.jpg`, made once, written atomically.

The key is the image's sha256 content hash when the database knows it (a thumbnail survives a
moved file) and otherwise a hash of (path, mtime, size), so an edited file gets a new thumbnail.
A missing or broken file gives a grey placeholder that says why; it is never cached under the
image's key (the file may come back) and never raises.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw

from curate.imaging import BadImage, encode_jpeg, load_rgb
from trainers.common.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

DEFAULT_SIZE = 160  # px, the longer side of a grid thumbnail
QUALITY = 85  # JPEG quality of thumbnails
WORKERS = min(8, os.cpu_count() or 1)  # threads making a page's missing thumbnails


def path_key(path: str | os.PathLike) -> str | None:
    """A key for a file the database has no hash for; None when the file is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return hashlib.sha1(f"{os.path.abspath(path)}|{st.st_mtime_ns}|{st.st_size}".encode()).hexdigest()


def thumb_path(thumbs_dir: str | os.PathLike, key: str, size: int) -> Path:
    return Path(thumbs_dir) / key[:2] / f"{key}_{size}.jpg"


def make_thumbnail(path: str | os.PathLike, size: int = DEFAULT_SIZE,
                   content_hash: str | None = None) -> bytes:
    """JPEG bytes of the image at `path` fitted into size×size (raises BadImage); given
    `content_hash`, the file's bytes must still match it."""
    img = Image.fromarray(load_rgb(path, content_hash))
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return encode_jpeg(img, QUALITY)


@functools.lru_cache(maxsize=32)
def placeholder(size: int, reason: str) -> bytes:
    """A grey square with a short reason ("missing file", "broken image") as JPEG bytes."""
    img = Image.new("RGB", (size, size), (200, 200, 200))
    d = ImageDraw.Draw(img)
    d.line([(0, 0), (size - 1, size - 1)], fill=(160, 160, 160), width=2)
    d.line([(0, size - 1), (size - 1, 0)], fill=(160, 160, 160), width=2)
    d.rectangle([4, size // 2 - 9, size - 5, size // 2 + 9], fill=(255, 255, 255))
    d.text((8, size // 2 - 6), reason[:max(4, size // 7)], fill=(160, 0, 0))
    return encode_jpeg(img, QUALITY)


def problem_of(e: BadImage) -> str:
    for reason in ("missing file", "changed file", "refused"):
        if str(e).startswith(reason):
            return reason
    return "broken image"


def thumbnail(thumbs_dir: str | os.PathLike, path: str | os.PathLike, size: int = DEFAULT_SIZE,
              key: str | None = None) -> str | bytes:
    """The cached thumbnail's path (made now if it is not on disk yet), or placeholder bytes.

    key: the image's content hash; default: derived from the file's path, mtime and size. A
    thumbnail made under a content hash is made only from bytes that match it, so a file swapped
    since it was recorded cannot be shown under the recorded image's name.
    Returning a path lets the app serve the file without reading it into memory first.
    """
    expected = key
    if key is None:
        key = path_key(path)
        if key is None:
            return placeholder(size, "missing file")
    target = thumb_path(thumbs_dir, key, size)
    if target.is_file():
        return str(target)
    try:
        data = make_thumbnail(path, size, expected)
    except BadImage as e:
        log.info("no thumbnail for %s: %s", path, e)
        return placeholder(size, problem_of(e))
    atomic_write_bytes(target, data)
    return str(target)


def thumbnails(thumbs_dir: str | os.PathLike, items: list[tuple[str, str | None]],
               size: int = DEFAULT_SIZE, workers: int = WORKERS) -> list[str | bytes]:
    """thumbnail() for each (path, key) pair, in order; thumbnails not made yet are made in
    `workers` threads (Pillow decodes and resizes without holding the GIL)."""
    if workers <= 1 or len(items) < 2:
        return [thumbnail(thumbs_dir, p, size, k) for p, k in items]
    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(lambda it: thumbnail(thumbs_dir, it[0], size, it[1]), items))
