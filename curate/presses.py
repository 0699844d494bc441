"""Key presses, recorded once: the write path of the Label and Review panels.

A press is bound to what the user had on screen: a Label decision to the image at a queue
position (`record_pressed`, `undo_pressed`), a Review verdict to the disagreement with the
annotators' decisions shown (`adjudicate_pressed`, `undo_adjudication_pressed`). Each is one
write transaction (SQLAlchemy Core: the key press's hot path) that reads the rows it checks and
appends one row, or writes nothing and says why (DecisionError).

Exactly once: every press carries the id its browser gave it (`press_id`), stored with its row
and unique per user (migration 0009); a resend is recognised by that id alone, never by equal
content. A press may also name the row its tab had seen newest on the image (`seen`, a
`handle`): when something else was decided there since (another tab or device), nothing is
written and `Replaced` says what stands. Rows are only appended (curate.decisions).
"""
from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from curate.decisions import OPINIONS, DecisionError, checked, clean_note
from db.engine import writing_connection
from db.models import Adjudication, Annotator, Assignment, Decision, Role, StandingDecision, Verdict

SECONDS_MAX = 86_400.0  # a press's time on screen above this (a day) is a bad message
VIA = ("single", "grid")  # which view decided: one image, or a page of tiles confirmed at once
PRESS_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # what a browser's press id may look like


class Pressed(NamedTuple):
    """What a key press decided, as the client saw it. `press_id` is the id its browser gave
    it: a resend is recognised by that id alone (unique per annotator in the database), never
    by equal content; None (a script's write) is never a resend. `seen` is the handle
    (`handle()`) of the row the client believed newest on that image ("" none): when given and
    another row is newest now (decided in another tab), nothing is written (`Replaced`)."""
    verdict: str
    rule: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    seconds: float | None = None  # from the image being painted to the key
    press_id: str | None = None
    via: str = "single"
    seen: str | None = None


class Recorded(NamedTuple):
    id: int | None  # the row written, or the earlier row a resend matched
    duplicate: bool  # True: this press had been recorded already; nothing was written
    before: str | None = None  # the standing verdict it replaced (None: undecided)


class Replaced(DecisionError):
    """The image's newest row is not the one the client had seen: something was decided there
    since (another tab, another device). Nothing was written; `standing` says what stands."""

    def __init__(self, standing: dict):
        self.standing = standing
        what = standing.get("verdict") or "undecided"
        super().__init__(f"this image was decided elsewhere since this tab last heard (it stands "
                         f"as {what}); nothing was recorded — press again to replace it")


def handle(row_id: int, press_id: str | None) -> str:
    """How a client names a row: its press id, or `#<row id>` for a row written without one."""
    return press_id or f"#{row_id}"


def check_seconds(seconds) -> float | None:
    """A press's seconds on screen as stored (ms precision), or DecisionError: a finite number
    from 0 to SECONDS_MAX, or None."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise DecisionError("seconds must be a number")
    seconds = float(seconds)
    if not math.isfinite(seconds) or not 0 <= seconds <= SECONDS_MAX:
        raise DecisionError(f"seconds must be a finite number from 0 to {SECONDS_MAX:.0f}")
    return round(seconds, 3)


def check_press_id(press_id) -> str | None:
    """A browser's press id, or DecisionError (1–64 letters, digits, `-` or `_`; None allowed)."""
    if press_id is None:
        return None
    if not isinstance(press_id, str) or not PRESS_ID.fullmatch(press_id):
        raise DecisionError("a press id is 1 to 64 letters, digits, - or _")
    return press_id


@functools.cache
def _bound_stmt():
    # One row per decision of the annotator on the image, newest first (one row with id None
    # when there is none) — and no row at all unless the image is at that queue position.
    return (select(Annotator.active, Decision.id, Decision.verdict, Decision.rule, Decision.tags,
                   Decision.press_id)
            .select_from(Assignment)
            .join(Annotator, Annotator.id == Assignment.annotator_id)
            .outerjoin(Decision, (Decision.annotator_id == Assignment.annotator_id)
                       & (Decision.image_id == Assignment.image_id))
            .where(Assignment.annotator_id == bindparam("annotator_id"),
                   Assignment.image_id == bindparam("image_id"),
                   Assignment.position == bindparam("position"))
            .order_by(Decision.id.desc()))


