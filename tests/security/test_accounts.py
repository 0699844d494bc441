"""Issue 13, point 4 (accounts) and point 7 (a stalled writer), each tried as an attacker would."""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time

import pytest

from curate import labeling, users
from curate.cli import main
from curate.decisions import DecisionError, record_decision
from curate.presses import Pressed
from curate.demo import DemoError, build_demo
from curate.sessions import end_session, open_session, session_user, session_user_id
from curate.workspace import Workspace
from db import engine as db_engine
from db.engine import WriteTurnTimeout, make_engine, retry_busy
from tests.helpers import REPO
from tests.helpers.app import as_user, page
from tests.helpers.curate import seed


@pytest.fixture
def team(engine):
    """A seeded database: admin/admin, ana/ana and luis/luis with queues of 10."""
    return seed(engine, images=20, per_annotator=10, overlap=0.2)


def test_guessing_passwords_is_throttled_per_name(engine, team):
    # The attack that worked: 25 wrong passwords in 7.6 s, then admin/admin got in.
    results = [users.log_in(engine, "admin", f"guess{i}") for i in range(25)]
    assert all(r.user is None for r in results)
    blocked = [r for r in results if r.retry_after is not None]
    assert len(blocked) >= 25 - users.FREE_FAILURES - 1
    # While blocked, even the right password is refused, with the time to wait.
    right = users.log_in(engine, "admin", "admin")
    assert right.user is None and right.retry_after is not None and right.retry_after > 0
    # Another name from elsewhere is not affected.
    assert users.log_in(engine, "ana", "ana", client="10.0.0.9").user is not None


def test_back_off_doubles_and_is_capped():
    blocks = [users._block_for(n) for n in range(1, 30)]
    assert blocks[:users.FREE_FAILURES] == [0.0] * users.FREE_FAILURES
    assert blocks[users.FREE_FAILURES] == users.FIRST_BLOCK_S
    assert blocks[users.FREE_FAILURES + 1] == 2 * users.FIRST_BLOCK_S
    assert max(blocks) == users.MAX_BLOCK_S


def test_guessing_many_names_from_one_address_is_throttled(engine, team):
    for i in range(users.FREE_FAILURES + 1):
        assert users.log_in(engine, f"someone{i}", "x", client="192.0.2.7").retry_after is None
    r = users.log_in(engine, "ana", "ana", client="192.0.2.7")
    assert r.user is None and r.retry_after is not None


def test_a_success_clears_the_names_count(engine, team):
    for _ in range(users.FREE_FAILURES):
        users.log_in(engine, "luis", "wrong")
    assert users.log_in(engine, "luis", "luis").user is not None
    for _ in range(users.FREE_FAILURES):
        assert users.log_in(engine, "luis", "wrong").retry_after is None


def test_unknown_names_cost_the_same_work_as_known_ones(engine, team, monkeypatch):
    # Unknown names failed in 0.4 ms and known ones in 110 ms: the names could be listed.
    # Count the scrypt runs instead of timing: each mistake must cost exactly one.
    calls = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: calls.append(1) or real(*a, **k))
    users._dummy_hash()  # made once per process, before the attempts are counted
    calls.clear()
    assert users.log_in(engine, "nobody", "x").user is None
    unknown = len(calls)
    calls.clear()
    assert users.log_in(engine, "ana", "x").user is None
    assert unknown == len(calls) == 1


def test_password_policy_outside_the_demo(tmp_path):
    ws = str(tmp_path / "real")
    assert main(["--workspace", ws, "users", "add", "eva", "--password", "short"]) == 2
    assert main(["--workspace", ws, "users", "add", "eva", "--password", "a" * 9]) == 2
    assert main(["--workspace", ws, "users", "add", "eva", "--password", "a long one"]) == 0
    assert main(["--workspace", ws, "users", "passwd", "eva", "--password", "tiny"]) == 2


def test_users_added_to_the_demo_follow_the_policy_too(tmp_path):
    ws = str(tmp_path / "demo")
    assert main(["--workspace", ws, "demo", "--count", "4"]) == 0  # admin/admin and co. stay
    assert main(["--workspace", ws, "users", "add", "eva", "--password", "short"]) == 2
    engine = Workspace.resolve(ws).open()
    assert "eva" not in [u.name for u in users.list_users(engine)]  # nothing half-created
    assert users.log_in(engine, "admin", "admin").user is not None
    assert main(["--workspace", ws, "users", "add", "eva", "--password", "a long one"]) == 0


def test_the_right_password_of_a_deactivated_user_says_so_and_a_wrong_one_does_not(engine, team):
    users.set_active(engine, "luis", False)
    wrong = users.log_in(engine, "luis", "not his")
    assert wrong.user is None and not wrong.deactivated  # the common answer
    right = users.log_in(engine, "luis", "luis")
    assert right.user is None and right.deactivated
    assert users.authenticate(engine, "luis", "luis") is None  # scripts: still refused
    unknown = users.log_in(engine, "nobody", "luis")
    assert unknown.user is None and not unknown.deactivated


