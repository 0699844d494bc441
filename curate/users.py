"""Annotators and admins: create, log in (throttled), change passwords, deactivate, list.

Logging in does the same work whatever the mistake: an unknown name is checked against a dummy
scrypt hash, so the time taken does not tell which names exist, and the answer is the same.
Failed logins are counted per name and per client address (`login_throttle`); past
FREE_FAILURES in a row, each further failure blocks that key for twice as long as the one before
(2 s, 4 s, … up to MAX_BLOCK_S), and attempts while blocked are refused before any password is
checked, with the time to wait. An attempt is counted before its password is checked, in the
transaction that locks the throttle rows, and holds its name until the check is done: parallel
attempts each count, and a second attempt for a name being checked is refused. A success
clears the name's count; counts older than FORGET_AFTER_S start again from zero.

Every password set by a command or a page needs MIN_PASSWORD characters
(`check_password_policy`), in the demo workspace too: only the demo's own users (admin/admin,
ana/ana, …), which `curate demo` creates itself through `add_user`, have short ones.

A deactivated user who gives the right password is told the account is deactivated
(`LoginResult.deactivated`); any wrong password gets the common answer, whoever it names.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import Engine, select

from curate.sessions import end_user_sessions
from curate.settings import get_setting
from db.auth import hash_password, verify_password
from db.engine import reading, writing
from db.models import Annotator, LoginThrottle, Role

MIN_PASSWORD = 10  # characters, outside the demo workspace
FREE_FAILURES = 3  # failed logins in a row before back-off starts
FIRST_BLOCK_S = 2.0  # the first block; doubles with each further failure
MAX_BLOCK_S = 900.0  # the longest block (15 min)
FORGET_AFTER_S = 900.0  # failures older than this are forgotten
CHECK_HOLD_S = 10.0  # a name is held this long at most while one attempt's password is checked
DEMO_SETTING = "demo"  # settings key: true in a workspace built by `curate demo`


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class LoginResult:
    user: Annotator | None  # the logged-in user, or None
    retry_after: float | None = None  # seconds to wait when throttled (no password was checked)
    busy: bool = False  # refused only because another attempt for this name is being checked
    deactivated: bool = False  # the right password of a deactivated account


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# --- policy -------------------------------------------------------------------------------------
def is_demo(engine: Engine) -> bool:
    """True in a workspace built by `curate demo` (synthetic faces, demo logins)."""
    return bool(get_setting(engine, DEMO_SETTING, False))


def check_password_policy(engine: Engine, password: str) -> None:
    """Raise UserError unless the password may be set (MIN_PASSWORD characters, in every
    workspace: the demo's built-in users are created without this check). `engine` is kept
    for the callers' sake (a policy per workspace may come back)."""
    if not password:
        raise UserError("a user needs a password")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")


# --- users --------------------------------------------------------------------------------------
def add_user(engine: Engine, name: str, password: str, *, admin: bool = False) -> int:
    """Create an annotator (or an admin with admin=True); returns its id. Names are unique.

    The password policy is the caller's (`check_password_policy`): the demo and tests create
    users with short passwords through this function.
    """
    name = name.strip()
    if not name:
        raise UserError("a user needs a name")
    if not password:
        raise UserError("a user needs a password")
    with writing(engine) as s:
        if s.scalar(select(Annotator.id).where(Annotator.name == name)) is not None:
            raise UserError(f"user {name!r} already exists")
        user = Annotator(name=name, role=Role.admin if admin else Role.annotator,
                         password_hash=hash_password(password))
        s.add(user)
        s.flush()
        return user.id


def _named(s, name: str) -> Annotator:
    user = s.scalar(select(Annotator).where(Annotator.name == name.strip()))
    if user is None:
        raise UserError(f"no user named {name.strip()!r}")
    return user


def set_password(engine: Engine, name: str, password: str) -> int:
    """Give a user a new password and end all their sessions; returns how many were ended."""
    check_password_policy(engine, password)
    digest = hash_password(password)
    with writing(engine) as s:
        user = _named(s, name)
        user.password_hash = digest
        return end_user_sessions(s, user.id)


def set_active(engine: Engine, name: str, active: bool) -> int:
    """Deactivate (active=False: no login, no decisions, sessions ended) or reactivate a user;
    returns how many sessions were ended."""
    with writing(engine) as s:
        user = _named(s, name)
        user.active = active
        return 0 if active else end_user_sessions(s, user.id)


@functools.cache
def _dummy_hash() -> str:
    # Checked against when the name is unknown, so both mistakes cost one scrypt.
    return hash_password("not a password anyone has")


def _block_for(failures: int) -> float:
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_BLOCK_S, FIRST_BLOCK_S * 2 ** (failures - FREE_FAILURES - 1))


def _throttle_keys(name: str, client: str | None) -> list[str]:
    keys = [f"name:{name.strip().lower()[:190]}"]
    if client:
        keys.append(f"addr:{client[:190]}")
    return keys