def _bound_rows(conn: Connection, annotator_id: int, image_id: int, position: int) -> list:
    """The annotator's rows on the image, newest first, once the image is checked to be at
    `position` of their queue and the annotator to be active; DecisionError otherwise."""
    rows = conn.execute(_bound_stmt(), dict(annotator_id=annotator_id, image_id=image_id,
                                            position=position)).all()
    if not rows:
        raise DecisionError(f"image {image_id} is not #{position + 1} of this annotator's queue; "
                            "nothing was recorded")
    if not rows[0].active:
        raise DecisionError("this user has been deactivated; nothing was recorded")
    return [r for r in rows if r.id is not None]


def _standing_of(rows) -> dict:
    """What the client is told stands when its press was `Replaced` (rows newest first)."""
    if not rows:
        return dict(row="", verdict=None, rule=None, tags=[])
    r = rows[0]
    undone = r.verdict is Verdict.undo
    return dict(row=handle(r.id, r.press_id), verdict=None if undone else r.verdict.value,
                rule=None if undone else r.rule, tags=[] if undone else list(r.tags or ()))


def _check_seen(rows, seen: str | None) -> None:
    newest = handle(rows[0].id, rows[0].press_id) if rows else ""
    if seen is not None and seen != newest:
        raise Replaced(_standing_of(rows))


def _append(conn: Connection, annotator_id: int, image_id: int, verdict: Verdict,
            rule: str | None = None, tags: list[str] | None = None, note: str | None = None,
            seconds: float | None = None, press_id: str | None = None, via: str = "single") -> int:
    got = conn.execute(insert(Decision).values(
        image_id=image_id, annotator_id=annotator_id, verdict=verdict, rule=rule,
        tags=tags or [], note=note, seconds=seconds, press_id=press_id, via=via))
    return got.inserted_primary_key[0]


def _once(write, engine: Engine, table, who, owner_id: int, image_id: int,
          press_id: str | None) -> Recorded:
    """`write()` (one transaction), where a unique press id that is taken already means a
    resend that raced its twin (then the earlier row is returned) or an id reused on another
    image (DecisionError)."""
    try:
        return write()
    except IntegrityError:
        if press_id is None:
            raise
    with engine.connect() as conn:
        found = conn.execute(select(table.id, table.image_id).where(
            who == owner_id, table.press_id == press_id)).first()
    if found is None:
        raise DecisionError("this press could not be recorded; nothing was recorded")
    if found.image_id != image_id:
        raise DecisionError("this press id was used on another image; nothing was recorded")
    return Recorded(found.id, True)


def _checked_press(pressed: Pressed, min_seconds: float) -> tuple:
    """(verdict, rule, tags, note, seconds, press id) as stored, or DecisionError."""
    v, rule, tags = checked(pressed.verdict, pressed.rule, pressed.tags)
    if v is Verdict.undo:
        raise DecisionError("an undo names the decision it withdraws (undo_pressed)")
    if pressed.via not in VIA:
        raise DecisionError(f"unknown view {pressed.via!r}")
    seconds = check_seconds(pressed.seconds)
    press_id = check_press_id(pressed.press_id)
    if min_seconds and (seconds is None or seconds < min_seconds):
        shown = "an unknown time" if seconds is None else f"{seconds * 1000:.0f} ms"
        raise DecisionError(f"the key came {shown} after the image appeared (at least "
                            f"{min_seconds * 1000:.0f} ms are needed); nothing was recorded")
    return v, rule, tags, clean_note(pressed.note), seconds, press_id


def _write_press(conn: Connection, annotator_id: int, image_id: int, position: int,
                 pressed: Pressed, clean: tuple) -> Recorded:
    v, rule, tags, note, seconds, press_id = clean
    rows = _bound_rows(conn, annotator_id, image_id, position)
    if press_id is not None:
        for row in rows:
            if row.press_id == press_id:
                return Recorded(row.id, True)
    _check_seen(rows, pressed.seen)
    before = rows[0].verdict.value if rows and rows[0].verdict is not Verdict.undo else None
    return Recorded(_append(conn, annotator_id, image_id, v, rule, tags, note, seconds,
                            press_id, pressed.via), False, before)


