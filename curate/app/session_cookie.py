"""The login session's token in an HttpOnly cookie, so a login survives a reload, a typed URL
and a server restart.

Streamlit's script cannot set a cookie (`st.context.cookies` is read-only), but `st.App`
(Streamlit ≥ 1.5x, the server `streamlit run` starts for `streamlit_app.py`) takes extra
HTTP routes, and a route's response can. So:
- after a log-in, `keep(user)` mounts a tiny component whose script POSTs a one-time *handoff
  code* (60 s, single use, kept in this process's memory) to `/api/rostro/session`; that route
  swaps it for the token, checks the session in the database and answers with
  `Set-Cookie: rostro_session=…; HttpOnly; SameSite=Strict; Path=/` (and `Secure` over
  https), valid as long as the session. The token itself never reaches page JavaScript;
- a new browser session (reload, new tab, server restart) finds the cookie in
  `st.context.cookies` (sent with the WebSocket handshake) and `user_from_cookie` checks it
  against the sessions table (curate.sessions): ended, expired or deactivated → no login;
- after a log-out (or when the cookie's session has ended), `keep(None)` POSTs to
  `/api/rostro/logout`, whose response deletes the cookie.
Both routes refuse a request from anywhere but the app's own pages: the body must be
`application/json`, and `Origin` (when sent) must be the app's own scheme://host:port and
`Sec-Fetch-Site` (when sent) `same-origin`. SameSite=Strict alone does not do this: a page on
the same host at another port, or on a sibling subdomain, is "same-site", and a `no-cors`
text/plain POST needs no preflight. A handoff code is also bound to the browser that asked for
it (`curate.app.client.browser_binding`: Streamlit's per-browser XSRF token, as the WebSocket
handshake carried it): redeemed by another browser, it does nothing, so an attacker cannot make a
victim's browser take the attacker's login (login CSRF). With Streamlit's XSRF protection
switched off there is no such token, and the origin checks stand alone.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import threading
import time

import streamlit as st

from curate.app.client import browser_binding, session_binding
from curate.sessions import SESSION_HOURS, session_user

COOKIE = "rostro_session"
SESSION_PATH, LOGOUT_PATH = "/api/rostro/session", "/api/rostro/logout"
HANDOFF_S = 60  # a handoff code is good for this long, once
_handoffs: dict[str, tuple[str, float, str]] = {}  # code → (token, expires at, browser binding)
_lock = threading.Lock()

_JS = """
const done = new Set();  // codes already posted by this page
export default function ({ data }) {
  const key = data.action + ":" + (data.code || "");
  if (done.has(key)) return;
  done.add(key);
  fetch(data.action === "store" ? "%s" : "%s", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code: data.code }) })
    .catch(() => done.delete(key));  // tried again at the next page run
}
""" % (SESSION_PATH, LOGOUT_PATH)


def handoff(token: str, binding: str) -> str:
    """A one-time code that `/api/rostro/session` swaps for `token` within HANDOFF_S seconds,
    when the browser redeeming it has this `binding` (`curate.app.client.browser_binding`)."""
    code = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for c in [c for c, (_, t, _b) in _handoffs.items() if t < now]:
            del _handoffs[c]
        _handoffs[code] = (token, now + HANDOFF_S, binding)
    return code


def redeem(code: str, binding: str) -> str | None:
    """The token a handoff code stands for (once, and only for the browser it was made for),
    or None. A code tried by another browser is used up all the same."""
    with _lock:
        token, until, bound = _handoffs.pop(code, (None, 0.0, ""))
    if not token or until < time.monotonic():
        return None
    return token if hmac.compare_digest(bound, binding) else None


def own_request(headers, scheme: str) -> bool:
    """True when a POST comes from the app's own pages: a JSON body, and Origin and
    Sec-Fetch-Site (when the browser sends them) naming this very origin."""
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return False
    site = headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = headers.get("origin")
    host = headers.get("host", "")
    return origin is None or origin == f"{scheme}://{host}"


def _cookie(value: str, max_age: int, secure: bool) -> str:
    return (f"{COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))


def routes() -> list:
    """The two Starlette routes for `st.App(routes=...)` (see the module doc)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    from curate.workspace import Workspace

    @functools.cache
    def engine():
        ws = Workspace.resolve()
        return ws.open()

    async def store(request):
        if not own_request(request.headers, request.url.scheme):
            return Response(status_code=403)
        try:
            code = json.loads(await request.body()).get("code") or ""
        except (ValueError, AttributeError):
            return Response(status_code=400)
        if not isinstance(code, str):
            return Response(status_code=400)
        token = redeem(code, browser_binding(request.cookies))
        if not token or await run_in_threadpool(session_user, engine(), token) is None:
            return Response(status_code=403)
        return Response(status_code=204, headers={"Set-Cookie": _cookie(
            token, int(SESSION_HOURS * 3600), request.url.scheme == "https")})

    async def clear(request):
        if not own_request(request.headers, request.url.scheme):
            return Response(status_code=403)
        return Response(status_code=204, headers={"Set-Cookie": _cookie(
            "", 0, request.url.scheme == "https")})

    return [Route(SESSION_PATH, store, methods=["POST"]),
            Route(LOGOUT_PATH, clear, methods=["POST"])]


def cookie_token() -> str | None:
    """The session token the browser sent with this session's first request, if any."""
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 — outside a browser session (AppTest, bare mode)
        return None
    return token if isinstance(token, str) and token else None


def user_from_cookie(engine):
    """The active user whose open session the cookie holds (an Annotator), and the token."""
    token = cookie_token()
    return (session_user(engine, token), token) if token else (None, None)


@functools.cache
def _keeper():
    return st.components.v2.component("rostro_session_cookie", js=_JS)


def keep(token: str | None) -> None:
    """Make the browser's cookie hold `token` (None: no login, so drop a cookie it holds).
    Draws nothing visible; call it once per full page run."""
    held = cookie_token()
    ss = st.session_state
    if token and token != held:
        if ss.get("_cookie_handoff", (None,))[0] != token:
            ss["_cookie_handoff"] = (token, handoff(token, session_binding()))
        data = {"action": "store", "code": ss["_cookie_handoff"][1]}
    elif not token and held:
        # A digest names the cookie cleared, so a later log-out in this page clears again.
        data = {"action": "clear", "code": hashlib.sha256(held.encode()).hexdigest()[:16]}
    else:
        return
    _keeper()(key="session_cookie", data=data, height=0)
