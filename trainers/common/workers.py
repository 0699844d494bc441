"""Worker processes that never outlive the command that started them.

`worker_pool(n)` is a ProcessPoolExecutor whose workers ask the kernel for SIGKILL when their
parent dies (Linux `PR_SET_PDEATHSIG`), so a `kill -9` of `curate prepare`, `export` or `ingest`
takes its workers with it instead of leaving them decoding, holding its stdout open. Where that
call does not exist, each worker also watches its parent's pid from a daemon thread and exits
when it changes (the parent died and the worker was re-parented).

`start_owned(argv)` starts one long-lived worker (an export job, a triage training) from a
server: from a thread of its own that waits for it, because the parent-death signal fires when
the *thread* that started the child ends, and a page run's thread ends with the run.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5  # how often the fallback watchdog looks at the parent pid


def kill_on_parent_death() -> None:
    """In a child process: ask the kernel for SIGKILL when the thread that started it ends
    (Linux `PR_SET_PDEATHSIG`; nothing elsewhere). Safe in a `preexec_fn`."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: die_with_parent's watchdog still works


def die_with_parent(parent: int) -> None:
    """In a child process: die when `parent` does (the pools' initializer; also for workers
    started otherwise, e.g. the gallery model workers and the trainer's data loaders)."""
    kill_on_parent_death()
    if os.getppid() != parent:  # the parent died before the call above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of `workers` processes that die with this process (see module doc)."""
    return ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent,
                               initargs=(os.getpid(),))


def start_owned(argv: Sequence[str], *, name: str, on_exit: Callable[[int], None] | None = None,
                **popen) -> subprocess.Popen:
    """Start `argv` (with `popen`'s keyword arguments) from a daemon thread named `name` that
    waits for it, then calls `on_exit(returncode)`. The child is killed when that thread ends,
    so it lives as long as the process that started it and no longer, whichever thread asked.
    Returns once it has started; raises what `subprocess.Popen` raised."""
    box: list = []
    ready = threading.Event()

    def own() -> None:
        try:
            proc = subprocess.Popen(list(argv), preexec_fn=kill_on_parent_death, **popen)
        except BaseException as e:  # noqa: BLE001 — handed to the caller below
            box.append(e)
            ready.set()
            return
        box.append(proc)
        ready.set()
        code = proc.wait()
        if on_exit is not None:
            try:
                on_exit(code)
            except Exception as e:  # noqa: BLE001 — a thread of the server: log, never raise
                log.warning("%s: after its worker ended: %s", name, e)

    threading.Thread(target=own, name=name, daemon=True).start()
    ready.wait()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]
