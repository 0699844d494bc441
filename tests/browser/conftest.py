"""Fixtures for the browser tests: a demo workspace, skipped where Chromium is missing."""
from __future__ import annotations

import pytest

from tests.browser import harness


def demo_workspace(tmp_path, count: int = 60):
    """A fresh demo workspace of `count` CelebA-style images; the test is skipped without
    Chromium."""
    why = harness.chromium_missing()
    if why:
        pytest.skip(why)
    return harness.build_demo_workspace(tmp_path / "ws", count=count)


@pytest.fixture
def demo(tmp_path):
    """A fresh demo workspace (60 CelebA-style images, users admin/ana/luis, queues)."""
    return demo_workspace(tmp_path)
