"""The Review page's domain logic: disagreements on the overlap, and the admin's verdict on them.

A disagreement is an image whose annotators' standing decisions differ (accept vs reject), as
`curate.decisions.disagreements` defines it. A rule disagreement (`rule_disagreements`) is one
where they all reject but name different rules: the verdict stands (reject), yet the lead may
want to see which rule the team means. Settling one appends an adjudication (append-only:
a new verdict on the same image is a new row; the newest counts). The Review page's verdicts are
bound to what the admin had on screen (`settle_shown`: the image and the standing decisions
shown), and its undo withdraws a named adjudication (`undo_settled`); both write as a Label
press does (one transaction in the write turn, a resend known by its press id). A busy database is
retried by the caller (the page's `db_call` / `db_attempt`), not here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from curate import decisions, presses
from curate.display import ImagePath
from curate.presses import Pressed, Recorded
from db.engine import reading, write_turn
from db.models import Adjudication, Annotator, Image, Source, StandingDecision, Verdict


@dataclass(frozen=True)
class Opinion:
    annotator: str
    verdict: str  # accept | reject | skip
    rule: str | None
    tags: tuple[str, ...]
    note: str | None
    seconds: float | None
    decision_id: int = 0  # the standing decision's row: what `settle_shown` checks


@dataclass(frozen=True)
class Dispute:
    image_id: int
    path: str  # absolute file path
    name: str  # "source/relpath"
    opinions: tuple[Opinion, ...]  # one per annotator with a standing decision, by name
    settled: str | None  # the standing adjudicated verdict, None while open
    settled_by: str | None = None
    settled_rule: str | None = None
    settled_tags: tuple[str, ...] = ()
    newest: str = ""  # handle of the image's newest adjudication (an undo too), "" none yet

    @property
    def shown(self) -> tuple[int, ...]:
        """The ids of the standing decisions this dispute shows (see `settle_shown`)."""
        return tuple(sorted(o.decision_id for o in self.opinions))


def disputes(engine: Engine, *, include_settled: bool = False) -> list[Dispute]:
    """Images the annotators disagree on, oldest image first (default: only the open ones)."""
    return _as_disputes(engine, decisions.disagreements(engine, include_settled=include_settled))


def rule_disagreements(engine: Engine, *, include_settled: bool = False) -> list[Dispute]:
    """Images two or more annotators reject, none accepts, and whose rejects name different
    rules, oldest image first (default: not those an admin has adjudicated since)."""
    with reading(engine) as s:
        several = s.scalars(select(StandingDecision.image_id)
                            .where(StandingDecision.verdict == Verdict.reject)
                            .group_by(StandingDecision.image_id)
                            .having(func.count(func.distinct(StandingDecision.rule)) > 1)).all()
    if not several:
        return []
    found = []
    for v in decisions.final_verdicts(engine, image_ids=several).values():
        if "accept" in v.by.values():
            continue
        if include_settled or not v.provenance.startswith("adjudicated"):
            found.append(v)
    return _as_disputes(engine, found)


def _as_disputes(engine: Engine, found: list) -> list[Dispute]:
    """The Dispute of each FinalVerdict in `found`: its file, and each annotator's decision."""
    if not found:
        return []
    ids = [f.image_id for f in found]
    with reading(engine) as s:
        names = dict(s.execute(select(Annotator.id, Annotator.name)).all())
        where = dict((r.id, r) for r in s.execute(
            select(Image.id, Image.relpath, Image.content_hash, Source.root, Source.name)
            .join(Source, Source.id == Image.source_id).where(Image.id.in_(ids))))
        standing = decisions.newest_decisions(s, image_ids=ids)
        last = select(func.max(Adjudication.id)).where(Adjudication.image_id.in_(ids)).group_by(
            Adjudication.image_id)
        newest = {r.image_id: presses.handle(r.id, r.press_id) for r in s.execute(
            select(Adjudication.image_id, Adjudication.id, Adjudication.press_id)
            .where(Adjudication.id.in_(last)))}
    by_image: dict[int, list[Opinion]] = {}
    for d in standing:
        by_image.setdefault(d.image_id, []).append(Opinion(
            names.get(d.annotator_id, str(d.annotator_id)), d.verdict.value, d.rule,
            tuple(d.tags or ()), d.note, d.seconds, d.id))
    out = []
    for f in found:
        w = where[f.image_id]
        settled = f.verdict if f.provenance.startswith("adjudicated") else None
        out.append(Dispute(
            image_id=f.image_id, path=ImagePath.of(w.root, w.relpath, w.content_hash),
            name=f"{w.name}/{w.relpath}",
            opinions=tuple(sorted(by_image.get(f.image_id, []), key=lambda o: o.annotator)),
            settled=settled,
            settled_by=f.provenance.removeprefix("adjudicated by ") if settled else None,
            settled_rule=f.rule if settled else None, settled_tags=f.tags if settled else (),
            newest=newest.get(f.image_id, "")))
    return out


def settle(engine: Engine, admin_id: int, image_id: int, verdict: str, rule: str | None = None,
           tags=(), note: str | None = None) -> int:
    """Record the admin's verdict on an image as an adjudication; returns its row id.

    `rule` (default None) counts only for a reject (`curate.decisions` drops it otherwise).
    """
    return decisions.adjudicate(engine, admin_id, image_id, verdict, rule, tuple(tags),
                                note or None)


def settle_shown(engine: Engine, admin_id: int, image_id: int, shown, pressed: Pressed) -> Recorded:
    """The admin's verdict on the disagreement they had on screen, once the write turn is ours:
    `image_id` and `shown` (the ids of the standing decisions displayed, `Dispute.shown`) must
    still describe a disagreement, else DecisionError and nothing is written; a resend (its
    press id recorded already) writes nothing (`presses.adjudicate_pressed`)."""
    with write_turn(engine):
        return presses.adjudicate_pressed(engine, admin_id, image_id, tuple(shown), pressed)


def undo_settled(engine: Engine, admin_id: int, image_id: int, target: str,
                 press_id: str | None = None) -> Recorded:
    """Withdraw the adjudication named `target` (`presses.handle`) while it is still the
    image's newest, once the write turn is ours (`presses.undo_adjudication_pressed`)."""
    with write_turn(engine):
        return presses.undo_adjudication_pressed(engine, admin_id, image_id, target, press_id)
