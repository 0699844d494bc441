"""The workspace folder: where the database, demo set, thumbnails and exports live by default.

Resolution order: an explicit path (`--workspace`), env `ROSTRO_WORKSPACE`, `./workspace`.
The database is `<workspace>/rostro.db` (SQLite) unless env `ROSTRO_DATABASE_URL` names another.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from db import migrate
from db.engine import make_engine

ENV_WORKSPACE = "ROSTRO_WORKSPACE"
ENV_DATABASE_URL = "ROSTRO_DATABASE_URL"


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

    def engine(self) -> Engine:
        """The (cached) engine; creates the folder for a SQLite database."""
        if not self.database_url:
            self.root.mkdir(parents=True, exist_ok=True)
        return _engine_for(self.url)

    def open(self) -> Engine:
        """The engine, with the schema migrated to the newest revision."""
        engine = self.engine()
        migrate.upgrade(engine)
        return engine


@functools.lru_cache(maxsize=16)
def _engine_for(url: str) -> Engine:
    return make_engine(url)
