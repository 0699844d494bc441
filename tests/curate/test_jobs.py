"""Background export jobs (curate.jobs): progress, Cancel that leaves nothing, and a worker that
dies with the server that started it, after which the next start marks the job failed and
cleans its leftovers. Real worker processes on a real sketch-pairs export."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from curate import jobs, synth
from curate.export.records import reconcile
from curate.export.registry import KINDS
from curate.workspace import Workspace
from db.engine import reading
from db.models import Export
from tests.helpers import REPO

pytestmark = pytest.mark.slow
WAIT_S = 120  # only so that a hung worker fails the test instead of hanging it


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while not (got := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return got


def job(engine, job_id: int) -> jobs.JobView:
    return next(v for v in jobs.jobs(engine, limit=100) if v.id == job_id)


@pytest.fixture
def faces(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faces")
    synth.write_celeba(folder, 160, seed=3)
    return folder / "img_align_celeba"


def sketch_params(faces: Path):
    # One worker at 512 px: slow enough (tens of ms a pair) to be cancelled halfway.
    return KINDS["sketch_pairs"].params(source=str(faces), size=512, workers=1)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_progress_then_cancel_leaves_nothing_behind(engine, db_url, tmp_path, faces):
    ws = Workspace.resolve(tmp_path / "ws", db_url)
    dest = ws.exports_dir / "pairs"
    job_id = jobs.start(engine, ws, "sketch_pairs", dest, sketch_params(faces))
    seen = wait_for(lambda: (v := job(engine, job_id)).done and v, "no progress reported")
    assert seen.state == jobs.RUNNING and seen.total == 160 and 0 < seen.done < 160
    assert seen.started_at <= seen.counting_at <= seen.progress_at
    assert "of 160" in seen.progress_text()
    with pytest.raises(Exception, match="already writing"):  # one job per destination
        jobs.start(engine, ws, "sketch_pairs", dest, sketch_params(faces))
    assert jobs.cancel(engine, job_id)
    ended = wait_for(lambda: (v := job(engine, job_id)).state != jobs.RUNNING and v, "not ended")
    assert ended.state == jobs.CANCELLED and "nothing was kept" in ended.message
    assert ended.done < 160
    assert leftovers(ws.exports_dir) == []  # no folder, no .partial temp folder
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Export)) == 0  # no pending row
    assert not jobs.cancel(engine, job_id)  # ended: nothing to cancel


def test_a_finished_job_keeps_its_summary(engine, db_url, tmp_path, faces):
    ws = Workspace.resolve(tmp_path / "ws", db_url)
    params = KINDS["sketch_pairs"].params(source=str(faces), size=64, workers=1)
    job_id = jobs.start(engine, ws, "sketch_pairs", ws.exports_dir / "pairs", params)
    ended = wait_for(lambda: (v := job(engine, job_id)).state != jobs.RUNNING and v, "not ended")
    assert ended.state == jobs.DONE and (ended.done, ended.total) == (160, 160)
    assert "pairs 160, train 128, val 32" in ended.message
    assert len(list((ws.exports_dir / "pairs" / "train").glob("*.jpg"))) == 128


SERVER = textwrap.dedent("""
    import sys, time
    from curate import jobs
    from curate.export.registry import KINDS
    from curate.workspace import Workspace
    ws = Workspace.resolve(sys.argv[1], sys.argv[2])
    engine = ws.open()
    params = KINDS["sketch_pairs"].params(source=sys.argv[3], size=512, workers=1)
    print(jobs.start(engine, ws, "sketch_pairs", ws.exports_dir / "pairs", params), flush=True)
    time.sleep(600)
""")


def test_the_worker_dies_with_the_server_and_the_next_start_cleans_up(engine, db_url, tmp_path,
                                                                       faces):
    ws = Workspace.resolve(tmp_path / "ws", db_url)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(ws.root), db_url, str(faces)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        job_id = int(server.stdout.readline())
        running = wait_for(lambda: (v := job(engine, job_id)).done and v, "no progress")
        with reading(engine) as s:
            from db.models import Job
            pid = s.scalar(select(Job.pid).where(Job.id == job_id))
        assert pid and Path(f"/proc/{pid}").exists()
        assert any(p.name.startswith(".") or "partial" in p.name
                   for p in ws.exports_dir.iterdir())  # its temp folder, being written
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    wait_for(lambda: not Path(f"/proc/{pid}").exists()
             or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], "the worker outlived "
             "its server")
    assert job(engine, job_id).state == jobs.RUNNING and running.done < 160  # nobody said so

    # The next server start: the job is failed, then its leftovers go.
    assert jobs.settle(engine) == [f"job {job_id} failed: {jobs.GONE}"]
    reconcile(engine, [ws.exports_dir])
    ended = job(engine, job_id)
    assert ended.state == jobs.FAILED and ended.message == jobs.GONE
    assert leftovers(ws.exports_dir) == []
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Export)) == 0


def test_progress_text_says_rate_and_time_left():
    start = dt.datetime(2026, 1, 1, 12, 0, 0)
    v = jobs.JobView(1, "sketch_pairs", "/x", jobs.RUNNING, 120, 400, False, None, start,
                     start + dt.timedelta(seconds=14), None, start + dt.timedelta(seconds=4))
    # The rate counts from when items began (the 4 s reading the inputs are left out).
    assert v.progress_text() == "120 of 400 · 12.0/s · about 23 s left"
    assert v.fraction == pytest.approx(0.3)
    early = jobs.JobView(1, "sketch_pairs", "/x", jobs.RUNNING, 0, 0, False, None, start, None,
                         None)
    assert early.progress_text().startswith("preparing")
    cancelling = jobs.JobView(1, "sketch_pairs", "/x", jobs.RUNNING, 5, 10, True, None, start,
                              None, None)
    assert cancelling.progress_text() == "cancelling…"
