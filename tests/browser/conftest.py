"""Fixtures for the browser tests: a demo workspace, skipped where Chromium is missing."""
from __future__ import annotations

import pytest

from tests.browser import harness


@pytest.fixture
def demo(tmp_path):
    """A fresh demo workspace (60 CelebA-style images, users admin/ana/luis, queues)."""
    why = harness.chromium_missing()
    if why:
        pytest.skip(why)
    return harness.build_demo_workspace(tmp_path / "ws", count=60)
