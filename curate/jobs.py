"""Exports and prepares as background jobs: the Export page starts them, any page run shows them.

A job is a row in `jobs` (db.models.Job) and one worker process, `python -m curate.jobs ID`,
started by the app's server process (`start`). The worker outlives the page run and the
browser tab that started it — the page only reads the row — but not the server: it dies with
its parent (trainers.common.workers.die_with_parent), and the next server start marks a job
whose worker is gone as failed (`settle`) before curate.export.records.reconcile removes its
temp folder and pending export row, as after any killed export.

The worker runs the same function as the CLI (curate.export.registry), with a progress
callable instead of the terminal bar (curate.progress): about twice a second it writes how
many items are done of how many, and reads the row's cancel flag; a cancel raises inside the
export, whose own clean-up (curate.export.folder) then removes the temp folder and the pending
row, so a cancelled job leaves nothing behind. A thread in the server waits for each worker
it started, so a worker that dies without saying how it ended is marked failed at once.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from curate.export import ExportError
from curate.export.registry import KINDS, values as param_values
from curate.workspace import ENV_DATABASE_URL, ENV_WORKSPACE, Workspace
from db.engine import reading, writing
from db.models import Job
from trainers.common.workers import die_with_parent, start_owned

log = logging.getLogger(__name__)

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
REPORT_EVERY_S = 0.5  # how often a worker writes its progress (the page polls every second)
ENV_PARENT = "ROSTRO_JOB_PARENT"  # the pid the worker dies with
WORKER_MODULE = "curate.jobs"
GONE = "the server stopped while this job ran; its partial files were removed"


class JobCancelled(Exception):
    """Raised inside a job's export when the page asked to cancel it."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class JobView:
    """A job as the page shows it."""

    id: int
    kind: str
    path: str
    state: str
    done: int
    total: int
    cancel: bool
    message: str | None
    started_at: dt.datetime
    progress_at: dt.datetime | None
    finished_at: dt.datetime | None
    counting_at: dt.datetime | None = None  # when it began counting items (rate from here)

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0

    @property
    def seconds(self) -> float:
        """Seconds it has run (to its end, or to its latest progress report)."""
        end = self.finished_at or self.progress_at or self.started_at
        return max((end - self.started_at).total_seconds(), 0.0)

    @property
    def rate(self) -> float | None:
        """Items per second since it began counting (None: nothing done yet)."""
        since = self.counting_at or self.started_at
        end = self.finished_at or self.progress_at or since
        span = (end - since).total_seconds()
        return self.done / span if self.done and span > 0 else None

    @property
    def seconds_left(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate and self.total else None

    def progress_text(self) -> str:
        """"120 of 400 · 35.2/s · about 8 s left" (or what is known so far)."""
        if self.cancel and self.state == RUNNING:
            return "cancelling…"
        if not self.total:
            return "preparing (reading the verdicts and checking the inputs)…"
        parts = [f"{self.done:,} of {self.total:,}"]
        if self.rate:
            parts.append(f"{self.rate:.1f}/s")
        left = self.seconds_left
        if left is not None:
            parts.append(f"about {_duration(left)} left")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s} s" if s < 90 else f"{s // 60} min {s % 60:02d} s"


def _view(j: Job) -> JobView:
    return JobView(j.id, j.kind, j.path, j.state, j.done, j.total, j.cancel, j.message,
                   j.started_at, j.progress_at, j.finished_at, j.counting_at)


def jobs(engine: Engine, limit: int = 10) -> list[JobView]:
    """The running jobs (oldest first), then the `limit` (default 10) newest finished ones."""
    with reading(engine) as s:
        running = s.scalars(select(Job).where(Job.state == RUNNING).order_by(Job.id)).all()
        ended = s.scalars(select(Job).where(Job.state != RUNNING)
                          .order_by(Job.id.desc()).limit(limit)).all()
        return [_view(j) for j in (*running, *ended)]


def _to_json(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    return value


def _params(kind: str, stored: dict) -> Any:
    """The params dataclass of `kind` from its stored JSON (lists back to tuples)."""
    return KINDS[kind].params(**{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in stored.items()})


def start(engine: Engine, ws: Workspace, kind: str, dest: Path, params: Any,
          user_id: int | None = None) -> int:
    """Start a worker writing `kind` with `params` (its params dataclass) to `dest`; returns the
    job's id. ExportError when a job is already writing to `dest`. The caller has checked the
    destination (curate.export.records.check_destination); the export checks it again."""
    stored = {k: _to_json(v) for k, v in param_values(params).items()}
    with writing(engine) as s:
        if s.scalar(select(Job.id).where(Job.state == RUNNING, Job.path == str(dest))):
            raise ExportError(f"a job is already writing {dest}; wait for it or cancel it")
        row = Job(kind=kind, path=str(dest), params=stored, state=RUNNING, started_by=user_id)
        s.add(row)
        s.flush()
        job_id = row.id
    env = dict(os.environ, **{ENV_WORKSPACE: str(ws.root), ENV_DATABASE_URL: ws.database_url,
                              ENV_PARENT: str(os.getpid())})
    logs = ws.root / "logs"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"job-{job_id}.log", "ab") as out:
            start_owned([sys.executable, "-m", WORKER_MODULE, str(job_id)], name=f"job-{job_id}",
                        on_exit=lambda code: _finish(
                            engine, job_id, FAILED,
                            f"the worker stopped unexpectedly (exit code {code})"),
                        stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                        cwd=str(Path(__file__).resolve().parent.parent))
    except Exception as e:  # noqa: BLE001 — said in one line
        _finish(engine, job_id, FAILED, f"the worker could not start: {e}")
        raise ExportError(f"the export could not start: {e}") from None
    return job_id


def _finish(engine: Engine, job_id: int, state: str, message: str, done: int | None = None) -> bool:
    """Record how a running job ended (nothing when it already has); True when recorded."""
    values: dict = dict(state=state, message=message, finished_at=_now())
    if done is not None:
        values.update(done=done, progress_at=_now())
    with writing(engine) as s:
        return bool(s.execute(update(Job).where(Job.id == job_id, Job.state == RUNNING)
                              .values(**values)).rowcount)


def cancel(engine: Engine, job_id: int) -> bool:
    """Ask a running job to stop (it removes what it wrote); False when it is not running."""
    with writing(engine) as s:
        return bool(s.execute(update(Job).where(Job.id == job_id, Job.state == RUNNING)
                              .values(cancel=True)).rowcount)


def _is_worker(pid: int | None) -> bool:
    """Is `pid` a live job worker (not a reused pid of another program)?"""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)  # no /proc: only whether the pid lives
        except OSError:
            return False
        return True
    return WORKER_MODULE.encode() in cmdline


