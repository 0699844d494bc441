"""Engine and session set-up, busy-database retry and the SQLite write turn.

Nothing connects at import time.

SQLite gets WAL, a busy timeout and foreign keys. `read_only=True` opens a SQLite file that sits
in a folder this process cannot write (a read-only mount, a snapshot): reads work, writes fail
with "attempt to write a readonly database". Reads begin deferred; `writing()` begins
with `BEGIN IMMEDIATE` so a read-then-write transaction takes the write lock up front and
waits its turn instead of failing with "database is locked" at its first write (SQLAlchemy's
documented recipe for pysqlite's transaction handling).

Busy errors that still get through (`is_busy`) are retried with backoff by `retry_busy`. It is
called once, at the edge (the app's `curate.app.common.db_call`, a script or a benchmark), never
inside domain functions, so retries never nest. `write_turn` queues SQLite writers on a lock file
beside the database.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy handler only
    fcntl = None

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0  # how long a SQLite writer waits for the lock before giving up
BUSY_RETRIES = 8  # attempts before a busy database error is raised
BUSY_BACKOFF_S = 0.05  # first wait between attempts; doubles each time
WRITE_TURN_TIMEOUT_S = 10.0  # longest wait for the SQLite write turn before "database busy"
_IMMEDIATE = "rostro_immediate"


def make_engine(url: str, *, echo: bool = False, read_only: bool = False) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite is tuned for several concurrent writers.

    read_only (default False): open a SQLite file read-only (see the module doc); ignored
    for other databases.
    """
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, future=True)

    on_disk = u.database not in (None, "", ":memory:")
    read_only = read_only and on_disk
    kw: dict = {}
    if read_only:
        kw["creator"] = functools.partial(_connect_read_only, u.database)
    elif on_disk:
        _private_file(u.database)
    engine = create_engine(
        url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}, **kw
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transaction control away from pysqlite so BEGIN is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if on_disk and not read_only:
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


def _connect_read_only(path: str) -> sqlite3.Connection:
    """A read-only connection. SQLite cannot read a WAL database without its -shm file, which a
    read-only folder cannot hold; with no -wal file there is nothing uncheckpointed to read, so
    the file is opened immutable (this process cannot write it, and SQLite then needs no -shm)."""
    immutable = "" if os.path.exists(f"{path}-wal") else "&immutable=1"
    uri = f"file:{urllib.parse.quote(path)}?mode=ro{immutable}"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)


def _private_file(path: str) -> None:
    """Create the SQLite file readable by its owner alone (it holds password hashes), or take
    group and other bits off an existing one; SQLite gives its -wal and -shm files the same mode.
    A folder that does not exist is left for SQLite to report."""
    # Only a missing file is opened here: closing any descriptor of a database file drops every
    # POSIX lock this process holds on it, so opening an engine beside live connections (a test,
    # a second engine in the app) let another process's last close delete the WAL under them —
    # a job worker then read a database without this process's newest commits.
    if not os.path.exists(path):
        with contextlib.suppress(OSError):  # no folder, or read-only: SQLite says so when it opens
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    with contextlib.suppress(OSError):  # read-only workspace: reads still work
        mode = os.stat(path).st_mode
        if mode & 0o077:  # keep the owner's bits: a file made read-only stays read-only
            os.chmod(path, mode & 0o700)


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


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
    with Session(_write_bind(engine), expire_on_commit=False) as session:
        with session.begin():
            yield session


@contextlib.contextmanager
def writing_connection(engine: Engine) -> Iterator[Connection]:
    """`writing()` as a Core connection: one transaction (BEGIN IMMEDIATE on SQLite),
    committed on success and rolled back on error. For the hot paths (a Label key press),
    where the ORM's per-statement work costs more than the query; their reads use a plain
    `engine.connect()`."""
    with _write_bind(engine).begin() as conn:
        yield conn


def _write_bind(engine: Engine) -> Engine:
    """The engine for a write transaction: on SQLite, one that begins with BEGIN IMMEDIATE."""
    return engine.execution_options(**{_IMMEDIATE: True}) if is_sqlite(engine) else engine


# --- busy database ------------------------------------------------------------------------------
def is_busy(exc: BaseException) -> bool:
    """True for transient errors a retry fixes (SQLite locked/busy, PostgreSQL serialization)."""
    msg = str(getattr(exc, "orig", exc)).lower()
    return any(s in msg for s in ("database is locked", "database is busy", "could not serialize",
                                  "deadlock detected"))


def retry_busy(fn, *args, **kwargs):
    """fn(*args, **kwargs), retried with backoff (default 8 tries from 50 ms) while busy.

    Call it once, at the edge; domain functions do not retry on their own.
    """
    wait = BUSY_BACKOFF_S
    for attempt in range(BUSY_RETRIES):
        try:
            return fn(*args, **kwargs)
        except OperationalError as e:
            if not is_busy(e) or isinstance(e, WriteTurnTimeout) or attempt == BUSY_RETRIES - 1:
                raise
            log.warning("database busy (%s), retry %d in %.2f s", e.orig, attempt + 1, wait)
            time.sleep(wait)
            wait *= 2


@functools.cache
def _lock_path(url: str) -> str | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:") or fcntl is None:
        return None
    return f"{u.database}.writelock"


@contextlib.contextmanager
def write_turn(engine: Engine):
    """On a SQLite file, wait for our turn to write on a lock file beside it (`DB.writelock`).

    SQLite's busy handler polls with sleeps growing to 100 ms, so under many writers a waiting
    decision can sleep long after the lock is free; a blocking flock queues the writers and
    the kernel wakes them the moment the turn is free. Other databases need nothing (no-op).
    """
    path = _lock_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        yield
        return
    fd = _take_turn(path)
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def _take_turn(path: str) -> int:
    """An open descriptor of `path` holding its flock, within WRITE_TURN_TIMEOUT_S; else
    WriteTurnTimeout.

    A free turn is taken at once. Otherwise a helper thread waits in a blocking flock, so the
    kernel hands the turn over the moment it is released (polling with sleeps let a writer lose
    its turn again and again under ten writers), while this thread gives up after the timeout:
    a stalled writer (stopped, or stuck on a dead disk) cannot hold everyone forever. A helper
    whose caller gave up releases the turn as soon as it gets it; it is a daemon thread.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        pass
    except BaseException:
        os.close(fd)
        raise
    got = threading.Event()
    state = {"given_up": False, "error": None}
    guard = threading.Lock()

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            state["error"] = e
        with guard:
            if state["given_up"]:
                os.close(fd)  # the caller left: hand the turn on at once
                return
            got.set()

    threading.Thread(target=wait, name="rostro-write-turn", daemon=True).start()
    try:
        got.wait(WRITE_TURN_TIMEOUT_S)
    except BaseException:  # interrupted while waiting: the turn must not stay taken
        with guard:
            state["given_up"] = True
            if got.is_set():
                os.close(fd)
        raise
    with guard:
        if not got.is_set():
            state["given_up"] = True
            raise WriteTurnTimeout(path)
    if state["error"] is not None:
        os.close(fd)
        raise state["error"]
    return fd


class WriteTurnTimeout(OperationalError):
    """Another writer held the SQLite write turn for longer than WRITE_TURN_TIMEOUT_S.

    A busy error (`is_busy`), but `retry_busy` does not retry it: the wait was already long.
    """

    def __init__(self, path: str):
        super().__init__(f"waiting for {path}", None,
                         Exception(f"database is busy: another writer has held {path} for over "
                                   f"{WRITE_TURN_TIMEOUT_S:g} s"))
