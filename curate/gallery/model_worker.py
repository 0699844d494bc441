"""Model work out of the app's server process: one worker process per framework.

The Streamlit server serves every annotator from one process; importing torch or TensorFlow
there made each Label key press 4–5× slower until a restart (issue 12). So the gallery pages
never load a model themselves: `ask(framework, op, header, blobs)` hands the request to that
framework's worker process (`python -m curate.gallery.model_worker`), which imports only its
own framework and keeps the loaded generators warm.

- **Started on first use**, by a daemon thread that owns it for the server's lifetime (one per
  framework); requests to one worker run one at a time, in order.
- **Ended after IDLE_S** without a request (env `ROSTRO_WORKER_IDLE_S`, default 300 s); the next
  request starts it again.
- **Never outlives the server**: the worker asks the kernel for SIGKILL when the thread that
  started it ends (`PR_SET_PDEATHSIG`, via `trainers.common.workers`; that thread lives as long
  as the server, unlike Streamlit's per-run script threads), watches its parent's pid, and exits
  when its stdin closes.
- **No pickle across the boundary**: a message is one JSON header line plus raw byte blobs, so a
  worker that read a hostile checkpoint cannot make the server run code.

- **Bounded**: the worker's data memory is capped (`RLIMIT_DATA`, env
  `ROSTRO_WORKER_MEMORY_GB`, default 8) and each request's time (env `ROSTRO_WORKER_REQUEST_S`,
  default 120 s); a request past either is answered with a calm `failed` error and the worker
  goes on. (Checkpoints are also checked against their config's sizes before a model is built:
  trainers.stylegan.checkpoint.check_tensors.)

Errors come back as `WorkerError(kind, message)`: kind `checkpoint` (refused or unreadable),
`bad_image` (an upload that is not an image), `input` (a bad request), `failed` (anything else;
logged by the worker on the server's stderr).
"""
from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

from curate.gallery.worker_protocol import WorkerError, read_message, write_message

log = logging.getLogger(__name__)
__all__ = ["WorkerError", "ask", "read_message", "serve", "worker_pids", "write_message"]

FRAMEWORKS = ("torch", "tensorflow")
IDLE_S = 300.0  # seconds without a request before a worker is ended
MEMORY_GB = 8.0  # the worker's data memory cap (GB), env ROSTRO_WORKER_MEMORY_GB
REQUEST_S = 120  # the longest one request may run in the worker (s), env ROSTRO_WORKER_REQUEST_S
REQUEST_TIMEOUT_S = 600.0  # the longest a page waits for one answer
REPO = Path(__file__).resolve().parent.parent.parent


# --- the server side --------------------------------------------------------------------------
class _Owner:
    """The thread that starts, feeds and ends one framework's worker process."""

    def __init__(self, framework: str):
        self.framework = framework
        self.requests: queue.Queue = queue.Queue()
        self.proc: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._loop, name=f"model-worker-{framework}",
                                       daemon=True)
        self.thread.start()

    def _idle_s(self) -> float:
        try:
            return float(os.environ.get("ROSTRO_WORKER_IDLE_S", IDLE_S))
        except ValueError:
            return IDLE_S

    def _loop(self) -> None:
        while True:
            try:
                header, blobs, fut = self.requests.get(timeout=self._idle_s())
            except queue.Empty:
                self._stop("idle")
                continue
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(self._exchange(header, blobs))
            except BaseException as e:  # noqa: BLE001 — handed to the waiting page
                fut.set_exception(e)

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        proc = subprocess.Popen(
            [sys.executable, "-m", "curate.gallery.model_worker", self.framework, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, env=env)
        log.info("%s worker started (pid %d)", self.framework, proc.pid)
        return proc

    def _exchange(self, header: dict, blobs: list) -> tuple[dict, list[bytes]]:
        for attempt in (1, 2):  # a worker that died since the last request is started again
            if self.proc is None or self.proc.poll() is not None:
                self.proc = self._start()
            try:
                write_message(self.proc.stdin, header, blobs)
                got = read_message(self.proc.stdout)
            except (OSError, ValueError):
                got = None
            if got is not None:
                answer, out = got
                if "error" in answer:
                    raise WorkerError(answer["error"], answer.get("message", ""))
                return answer, out
            code = self.proc.wait()
            self.proc = None
            log.warning("%s worker stopped (exit %s), attempt %d", self.framework, code, attempt)
        raise WorkerError("failed", f"the {self.framework} worker stopped (exit {code})")

    def _stop(self, why: str) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        log.info("%s worker ended (%s)", self.framework, why)
        proc.stdin.close()  # the worker exits at the end of its input
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


_owners: dict[str, _Owner] = {}
_owners_lock = threading.Lock()


def _owner(framework: str) -> _Owner:
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}")
    with _owners_lock:
        if framework not in _owners:
            _owners[framework] = _Owner(framework)
        return _owners[framework]