def record_pressed(engine: Engine, annotator_id: int, image_id: int, position: int,
                   pressed: Pressed, min_seconds: float = 0.0) -> Recorded:
    """Record a key press's decision on the image the annotator had on screen.

    Written only when `image_id` is at `position` of the annotator's queue, the annotator is
    active, the image had been shown at least `min_seconds` (default 0) before the key, and
    the newest row there is the one the client had `seen` (when given; else `Replaced`);
    otherwise DecisionError and nothing is written. A resend (a row with this `press_id`
    exists) writes nothing and returns that row. One write transaction of two statements (a
    key press's hot path: Core, no ORM session).
    """
    clean = _checked_press(pressed, min_seconds)

    def write() -> Recorded:
        with writing_connection(engine) as conn:
            return _write_press(conn, annotator_id, image_id, position, pressed, clean)

    return _once(write, engine, Decision, Decision.annotator_id, annotator_id, image_id, clean[5])


def record_pressed_together(engine: Engine, annotator_id: int,
                            presses: list[tuple[int, int, Pressed]],
                            min_seconds: float = 0.0) -> list[Recorded | DecisionError]:
    """Several presses — (image id, queue position, press) each, the tiles of one grid page —
    in ONE write transaction: each is checked and recorded exactly as by `record_pressed`, and
    its result is the Recorded row or the DecisionError that refused it (the others go on).
    Should a press id collide with a concurrent writer's, they are recorded one by one."""
    checked_ = []
    for image_id, position, pressed in presses:
        try:
            checked_.append((image_id, position, pressed, _checked_press(pressed, min_seconds)))
        except DecisionError as e:
            checked_.append(e)

    def write() -> list:
        out: list = []
        with writing_connection(engine) as conn:
            for entry in checked_:
                if isinstance(entry, DecisionError):
                    out.append(entry)
                    continue
                image_id, position, pressed, clean = entry
                try:
                    out.append(_write_press(conn, annotator_id, image_id, position, pressed, clean))
                except DecisionError as e:
                    out.append(e)
        return out

    try:
        return write()
    except IntegrityError:
        pass
    out = []
    for entry, (image_id, position, pressed) in zip(checked_, presses):
        try:
            out.append(entry if isinstance(entry, DecisionError) else
                       record_pressed(engine, annotator_id, image_id, position, pressed, min_seconds))
        except DecisionError as e:
            out.append(e)
    return out


def undo_pressed(engine: Engine, annotator_id: int, image_id: int, position: int, target: str,
                 press_id: str | None = None) -> Recorded:
    """Withdraw the decision named `target` (its `handle`) on the image at `position`: appends
    an `undo` row (carrying `press_id`) while it is still the annotator's newest row there. A
    resend (a row with this press id) writes nothing; a decision that was replaced since, or
    never recorded: DecisionError."""
    press_id = check_press_id(press_id)

    def write() -> Recorded:
        with writing_connection(engine) as conn:
            rows = _bound_rows(conn, annotator_id, image_id, position)
            if press_id is not None:
                for row in rows:
                    if row.press_id == press_id:
                        return Recorded(row.id, True)
            k = next((k for k, r in enumerate(rows) if handle(r.id, r.press_id) == target), None)
            if k is None or rows[k].verdict is Verdict.undo:
                raise DecisionError("that decision is not recorded; nothing was undone")
            if k:
                raise DecisionError("this image was decided again since; nothing was undone")
            return Recorded(_append(conn, annotator_id, image_id, Verdict.undo, press_id=press_id),
                            False, rows[0].verdict.value)

    return _once(write, engine, Decision, Decision.annotator_id, annotator_id, image_id, press_id)


# --- an admin's verdict, pressed on the Review page ----------------------------------------------
@functools.cache
def _adjudication_stmts():
    admin = (select(Annotator.role, Annotator.active).where(Annotator.id == bindparam("admin_id")))
    newest = (select(Adjudication.id, Adjudication.admin_id, Adjudication.verdict,
                     Adjudication.rule, Adjudication.tags, Adjudication.press_id)
              .where(Adjudication.image_id == bindparam("image_id"))
              .order_by(Adjudication.id.desc()).limit(2))
    resend = select(Adjudication.id).where(Adjudication.admin_id == bindparam("admin_id"),
                                           Adjudication.image_id == bindparam("image_id"),
                                           Adjudication.press_id == bindparam("press_id"))
    standing = (select(StandingDecision.decision_id, StandingDecision.verdict)
                .where(StandingDecision.image_id == bindparam("image_id"),
                       StandingDecision.verdict != Verdict.undo))
    return admin, newest, resend, standing