def settle(engine: Engine) -> list[str]:
    """At a server start: every job still marked running whose worker is gone becomes failed
    (its leftovers are then removed by curate.export.records.reconcile). Returns what it did."""
    with reading(engine) as s:
        rows = s.execute(select(Job.id, Job.pid, Job.started_at).where(Job.state == RUNNING)).all()
    notes = []
    for job_id, pid, started in rows:
        if pid is None and (_now() - started).total_seconds() < 60:
            continue  # just started by another server; its worker has not said its pid yet
        if not _is_worker(pid) and _finish(engine, job_id, FAILED, GONE):
            notes.append(f"job {job_id} failed: {GONE}")
    return notes


class _Reporter:
    """The progress callable a worker passes to the export (curate.progress)."""

    def __init__(self, engine: Engine, job_id: int):
        self.engine, self.job_id, self.last, self.counting = engine, job_id, 0.0, False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < REPORT_EVERY_S and done < total:
            return
        self.last = now
        values = dict(done=done, total=total, progress_at=_now())
        if not self.counting:  # the first report (0 done): counting starts now
            self.counting = True
            values["counting_at"] = values["progress_at"]
        with writing(self.engine) as s:
            s.execute(update(Job).where(Job.id == self.job_id).values(**values))
            stop = s.scalar(select(Job.cancel).where(Job.id == self.job_id))
        if stop:
            raise JobCancelled


def run(engine: Engine, job_id: int) -> str:
    """In the worker: write the job's export, recording progress and how it ended; returns the
    final state."""
    with writing(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.state != RUNNING:
            log.warning("job %s is %s: nothing to run", job_id,
                        job.state if job else "unknown")
            return job.state if job else FAILED
        job.pid = os.getpid()
        kind, path, stored, stop = job.kind, job.path, dict(job.params), job.cancel
    if stop:
        _finish(engine, job_id, CANCELLED, "cancelled before it began; nothing was written")
        return CANCELLED
    try:
        params = _params(kind, stored)
        result = KINDS[kind].run(engine, Path(path), params, progress=_Reporter(engine, job_id))
    except JobCancelled:
        _finish(engine, job_id, CANCELLED, "cancelled; nothing was kept, an earlier export "
                "there stays as it was")
        return CANCELLED
    except (ExportError, FileExistsError, ValueError, OSError) as e:
        _finish(engine, job_id, FAILED, str(e))
        return FAILED
    except Exception as e:  # noqa: BLE001 — recorded for the page; the log has the traceback
        log.exception("job %s failed", job_id)
        _finish(engine, job_id, FAILED, f"{type(e).__name__}: {e}")
        return FAILED
    with reading(engine) as s:
        total = s.scalar(select(Job.total).where(Job.id == job_id)) or 0
    _finish(engine, job_id, DONE, result.summary(), done=total)
    return DONE


def main(argv: list[str] | None = None) -> int:
    """`python -m curate.jobs ID`: the worker of one job (started by `start`, never by hand)."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parent = os.environ.get(ENV_PARENT)
    if parent:
        die_with_parent(int(parent))
    engine = Workspace.resolve().open()
    try:
        return 0 if run(engine, int(argv[0])) in (DONE, CANCELLED) else 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
