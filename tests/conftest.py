"""Shared fixtures: throwaway databases (SQLite always; PostgreSQL when a server is given),
a seeded one the app opens (`app_db`), and a small synthetic workspace.

PostgreSQL: set ROSTRO_TEST_POSTGRES_URL to a server URL whose user may create databases
(`.ci/run` starts one on 127.0.0.1). Each test gets a fresh database, dropped afterwards.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from curate.workspace import Workspace
from db import migrate
from db.engine import make_engine
from tests.helpers import REPO

PG_ENV = "ROSTRO_TEST_POSTGRES_URL"
ARTIFACTS = REPO / "test-artifacts"


def pytest_configure(config):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist workers (--dist loadgroup). The browser tests stay on
    one of them, one after another: each drives a Streamlit server and Chromium at a person's
    pace, and two at once on two cores would turn their waits into timing races."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest leaves the last page script as `__main__`; a later test that starts
    `spawn` processes would re-run that page in every child. Put the real one back."""
    import sys
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture
def artifacts_dir() -> Path:
    """test-artifacts/ at the repo root (git-ignored): pictures saved for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture
def postgres_url():
    """URL of a fresh, empty PostgreSQL database; skipped when no server is configured."""
    base = _postgres_url()
    if not base:
        pytest.skip(f"PostgreSQL tests need a server: set {PG_ENV} (.ci/run starts one)")
    name = f"rostro_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    from curate.workspace import _engine_for
    _engine_for.cache_clear()
    with admin.connect() as c:
        c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'rostro.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request):
    """Each database test runs on SQLite and on PostgreSQL (skipped without a server)."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def engine(db_url):
    """A migrated engine on SQLite and on PostgreSQL."""
    e = make_engine(db_url)
    migrate.upgrade(e)
    yield e
    e.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    e = make_engine(sqlite_url)
    migrate.upgrade(e)
    yield e
    e.dispose()


@pytest.fixture
def app_db(engine, db_url, tmp_path, monkeypatch):
    """A seeded database (see tests.helpers.curate.seed) that the app's `engine()` opens, in
    workspace tmp_path/ws; name → user id (tests.helpers.app.as_user logs one in)."""
    from tests.helpers.curate import seed

    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("ROSTRO_DATABASE_URL", db_url)
    return seed(engine, images=20, per_annotator=10, overlap=0.2)


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace.resolve(tmp_path / "ws")


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory):
    """A built demo workspace (40 CelebA-style + 10 peruvian faces), shared by read-only tests.

    Tests that write decisions should build their own with `build_demo`."""
    from curate.demo import build_demo
    ws = Workspace.resolve(tmp_path_factory.mktemp("demo") / "ws")
    engine = ws.open()
    build_demo(ws, engine, count=40, peruvian=10, seed=3)
    return ws
