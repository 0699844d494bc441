"""Fixtures for the app's AppTest tests: a seeded database the app opens through the env."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curate.app.common import User
from curate.sessions import open_session
from curate.workspace import Workspace
from tests.helpers.curate import seed
from tests.conftest import REPO

TIMEOUT_S = 30


@pytest.fixture
def app_db(engine, db_url, tmp_path, monkeypatch):
    """A seeded database (see helpers.seed) that the app's `engine()` opens; name → user id."""
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("ROSTRO_DATABASE_URL", db_url)
    return seed(engine, images=20, per_annotator=10, overlap=0.2)


def page(script: str, user: User | None = None) -> AppTest:
    """An AppTest of one page script (path from the repo root), logged in as `user`."""
    at = AppTest.from_file(str(REPO / script), default_timeout=TIMEOUT_S)
    if user is not None:
        at.session_state["user"] = user
    return at


def as_user(users: dict[str, int], name: str) -> User:
    """`name` logged in: a real session in the database the app opens (set by `app_db`)."""
    token = open_session(Workspace.resolve().open(), users[name])
    return User(id=users[name], name=name, role="admin" if name == "admin" else "annotator",
                token=token)
