"""Real browser against a PostgreSQL server of its own that is stopped and started again while
an annotator labels: the panel stays on screen, keeps the press in its outbox, says the
database cannot be reached, and records the press by itself once the server is back — once,
without a reload."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def _pg(*args: str) -> None:
    cmd = [str(PG_BIN[-1] / args[0]), *args[1:]]
    if os.getuid() == 0:  # PostgreSQL refuses to run as root
        cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]
    got = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if got.returncode:
        raise RuntimeError(f"{args[0]} failed: {got.stderr or got.stdout}")


@pytest.fixture
def own_postgres():
    """A throwaway PostgreSQL cluster on a free port (never the shared test server)."""
    if not PG_BIN:
        pytest.skip("PostgreSQL is not installed")
    why = harness.chromium_missing()
    if why:
        pytest.skip(why)
    data = Path(tempfile.mkdtemp(prefix="rostro-pg-"))  # outside pytest's private tmp: the
    if os.getuid() == 0:                                 # server's user must reach it
        shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
    start = ("pg_ctl", "-D", str(data), "-l", str(data / "server.log"), "-w", "-o",
             f"'-p {port} -c listen_addresses=127.0.0.1 -k /tmp -c fsync=off'", "start")
    stop = ("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    _pg(*start)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", start, stop
    finally:
        try:
            _pg(*stop)
        except RuntimeError:
            pass  # stopped already
        shutil.rmtree(data, ignore_errors=True)


def test_the_panel_keeps_its_press_while_postgres_is_down_and_sends_it_when_back(tmp_path,
                                                                                own_postgres):
    from curate.demo import build_demo
    from curate.workspace import Workspace
    from db.engine import reading
    from db.models import Decision

    url, start, stop = own_postgres
    root = tmp_path / "ws"
    ws = Workspace.resolve(root, url)
    engine = ws.open()
    build_demo(ws, engine, count=60, peruvian=0, seed=7)
    engine.dispose()
    with harness.serve(root, url) as app, harness.open_browser() as page:
        try:
            harness.login(page, app, "ana", "ana")
            harness.wait_until_looked(page, 0)
            page.keyboard.press("a")
            harness.wait_until_looked(page, 1)
            harness.wait_confirmed(page)
            _pg(*stop)  # the database goes away
            page.keyboard.press("1")  # a press while it is away
            harness.wait_for_position(page, 2)
            page.get_by_text("cannot be reached").first.wait_for(timeout=20_000)
            assert page.locator(harness.IMAGE).is_visible()  # the panel is still there
            assert page.locator(".rp-strip .entry >> nth=-1").inner_text().endswith("sending…")
            page.wait_for_timeout(3000)  # resends fail meanwhile; nothing is lost
            assert "sending…" in page.locator(".rp-strip .entry >> nth=-1").inner_text()
            _pg(*start)  # back: the panel resends by itself, no reload
            page.locator(".rp-strip .entry >> nth=-1").get_by_text("saved").wait_for(timeout=30_000)
            page.get_by_text("cannot be reached").first.wait_for(state="hidden", timeout=10_000)
        except Exception as e:  # what the panel showed, to tell why
            raise AssertionError(harness.explain(page)) from e
    engine = Workspace.resolve(root, url).open()
    with reading(engine) as s:
        rows = [v.value for v in s.scalars(select(Decision.verdict).order_by(Decision.id))]
    engine.dispose()
    assert rows == ["accept", "reject"]  # recorded once
