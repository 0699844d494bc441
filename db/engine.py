"""Engine and session set-up. Nothing connects at import time.

SQLite gets WAL, a busy timeout and foreign keys. Reads begin deferred; `writing()` begins
with `BEGIN IMMEDIATE` so a read-then-write transaction takes the write lock up front and
waits its turn instead of failing with "database is locked" at its first write (SQLAlchemy's
documented recipe for pysqlite's transaction handling).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_S = 30.0  # how long a SQLite writer waits for the lock before giving up
_IMMEDIATE = "rostro_immediate"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite is tuned for several concurrent writers."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, future=True)

    engine = create_engine(
        url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transaction control away from pysqlite so BEGIN is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if u.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session for reads; commits nothing."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """A session in one write transaction, committed on success and rolled back on error.

    On SQLite it begins with BEGIN IMMEDIATE (the write lock is taken before the first read);
    on PostgreSQL it is an ordinary transaction.
    """
    bind = engine.execution_options(**{_IMMEDIATE: True}) if is_sqlite(engine) else engine
    with Session(bind, expire_on_commit=False) as session:
        with session.begin():
            yield session
