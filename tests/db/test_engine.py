"""Busy-database retry and the SQLite write turn."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from db import engine as db_engine
from db.engine import make_engine, retry_busy, write_turn


def test_retry_busy_retries_locked_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return "ok"

    assert retry_busy(flaky) == "ok" and len(calls) == 3


def test_retry_busy_gives_up_and_passes_other_errors(monkeypatch):
    monkeypatch.setattr(db_engine, "BUSY_BACKOFF_S", 0.001)
    calls = []

    def always(msg):
        calls.append(1)
        raise OperationalError("INSERT", {}, Exception(msg))

    with pytest.raises(OperationalError):
        retry_busy(always, "database is locked")
    assert len(calls) == db_engine.BUSY_RETRIES
    calls.clear()
    with pytest.raises(OperationalError):
        retry_busy(always, "unable to open database file")  # not busy: no retry
    assert len(calls) == 1


def test_write_turn_uses_a_lock_file_beside_a_sqlite_file(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path / 'rostro.db'}")
    with write_turn(e):
        assert Path(f"{tmp_path / 'rostro.db'}.writelock").exists()
    e.dispose()
    memory = make_engine("sqlite://")
    with write_turn(memory):  # nothing to lock beside an in-memory database (a no-op)
        pass
    memory.dispose()


def test_write_turn_is_held_by_one_writer_at_a_time_and_handed_on(tmp_path):
    # Eight writers in one process (as the app's sessions are), each waiting in a blocking
    # flock on its own descriptor: never two inside at once, and every turn is taken.
    import threading
    e = make_engine(f"sqlite:///{tmp_path / 'rostro.db'}")
    inside, overlaps, turns = [], [], []

    def writer(k: int) -> None:
        for _ in range(25):
            with write_turn(e):
                if inside:
                    overlaps.append(k)
                inside.append(k)
                time.sleep(0.0005)
                inside.pop()
                turns.append(k)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not overlaps
    assert len(turns) == 8 * 25
    e.dispose()
