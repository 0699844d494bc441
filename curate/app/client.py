"""Who is on the other end of a browser session: the client address the login throttle keys on,
and the browser a login cookie's handoff code is bound to.

The address is the socket's, loopback included (Streamlit's `st.context.ip_address` says None
for 127.0.0.1 and ::1, which left the default deployment without an address key). An
`X-Forwarded-For` header is believed only when the admin named the proxy that sends it:
`ROSTRO_TRUSTED_PROXY` (comma-separated addresses; `curate serve --trusted-proxy`). `curate serve`
passes the same list to the server (uvicorn's `FORWARDED_ALLOW_IPS`), which then resolves the
client from the header for those proxies only; with none named it trusts no header.

A server started without `curate serve` (plain `streamlit run`) keeps uvicorn's default, which
believes the header from loopback and puts its value in place of the socket's address. So when
no proxy is named and the request carries the header, an address that appears in it is not taken:
such a request is keyed as loopback (where uvicorn's default trust comes from), so a rotating
header value cannot give an attacker fresh keys.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping

TRUSTED_PROXY_ENV = "ROSTRO_TRUSTED_PROXY"
LOOPBACK = "127.0.0.1"
UNKNOWN = "unknown"  # no socket address at all (a test runner): still one shared key
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's own per-browser cookie (server.enableXsrfProtection)


def trusted_proxies(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The proxy addresses the admin named in ROSTRO_TRUSTED_PROXY (default: none)."""
    raw = (os.environ if env is None else env).get(TRUSTED_PROXY_ENV, "")
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def client_key(peer: str | None, forwarded_for: str | None,
               trusted: Iterable[str] = ()) -> str:
    """The address the throttle keys on, from the address the server reports (`peer`) and the
    request's X-Forwarded-For header (see the module doc). Never None."""
    peer = (peer or "").strip() or UNKNOWN
    if peer == "::1":
        peer = LOOPBACK
    if not forwarded_for or tuple(trusted):
        return peer[:64]  # no header, or the admin's proxy: the server resolved it
    hops = {h.strip() for h in forwarded_for.split(",")}
    return LOOPBACK if peer in hops else peer[:64]


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name]
    return ", ".join(values) if values else None


def client_address(context=None) -> str:
    """The current browser session's client key (`client_key`), from Streamlit's client
    context (the WebSocket handshake) unless one is given."""
    if context is None:
        try:
            from streamlit.runtime.context import _get_client_context
            context = _get_client_context()
        except Exception:  # noqa: BLE001 — outside a browser session
            context = None
    if context is None:
        return UNKNOWN
    try:
        peer = context.remote_ip
        forwarded = _header(list(context.headers), "x-forwarded-for")
    except Exception:  # noqa: BLE001 — a context without the fields (AppTest's stand-in)
        return UNKNOWN
    return client_key(peer if isinstance(peer, str) else None, forwarded, trusted_proxies())


def browser_binding(cookies: Mapping[str, str] | None) -> str:
    """A digest of this browser's Streamlit XSRF token (the token, not its per-response mask),
    or "" when there is none. The WebSocket handshake and a fetch from the same browser carry the
    same cookie; another browser has another token."""
    raw = (cookies or {}).get(XSRF_COOKIE) or ""
    try:
        from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string
        token, _ = decode_xsrf_token_string(raw)
    except Exception:  # noqa: BLE001 — a malformed cookie is no binding
        token = None
    return hashlib.sha256(token).hexdigest() if token else ""


def session_binding() -> str:
    """`browser_binding` of the current browser session (from its WebSocket handshake)."""
    try:
        from streamlit.runtime.context import _get_client_context
        context = _get_client_context()
        return browser_binding(dict(context.cookies)) if context is not None else ""
    except Exception:  # noqa: BLE001 — outside a browser session
        return ""
