"""A new database is created in one step from the models and stamped at the newest revision
(db.migrate.create_new); it must be exactly what replaying every revision builds: the same
tables, columns, types, defaults, keys, indexes, constraints and triggers, on SQLite and
PostgreSQL. And a database already at the newest revision is checked without Alembic."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from db import migrate
from db.engine import make_engine

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def other_url(db_url, tmp_path):
    """A second empty database beside `db_url`, on the same kind of server."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    name = f"rostro_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{name}'"))
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _schema(engine) -> dict:
    """Everything the database says about its schema, in a comparable form."""
    insp = inspect(engine)
    out = {}
    for t in sorted(insp.get_table_names()):
        out[t] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c["default"],
                         c.get("autoincrement")) for c in insp.get_columns(t)],
            "primary key": insp.get_pk_constraint(t),
            "foreign keys": sorted((repr(sorted(fk.items())) for fk in insp.get_foreign_keys(t))),
            "indexes": sorted(repr(sorted(i.items())) for i in insp.get_indexes(t)),
            "unique": sorted(repr(sorted(u.items())) for u in insp.get_unique_constraints(t)),
            "checks": sorted(repr(sorted(c.items())) for c in insp.get_check_constraints(t)),
        }
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            out["(triggers)"] = sorted(tuple(r) for r in c.execute(text(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")))
            out["(without rowid)"] = sorted(r[0] for r in c.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND upper(sql) LIKE '%WITHOUT ROWID%'")))
        else:
            out["(triggers)"] = sorted(tuple(r) for r in c.execute(text(
                "SELECT tgname, tgrelid::regclass::text, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE NOT tgisinternal")))
            out["(functions)"] = sorted(tuple(r) for r in c.execute(text(
                "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'")))
        out["(stamp)"] = [r[0] for r in c.execute(text("SELECT version_num FROM alembic_version"))]
    return out


def test_a_new_database_built_in_one_step_equals_the_replayed_revisions(db_url, other_url):
    replayed, created = make_engine(db_url), make_engine(other_url)
    try:
        assert migrate.run_migrations(replayed) == migrate.HEAD
        assert migrate.create_new(created)
        a, b = _schema(replayed), _schema(created)
        assert a.keys() == b.keys()
        for key in a:  # one part at a time: a failure names the table
            assert (key, a[key]) == (key, b[key])
        assert len(a["(triggers)"]) == 3 and a["(stamp)"] == [migrate.HEAD]
    finally:
        replayed.dispose()
        created.dispose()


def test_head_is_the_newest_revision(sqlite_url):
    assert migrate.HEAD == migrate.head_revision(make_engine(sqlite_url))


def test_upgrade_creates_a_new_database_in_one_step_and_leaves_others_to_alembic(db_url,
                                                                                 other_url):
    new, old = make_engine(db_url), make_engine(other_url)
    try:
        assert migrate.upgrade(new) == migrate.HEAD
        assert migrate.current_revision(new) == migrate.HEAD
        assert not migrate.create_new(new)  # not new any more: nothing done
        migrate.upgrade(old, "0006")
        assert not migrate.create_new(old)
        assert migrate.upgrade(old) == migrate.HEAD  # the revisions from 0006 on
        assert _schema(old) == _schema(new)
    finally:
        new.dispose()
        old.dispose()


def test_a_database_at_head_is_checked_without_importing_alembic(sqlite_url):
    migrate.upgrade(make_engine(sqlite_url))
    code = ("import sys; from db import migrate; from db.engine import make_engine; "
            f"assert migrate.upgrade(make_engine({sqlite_url!r})) == migrate.HEAD; "
            "assert 'alembic' not in sys.modules, 'alembic imported'")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=REPO))
    assert r.returncode == 0, r.stderr


def test_commands_that_find_the_same_new_database_at_once_create_it_once(db_url):
    code = ("import sys; from db import migrate; from db.engine import make_engine; "
            "print(migrate.upgrade(make_engine(sys.argv[1])))")
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=REPO)) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(procs, outs)] == [
        (0, migrate.HEAD)] * 3, [err for _, err in outs]
    engine = make_engine(db_url)
    with engine.connect() as c:
        assert list(c.scalars(text("SELECT version_num FROM alembic_version"))) == [migrate.HEAD]
    assert len(_schema(engine)["(triggers)"]) == 3
    engine.dispose()
