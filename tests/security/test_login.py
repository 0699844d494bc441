"""Issue 19, points 1–3: parallel guesses, the client address, login CSRF — tried as the
attacker did."""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading

import pytest
from sqlalchemy import select

from curate import users
from curate.app import session_cookie
from curate.sessions import open_session
from curate.workspace import Workspace
from db.engine import reading
from db.models import LoginThrottle
from tests.helpers.curate import seed


@pytest.fixture
def team(engine):
    return seed(engine, images=4, per_annotator=2, overlap=0.0)


def _failures(engine, key: str) -> int:
    with reading(engine) as s:
        return s.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == key)) or 0


def test_parallel_guesses_each_count_and_are_checked_one_at_a_time(engine, team, monkeypatch):
    # 40 threads at once gave 40 password checks, and the throttle row said failures=1.
    checks, running, most = [], [0], [0]
    guard = threading.Lock()
    real = hashlib.scrypt

    def counted(*a, **k):
        with guard:
            checks.append(1)
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return real(*a, **k)
        finally:
            with guard:
                running[0] -= 1

    users._dummy_hash()
    monkeypatch.setattr(hashlib, "scrypt", counted)
    n = 16
    start = threading.Barrier(n)
    results = [None] * n

    def guess(i):
        start.wait()
        results[i] = users.log_in(engine, "admin", f"guess{i}")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.user is None for r in results)
    checked = [r for r in results if r.retry_after is None]
    assert len(checks) == len(checked) <= users.FREE_FAILURES + 1
    assert most[0] == 1  # never two checks of one name at once
    assert _failures(engine, "name:admin") == len(checked)


def test_a_second_attempt_while_one_is_checked_is_refused(engine, team, monkeypatch):
    # 12 browser sessions submitting one name at once were all checked; the right one got in.
    users._dummy_hash()
    real = hashlib.scrypt
    inside, release = threading.Event(), threading.Event()

    def slow(*a, **k):
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(10)
        return real(*a, **k)

    monkeypatch.setattr(hashlib, "scrypt", slow)
    first = threading.Thread(target=users.log_in, args=(engine, "admin", "wrong"), name="first")
    first.start()
    try:
        assert inside.wait(10)
        right = users.log_in(engine, "admin", "admin")
    finally:
        release.set()
        first.join()
    assert right.user is None and right.retry_after is not None and right.retry_after > 0
    assert getattr(right, "busy", False)  # said as such: not a back-off of failures
    assert users.log_in(engine, "admin", "admin").user is not None  # once the check is done


class _Context:
    """What Streamlit's client context holds for a WebSocket handshake (the socket's address
    and the request headers)."""

    def __init__(self, peer, headers=()):
        self.remote_ip, self.headers, self.cookies = peer, list(headers), {}


def test_a_loopback_client_has_an_address_and_is_throttled(engine, team):
    from curate.app.client import LOOPBACK, client_address
    # st.context.ip_address is None for 127.0.0.1: the default deployment had no address key.
    key = client_address(_Context("127.0.0.1"))
    assert key == LOOPBACK and client_address(_Context("::1")) == LOOPBACK
    for i in range(users.FREE_FAILURES + 1):
        users.log_in(engine, f"someone{i}", "x", client=key)
    blocked = users.log_in(engine, "ana", "ana", client=client_address(_Context("127.0.0.1")))
    assert blocked.user is None and blocked.retry_after is not None


def test_a_rotating_forwarded_for_header_gives_no_fresh_keys(engine, team):
    from curate.app.client import LOOPBACK, client_address, client_key
    # uvicorn believes X-Forwarded-For from loopback and puts its value in place of the socket's
    # address; a rotating value was never throttled.
    keys = {client_address(_Context(f"203.0.113.{i}", [("x-forwarded-for", f"203.0.113.{i}")]))
            for i in range(10)}
    assert keys == {LOOPBACK}
    for i in range(users.FREE_FAILURES + 1):
        users.log_in(engine, f"someone{i}", "x",
                     client=client_address(_Context(f"198.51.100.{i}",
                                                    [("X-Forwarded-For", f"198.51.100.{i}")])))
    r = users.log_in(engine, "ana", "ana", client=client_address(
        _Context("198.51.100.99", [("x-forwarded-for", "198.51.100.99")])))
    assert r.user is None and r.retry_after is not None
    # A header from a remote client that uvicorn did not believe leaves its socket address.
    assert client_key("192.0.2.5", "10.1.1.1") == "192.0.2.5"
    # The admin's proxy is believed: the server resolved the client for it.
    assert client_key("192.0.2.77", "192.0.2.77", trusted=("10.0.0.2",)) == "192.0.2.77"


