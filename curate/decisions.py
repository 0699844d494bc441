"""Decisions and verdicts: the one place that says what an image's standing verdict is.

Rows are only ever appended. The newest row per (image, annotator) is that annotator's
standing decision unless it is an `undo`; the newest adjudication per image overrides the
annotators. Verdict of an image (`final_verdicts`) counts the decisions made:
- the newest adjudication, when there is one (and it is not an undo);
- else `disputed` when the standing decisions hold an accept and a reject;
- else the one opinion given (accept, or reject with the first annotator's rule);
- else `pending` (in a queue, and nobody has accepted or rejected it: undecided or skipped).
Who else holds the image does not count: a queue added later (a late hire sharing images
already decided) leaves every verdict as it was until its holder decides; a disagreement then
makes the image disputed, and it goes to Review.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Engine, Text, func, select, type_coerce
from sqlalchemy.orm import Session

from curate import rules
from db.engine import reading, writing
from db.models import Adjudication, Annotator, Assignment, Decision, Role, Verdict

OPINIONS = (Verdict.accept, Verdict.reject)  # what counts towards agreement; skip does not


class DecisionError(ValueError):
    """A decision that cannot be recorded (not in the queue, bad rule, not an admin, …)."""


def checked(verdict: Verdict | str, rule: str | None,
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
    v, rule, tags = checked(verdict, rule, tags)
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


NOTE_MAX = 500  # characters kept of a one-line note


def clean_note(note: str | None) -> str | None:
    """A note as stored: one line, spaces collapsed, at most NOTE_MAX characters; None if empty."""
    note = " ".join((note or "").split())[:NOTE_MAX]
    return note or None


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
    v, rule, tags = checked(verdict, rule, tags)
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
                           note=clean_note(note))
        s.add(row)
        s.flush()
        return row.id


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
        q = select(Assignment.image_id).distinct()
        if wanted is not None:
            q = q.where(Assignment.image_id.in_(wanted))
        queued = set(s.scalars(q))  # who holds them does not count, only that someone does
        decided: dict[int, dict[int, Standing]] = defaultdict(dict)
        for d in newest_decisions(s, image_ids=wanted):
            decided[d.image_id][d.annotator_id] = d
        adjudicated = standing_adjudications(s)
    out: dict[int, FinalVerdict] = {}
    for image_id in sorted(queued | set(decided) | set(adjudicated)):
        if wanted is not None and image_id not in wanted:
            continue
        mine = decided.get(image_id)
        adj = adjudicated.get(image_id)
        if not mine and adj is None:  # the common case in a big queue: nobody has decided yet
            out[image_id] = FinalVerdict(image_id, "pending")
            continue
        if adj is None and len(mine) == 1:
            # One standing decision: most decided images look like this.
            (d,) = mine.values()
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
        opinions = [mine[a] for a in sorted(mine) if mine[a].verdict in OPINIONS]
        verdicts = {d.verdict for d in opinions}
        if len(verdicts) > 1:
            out[image_id] = FinalVerdict(image_id, "disputed", by=by,
                                         provenance="+".join(names[d.annotator_id] for d in opinions))
        elif not opinions:
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
