"""Issue 13 point 9 (concurrent ingests), the ingest parts of points 5 and 8: two ingests at once
record each content once and both end calmly; a failed ingest leaves no source; a file name
that is not UTF-8 is a bad file, skipped; a kill -9 leaves no process and a re-run completes."""
from __future__ import annotations

import os
import random
import re
import subprocess
import time

import numpy as np
import pytest
from sqlalchemy import func, select

from curate import synth
from curate.status import problems
from db import migrate
from db.engine import make_engine, reading
from db.models import Image, Source
from tests.security.clirun import (REPO, assert_one_error_line, children, cli, command, env,
                                   kill_9)

N_RACE = 40  # images per folder in the race tests
N_KILL = 160  # images in the kill test: enough for the worker pool (64+) to run a while


def _write_faces(root, n, start=0):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        t = synth.draw_truth(np.random.default_rng(i), f"{i:05d}.jpg")
        synth.render(t, i).save(root / t.file, quality=90)
    return root


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return _write_faces(tmp_path_factory.mktemp("faces") / "a", N_RACE)


def _counts(url):
    engine = make_engine(url)
    try:
        with reading(engine) as s:
            rows, distinct = s.execute(select(func.count(), func.count(Image.content_hash.distinct()))
                                       .select_from(Image)).one()
            sources = s.scalar(select(func.count()).select_from(Source))
    finally:
        engine.dispose()
    return rows, distinct, sources


def _start(url, ws, folder, source, *extra):
    return subprocess.Popen(command("--workspace", ws, "--database-url", url, "ingest", folder,
                                    "--source", source, "--workers", "1", *extra),
                            env=env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _both(url, tmp_path, *jobs):
    engine = make_engine(url)  # migrated first: the race under test is the ingest's, not Alembic's
    migrate.upgrade(engine)
    engine.dispose()
    procs = [_start(url, tmp_path / "ws", folder, source) for folder, source in jobs]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "Traceback" not in err and "IntegrityError" not in err, err[-2000:]
    print(*(o for o, _ in outs), sep="\n")  # shown when a test fails: who won what
    return [out for out, _ in outs]


def _number(summary, what):
    return int(re.search(rf"(\d+) {what}", summary).group(1))


def test_one_folder_ingested_twice_at_once_records_each_file_once(db_url, tmp_path, faces):
    url = db_url  # a fresh SQLite file, or a PostgreSQL database
    outs = _both(url, tmp_path, (faces, "a"), (faces, "a"))
    assert _counts(url) == (N_RACE, N_RACE, 1)
    assert sum(_number(o, "added") for o in outs) == N_RACE
    assert all(_number(o, "exact duplicates") == 0 for o in outs)


def test_identical_files_in_two_folders_at_once_record_each_content_once(db_url, tmp_path,
                                                                         faces):
    url = db_url
    copy = tmp_path / "b"
    copy.mkdir()
    for f in faces.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    outs = _both(url, tmp_path, (faces, "a"), (copy, "b"))
    rows, distinct, _ = _counts(url)
    assert rows == distinct == N_RACE
    # Whoever lost each file says so: as a duplicate of the other folder's copy.
    assert sum(_number(o, "added") for o in outs) == N_RACE
    assert sum(_number(o, "exact duplicates") for o in outs) == N_RACE


def test_a_failed_ingest_leaves_no_source(tmp_path, faces):
    ws = tmp_path / "ws"
    attrs = tmp_path / "list_attr_celeba.txt"
    attrs.write_text("1\nYoung Bald\n00000.jpg 1\n")  # a row short of a value
    assert_one_error_line(cli("--workspace", ws, "ingest", faces, "--source", "a",
                              "--attributes", attrs), "expected a file name and 2 values")
    assert _counts(f"sqlite:///{ws / 'rostro.db'}") == (0, 0, 0)


def test_a_file_name_that_is_not_utf8_is_reported_and_skipped(tmp_path, faces):
    folder = tmp_path / "odd"
    folder.mkdir()
    for f in list(faces.iterdir())[:3]:
        (folder / f.name).write_bytes(f.read_bytes())
    with open(os.fsencode(folder) + b"/caf\xe9.jpg", "wb") as out:
        out.write((faces / "00005.jpg").read_bytes())
    r = cli("--workspace", tmp_path / "ws", "ingest", folder, "--source", "odd")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "3 added" in r.stdout and "1 bad" in r.stdout
    assert "bad: caf\\xe9.jpg: file name is not valid UTF-8" in r.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'ws' / 'rostro.db'}")
    assert [(p[1], p[2]) for p in problems(engine)] == [("caf\\xe9.jpg", "bad")]
    engine.dispose()


@pytest.fixture(scope="module")
def many_faces(tmp_path_factory):
    return _write_faces(tmp_path_factory.mktemp("many") / "k", N_KILL)


def test_two_ingests_on_a_new_workspace_create_it_once_and_record_each_file_once(tmp_path,
                                                                                many_faces):
    """No database yet: both start decoding at once, one creates the database, the other finds
    it (issue 21: the decoding starts before the database exists)."""
    ws = tmp_path / "ws"
    procs = [subprocess.Popen(command("--workspace", ws, "ingest", many_faces, "--source", "k",
                                      "--workers", "2"), env=env(), cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "Traceback" not in err, err[-2000:]
    assert _counts(f"sqlite:///{ws / 'rostro.db'}") == (N_KILL, N_KILL, 1)
    assert sum(_number(o, "added") for o, _ in outs) == N_KILL
    assert all(_number(o, "exact duplicates") == 0 for o, _ in outs)


def _kill_and_rerun(tmp_path, folder, when):
    """Start an ingest in its own process group, kill -9 it once `when(proc)` says so, check that
    nothing of its group lives on, then re-run it: it completes and records each file once."""
    ws = tmp_path / "ws"
    proc = subprocess.Popen(command("--workspace", ws, "ingest", folder, "--source", "k",
                                    "--workers", "2"), env=env(), cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    when(proc)
    assert kill_9(proc) == []
    r = cli("--workspace", ws, "ingest", folder, "--source", "k", "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert _counts(f"sqlite:///{ws / 'rostro.db'}") == (N_KILL, N_KILL, 1)


def _until_workers(proc):
    """Wait until the ingest's decoding workers exist (or it ended)."""
    deadline = time.monotonic() + 60
    while not children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the ingest ended before its workers were seen"


def test_kill_9_of_an_ingest_while_its_workers_decode_leaves_no_process(tmp_path, many_faces):
    _kill_and_rerun(tmp_path, many_faces, _until_workers)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_kill_9_of_an_ingest_at_a_random_moment_leaves_no_process(tmp_path, many_faces, seed):
    delay = random.Random(seed).uniform(0.3, 3.0)
    _kill_and_rerun(tmp_path, many_faces, lambda proc: time.sleep(delay))
