"""The workspace folder: where the database, demo set, thumbnails and exports live by default.

Resolution order: an explicit path (`--workspace`), env `ROSTRO_WORKSPACE`, `./workspace`.
The database is `<workspace>/rostro.db` (SQLite) unless env `ROSTRO_DATABASE_URL` names another.

A database that cannot be used (a corrupt or truncated SQLite file, a server that does not
answer, an unknown scheme or a missing driver, a read-only folder, a folder that does not
exist) is described in one line by `explain`, which the CLI prints as `error: …` and the app
shows as a message; the URL is always shown with its password hidden (`safe_url`). A SQLite
file in a folder this process cannot write is opened read-only, so reads (`curate status`)
still work there and only writes fail.

SQLAlchemy and Alembic are imported when a function here first needs them, not with the
module: the CLI imports it for every command, and `curate ingest` on a new workspace starts
decoding before they load (`curate.probing.EarlyProbes`).
"""
from __future__ import annotations

import errno
import functools
import os
import re
import sqlite3
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

ENV_WORKSPACE = "ROSTRO_WORKSPACE"
ENV_DATABASE_URL = "ROSTRO_DATABASE_URL"


class WorkspaceError(Exception):
    """The workspace's database cannot be opened; the message says why, in one line."""


@dataclass(frozen=True)
class Workspace:
    root: Path  # absolute folder
    database_url: str = field(default="")  # empty: SQLite inside root

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None, database_url: str | None = None) -> Workspace:
        """The workspace from an explicit path, else `$ROSTRO_WORKSPACE`, else `./workspace`."""
        root = Path(path or os.environ.get(ENV_WORKSPACE) or "workspace").expanduser().resolve()
        url = database_url or os.environ.get(ENV_DATABASE_URL) or ""
        return cls(root=root, database_url=url)

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.root / 'rostro.db'}"

    @property
    def demo_dir(self) -> Path:
        return self.root / "demo"

    @property
    def thumbs_dir(self) -> Path:
        return self.root / "thumbs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def is_new(self) -> bool:
        """True when the database is the workspace's own SQLite file and it does not exist yet
        (nothing is recorded; the first command creates it)."""
        return not self.database_url and not (self.root / "rostro.db").exists()

    def engine(self) -> Engine:
        """The (cached) engine. Creates the workspace folder for its default SQLite database; an
        explicit SQLite URL whose folder does not exist is refused (WorkspaceError), as are an
        unparsable URL, an unknown scheme and a missing driver. Nothing connects yet."""
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
        try:
            path = sqlite_path(self.url)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise WorkspaceError(f"not a database URL: {safe_url(self.url)}") from None
        read_only = False
        if path is not None:
            if not self.database_url:
                self.root.mkdir(parents=True, exist_ok=True)
            elif not path.parent.is_dir():
                # A typo in a URL should not grow a folder tree: say which folder is missing.
                raise WorkspaceError(f"the database folder {path.parent} does not exist "
                                     f"(from {safe_url(self.url)}); create it first")
            read_only = path.exists() and not (os.access(path.parent, os.W_OK)
                                               and os.access(path, os.W_OK))
        try:
            return _engine_for(self.url, read_only)
        except NoSuchModuleError:
            raise WorkspaceError(f"unknown database kind in {safe_url(self.url)} (use sqlite:///FILE "
                                 "or postgresql+psycopg://USER@HOST/NAME)") from None
        except ImportError as e:
            raise WorkspaceError(f"the driver for {safe_url(self.url)} is not installed "
                                 f"({e})") from None

    def open(self) -> Engine:
        """The engine, with the schema migrated to the newest revision."""
        from db import migrate
        engine = self.engine()
        migrate.upgrade(engine)
        return engine


@functools.lru_cache(maxsize=16)
def _engine_for(url: str, read_only: bool = False) -> Engine:
    from db.engine import make_engine
    engine = make_engine(url, read_only=read_only)
    _opened.add(engine)
    return engine


_opened: weakref.WeakSet = weakref.WeakSet()  # the engines made above that still exist


def close_engines() -> None:
    """Close the pooled connections of every workspace engine of this process (they reopen
    when next used). On SQLite the last connection to close moves the WAL into the database
    file and removes it, so the file alone holds every commit."""
    for engine in list(_opened):
        engine.dispose()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or another kind."""
    from sqlalchemy.engine import make_url
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    return Path(u.database)


def safe_url(url: str) -> str:
    """The URL with its password hidden, even when SQLAlchemy cannot parse it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", url)  # up to the last @ of the netloc


def explain(exc: BaseException, url: str) -> str | None:
    """One line saying why the database at `url` (or the workspace folder) failed, for the
    failures a user can fix; None for anything else, whose traceback should be seen (a bug).

    Covers WorkspaceError, operational database errors (connection refused, corrupt or
    read-only file, busy) and OSError EROFS/EACCES/EPERM (a read-only or foreign workspace).
    """
    from sqlalchemy.exc import DatabaseError, IntegrityError, ProgrammingError

    from db.engine import is_busy
    if isinstance(exc, WorkspaceError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        what = "the file system is read-only" if exc.errno == errno.EROFS else "permission denied"
        return f"{what}: cannot write {exc.filename or 'the workspace'}"
    if not isinstance(exc, (DatabaseError, sqlite3.DatabaseError)):
        return None
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines() or [type(orig).__name__]
    msg = lines[0].strip()
    password = _password(url)
    if password and len(password) > 2:  # drivers do not echo it; this is belt and braces
        msg = msg.replace(password, "***")
    # A broken constraint or bad SQL is a bug, not the user's database: let it show. A
    # PostgreSQL role without write rights raises ProgrammingError "permission denied".
    low = msg.lower()
    broken = isinstance(exc, IntegrityError) or isinstance(orig, sqlite3.IntegrityError)
    bad_sql = isinstance(exc, ProgrammingError) or isinstance(orig, sqlite3.ProgrammingError)
    if broken or (bad_sql and "permission denied" not in low):
        return None
    shown = safe_url(url)
    if is_busy(exc):
        return f"the database {shown} is busy ({msg}); try again in a moment"
    if "not a database" in low or "malformed" in low:
        return (f"{shown} is not a usable SQLite database ({msg}); restore it from a backup or "
                "move it aside")
    if "readonly" in low or "read-only" in low:
        return f"the database {shown} is read-only ({msg}); reading works, changes need write access"
    if "permission denied" in low:
        return f"the database {shown} refused this ({msg}); the account lacks the rights"
    if "unable to open database file" in low:
        path = sqlite_path(url)
        if path is not None and not path.parent.is_dir():
            return f"the database folder {path.parent} does not exist (from {shown})"
        if path is not None and not os.access(path.parent, os.W_OK):
            return f"cannot create or open {shown}: the folder {path.parent} is read-only"
    if "connect" in low:
        return f"cannot connect to the database {shown}: {msg}"
    return f"database error on {shown}: {msg}"


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None