def test_password_change_and_deactivation_end_sessions_and_decisions(engine, team):
    ana, luis = team["ana"], team["luis"]
    t1, t2 = open_session(engine, ana), open_session(engine, ana)
    assert session_user(engine, t1).name == "ana"
    assert session_user_id(engine, t1) == session_user(engine, t1).id
    assert users.set_password(engine, "ana", "a much longer one") == 2
    assert session_user(engine, t1) is None and session_user(engine, t2) is None
    assert users.log_in(engine, "ana", "ana").user is None
    assert users.log_in(engine, "ana", "a much longer one").user is not None

    t3 = open_session(engine, luis)
    item = labeling.items(engine, luis, 0)[0]
    assert users.set_active(engine, "luis", False) == 1
    assert session_user(engine, t3) is None and session_user_id(engine, t3) is None
    with pytest.raises(DecisionError, match="deactivated"):
        record_decision(engine, luis, item.image_id, "accept")
    assert users.log_in(engine, "luis", "luis").user is None  # and no hint why
    users.set_active(engine, "luis", True)
    assert users.log_in(engine, "luis", "luis").user is not None
    assert session_user(engine, t3) is None  # reactivation does not revive old sessions


def test_log_out_ends_the_session(engine, team):
    token = open_session(engine, team["ana"])
    end_session(engine, token)
    assert session_user(engine, token) is None
    assert session_user(engine, "made-up token") is None and session_user(engine, "") is None


def test_an_open_tab_is_logged_out_after_deactivation(app_db):
    at = page("curate/app/label.py", as_user(app_db, "ana"))
    at.run()

    def panel():  # the Label page's decision panel
        return [e for e in at.get("bidi_component") if e.proto.component_name == "rostro_label_panel"]
    assert panel()
    users.set_active(Workspace.resolve().open(), "ana", False)
    at.run()
    assert not at.exception
    assert any("session has ended" in w.value for w in at.warning)
    assert not panel()


def test_login_page_says_when_to_retry(app_db):
    at = page("streamlit_app.py")
    at.run()
    for _ in range(users.FREE_FAILURES + 2):
        at.text_input(key="login_name").input("admin")
        at.text_input(key="login_password").input("wrong")
        at.button[0].click().run()
    assert any("Try again in" in e.value for e in at.error)
    assert "user" not in at.session_state


def test_demo_refuses_a_workspace_with_real_users(tmp_path):
    ws = Workspace.resolve(tmp_path / "real")
    engine = ws.open()
    users.add_user(engine, "lead", "a long password", admin=True)
    with pytest.raises(DemoError, match="not the demo"):
        build_demo(ws, engine, count=4, peruvian=0)
    assert [u.name for u in users.list_users(engine)] == ["lead"]  # no admin/admin added
    assert main(["--workspace", str(ws.root), "demo", "--count", "4"]) == 2


def test_database_file_is_private(tmp_path):
    ws = Workspace.resolve(tmp_path / "ws")
    ws.open()
    db = ws.root / "rostro.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    os.chmod(db, 0o644)  # made before this rule, or by hand
    make_engine(ws.url).dispose()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


HOLD_LOCK = """
import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
"""


def test_a_stalled_writer_yields_a_busy_message_within_the_timeout(sqlite_engine, monkeypatch):
    # A decision writer stopped while holding the write turn blocked everyone (75 s seen).
    ids = seed(sqlite_engine, images=4, per_annotator=2, overlap=0.0)
    item = labeling.items(sqlite_engine, ids["ana"], 0)[0]
    press = Pressed("accept", seconds=1.0, press_id="stalled-01")
    path = db_engine._lock_path(sqlite_engine.url.render_as_string(hide_password=False))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, path], stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(db_engine, "WRITE_TURN_TIMEOUT_S", 1.0)
        start = time.monotonic()
        with pytest.raises(WriteTurnTimeout) as err:
            retry_busy(labeling.decide_pressed, sqlite_engine, ids["ana"], item.image_id, 0, press)
        waited = time.monotonic() - start
        assert db_engine.is_busy(err.value)
        assert waited < 5  # one wait of the timeout, not one per retry
        from curate.app.common import BUSY, db_attempt
        assert db_attempt(labeling.decide_pressed, sqlite_engine, ids["ana"], item.image_id, 0,
                          press) == (None, BUSY)
    finally:
        holder.kill()
        holder.wait()
    # The turn is free again once the stalled writer is gone, and nothing was recorded before.
    assert labeling.progress(sqlite_engine, ids["ana"]).decided == 0
    labeling.decide_pressed(sqlite_engine, ids["ana"], item.image_id, 0, press)
    assert labeling.progress(sqlite_engine, ids["ana"]).decided == 1
