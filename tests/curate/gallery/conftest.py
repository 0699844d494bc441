"""Fixtures for the gallery tests: the session's gallery workspace (the demo set, three exports
and two tiny trained runs: tests.helpers.gallery.build_gallery), also as the app's workspace.
"""
from __future__ import annotations

import pytest

from tests.helpers.gallery import Gallery, build_gallery


@pytest.fixture(scope="session")
def gallery(tmp_path_factory) -> Gallery:
    return build_gallery(tmp_path_factory)


@pytest.fixture
def gallery_env(gallery, monkeypatch) -> Gallery:
    """The gallery workspace is the app's workspace (its own SQLite database)."""
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(gallery.ws.root))
    monkeypatch.delenv("ROSTRO_DATABASE_URL", raising=False)
    monkeypatch.delenv("ROSTRO_RUNS", raising=False)
    return gallery
