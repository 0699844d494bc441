"""The Review page's domain logic: disagreements on the overlap, and the admin's verdict on them.

A disagreement is an image whose annotators' standing decisions differ (accept vs reject), as
`curate.decisions.disagreements` defines it. Settling one appends an adjudication (append-only:
a new verdict on the same image is a new row; the newest counts). A busy database is retried by
the caller (the page's `db_call`), not here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from curate import decisions
from db.engine import reading
from db.models import Annotator, Image, Source


@dataclass(frozen=True)
class Opinion:
    annotator: str
    verdict: str  # accept | reject | skip
    rule: str | None
    tags: tuple[str, ...]
    note: str | None
    seconds: float | None


@dataclass(frozen=True)
class Dispute:
    image_id: int
    path: str  # absolute file path
    name: str  # "source/relpath"
    opinions: tuple[Opinion, ...]  # one per annotator with a standing decision, by name
    settled: str | None  # the standing adjudicated verdict, None while open
    settled_by: str | None = None


def disputes(engine: Engine, *, include_settled: bool = False) -> list[Dispute]:
    """Images the annotators disagree on, oldest image first (default: only the open ones)."""
    found = decisions.disagreements(engine, include_settled=include_settled)
    if not found:
        return []
    ids = [f.image_id for f in found]
    with reading(engine) as s:
        names = dict(s.execute(select(Annotator.id, Annotator.name)).all())
        where = dict((r.id, r) for r in s.execute(
            select(Image.id, Image.relpath, Source.root, Source.name)
            .join(Source, Source.id == Image.source_id).where(Image.id.in_(ids))))
        standing = decisions.standing_decisions(s, image_ids=ids)
    by_image: dict[int, list[Opinion]] = {}
    for d in standing:
        by_image.setdefault(d.image_id, []).append(Opinion(
            names.get(d.annotator_id, str(d.annotator_id)), d.verdict.value, d.rule,
            tuple(d.tags or ()), d.note, d.seconds))
    out = []
    for f in found:
        w = where[f.image_id]
        settled = f.verdict if f.provenance.startswith("adjudicated") else None
        out.append(Dispute(
            image_id=f.image_id, path=str(Path(w.root) / w.relpath), name=f"{w.name}/{w.relpath}",
            opinions=tuple(sorted(by_image.get(f.image_id, []), key=lambda o: o.annotator)),
            settled=settled,
            settled_by=f.provenance.removeprefix("adjudicated by ") if settled else None))
    return out


def settle(engine: Engine, admin_id: int, image_id: int, verdict: str, rule: str | None = None,
           tags=(), note: str | None = None) -> int:
    """Record the admin's verdict on an image as an adjudication; returns its row id.

    `rule` (default None) counts only for a reject (`curate.decisions` drops it otherwise).
    """
    return decisions.adjudicate(engine, admin_id, image_id, verdict, rule, tuple(tags),
                                note or None)
