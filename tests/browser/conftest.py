"""Fixtures for the browser tests: a demo workspace, skipped where Chromium is missing."""
from __future__ import annotations

import pytest

from tests.browser import harness


@pytest.fixture
def demo(tmp_path):
    """A fresh demo workspace (60 CelebA-style images, users admin/ana/luis, queues)."""
    return harness.demo_workspace(tmp_path)
