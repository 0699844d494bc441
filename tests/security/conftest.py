"""Fixtures shared by the attacks on run folders and the galleries (test_trainers.py,
test_run_folders.py)."""
from __future__ import annotations

import pytest

from curate.app.common import User
from curate.gallery import runs as gr
from curate.sessions import open_session
from curate.users import add_user
from curate.workspace import Workspace

PASSWORD = "a long enough password"


@pytest.fixture
def app(tmp_path, monkeypatch):
    """An empty workspace served to the gallery pages; returns a function logging users in."""
    ws = Workspace.resolve(tmp_path / "ws")
    engine = ws.open()
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(ws.root))
    monkeypatch.delenv("ROSTRO_DATABASE_URL", raising=False)
    monkeypatch.delenv(gr.ENV_RUNS, raising=False)
    ws.runs_dir.mkdir(parents=True, exist_ok=True)

    def login(name: str, admin: bool = False) -> User:
        uid = add_user(engine, name, PASSWORD, admin=admin)
        return User(uid, name, "admin" if admin else "annotator", open_session(engine, uid))

    login.ws, login.engine = ws, engine
    return login
