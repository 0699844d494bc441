"""The verdict rules of `curate.decisions.final_verdicts`, written as SQL aggregates.

`final_verdicts` is the definition (read it first); this module states the same rules as one
GROUP BY per table, so that whole-database figures (the Dashboard's counts, the Datasets
verdict filters) are computed by the database instead of a Python loop over 200,000 images.
tests/curate/test_verdict_sql.py checks both against each other on random databases, on
SQLite and PostgreSQL.

Per image, from two grouped subqueries:
- `mine`: its standing decisions (newest per annotator, undos left out), read from the
  `standing_decisions` table (kept by triggers on decisions and assignments, migration 0007):
  how many accept, how many reject;
- `adj`: its newest adjudication, unless that is an undo.
Then: adjudicated → that verdict; an accept and a reject → disputed; no opinion → pending;
else the one opinion given. Who holds the image does not count (a late queue changes no
verdict), so the table's `holders` and `in_queue` columns are not read here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (Select, String, Subquery, and_, case, cast, exists, false, func, literal,
                        select, text, union_all)
from sqlalchemy.orm import aliased

from db.models import Adjudication, Assignment, Image, StandingDecision, Verdict

ACCEPT, REJECT = Verdict.accept.value, Verdict.reject.value
OPINIONS = (ACCEPT, REJECT)
WORK_MEM_MB = 64  # PostgreSQL work memory per sort or hash in a whole-table read


@dataclass(frozen=True)
class Wanted:
    """What to match beyond the verdict ("" / None = anything), as the Datasets filters say."""

    verdict: str = ""  # accept | reject | disputed | pending | unlabeled
    annotator_id: int | None = None  # has a standing decision by this annotator
    rule: str = ""  # the failed rule of the verdict
    tag: str = ""  # a tag recorded on the verdict
    source_id: int | None = None  # the image's source


def whole_table_read(session) -> None:
    """On PostgreSQL, for the rest of this read's transaction: no JIT compilation, and more
    memory per sort or hash (SET LOCAL ends with the transaction; other databases are left
    alone).

    These whole-table aggregates have high cost estimates, so PostgreSQL JIT-compiles them by
    default (jit_above_cost): about 0.5 s of compiling for a query that runs in 0.4 s. And the
    default 4 MB of work memory sends the 100,000-row hashes of the Datasets filters to disk.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM_MB}MB'"))


def tags_hold(column, tag: str):
    """SQL: does this JSON list of tag keys hold `tag`? (The lists are written by json.dumps,
    so a key appears as "key" with its quotes; a LIKE works on SQLite and PostgreSQL alike.)"""
    return cast(column, String).contains(f'"{tag}"', autoescape=True)


def standing(image_ids: Select | None = None) -> Subquery:
    """The newest decision per (annotator, image), undos left out: image_id, annotator_id,
    verdict, rule, tags, in_queue (the decider holds the image), holders (queues holding it);
    of the images `image_ids` selects (default: all). Read from the `standing_decisions`
    table, which triggers keep (db.models.StandingDecision)."""
    sd = StandingDecision
    q = (select(sd.image_id, sd.annotator_id, sd.verdict, sd.rule, sd.tags, sd.in_queue,
                sd.holders)
         .where(sd.verdict != Verdict.undo))
    if image_ids is not None:
        q = q.where(sd.image_id.in_(image_ids))
    return q.subquery("standing")


def _flag(condition):
    return func.sum(case((condition, 1), else_=0))


def _mine(w: Wanted) -> Subquery:
    """Per image with a standing decision: accepts, rejects, and the columns w's annotator,
    rule and tag filters need."""
    s = standing()
    opinion = s.c.verdict.in_(OPINIONS)
    cols = [s.c.image_id, _flag(s.c.verdict == ACCEPT).label("acc"),
            _flag(s.c.verdict == REJECT).label("rej")]
    if w.annotator_id is not None:
        cols.append(_flag(s.c.annotator_id == w.annotator_id).label("by_them"))
    if w.rule:  # the verdict's rule is the first (lowest id) annotator's: is theirs this one?
        cols.append(func.min(case((opinion, s.c.annotator_id))).label("first"))
        cols.append(func.min(case((and_(opinion, s.c.rule == w.rule), s.c.annotator_id)))
                    .label("first_with_rule"))
    if w.tag:
        cols.append(_flag(and_(opinion, tags_hold(s.c.tags, w.tag))).label("tagged"))
    return select(*cols).group_by(s.c.image_id).subquery("mine")


def _adjudicated() -> Subquery:
    """The newest adjudication per image, unless it is an undo."""
    # NOT EXISTS (a newer one), not IN (SELECT max …): SQLite then joins it row by row on
    # the image index instead of scanning the IN list for each of 100,000 decided images.
    newer = aliased(Adjudication)
    return (select(Adjudication.image_id, Adjudication.verdict, Adjudication.rule, Adjudication.tags)
            .where(~exists().where(newer.image_id == Adjudication.image_id,
                                   newer.id > Adjudication.id),
                   Adjudication.verdict != Verdict.undo)
            .subquery("adj"))


