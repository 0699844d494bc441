"""Display images for the Label and Review pages: reduced JPEGs in a small thread-safe LRU cache.

An image file is decoded at reduced scale, resized so its longer side is at most `DISPLAY_SIDE`
and re-encoded as JPEG (`render_display`). `display_image` serves it from the cache; `prefetch`
prepares the next few in background threads so the next image is ready before the key is
pressed. Nothing runs at import time: the cache's thread pool starts on the first prefetch.

A path handed out by the queue and review code is an `ImagePath`: it also knows its source's
root and the sha256 recorded at ingest. Before an image is shown the file is read as a regular
file resolving inside that root (`trainers.common.safefiles.read_regular`) and its bytes must
match the recorded hash: a queued image swapped for a symlink to a private file, or for other
bytes, is refused with a reason instead of being shown.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PIL import Image as PILImage

from curate.imaging import BadImage, encode_jpeg, read_image, to_rgb
from trainers.common.safefiles import RefusedFile, read_regular

DISPLAY_SIDE = 640  # px, the longer side of the image shown on the Label page
DISPLAY_QUALITY = 90  # JPEG quality of a display image
CACHE_ITEMS = 256  # display images kept in memory (~50 KB each)
WORKERS = 2  # background threads preparing display images


class ImagePath(str):
    """An image's absolute path (a str) that also carries its source root and the sha256
    recorded at ingest, so the display can check both before showing the file."""

    root: str
    content_hash: str

    @classmethod
    def of(cls, root: str, relpath: str, content_hash: str) -> ImagePath:
        p = cls(os.path.join(root, relpath))
        p.root, p.content_hash = root, content_hash
        return p


def render_display(path: str, side: int = DISPLAY_SIDE) -> bytes:
    """The image file as a JPEG whose longer side is at most `side` (default 640); raises
    BadImage. An ImagePath is checked against its root and recorded hash first."""
    root = getattr(path, "root", None)
    expected = getattr(path, "content_hash", None)
    try:
        data = read_regular(path, root=root)
    except FileNotFoundError:
        raise BadImage(f"the image file is missing: {path}") from None
    except RefusedFile as e:
        raise BadImage(f"the image file is not shown: {e}") from None
    except OSError as e:
        raise BadImage(f"the image file cannot be read: {e.strerror or e}") from None
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise BadImage(f"the image file changed since it was ingested (sha256 differs): {path}")
    img = to_rgb(read_image(data, Path(path).name, draft=(side, side)))
    img.thumbnail((side, side), PILImage.Resampling.LANCZOS)
    return encode_jpeg(img, DISPLAY_QUALITY)


class _DisplayCache:
    """Display JPEGs by (path, side): LRU in memory, filled on demand or ahead of time by a
    thread pool that is created on the first `prefetch`."""

    def __init__(self, size: int = CACHE_ITEMS, workers: int = WORKERS):
        self._size = size
        self._workers = workers
        self._items: OrderedDict[tuple[str, int], bytes | BadImage] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], Future] = {}
        self._pool: ThreadPoolExecutor | None = None

    def get(self, path: str, side: int = DISPLAY_SIDE) -> bytes:
        """The display JPEG of `path` (waits for a prefetch under way); raises BadImage."""
        key = (path, side)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            future = self._pending.get(key)
        if hit is None and future is not None:
            future.result()
            with self._lock:
                hit = self._items.get(key)
        if hit is None:
            hit = self._load(key)
        if isinstance(hit, BadImage):
            raise hit
        return hit

    def prefetch(self, paths: Iterable[str], side: int = DISPLAY_SIDE) -> None:
        """Start preparing the display JPEGs of `paths` in the background."""
        for path in paths:
            key = (path, side)
            with self._lock:
                if key in self._items or key in self._pending:
                    continue
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self._workers,
                                                    thread_name_prefix="prefetch")
                self._pending[key] = self._pool.submit(self._load, key)

    def _load(self, key: tuple[str, int]) -> bytes | BadImage:
        try:
            value: bytes | BadImage = render_display(*key)
        except BadImage as e:
            value = e
        except Exception as e:  # noqa: BLE001 — one odd file must never break the page
            value = BadImage(f"could not show the image: {type(e).__name__}: {e}")
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            self._pending.pop(key, None)
        return value

    def clear(self) -> None:
        """Forget every cached display image."""
        with self._lock:
            self._items.clear()


# One cache per server process, shared by every session; it holds no thread until used.
DISPLAY = _DisplayCache()


def display_image(path: str, side: int = DISPLAY_SIDE) -> bytes:
    """Cached display JPEG of an image file (longer side at most `side`, default 640); raises
    BadImage with a reason to show."""
    return DISPLAY.get(path, side)


def prefetch(paths: Iterable[str], side: int = DISPLAY_SIDE) -> None:
    """Start preparing the display JPEGs of `paths` (default side 640) in background threads."""
    DISPLAY.prefetch(paths, side)