def log_in(engine: Engine, name: str, password: str, client: str | None = None) -> LoginResult:
    """Check a name and password, throttled per name and per client address (see module doc).

    Returns the active user on success; LoginResult(None) for any mistake (wrong name or wrong
    password: the same answer); LoginResult(None, deactivated=True) for the right password of a
    deactivated user (not counted as a failure); LoginResult(None, retry_after) while blocked,
    and while another attempt for the same name is being checked.

    The attempt is counted as a failure, and the name held, in one write transaction that locks
    the throttle rows *before* the password is checked; a success (or a deactivated account's
    right password) then takes the count back. So N attempts at once count N, and only one
    attempt per name is checked at a time.
    """
    keys = _throttle_keys(name, client)
    retry_after, busy = _claim(engine, keys)
    if retry_after is not None:
        return LoginResult(None, retry_after=retry_after, busy=busy)
    user = None
    try:
        user = _matching(engine, name, password)
    finally:
        _settle(engine, keys, ok=user is not None)
    if user is not None and not user.active:
        return LoginResult(None, deactivated=True)
    return LoginResult(user)


def _locked_rows(s, keys: list[str]) -> list[LoginThrottle]:
    """The throttle rows of `keys`, created when missing and locked for this transaction (in
    key order, so two attempts never wait on each other crosswise). SQLite's BEGIN IMMEDIATE
    already serialises writers; PostgreSQL takes the row locks."""
    keys = sorted(keys)
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    s.execute(dialect_insert(LoginThrottle).values(
        [dict(key=k, failures=0, updated_at=_now()) for k in keys]).on_conflict_do_nothing())
    rows = s.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))
                     .order_by(LoginThrottle.key).with_for_update()
                     .execution_options(populate_existing=True))
    return list(rows)


def _held(row: LoginThrottle) -> bool:
    """True while the row's name is held by an attempt being checked: `_claim` sets
    blocked_until exactly CHECK_HOLD_S after updated_at, a length no back-off has (2 s, 4 s, …)."""
    return (row.blocked_until is not None
            and (row.blocked_until - row.updated_at).total_seconds() == CHECK_HOLD_S)


def _claim(engine: Engine, keys: list[str]) -> tuple[float | None, bool]:
    """Count one failure on every key and hold the name for CHECK_HOLD_S, unless a key is
    blocked (or its name held): then (the seconds to wait, whether only the hold refused it),
    and nothing is counted; else (None, False)."""
    now = _now()
    with writing(engine) as s:
        rows = _locked_rows(s, keys)
        for row in rows:
            if (now - row.updated_at).total_seconds() > FORGET_AFTER_S:
                row.failures, row.blocked_until = 0, None
        refusing = [r for r in rows if r.blocked_until is not None and r.blocked_until > now]
        if refusing:
            return (max((r.blocked_until - now).total_seconds() for r in refusing),
                    all(_held(r) for r in refusing))
        for row in rows:
            row.failures += 1
            row.updated_at = now
            block = _block_for(row.failures)
            if row.key == keys[0]:  # the name: held while its password is checked
                block = max(block, CHECK_HOLD_S)
            row.blocked_until = now + dt.timedelta(seconds=block) if block else None
    return None, False


def _settle(engine: Engine, keys: list[str], *, ok: bool) -> None:
    """After the check: release the name's hold (a failure keeps its back-off); a success
    clears the name's count and takes back the failure counted on the address."""
    now = _now()
    with writing(engine) as s:
        for row in _locked_rows(s, keys):
            if row.key == keys[0] and ok:
                s.delete(row)
                continue
            if ok and row.failures > 0:
                row.failures -= 1
            elif row.key != keys[0]:
                continue  # a failure: the address keeps the failure and block it was given
            block = _block_for(row.failures)
            row.blocked_until = (max(now, row.updated_at) + dt.timedelta(seconds=block)
                                 if block else None)


def authenticate(engine: Engine, name: str, password: str) -> Annotator | None:
    """The active user with this name and password, or None (same answer for either mistake).

    Not throttled: for scripts. People log in through `log_in`.
    """
    return _checked(engine, name, password)


def _matching(engine: Engine, name: str, password: str) -> Annotator | None:
    """The user (active or not) with this name and password, else None; always one scrypt
    check, so the time taken does not tell which mistake was made."""
    with reading(engine) as s:
        user = s.scalar(select(Annotator).where(Annotator.name == name.strip()))
    matches = verify_password(password, user.password_hash if user else _dummy_hash())
    return user if user is not None and matches else None


def _checked(engine: Engine, name: str, password: str) -> Annotator | None:
    """The active user with this name and password, else None."""
    user = _matching(engine, name, password)
    return user if user is not None and user.active else None


def list_users(engine: Engine) -> list[Annotator]:
    with reading(engine) as s:
        return list(s.scalars(select(Annotator).order_by(Annotator.id)))


def annotators(engine: Engine) -> list[Annotator]:
    """Active users with the annotator role, in creation order."""
    with reading(engine) as s:
        return list(s.scalars(select(Annotator).where(
            Annotator.role == Role.annotator, Annotator.active.is_(True)).order_by(Annotator.id)))