def _adj_conditions(w: Wanted, adj: Subquery) -> list:
    out = [adj.c.rule == w.rule] if w.rule else []
    return out + ([tags_hold(adj.c.tags, w.tag)] if w.tag else [])


def _decided(w: Wanted):
    """SELECT image_id, verdict of every image with a standing decision or adjudication — the only
    images that can be accepted, rejected or disputed — that match w's annotator, rule, tag."""
    mine, adj = _mine(w), _adjudicated()
    acc, rej = mine.c.acc, mine.c.rej
    verdict = case(
        (adj.c.image_id.is_not(None), cast(adj.c.verdict, String)),
        (and_(acc > 0, rej > 0), literal("disputed")),
        (acc + rej == 0, literal("pending")),
        (acc > 0, literal(ACCEPT)),
        else_=literal(REJECT))
    extra = [mine.c.by_them > 0] if w.annotator_id is not None else []
    if w.rule:
        extra.append(case((adj.c.image_id.is_not(None), adj.c.rule == w.rule),
                          else_=and_(verdict == REJECT, mine.c.first == mine.c.first_with_rule)))
    if w.tag:
        extra.append(case((adj.c.image_id.is_not(None), tags_hold(adj.c.tags, w.tag)),
                          else_=and_(verdict.in_(OPINIONS), mine.c.tagged > 0)))
    with_decisions = (select(mine.c.image_id, verdict.label("verdict"))
                      .outerjoin(adj, adj.c.image_id == mine.c.image_id).where(*extra))
    if w.annotator_id is not None:  # only images they decided can match
        return with_decisions
    # Adjudicated images nobody (still) decides: a few, found through the image index.
    adj_only = (select(adj.c.image_id, cast(adj.c.verdict, String).label("verdict"))
                .where(~_has_standing(adj.c.image_id), *_adj_conditions(w, adj)))
    return union_all(with_decisions, adj_only)


def _has_standing(image_id):
    """SQL: has the image (a correlated column) a standing decision by anyone?"""
    return exists().where(StandingDecision.image_id == image_id,
                          StandingDecision.verdict != Verdict.undo)


def _has_opinion(image_id):
    """SQL: has anyone a standing accept or reject on the image (a correlated column)?"""
    return exists().where(StandingDecision.image_id == image_id,
                          StandingDecision.verdict.in_(OPINIONS))


def _has_adjudication(image_id):
    """SQL: is the image's newest adjudication an accept or reject?"""
    newer = aliased(Adjudication)
    return exists().where(Adjudication.image_id == image_id, Adjudication.verdict != Verdict.undo,
                          ~exists().where(newer.image_id == Adjudication.image_id,
                                          newer.id > Adjudication.id))


def verdict_counts() -> Select:
    """SELECT (verdict, images) over the decided or adjudicated images (every other queued
    image is pending)."""
    v = _decided(Wanted()).subquery("verdicts")
    return select(v.c.verdict, func.count()).group_by(v.c.verdict)


def matching_ids(w: Wanted, ordered: bool = True) -> Select:
    """SELECT the ids of the images matching `w`, one row per image: ascending, unless
    `ordered` is False (default True; the caller sorts them itself, e.g. with numpy, which
    is faster than the database's sort of 100,000 rows)."""
    only_verdict = w.annotator_id is None and not w.rule and not w.tag
    if w.verdict == "unlabeled":  # in no queue, never decided nor adjudicated
        if not only_verdict:
            return select(Image.id).where(false())
        adj = _adjudicated()
        q = select(Image.id.label("image_id")).where(
            ~exists().where(Assignment.image_id == Image.id), ~_has_standing(Image.id),
            Image.id.not_in(select(adj.c.image_id)))
    elif w.verdict == "pending" and only_verdict:  # with every queued image nobody decided
        # Pending = held or decided, with no opinion and no adjudication: told by index look-ups
        # per image instead of working out each verdict (`_decided`'s cases in reverse).
        q = union_all(
            select(Assignment.image_id).distinct().where(~_has_opinion(Assignment.image_id),
                                                         ~_has_adjudication(Assignment.image_id)),
            select(StandingDecision.image_id).distinct().where(  # only skipped, in no queue
                StandingDecision.verdict != Verdict.undo,
                ~exists().where(Assignment.image_id == StandingDecision.image_id),
                ~_has_opinion(StandingDecision.image_id),
                ~_has_adjudication(StandingDecision.image_id)))
    else:
        v = _decided(w).subquery("verdicts")
        q = select(v.c.image_id)
        if w.verdict:
            q = q.where(v.c.verdict == w.verdict)
    q = q.subquery("matching")
    out = select(q.c.image_id)
    if w.source_id is not None:
        out = out.where(q.c.image_id.in_(select(Image.id).where(Image.source_id == w.source_id)))
    return out.order_by(q.c.image_id) if ordered else out


def newest_adjudications() -> Subquery:
    """image_id, verdict, rule, tags of each image's newest adjudication, unless it is an
    undo (the subquery the verdicts use; curate.triage reads its targets from it)."""
    return _adjudicated()
