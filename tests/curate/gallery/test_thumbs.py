"""Thumbnails: made once, cached on disk by content hash or (path, mtime), never a crash."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from curate.gallery import thumbs as gt


def write_jpeg(path, w=178, h=218, colour=(200, 120, 60)):
    Image.new("RGB", (w, h), colour).save(path, quality=90)
    return path


def test_a_thumbnail_is_made_once_and_fits_the_size(tmp_path):
    src = write_jpeg(tmp_path / "a.jpg")
    cache = tmp_path / "thumbs"
    key = hashlib.sha256(src.read_bytes()).hexdigest()  # a thumbnail is made only from these bytes
    first = gt.thumbnail(cache, src, 64, key=key)
    assert first == str(cache / key[:2] / f"{key}_64.jpg")
    with Image.open(first) as img:
        assert img.format == "JPEG" and max(img.size) == 64 and img.size[0] < img.size[1]
    before = os.stat(first).st_mtime_ns
    src.unlink()  # the cache answers without reading the source again
    assert gt.thumbnail(cache, src, 64, key=key) == first
    assert os.stat(first).st_mtime_ns == before
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]


def test_without_a_hash_an_edited_file_gets_a_new_thumbnail(tmp_path):
    src = write_jpeg(tmp_path / "a.jpg")
    cache = tmp_path / "thumbs"
    first = gt.thumbnail(cache, src, 32)
    os.utime(src, ns=(1, 1))
    write_jpeg(src, colour=(0, 0, 255))
    os.utime(src, ns=(10**18, 10**18))
    second = gt.thumbnail(cache, src, 32)
    assert first != second
    assert np.asarray(Image.open(second))[16, 12, 2] > 200  # the new, blue picture


def test_missing_and_broken_files_give_a_placeholder_not_an_error(tmp_path):
    cache = tmp_path / "thumbs"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    for path, key in ((tmp_path / "gone.jpg", None), (tmp_path / "gone.jpg", "cd" * 32),
                      (broken, None), (broken, "ef" * 32)):
        out = gt.thumbnail(cache, path, 48, key=key)
        assert isinstance(out, bytes)
        assert Image.open(io.BytesIO(out)).size == (48, 48)
    assert not cache.exists() or not any(cache.rglob("*.jpg"))  # placeholders are not cached
    assert gt.placeholder(48, "missing file") != gt.placeholder(48, "broken image")


def test_a_page_of_thumbnails_keeps_its_order_with_threads(tmp_path):
    paths = [write_jpeg(tmp_path / f"{i}.jpg", colour=(i * 20, 0, 0)) for i in range(10)]
    items = [(str(p), None) for p in paths] + [(str(tmp_path / "gone.jpg"), None)]
    serial = gt.thumbnails(tmp_path / "a", items, 32, workers=1)
    threaded = gt.thumbnails(tmp_path / "b", items, 32, workers=4)
    assert isinstance(threaded[-1], bytes) and threaded[-1] == serial[-1]
    for s, t in zip(serial[:-1], threaded[:-1]):
        assert Path(s).name == Path(t).name
        assert Path(s).read_bytes() == Path(t).read_bytes()
