"""Decisions and verdicts: the one place that says what an image's standing verdict is.

Rows are only ever appended. The newest row per (image, annotator) is that annotator's
standing decision unless it is an `undo`; the newest adjudication per image overrides the
annotators. Verdict of an image (`final_verdicts`):
- the newest adjudication, when there is one (and it is not an undo);
- else, when every annotator whose queue holds the image has a standing accept or reject and
  they all agree, that verdict (an overlap image needs both to accept);
- else `disputed` (they disagree) or `pending` (someone has not decided, or only skipped).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, Engine, Text, bindparam, func, insert, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curate import rules
from db.engine import reading, writing, writing_connection
from db.models import Adjudication, Annotator, Assignment, Decision, Role, StandingDecision, Verdict

OPINIONS = (Verdict.accept, Verdict.reject)  # what counts towards agreement; skip does not


class DecisionError(ValueError):
    """A decision that cannot be recorded (not in the queue, bad rule, not an admin, …)."""


def _check(verdict: Verdict | str, rule: str | None,
           tags: Iterable[str]) -> tuple[Verdict, str | None, list[str]]:
    """The verdict, rule and tags as stored, or DecisionError.

    A rule counts only for a reject: the one place it is dropped for any other verdict, so a
    page may pass the rule picked before the verdict changed.
    """
    try:
        v = Verdict(verdict)
    except ValueError:
        raise DecisionError(f"unknown verdict {verdict!r}") from None
    if v is not Verdict.reject:
        rule = None
    tags = sorted(set(tags))
    if v is not Verdict.undo:
        try:
            rules.validate(v.value, rule, tags)
        except ValueError as e:
            raise DecisionError(str(e)) from None
    return v, rule, tags


def record_decision(engine: Engine, annotator_id: int, image_id: int, verdict: Verdict | str,
                    rule: str | None = None, tags: Iterable[str] = (), note: str | None = None,
                    seconds: float | None = None) -> int:
    """Append a decision by an annotator on an image of their own queue; returns its id.

    `rule` (default None) is kept only on a reject; `tags` default to none.
    """
    v, rule, tags = _check(verdict, rule, tags)
    with writing(engine) as s:
        found = s.execute(select(Assignment.id, Annotator.active)
                          .join(Annotator, Annotator.id == Assignment.annotator_id)
                          .where(Assignment.annotator_id == annotator_id,
                                 Assignment.image_id == image_id)).first()
        if found is None:
            raise DecisionError(f"image {image_id} is not in this annotator's queue")
        if not found.active:
            raise DecisionError("this user has been deactivated; nothing was recorded")
        row = Decision(image_id=image_id, annotator_id=annotator_id, verdict=v,
                       rule=rule, tags=tags, note=(note or None), seconds=seconds)
        s.add(row)
        s.flush()
        return row.id


# --- decisions bound to the image on screen ---------------------------------------------------
NOTE_MAX = 500  # characters kept of a one-line note
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


def _clean_note(note: str | None) -> str | None:
    note = " ".join((note or "").split())[:NOTE_MAX]
    return note or None


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
    v, rule, tags = _check(pressed.verdict, pressed.rule, pressed.tags)
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
    note = _clean_note(pressed.note)

    def write() -> Recorded:
        with writing_connection(engine) as conn:
            rows = _bound_rows(conn, annotator_id, image_id, position)
            if press_id is not None:
                for row in rows:
                    if row.press_id == press_id:
                        return Recorded(row.id, True)
            _check_seen(rows, pressed.seen)
            before = rows[0].verdict.value if rows and rows[0].verdict is not Verdict.undo else None
            return Recorded(_append(conn, annotator_id, image_id, v, rule, tags, note, seconds,
                                    press_id, pressed.via), False, before)

    return _once(write, engine, Decision, Decision.annotator_id, annotator_id, image_id, press_id)


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


def undo(engine: Engine, annotator_id: int, image_id: int) -> int:
    """Withdraw the annotator's standing decision on an image (appends an `undo` row)."""
    return record_decision(engine, annotator_id, image_id, Verdict.undo)