def _adjudication_rows(conn: Connection, admin_id: int, image_id: int,
                       press_id: str | None) -> tuple[int | None, list]:
    """(the row this press wrote already, or None; the image's two newest adjudications),
    once `admin_id` is checked to be an active admin."""
    admin_q, newest_q, resend_q, _ = _adjudication_stmts()
    admin = conn.execute(admin_q, dict(admin_id=admin_id)).first()
    if admin is None or admin.role is not Role.admin or not admin.active:
        raise DecisionError("only an active admin may adjudicate")
    if press_id is not None:
        done = conn.scalar(resend_q, dict(admin_id=admin_id, image_id=image_id, press_id=press_id))
        if done is not None:
            return done, []
    return None, conn.execute(newest_q, dict(image_id=image_id)).all()


def _append_adjudication(conn: Connection, admin_id: int, image_id: int, verdict: Verdict,
                         rule=None, tags=None, note=None, press_id=None) -> int:
    got = conn.execute(insert(Adjudication).values(
        image_id=image_id, admin_id=admin_id, verdict=verdict, rule=rule, tags=tags or [],
        note=note, press_id=press_id))
    return got.inserted_primary_key[0]


def adjudicate_pressed(engine: Engine, admin_id: int, image_id: int, shown: Iterable[int],
                       pressed: Pressed) -> Recorded:
    """An admin's verdict on the disagreement they had on screen, from a key press: written
    only while `image_id` is a disagreement whose standing decisions are exactly `shown` (their
    ids), and — when `pressed.seen` is given — while the image's newest adjudication is the one
    the client had seen (else `Replaced`); otherwise DecisionError and nothing is written. A
    resend (this admin's row with this press id) writes nothing. One write transaction, as a
    Label press (`record_pressed`)."""
    v, rule, tags = checked(pressed.verdict, pressed.rule, pressed.tags)
    if v not in OPINIONS:
        raise DecisionError("a verdict accepts or rejects")
    check_seconds(pressed.seconds)
    press_id = check_press_id(pressed.press_id)
    note = clean_note(pressed.note)
    shown = set(shown)

    def write() -> Recorded:
        with writing_connection(engine) as conn:
            done, rows = _adjudication_rows(conn, admin_id, image_id, press_id)
            if done is not None:
                return Recorded(done, True)
            standing = conn.execute(_adjudication_stmts()[3], dict(image_id=image_id)).all()
            opinions = {r.verdict for r in standing if r.verdict in OPINIONS}
            if {r.decision_id for r in standing} != shown or len(opinions) < 2:
                raise DecisionError(f"image {image_id} is not the disagreement you had on screen "
                                    "(its decisions changed since); nothing was recorded")
            _check_seen(rows, pressed.seen)
            before = rows[0].verdict.value if rows and rows[0].verdict is not Verdict.undo else None
            return Recorded(_append_adjudication(conn, admin_id, image_id, v, rule, tags, note,
                                                 press_id), False, before)

    return _once(write, engine, Adjudication, Adjudication.admin_id, admin_id, image_id, press_id)


def undo_adjudication_pressed(engine: Engine, admin_id: int, image_id: int, target: str,
                              press_id: str | None = None) -> Recorded:
    """Withdraw the adjudication named `target` (its `handle`) while it is the image's newest:
    appends an `undo` adjudication. A resend writes nothing; settled again since, or never
    recorded: DecisionError."""
    press_id = check_press_id(press_id)

    def write() -> Recorded:
        with writing_connection(engine) as conn:
            done, rows = _adjudication_rows(conn, admin_id, image_id, press_id)
            if done is not None:
                return Recorded(done, True)
            if not rows or handle(rows[0].id, rows[0].press_id) != target \
                    or rows[0].verdict is Verdict.undo:
                raise DecisionError("that verdict is no longer this image's newest; nothing was "
                                    "undone")
            return Recorded(_append_adjudication(conn, admin_id, image_id, Verdict.undo,
                                                 press_id=press_id), False, rows[0].verdict.value)

    return _once(write, engine, Adjudication, Adjudication.admin_id, admin_id, image_id, press_id)
