"""Bring a database to the newest schema (`curate init`, every command and app start call
`upgrade`).

Three ways, cheapest first:
- already at HEAD: one SELECT on `alembic_version`; Alembic is not even imported (a third of a
  second of a command's start on 2 cores).
- a new database (no tables at all): the schema is created in one step from the models
  (`Base.metadata.create_all`, which also emits the triggers declared beside them) and stamped
  at HEAD, in one transaction — Alembic's cookbook way to build an up-to-date database from
  scratch, instead of replaying every revision. tests/db/test_new_database.py checks that it
  builds exactly what the revisions build, on SQLite and PostgreSQL.
- anything else: Alembic applies the revisions in order (`run_migrations`).

Two commands that find the same new database at once are serialised (SQLite: `BEGIN IMMEDIATE`;
PostgreSQL: an advisory lock); the second finds the tables and stamp of the first.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect, text

from db.engine import writing_connection

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0010"  # the newest revision under migrations/versions (a test checks they agree)
_SCHEMA_LOCK = 0x726F7374  # PostgreSQL advisory lock key while a new database is created

# Alembic's own version table, as `alembic stamp` creates it.
_VERSION = Table("alembic_version", MetaData(),
                 Column("version_num", String(32), nullable=False),
                 PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to `revision` (default: the newest); returns the revision reached.
    A new database is created at the newest revision in one step (see the module doc)."""
    if revision in ("head", HEAD):
        stamped = _stamped(engine)
        if stamped == [HEAD]:
            return HEAD
        if not stamped and create_new(engine):
            return HEAD
    return run_migrations(engine, revision)


def run_migrations(engine: Engine, revision: str = "head") -> str | None:
    """Apply the Alembic revisions up to `revision` one by one; returns the revision reached."""
    from alembic import command
    cfg = alembic_config(engine)
    if current_revision(engine) != head_revision(engine):
        log.info("migrating %s to %s", engine.url.render_as_string(hide_password=True), revision)
        command.upgrade(cfg, revision)
    return current_revision(engine)


def create_new(engine: Engine) -> bool:
    """Create the newest schema, stamped at HEAD, in one transaction — when the database holds
    no table at all; False (nothing done) otherwise."""
    with writing_connection(engine) as conn:  # SQLite: BEGIN IMMEDIATE, the write lock first
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        if inspect(conn).get_table_names():
            return False  # not new, or created meanwhile by another command
        from db.models import Base
        Base.metadata.create_all(conn)
        _VERSION.create(conn)
        conn.execute(_VERSION.insert().values(version_num=HEAD))
    log.info("created the schema at %s in %s", HEAD,
             engine.url.render_as_string(hide_password=True))
    return True


def _stamped(engine: Engine) -> list[str]:
    """The revisions in `alembic_version`; [] when the table does not exist."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return []
        return list(conn.scalars(text("SELECT version_num FROM alembic_version")))


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command
    command.downgrade(alembic_config(engine), revision)
