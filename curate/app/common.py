"""Shared UI pieces every page uses. Import what you need; nothing here runs at import time.

- `engine()` / `workspace()`: the workspace (env ROSTRO_WORKSPACE / ROSTRO_DATABASE_URL, see
  `curate.workspace`) and its migrated engine, opened once per server process
  (`st.cache_resource`).
- Login state: `current_user()` (a `User` or None), `log_in(user)`, `log_out()`. The user lives in
  `st.session_state["user"]`; a new browser session picks the login up from the HttpOnly
  session cookie (`curate.app.session_cookie`, checked against the sessions table), and a
  log-out ends the session in the database, after which the entry point clears the cookie.
- Guards, called at the top of a page: `require_login()` returns the user or stops the page;
  `require_admin()` does the same and refuses non-admins.
- `db_call(fn, *args)`: runs a database function, retrying while the database is busy
  (`db.engine.retry_busy`), and turns a failure into a calm message, never a traceback.
  `db_attempt` is the same without stopping the page (the Label panel shows its own message).
  These are the only places a page retries or handles a database error; domain functions
  do not retry, so retries never nest.
- `calm_errors()`: around every page run (streamlit_app.py) and every fragment: an error that
  escapes a page is logged with a short error id; an admin sees the traceback, anyone else a
  one-line message with that id (the server is also started with `client.showErrorDetails =
  none`, so nothing else shows a traceback either).

A page module is a plain script: guard first, then call `curate.*` functions; no SQL or PIL here.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import secrets
from dataclasses import dataclass

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from curate.app.session_cookie import user_from_cookie
from curate.app.text import plain
from curate.sessions import end_session, session_user_id
from curate.workspace import Workspace, explain
from db.engine import is_busy, retry_busy

log = logging.getLogger(__name__)

USER_KEY = "user"
ENDED_KEY = "session_ended"  # set when a session was found ended, for the message
ENDED_TEXT = ("Your session has ended (logged out, password changed or account deactivated). "
              "Please log in again.")
BUSY, UNREACHABLE = "busy", "unreachable"  # what db_attempt reports when a call failed
_STOP_TEXT = {
    BUSY: "The database is busy right now; nothing was lost. Press the key again in a moment.",
    UNREACHABLE: "The database could not be reached; nothing was lost. Try again, and tell your "
                 "lead if it keeps happening.",
}


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str  # "annotator" | "admin"
    token: str = ""  # the login session's token (curate.sessions)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def workspace() -> Workspace:
    return Workspace.resolve()


@st.cache_resource(show_spinner=False)
def _open(root: str, url: str) -> Engine:
    # Once per server: settle what a killed export left behind, as every command does; a job
    # whose worker died with an earlier server is marked failed first (curate.jobs).
    from curate.export.records import reconcile
    from curate.jobs import settle
    ws = Workspace.resolve(root, url or None)
    engine = ws.open()
    from curate.triage.auto import start_watcher
    start_watcher(ws, engine)  # queues that top themselves up, when an admin turned that on
    try:
        settle(engine)
        reconcile(engine, [ws.exports_dir])
    except (OperationalError, OSError) as e:
        log.warning("export clean-up skipped: %s", e)
    return engine


def engine() -> Engine:
    """The workspace's migrated engine, shared by every session of this server. A database
    that cannot be opened (corrupt, unreachable, read-only, a bad URL) stops the page with one
    calm line; it is tried again on the next run (failures are not cached)."""
    ws = workspace()
    try:
        return _open(str(ws.root), ws.database_url)
    except Exception as e:
        why = explain(e, ws.url)
        if why is None:
            raise
        log.error("database unavailable: %s", why)
        st.error(f"The database cannot be opened: {plain(why)}")
        st.stop()
        raise RuntimeError(why) from e  # st.stop() is a no-op outside a Streamlit run


def client_address() -> str:
    """The browser's address for the login throttle (`curate.app.client.client_address`:
    the socket's, loopback included; X-Forwarded-For only from a proxy the admin named)."""
    from curate.app.client import client_address as from_context
    return from_context()


def current_user() -> User | None:
    """The logged-in user whose session still stands, or None.

    The session is checked against the database on each page run, so a log-out elsewhere, a
    password change or a deactivation logs this tab out at its next run.
    """
    user = st.session_state.get(USER_KEY)
    if user is None:
        return _from_cookie()
    if db_call(session_user_id, engine(), user.token) != user.id:
        _clear()
        st.session_state[ENDED_KEY] = True
        return None
    return user