def test_serve_trusts_no_forwarded_header_unless_a_proxy_is_named(tmp_path):
    from curate.cli import serve_env
    ws = Workspace.resolve(str(tmp_path / "ws"))
    assert serve_env({}, ws, None)["FORWARDED_ALLOW_IPS"] == ""  # uvicorn's default: loopback
    assert serve_env({"ROSTRO_TRUSTED_PROXY": "10.0.0.2"}, ws, None)["FORWARDED_ALLOW_IPS"] \
        == "10.0.0.2"
    assert serve_env({}, ws, "10.0.0.3, 10.0.0.4")["FORWARDED_ALLOW_IPS"] == "10.0.0.3,10.0.0.4"


# --- the session routes (login CSRF) ---------------------------------------------------------
def _xsrf_cookie(token: bytes) -> str:
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string
    return generate_xsrf_token_string(token)


def _post(route, body: bytes, headers: dict[str, str]):
    from starlette.requests import Request
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": "POST", "path": route.path, "raw_path": route.path.encode(),
             "query_string": b"", "headers": raw, "scheme": "http",
             "server": ("127.0.0.1", 8501), "client": ("127.0.0.1", 40000),
             "root_path": "", "http_version": "1.1"}
    sent = [False]

    async def receive():
        if sent[0]:
            return {"type": "http.disconnect"}
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return asyncio.run(route.endpoint(Request(scope, receive)))


@pytest.fixture
def routes(tmp_path, monkeypatch):
    ws = Workspace.resolve(str(tmp_path / "ws"))
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(ws.root))
    monkeypatch.delenv("ROSTRO_DATABASE_URL", raising=False)
    engine = ws.open()
    attacker = users.add_user(engine, "mallory", "mallory")
    token = open_session(engine, attacker)
    store, clear = session_cookie.routes()
    return store, clear, token


def _sets_cookie(response) -> bool:
    return "rostro_session=" in response.headers.get("set-cookie", "")


def test_a_page_at_another_port_cannot_log_the_browser_in(routes):
    # A page on 127.0.0.1 at another port posted a text/plain {"code": …} with no-cors, and the
    # victim's next tab was logged in as the attacker.
    store, _clear, token = routes
    victim_xsrf = _xsrf_cookie(b"v" * 16)
    victim = {"cookie": f"_streamlit_xsrf={victim_xsrf}", "host": "127.0.0.1:8501"}
    try:  # the victim's own binding, so only the origin checks stand in the way
        from curate.app.client import browser_binding
        bind = browser_binding({"_streamlit_xsrf": victim_xsrf})
    except ImportError:  # before issue 19 a code was bound to nothing
        browser_binding = bind = None
    for headers in ({"content-type": "text/plain", "origin": "http://127.0.0.1:9999"},
                    {"content-type": "text/plain"},
                    {"content-type": "application/json", "origin": "http://127.0.0.1:9999"},
                    {"content-type": "application/json", "sec-fetch-site": "same-site"}):
        code = session_cookie.handoff(*([token] if browser_binding is None else [token, bind]))
        r = _post(store, json.dumps({"code": code}).encode(), {**victim, **headers})
        assert r.status_code >= 400 and not _sets_cookie(r), headers
    r = _post(_clear, b"{}", {**victim, "content-type": "text/plain",
                              "origin": "http://127.0.0.1:9999"})
    assert r.status_code >= 400 and not _sets_cookie(r)
    # The app's own page still can.
    code = session_cookie.handoff(*([token] if browser_binding is None else [token, bind]))
    r = _post(store, json.dumps({"code": code}).encode(), {
        **victim, "content-type": "application/json", "origin": "http://127.0.0.1:8501",
        "sec-fetch-site": "same-origin"})
    assert r.status_code == 204 and _sets_cookie(r)


def test_a_handoff_code_works_only_in_the_browser_that_asked_for_it(routes):
    store, _clear, token = routes
    from curate.app.client import browser_binding
    mine, theirs = _xsrf_cookie(b"a" * 16), _xsrf_cookie(b"b" * 16)
    own = {"content-type": "application/json", "origin": "http://127.0.0.1:8501",
           "sec-fetch-site": "same-origin", "host": "127.0.0.1:8501"}
    code = session_cookie.handoff(token, browser_binding({"_streamlit_xsrf": theirs}))
    r = _post(store, json.dumps({"code": code}).encode(), {**own, "cookie": f"_streamlit_xsrf={mine}"})
    assert r.status_code == 403 and not _sets_cookie(r)
    # The browser that asked (its token re-masked, as Streamlit does per response) gets it.
    code = session_cookie.handoff(token, browser_binding({"_streamlit_xsrf": theirs}))
    again = _xsrf_cookie(b"b" * 16)
    assert again != theirs
    r = _post(store, json.dumps({"code": code}).encode(), {**own, "cookie": f"_streamlit_xsrf={again}"})
    assert r.status_code == 204 and _sets_cookie(r)