def adjudicate(engine: Engine, admin_id: int, image_id: int, verdict: Verdict | str,
               rule: str | None = None, tags: Iterable[str] = (), note: str | None = None,
               *, shown: Iterable[int] | None = None) -> int:
    """Append an admin's verdict on an image (overrides the annotators); returns its id.

    `rule` (default None) is kept only on a reject; `note` is stored when not empty.
    `shown` (default None: not checked), the ids of the standing decisions the admin had on
    screen: the verdict is then written only while the image is a disagreement with exactly
    those standing decisions (none changed since), else DecisionError and nothing is written.
    """
    v, rule, tags = _check(verdict, rule, tags)
    if v is Verdict.skip:
        raise DecisionError("an adjudication accepts or rejects (or undoes an adjudication)")
    with writing(engine) as s:
        admin = s.execute(select(Annotator.role, Annotator.active)
                          .where(Annotator.id == admin_id)).first()
        if admin is None or admin.role is not Role.admin or not admin.active:
            raise DecisionError("only an active admin may adjudicate")
        if shown is not None:
            standing = newest_decisions(s, image_ids=[image_id])
            opinions = {d.verdict for d in standing if d.verdict in OPINIONS}
            if {d.id for d in standing} != set(shown) or len(opinions) < 2:
                raise DecisionError(f"image {image_id} is not the disagreement you had on screen "
                                    "(its decisions changed since); nothing was recorded")
        row = Adjudication(image_id=image_id, admin_id=admin_id, verdict=v, rule=rule, tags=tags,
                           note=_clean_note(note))
        s.add(row)
        s.flush()
        return row.id


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
    v, rule, tags = _check(pressed.verdict, pressed.rule, pressed.tags)
    if v not in OPINIONS:
        raise DecisionError("a verdict accepts or rejects")
    check_seconds(pressed.seconds)
    press_id = check_press_id(pressed.press_id)
    note = _clean_note(pressed.note)
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


class Standing(NamedTuple):
    """A standing decision: the columns of `Decision`, read without building ORM objects."""
    id: int
    image_id: int
    annotator_id: int
    verdict: Verdict
    rule: str | None
    tags: list[str]
    note: str | None
    seconds: float | None
    created_at: dt.datetime


def _tags(raw) -> list[str]:
    # Read as text on SQLite: most rows hold "[]", and skipping json.loads for them halves the
    # time to read 200,000 decisions. PostgreSQL's driver hands back lists already.
    if isinstance(raw, str):
        return [] if raw == "[]" else json.loads(raw)
    return list(raw or ())


def newest_decisions(session: Session, *, annotator_id: int | None = None,
                       image_ids: Iterable[int] | None = None) -> list[Standing]:
    """The newest decision per (image, annotator), undone ones left out, oldest first — found
    among the rows of `decisions` themselves (an independent reading of the `standing_decisions`
    table that the database's triggers keep, which curate.verdict_sql reads)."""
    newest = select(func.max(Decision.id).label("id")).group_by(Decision.image_id, Decision.annotator_id)
    if annotator_id is not None:
        newest = newest.where(Decision.annotator_id == annotator_id)
    if image_ids is not None:
        newest = newest.where(Decision.image_id.in_(list(image_ids)))
    q = select(Decision.id, Decision.image_id, Decision.annotator_id, Decision.verdict,
               Decision.rule, type_coerce(Decision.tags, Text), Decision.note, Decision.seconds,
               Decision.created_at).where(Decision.id.in_(newest.subquery().select()),
                                          Decision.verdict != Verdict.undo).order_by(Decision.id)
    return [Standing(i, img, a, v, rule, _tags(tags), note, secs, at)
            for i, img, a, v, rule, tags, note, secs, at in session.execute(q)]


def standing_adjudications(session: Session) -> dict[int, Adjudication]:
    newest = select(func.max(Adjudication.id)).group_by(Adjudication.image_id).subquery()
    rows = session.scalars(select(Adjudication).where(Adjudication.id.in_(newest.select())))
    return {a.image_id: a for a in rows if a.verdict is not Verdict.undo}


@dataclass(frozen=True)
class FinalVerdict:
    image_id: int
    verdict: str  # accept | reject | disputed | pending
    rule: str | None = None  # the failed rule of a reject (the first annotator's when several)
    tags: tuple[str, ...] = ()  # union of the tags recorded by whoever decided
    provenance: str = ""  # "adjudicated by NAME" or the deciding annotators joined by "+"
    by: dict[str, str] = field(default_factory=dict)  # annotator name → their standing verdict


