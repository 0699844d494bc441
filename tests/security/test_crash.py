"""Crashes during exports (issue 13, point 5): a process killed at any moment leaves no
process behind, and the next command leaves no temp folder and a database that describes
exactly the export folders on disk.

Two ways in: a child killed at each named step of an export (os._exit, which skips every
clean-up just as kill -9 does), and 10 `kill -9` of real `python -m curate` commands at
random moments.
"""
from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import pytest

from tests.helpers import REPO
from tests.helpers.export_site import Site, make_site, tree
from tests.security.clirun import alive_in_group, kill_9
from trainers.common.fsutil import leftover


def crash_at(point: str) -> None:
    """In a child: make the export die at `point`, with no clean-up, as kill -9 would."""
    import curate.export.common as common
    import trainers.common.fsutil as fsutil
    real_replace, real_rmtree, real_check = os.replace, fsutil.shutil.rmtree, common.check_file
    calls = []

    def replace(a, b):
        calls.append(a)
        if point == "between the renames" and len(calls) == 2:
            os._exit(9)
        real_replace(a, b)
        if point == "after the renames" and len(calls) == 2:
            os._exit(9)

    def rmtree(path, *a, **kw):
        if point == "removing the old folder" and str(path).endswith(".old"):
            os._exit(9)
        real_rmtree(path, *a, **kw)

    def check_file(item):
        if point == "copying":
            os._exit(9)
        return real_check(item)

    fsutil.os.replace, fsutil.shutil.rmtree, common.check_file = replace, rmtree, check_file


def export_dies(site: Site, point: str, argv: list) -> None:
    pid = os.fork()
    if pid == 0:  # the child: a fresh pool, the parent's SQLite connections left alone
        try:
            site.ws.engine().dispose(close=False)
            crash_at(point)
            site.run(*argv)
        finally:
            os._exit(0)  # not reached when the crash point is
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 9, f"the export did not reach {point!r}"


def assert_consistent(site: Site) -> None:
    """No temp names anywhere beside exports; one done row per export folder, naming it."""
    exports = site.ws.exports_dir
    assert [p.name for p in exports.iterdir() if p.name.startswith(".")] == []
    rows = site.rows()
    assert all(state == "done" for _, state in rows), rows
    folders = sorted(str(p) for p in exports.iterdir() if (p / "export.json").is_file())
    assert sorted(path for path, _ in rows) == folders
    from sqlalchemy import select
    from db.engine import reading
    from db.models import Export
    with reading(site.ws.engine()) as s:
        for export_id, path, counts in s.execute(select(Export.id, Export.path, Export.counts)):
            meta = json.loads((Path(path) / "export.json").read_text())
            assert meta["id"] == export_id and meta["counts"] == counts
            with open(Path(path) / "manifest.csv") as f:
                assert len(list(csv.DictReader(f))) == counts.get("images", counts.get("pairs"))


@pytest.mark.parametrize("point", ["copying", "between the renames", "after the renames",
                                   "removing the old folder"])
def test_killed_at_each_step_is_settled_by_the_next_command(tmp_path, point):
    site = make_site(tmp_path)
    out = site.ws.exports_dir / "old_celebA"
    assert site.run("export", "old-celeba", out, "--count", "4") == 0
    before = tree(out)
    export_dies(site, point, ["export", "old-celeba", out, "--count", "2", "--seed", "1"])
    assert any(leftover(p) for p in out.parent.iterdir())
    assert site.run("status") == 0
    assert_consistent(site)
    if point in ("copying", "between the renames"):
        assert tree(out) == before  # the earlier export, back in place
    else:
        assert len(list(out.glob("*.jpg"))) == 2  # the new one, recorded as done


def test_kill_9_at_random_moments(tmp_path):
    site = make_site(tmp_path, faces=40)
    ex, faces = site.ws.exports_dir, site.faces
    commands = {  # prepare and sketch-pairs with 40 images use a pool of 2 workers
        "old-celeba": ["export", "old-celeba", ex / "old", "--count", "4"],
        "peruvian-mix": ["export", "peruvian-mix", ex / "mix", "--peruvian", faces, "--count",
                         "40", "--allow-fewer"],
        "prepare": ["prepare", ex / "faces.lmdb", "--from", faces, "--sizes", "8,16,32,64",
                    "--workers", "2"],
        "sketch-pairs": ["export", "sketch-pairs", ex / "pairs", "--from", faces, "--size", "64",
                         "--workers", "2"],
    }
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def start(argv: list) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "curate", "--workspace", str(site.ws.root),
                                 *map(str, argv)], env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def writing(p: subprocess.Popen) -> float:
        """Wait until the command's temp folder appears (its writing phase); the time then."""
        while p.poll() is None and not any(ex.glob(".*.partial")):
            time.sleep(0.01)
        return time.monotonic()

    # Whole runs first: they time each command's writing phase and leave the folders that
    # the killed runs replace.
    took = {}
    for name, argv in commands.items():
        p = start(argv)
        t = writing(p)
        assert p.wait() == 0, p.stderr.read().decode()
        took[name] = time.monotonic() - t
    seed = int(time.time())
    rng = random.Random(seed)
    for i in range(10):
        name = list(commands)[i % len(commands)]
        p = start(commands[name])
        # Every other kill lands anywhere (start-up and the clean-up of the last kill
        # included), the others while the export writes: most of a run is Python starting.
        t = writing(p) if i % 2 else time.monotonic()
        time.sleep(max(0.0, t + rng.uniform(0, 1.1 if i % 2 else 1.5) * took[name]
                       - time.monotonic()))
        assert kill_9(p, 3) == [], f"{name}: workers outlived kill -9 (seed {seed})"
    status = start(["status"])
    assert status.wait() == 0, status.stderr.read().decode()
    assert_consistent(site)
    for name in ("old", "mix", "faces.lmdb", "pairs"):  # each still holds a whole export
        assert (ex / name / "export.json").is_file(), f"{name} lost its export (seed {seed})"
    env_ = lmdb.open(str(ex / "faces.lmdb"), readonly=True, lock=False)
    with env_.begin() as txn:
        assert txn.get(b"length") == b"40"
    env_.close()


@pytest.mark.parametrize("command", ["prepare", "sketch-pairs"])
def test_workers_die_with_a_killed_command(tmp_path, command):
    """kill -9 of a command while its worker pool runs: no worker survives it."""
    site = make_site(tmp_path, faces=40)
    out = site.ws.exports_dir / "out"
    argv = (["prepare", out, "--sizes", "8,16,32,64,128"] if command == "prepare"
            else ["export", "sketch-pairs", out, "--size", "128"])
    p = subprocess.Popen([sys.executable, "-m", "curate", "--workspace", str(site.ws.root),
                          *map(str, argv), "--from", str(site.faces), "--workers", "2"],
                         env=dict(os.environ, PYTHONPATH=str(REPO)), start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(alive_in_group(p.pid)) < 3 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # until the command and its two workers run
    assert len(alive_in_group(p.pid)) >= 3, "the pool never started"
    assert kill_9(p, 3) == []
