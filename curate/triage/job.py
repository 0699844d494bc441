"""A triage training started from the app: a worker process, its progress file, its state.

The Streamlit server never trains (nor imports torch): `start(ws)` launches
`python -m curate.triage.worker` from a thread that lives as long as the server, so the
worker dies with the server (`PR_SET_PDEATHSIG`, see trainers.common.workers) but not with the
page run or the browser tab that asked for it. The worker takes the workspace's training lock first;
a second start while one runs is refused here, and a worker that finds the lock taken exits
without touching anything.

Progress goes to `<workspace>/triage/job.json`, written atomically at most every half second:
state (running | done | failed), phase (load | train | score), done/total, the model made and
its figures, or the one-line reason it failed. A `running` file whose worker is gone (a server
restart, a kill -9) reads as `stopped`; the next training removes what that run left.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curate.triage import store
from curate.triage.config import TriageError
from curate.workspace import Workspace
from trainers.common.workers import start_owned

STATUS_FILE = "job.json"
# Extra `curate triage train` flags for trainings the app starts, e.g. "--side 48" (the
# operator's; default none). The tests use it to train small.
TRAIN_ARGS_ENV = "ROSTRO_TRIAGE_TRAIN_ARGS"
MAX_STATUS_BYTES = 256 * 1024
WRITE_EVERY_S = 0.5
REPO = Path(__file__).resolve().parent.parent.parent


@dataclass
class JobStatus:
    state: str = "idle"  # idle | running | done | failed | stopped
    phase: str = ""  # load | train | score
    done: int = 0
    total: int = 0
    pid: int = 0
    started_at: str = ""  # ISO 8601, UTC
    updated_at: str = ""
    message: str = ""  # the summary, or why it failed (one line)
    version: int = 0  # the model made
    figures: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


def status_path(ws: Workspace) -> Path:
    return store.triage_dir(ws) / STATUS_FILE


def read_status(ws: Workspace) -> JobStatus:
    """The last state written (idle before any run); `running` with no live worker → stopped."""
    path = status_path(ws)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_STATUS_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_STATUS_BYTES else {}
    except (OSError, ValueError, RecursionError):
        return JobStatus()
    if not isinstance(data, dict):
        return JobStatus()
    known = {k: v for k, v in data.items() if k in JobStatus.__dataclass_fields__}
    try:
        status = JobStatus(**known)
        status.done, status.total, status.pid = int(status.done), int(status.total), int(status.pid)
        status.version = int(status.version)
    except (TypeError, ValueError, OverflowError):
        return JobStatus()
    if not isinstance(status.figures, dict):
        status.figures = {}
    for k in ("state", "phase", "message", "started_at", "updated_at"):
        setattr(status, k, str(getattr(status, k))[:2000])
    if status.state == "running" and not is_running(ws):
        status.state = "stopped"
        status.message = "the training stopped before it finished (the server restarted or " \
                         "the worker was killed); nothing half-written was kept"
    return status


def write_status(ws: Workspace, status: JobStatus) -> None:
    """Replace the status file atomically."""
    path = status_path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    status.updated_at = _now()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(status)), encoding="utf-8")
    os.replace(tmp, path)


def is_running(ws: Workspace) -> bool:
    """True while some process holds the workspace's training lock."""
    path = store.triage_dir(ws) / "train.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if it was taken here
    return False


def start(ws: Workspace, args: list[str] | None = None) -> bool:
    """Start a training worker for this workspace; False when one is already running,
    TriageError (one line) when its process could not be started."""
    if is_running(ws):
        return False
    env = dict(os.environ, ROSTRO_WORKSPACE=str(ws.root))
    if ws.database_url:
        env["ROSTRO_DATABASE_URL"] = ws.database_url
    if args is None:
        import shlex
        args = shlex.split(os.environ.get(TRAIN_ARGS_ENV, ""))
    argv = [sys.executable, "-m", "curate.triage.worker", *args]
    try:
        start_owned(argv, name="triage-job", env=env, cwd=str(REPO), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL)
    except OSError as e:
        raise TriageError(f"the training could not start: {e}") from None
    return True


class Reporter:
    """The worker's progress callback: writes the status file at most every half second."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.status = JobStatus(state="running", pid=os.getpid(), started_at=_now())
        self._last = 0.0
        write_status(ws, self.status)

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.status.phase, self.status.done, self.status.total = phase, done, total
        now = time.monotonic()
        if now - self._last >= WRITE_EVERY_S or done >= total:
            self._last = now
            write_status(self.ws, self.status)

    def finish(self, state: str, message: str, version: int = 0, figures: dict | None = None):
        self.status.state, self.status.message = state, message
        self.status.version, self.status.figures = version, figures or {}
        write_status(self.ws, self.status)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