def final_verdicts(engine: Engine, image_ids: Iterable[int] | None = None) -> dict[int, FinalVerdict]:
    """The verdict of every image that is in a queue or adjudicated (see the module doc).

    curate.verdict_sql states these rules again as SQL, for whole-database counts and filters;
    a change here is a change there (tests/curate/test_verdict_sql.py compares the two).
    """
    wanted = None if image_ids is None else set(image_ids)
    with reading(engine) as s:
        names = dict(s.execute(select(Annotator.id, Annotator.name)).all())
        q = select(Assignment.image_id, Assignment.annotator_id)
        if wanted is not None:
            q = q.where(Assignment.image_id.in_(wanted))
        queues: dict[int, list[int]] = defaultdict(list)
        for image_id, annotator_id in s.execute(q):
            queues[image_id].append(annotator_id)
        decided: dict[int, dict[int, Standing]] = defaultdict(dict)
        for d in newest_decisions(s, image_ids=wanted):
            decided[d.image_id][d.annotator_id] = d
        adjudicated = standing_adjudications(s)
    out: dict[int, FinalVerdict] = {}
    for image_id in sorted(set(queues) | set(decided) | set(adjudicated)):
        if wanted is not None and image_id not in wanted:
            continue
        mine = decided.get(image_id)
        adj = adjudicated.get(image_id)
        if not mine and adj is None:  # the common case in a big queue: nobody has decided yet
            out[image_id] = FinalVerdict(image_id, "pending")
            continue
        queue = queues.get(image_id, ())
        if adj is None and len(mine) == 1 and len(queue) == 1 and queue[0] in mine:
            # One annotator's queue, one standing decision: most decided images look like this.
            d = mine[queue[0]]
            name, v = names[d.annotator_id], d.verdict.value
            out[image_id] = (FinalVerdict(image_id, v, d.rule, tuple(sorted(d.tags)), name, {name: v})
                             if d.verdict in OPINIONS else FinalVerdict(image_id, "pending", by={name: v}))
            continue
        mine = mine or {}
        by = {names[a]: d.verdict.value for a, d in sorted(mine.items())}
        if adj is not None:
            out[image_id] = FinalVerdict(image_id, adj.verdict.value, adj.rule, tuple(adj.tags),
                                         f"adjudicated by {names.get(adj.admin_id, adj.admin_id)}", by)
            continue
        who = sorted(set(queue) | set(mine))
        opinions = [mine[a] for a in who if a in mine and mine[a].verdict in OPINIONS]
        verdicts = {d.verdict for d in opinions}
        if len(verdicts) > 1:
            out[image_id] = FinalVerdict(image_id, "disputed", by=by,
                                         provenance="+".join(names[d.annotator_id] for d in opinions))
        elif len(opinions) < len(who) or not opinions:
            out[image_id] = FinalVerdict(image_id, "pending", by=by)
        else:
            tags = tuple(sorted({t for d in opinions for t in d.tags}))
            out[image_id] = FinalVerdict(
                image_id, opinions[0].verdict.value, opinions[0].rule, tags,
                "+".join(names[d.annotator_id] for d in opinions), by)
    return out


def disagreements(engine: Engine, *, include_settled: bool = True) -> list[FinalVerdict]:
    """Images on which annotators' standing decisions differ (accept vs reject), oldest first.

    A settled one (adjudicated since) keeps its adjudicated verdict in the result when
    include_settled is True; `by` always holds each annotator's own verdict.
    """
    with reading(engine) as s:
        # Only images two or more annotators have decided can disagree: look at those alone.
        several = s.scalars(select(Decision.image_id).group_by(Decision.image_id).having(
            func.count(func.distinct(Decision.annotator_id)) > 1)).all()
    verdicts = final_verdicts(engine, image_ids=several) if several else {}
    out = []
    for v in verdicts.values():
        opinions = {x for x in v.by.values() if x in ("accept", "reject")}
        if len(opinions) > 1 and (include_settled or v.verdict == "disputed"):
            out.append(v)
    return out
