"""Running `python -m curate` as a user would, and looking at what it left running.

Helpers for tests/security: `cli` runs one command in a fresh process (this checkout first on
the import path) and `assert_one_error_line` checks the promise of issue 13 point 8: one
`error: …` line, exit status 2, no traceback.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import REPO


def env() -> dict[str, str]:
    """The environment of a child `curate`: this checkout imported, no workspace inherited."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("ROSTRO_")}
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return e


def command(*args: str | os.PathLike) -> list[str]:
    return [sys.executable, "-m", "curate", *map(str, args)]


def cli(*args: str | os.PathLike, prefix: tuple[str, ...] = (),
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m curate ARGS` (after `prefix`, e.g. an unshare wrapper), output captured as text."""
    return subprocess.run([*prefix, *command(*args)], env=env(), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, errors="replace")


def assert_one_error_line(r: subprocess.CompletedProcess, *expected: str) -> str:
    """Exit 2, stderr exactly one `error: …` line holding each expected text; returns it."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def alive_in_group(pgid: int) -> list[int]:
    """Pids of the living (not zombie) processes of process group `pgid` (Linux /proc)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            alive.append(int(entry.name))
    return alive


def children(pid: int) -> list[int]:
    """Pids whose parent is `pid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def kill_9(proc: subprocess.Popen, settle_s: float = 5.0) -> list[int]:
    """`kill -9` the command only (as a user would its pid), reap it, and give what it started
    up to `settle_s` to die; returns the pids of its process group still alive (want: [])."""
    if proc.poll() is None:  # a run that already finished (and was reaped) has no pid left
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + settle_s
    while alive_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive_in_group(proc.pid)