def ask(framework: str, op: str, header: dict | None = None, blobs=(),
        timeout: float = REQUEST_TIMEOUT_S) -> tuple[dict, list[bytes]]:
    """Send one request to the framework's worker (starting it if needed) and wait for the
    answer: (header, blobs); WorkerError when the worker refused or failed."""
    fut: Future = Future()
    _owner(framework).requests.put((dict(header or {}, op=op), list(blobs), fut))
    return fut.result(timeout=timeout)


def worker_pids() -> dict[str, int]:
    """The running workers' process ids, by framework (for tests and the status line)."""
    return {f: p for f, o in list(_owners.items()) if (p := o.pid()) is not None}


# --- the worker side --------------------------------------------------------------------------
def _setting(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


class _TooLong(Exception):
    pass


def _too_long(_signum, _frame):
    raise _TooLong()


def cap_memory() -> None:
    """Cap this process's data memory (heap and private writable mappings) at MEMORY_GB."""
    import resource
    cap = int(_setting("ROSTRO_WORKER_MEMORY_GB", MEMORY_GB) * 1024 ** 3)
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))


def serve(framework: str, parent: int, stdin, stdout) -> None:
    """Answer requests until stdin ends (curate.gallery.model_ops does the work), each within
    REQUEST_S seconds (SIGALRM) and the memory cap: past either, a calm `failed` answer."""
    import signal

    from curate.gallery import model_ops

    handlers = model_ops.HANDLERS[framework]
    limit = int(_setting("ROSTRO_WORKER_REQUEST_S", REQUEST_S))
    timed = threading.current_thread() is threading.main_thread()
    if timed:
        signal.signal(signal.SIGALRM, _too_long)
    while (msg := read_message(stdin)) is not None:
        header, blobs = msg
        op = header.get("op")
        try:
            if timed:
                signal.alarm(limit)
            try:
                if op == "ping":
                    answer, out = {"pid": os.getpid()}, []
                elif op not in handlers:
                    raise WorkerError("input", f"the {framework} worker has no {op!r}")
                else:
                    answer, out = handlers[op](header, blobs)
            finally:
                if timed:
                    signal.alarm(0)
        except WorkerError as e:
            answer, out = {"error": e.kind, "message": str(e)}, []
        except _TooLong:
            log.warning("%s request %r stopped after %d s", framework, op, limit)
            answer, out = {"error": "failed", "message": f"it took longer than {limit} s; "
                           "the request was stopped"}, []
        except MemoryError:
            log.warning("%s request %r ran out of its memory cap", framework, op)
            answer, out = {"error": "failed", "message": "it needed more memory than the model "
                           "worker may use; the request was stopped"}, []
        except Exception as e:  # noqa: BLE001 — answered, and logged on the server's stderr
            log.exception("%s request %r failed", framework, op)
            answer, out = {"error": "failed", "message": f"{type(e).__name__}: {e}"}, []
        write_message(stdout, answer, out)


def main(argv: list[str]) -> None:
    framework, parent = argv[0], int(argv[1])
    from trainers.common.workers import die_with_parent  # the process pools' parent-death safety

    die_with_parent(parent)
    cap_memory()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {framework}-worker %(message)s")
    # The answers go out on the original stdout; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(framework, parent, sys.stdin.buffer, out)


if __name__ == "__main__":
    main(sys.argv[1:])