def still_logged_in() -> bool:
    """For a panel's fragment run (which skips the page's guard): False once this tab's session
    has ended; True while it stands — and while the database cannot be reached, so the panel
    stays on screen with its outbox (every write checks the user again in the database)."""
    user = st.session_state.get(USER_KEY)
    if user is None:
        return False
    found, failure = db_attempt(session_user_id, engine(), user.token)
    if failure is not None:
        return True
    if found != user.id:
        _clear()
        st.session_state[ENDED_KEY] = True
        return False
    return True


def _from_cookie() -> User | None:
    # A new browser session (reload, typed URL, server restart): the login cookie's session,
    # when it still stands in the database (curate.app.session_cookie).
    found, token = db_call(user_from_cookie, engine())
    if found is None:
        return None
    user = User(id=found.id, name=found.name, role=found.role.value, token=token)
    log_in(user)
    return user


def log_in(user: User) -> None:
    st.session_state.pop(ENDED_KEY, None)
    st.session_state[USER_KEY] = user


def _clear() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def log_out() -> None:
    """End this session in the database and forget everything this tab held."""
    user = st.session_state.get(USER_KEY)
    if user is not None:
        db_call(end_session, engine(), user.token)
    _clear()


def require_login() -> User:
    user = current_user()
    if user is None:
        st.warning(ENDED_TEXT if st.session_state.get(ENDED_KEY) else "Please log in first.")
        st.stop()
        raise RuntimeError("not logged in")  # st.stop() is a no-op outside a Streamlit run
    return user


def require_admin() -> User:
    """The logged-in admin; anyone else sees a refusal and the page stops."""
    user = require_login()
    if not user.is_admin:
        st.error("This page is for admins only.")
        st.stop()
        raise PermissionError("admins only")  # st.stop() is a no-op outside a Streamlit run
    return user


def db_attempt(fn, *args, **kwargs) -> tuple[object, str | None]:
    """(fn(*args, **kwargs), None), retried while the database is busy; when a database error
    remains, it is logged and the result is (None, BUSY or UNREACHABLE). Other errors propagate."""
    try:
        return retry_busy(fn, *args, **kwargs), None
    except OperationalError as e:
        log.exception("database error")
        return None, BUSY if is_busy(e) else UNREACHABLE


def db_call(fn, *args, **kwargs):
    """fn(*args, **kwargs) through `db_attempt`; on a database error that remains, show a plain
    message and stop the page."""
    result, failure = db_attempt(fn, *args, **kwargs)
    if failure is not None:
        st.error(_STOP_TEXT[failure])
        st.stop()
    return result


def _failed(exc: Exception) -> None:
    error_id = secrets.token_hex(4)
    user = st.session_state.get(USER_KEY)
    log.error("error %s on a page run by %s", error_id, getattr(user, "name", "(not logged in)"),
              exc_info=exc)
    if user is not None and user.is_admin:
        st.error(f"This page failed (error id `{error_id}`, also in the server log).")
        st.exception(exc)
    else:
        st.error(f"Something went wrong on this page; nothing you recorded is lost. Error id "
                 f"`{error_id}`: your lead can find the details in the server log.")


@contextlib.contextmanager
def calm_errors():
    """Run a page (or a fragment) so that an error that escapes it is shown calmly: logged with
    an error id; the traceback only for admins. Streamlit's stop/rerun pass through."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 — st.stop()/st.rerun() are BaseExceptions, untouched
        _failed(e)


# The Label and Review pages fit one screen from 1280×800 up: Streamlit's page padding (6 rem
# on top, 5 rem at the sides in wide layout) would push the decision panel's strip below the
# fold. A fixed style of ours, not text from outside.
PANEL_PAGE_STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding: 3.6rem 1.5rem 0.5rem 1.5rem; }
</style>"""


def panel_page_style() -> None:
    """Tighter page padding for a page around the decision panel (Label, Review)."""
    st.html(PANEL_PAGE_STYLE)


_frozen = False


def freeze_long_lived() -> None:
    """Once per server process, after its first page run: move every object alive then (the
    modules of Streamlit, SQLAlchemy, pandas and the pages) out of the garbage collector's
    reach (`gc.freeze`). The collections Python still runs while people label then walk only
    what the pages create since, instead of holding the GIL ~100 ms each; Streamlit's full
    collection after every run is off as well (`runner.postScriptGC = false`)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()
