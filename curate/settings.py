"""Workspace-wide settings kept in the database (`settings` table), as JSON values.

Known keys: `demo` (true in a workspace built by `curate demo`). Settings are chosen by an
admin or a command, never by an annotator.
"""
from __future__ import annotations

from sqlalchemy import Engine

from db.engine import reading, writing
from db.models import Setting


def get_setting(engine: Engine, key: str, default=None):
    """A workspace setting's JSON value (default when unset)."""
    with reading(engine) as s:
        row = s.get(Setting, key)
        return default if row is None else row.value


def set_setting(engine: Engine, key: str, value) -> None:
    """Store a setting (replacing its value)."""
    with writing(engine) as s:
        row = s.get(Setting, key)
        if row is None:
            s.add(Setting(key=key, value=value))
        else:
            row.value = value
