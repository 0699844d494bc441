"""Login sessions: a random token per browser session, checked against the `sessions` table.

Only the token's SHA-256 is stored, so a copy of the database lets nobody in. A session counts
while it is not ended, not past `expires_at` and its user is active; logging out ends it,
and a password change or a deactivation ends every session of that user (`end_user_sessions`),
so an open tab elsewhere is logged out at its next page run.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.orm import Session

from db.engine import reading, writing
from db.models import Annotator, LoginSession

SESSION_HOURS = 12  # a session expires this long after login (a working day)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, annotator_id: int, client: str | None = None,
                 hours: float = SESSION_HOURS) -> str:
    """A new session for the user; returns its token (default lifetime SESSION_HOURS)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    with writing(engine) as s:
        s.add(LoginSession(annotator_id=annotator_id, token_hash=_digest(token),
                           client=(client or None), created_at=now,
                           expires_at=now + dt.timedelta(hours=hours)))
    return token


def _owner_of_open_session(what):
    """SELECT `what` of the active user whose open, unexpired session has the token digest
    `digest` at time `now` (bound parameters)."""
    return (select(what).join(LoginSession, LoginSession.annotator_id == Annotator.id)
            .where(LoginSession.token_hash == bindparam("digest"), LoginSession.ended_at.is_(None),
                   LoginSession.expires_at > bindparam("now"), Annotator.active.is_(True)))


_SESSION_USER = _owner_of_open_session(Annotator)
_SESSION_USER_ID = _owner_of_open_session(Annotator.id)


def session_user(engine: Engine, token: str | None) -> Annotator | None:
    """The active user whose open, unexpired session this token is; None otherwise."""
    if not token:
        return None
    with reading(engine) as s:
        return s.scalar(_SESSION_USER, dict(digest=_digest(token), now=_now()))


def session_user_id(engine: Engine, token: str | None) -> int | None:
    """`session_user`'s id alone, read without the ORM: checked on every page run and every
    Label key press."""
    if not token:
        return None
    with engine.connect() as c:
        return c.scalar(_SESSION_USER_ID, dict(digest=_digest(token), now=_now()))


def end_session(engine: Engine, token: str | None) -> None:
    """Log this session out (nothing happens for an unknown or ended token)."""
    if not token:
        return
    with writing(engine) as s:
        s.execute(update(LoginSession)
                  .where(LoginSession.token_hash == _digest(token), LoginSession.ended_at.is_(None))
                  .values(ended_at=_now()))


def end_user_sessions(s: Session, annotator_id: int) -> int:
    """End every open session of a user, inside the caller's write transaction; returns how many."""
    result = s.execute(update(LoginSession)
                       .where(LoginSession.annotator_id == annotator_id,
                              LoginSession.ended_at.is_(None))
                       .values(ended_at=_now()))
    return result.rowcount or 0
