"""Display images: resized JPEGs, bad files reported, a cache whose threads start on first use."""
from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from curate import display
from curate.imaging import BadImage


def test_display_image_resizes_and_reports_bad_files(tmp_path):
    good = tmp_path / "big.jpg"
    PILImage.new("RGB", (1600, 1200), (200, 100, 50)).save(good)
    data = display.display_image(str(good), side=400)
    with PILImage.open(io.BytesIO(data)) as img:
        assert max(img.size) == 400
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(BadImage):
        display.display_image(str(bad))
    with pytest.raises(BadImage, match="missing"):
        display.display_image(str(tmp_path / "gone.jpg"))


def test_the_thread_pool_starts_on_the_first_prefetch(tmp_path):
    path = tmp_path / "a.jpg"
    PILImage.new("RGB", (300, 200), (10, 20, 30)).save(path)
    cache = display._DisplayCache(size=2)
    assert cache._pool is None  # building a cache (and importing the module) starts no thread
    cache.prefetch([str(path)], side=100)
    assert cache._pool is not None
    with PILImage.open(io.BytesIO(cache.get(str(path), side=100))) as img:
        assert img.size == (100, 67)
