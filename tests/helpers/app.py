"""The app's pages under Streamlit's AppTest: a page logged in as a user of the database the app
opens, the Review/Dashboard/Admin pages as the admin of the known decisions, and the Export
page's two accepted images. The seeded database itself is the `app_db` fixture (tests/conftest.py).
"""
from __future__ import annotations

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from curate import synth
from curate.app.common import User
from curate.assign import assign
from curate.decisions import record_decision
from curate.ingest import ingest
from curate.sessions import open_session
from curate.users import add_user
from curate.workspace import Workspace
from db.engine import reading
from db.models import Assignment
from tests.helpers import REPO
from tests.helpers.curate import known_decisions

TIMEOUT_S = 30


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


def admin_page(script, engine, db_url, tmp_path, monkeypatch):
    """`script` run once as the admin of `known_decisions`, in workspace tmp_path/ws; returns
    the AppTest, the users (name → id) and the images the annotators share."""
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("ROSTRO_DATABASE_URL", db_url)
    users, shared = known_decisions(engine)
    at = page(script, as_user(users, "admin"))
    at.run()
    assert not at.exception
    return at, users, shared


def two_accepted(engine, tmp_path) -> dict[str, int]:
    """12 real synthetic images, one annotator who accepts two and rejects one."""
    synth.write_celeba(tmp_path / "c", 12, seed=5)
    ingest(engine, tmp_path / "c" / "img_align_celeba", "celeba", progress=False, workers=1)
    users = {"admin": add_user(engine, "admin", "admin", admin=True), "ana": add_user(engine, "ana", "ana")}
    assign(engine, per_annotator=12, overlap=0.0, seed=0)
    with reading(engine) as s:
        queue = list(s.scalars(select(Assignment.image_id).order_by(Assignment.position)))
    record_decision(engine, users["ana"], queue[0], "accept")
    record_decision(engine, users["ana"], queue[1], "accept", tags=["two_faces"])
    record_decision(engine, users["ana"], queue[2], "reject", rule="too_young")
    return users
