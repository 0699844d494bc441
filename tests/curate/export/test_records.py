"""curate.export.records and trainers.common.fsutil's owner-tagged temp names: what reconcile() may
touch (only what dead processes left) and what check_destination() lets an export replace."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from curate.export import ExportError
from curate.export.lmdb import prepare
from curate.export.records import check_destination, reconcile
from db.engine import reading, writing
from db.models import Export
from trainers.common import fsutil


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftover_names_parse_back(tmp_path):
    tag = fsutil.owner_tag()
    x = fsutil.leftover(tmp_path / f".old.celebA.{tag}.ab_9x.partial")
    assert (x.name, x.pid, x.old, x.ours, x.dead) == ("old.celebA", os.getpid(), False, True, False)
    assert fsutil.leftover(tmp_path / f".faces.lmdb.{tag}.old").old
    assert fsutil.leftover(tmp_path / f".labels.csv.{tag}.k2j4.tmp").name == "labels.csv"
    for name in (".hidden", ".x.partial", "x.host-1.a.partial", ".x.host-1.a.bak"):
        assert fsutil.leftover(tmp_path / name) is None


def test_clean_leftovers_spares_the_living_and_other_machines(tmp_path):
    me, gone = fsutil.owner_tag(), f"{fsutil.owner_tag().rsplit('-', 1)[0]}-{dead_pid()}"
    names = {f".a.{me}.x1.partial": True, f".b.{gone}.x2.partial": False,
             ".c.otherhost-1.x3.partial": True, f".d.{gone}.x4.tmp": False, "keep": True}
    for n in names:
        (tmp_path / n).mkdir() if "tmp" not in n else (tmp_path / n).write_text("")
    (tmp_path / f".e.{gone}.old").mkdir()  # its replacement never arrived: renamed back
    (tmp_path / "f").mkdir()
    (tmp_path / f".f.{gone}.old").mkdir()  # its replacement is in place: removed
    done = fsutil.clean_leftovers(tmp_path)
    assert len(done) == 4 and any(d.startswith("restored") for d in done)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [n for n, stays in names.items() if stays] + ["e", "f"])


def test_pid_alive_treats_zombies_as_dead():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until it has exited, not yet reaped: a zombie
        with open(f"/proc/{p.pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
        time.sleep(0.01)
    assert not fsutil.pid_alive(p.pid)
    p.wait()
    assert fsutil.pid_alive(os.getpid())


def _pending(engine, path) -> int:
    with writing(engine) as s:
        row = Export(kind="lmdb", path=str(path), params={}, counts={}, state="pending")
        s.add(row)
        s.flush()
        return row.id


def test_reconcile_leaves_a_running_export_alone(sqlite_engine, tmp_path):
    out = tmp_path / "x"
    running = tmp_path / f".x.{fsutil.owner_tag()}.abc.partial"  # ours: alive
    running.mkdir()
    export_id = _pending(sqlite_engine, out)
    assert reconcile(sqlite_engine, [tmp_path]) == []
    assert running.is_dir()
    shutil.rmtree(running)  # it failed without dropping its row, or was killed
    assert "never finished" in reconcile(sqlite_engine)[0]
    with reading(sqlite_engine) as s:
        assert s.get(Export, export_id) is None


def test_reconcile_marks_a_folder_in_place_done(sqlite_engine, faces_dir, tmp_path):
    out = tmp_path / "lmdb"
    r = prepare(sqlite_engine, out, faces_dir, sizes=(8,), workers=1, progress=False)
    with writing(sqlite_engine) as s:  # as if killed between the rename and "done"
        s.get(Export, r.export_id).state = "pending"
    assert reconcile(sqlite_engine) == [f"export {r.export_id} at {out} recorded as done"]
    with reading(sqlite_engine) as s:
        assert s.execute(select(Export.id, Export.state)).all() == [(r.export_id, "done")]


def test_check_destination_accepts_an_export_written_before_ids(sqlite_engine, faces_dir,
                                                                tmp_path):
    out = tmp_path / "lmdb"
    prepare(sqlite_engine, out, faces_dir, sizes=(8,), workers=1, progress=False)
    meta = json.loads((out / "export.json").read_text())
    del meta["id"]
    (out / "export.json").write_text(json.dumps(meta))
    assert check_destination(out, sqlite_engine, "lmdb") == out
    (out / "manifest.csv").write_text("name\n")  # no longer the manifest recorded
    with pytest.raises(ExportError, match="does not match a recorded export"):
        check_destination(out, sqlite_engine, "lmdb")
    with pytest.raises(ExportError, match="no database to check it against"):
        check_destination(out, None, "lmdb")
