"""Queues: which images each annotator reviews, in what order.

A fraction of each queue (`overlap`) is shared with one other annotator (partners in a ring:
0–1, 1–2, …, last–0), spread evenly along the queue, so agreement can be measured from the start.
Re-assigning only appends: existing queue positions, and so every decision made, stay as they are.
The same database, parameters and seed give the same queues.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, insert, select

from db.engine import reading, writing
from db.models import Annotator, Assignment, Image, Role, Source

log = logging.getLogger(__name__)

ORDERS = ("attributes", "random")

# CelebA attributes that hint at an older face, with weights; `Young` absent counts most.
OLD_HINTS = {"Gray_Hair": 2.0, "Bald": 1.5, "Receding_Hairline": 1.0, "Bags_Under_Eyes": 0.5,
             "Double_Chin": 0.5, "Eyeglasses": 0.25}
NOT_YOUNG_WEIGHT = 3.0


class AssignError(ValueError):
    pass


@dataclass
class AssignReport:
    per_annotator: dict[str, int] = field(default_factory=dict)  # queue length after
    added: dict[str, int] = field(default_factory=dict)  # new items this run
    overlap: dict[str, int] = field(default_factory=dict)  # shared items after
    pool: int = 0  # eligible images
    unassigned: int = 0  # eligible images in no queue after this run

    def summary(self) -> str:
        lines = [f"{self.pool} eligible images, {self.unassigned} in no queue"]
        for name, n in self.per_annotator.items():
            lines.append(f"  {name}: {n} in queue (+{self.added[name]} new), "
                         f"{self.overlap[name]} shared with another annotator")
        return "\n".join(lines)


def old_score(attributes: list[str] | None) -> float:
    """How likely the CelebA attributes say the face is old (higher first)."""
    if attributes is None:
        return 0.0
    present = set(attributes)
    score = 0.0 if "Young" in present else NOT_YOUNG_WEIGHT
    return score + sum(w for a, w in OLD_HINTS.items() if a in present)


def pool_order(rows: list[tuple[int, list[str] | None]], order: str, seed: int) -> list[int]:
    """Image ids in review order: seeded shuffle, then (for 'attributes') likely-old first."""
    if order not in ORDERS:
        raise AssignError(f"unknown order {order!r}: use one of {', '.join(ORDERS)}")
    ids = sorted(rows, key=lambda r: r[0])
    random.Random(seed).shuffle(ids)
    if order == "attributes":
        ids.sort(key=lambda r: -old_score(r[1]))  # stable: the shuffle breaks ties
    return [r[0] for r in ids]


def _schedule(needs: list[int], overlap_needs: list[int]) -> list[tuple[int, ...]]:
    """Recipients of each next pool image: (i,) for a queue of its own, (i, j) for a shared one."""
    k = len(needs)
    got = [0] * k
    shared = [0] * k
    out: list[tuple[int, ...]] = []
    while any(g < n for g, n in zip(got, needs)):
        for i in range(k):
            if got[i] >= needs[i]:
                continue
            j = (i + 1) % k
            due = overlap_needs[i] and (shared[i] + 1) * needs[i] <= (got[i] + 1) * overlap_needs[i]
            if (k > 1 and due and shared[i] < overlap_needs[i] and got[j] < needs[j]
                    and shared[j] < overlap_needs[j]):
                out.append((i, j))
                for a in (i, j):
                    got[a] += 1
                    shared[a] += 1
            else:
                out.append((i,))
                got[i] += 1
    return out


def _by_name(rows: list, names: list[str], what: str) -> list:
    """The rows named, in the order given; AssignError naming every unknown one."""
    known = {r.name: r for r in rows}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AssignError(f"no such {what}: {', '.join(unknown)}")
    return [known[n] for n in names]


def assign(
    engine: Engine,
    *,
    per_annotator: int = 10_000,
    overlap: float = 0.05,
    order: str = "attributes",
    seed: int = 0,
    annotators: list[str] | None = None,
    sources: list[str] | None = None,
) -> AssignReport:
    """Fill each annotator's queue up to `per_annotator` images.

    overlap: share of each queue also in another annotator's queue (default 0.05).
    annotators: names (default: every active annotator). sources: source names (default: the
    sources that have CelebA-style attributes, or all sources when none has).
    """
    if per_annotator < 1:
        raise AssignError("--per-annotator must be at least 1")
    if not 0.0 <= overlap <= 1.0:
        raise AssignError("--overlap is a fraction between 0 and 1")
    with writing(engine) as s:
        q = select(Annotator).where(Annotator.role == Role.annotator, Annotator.active.is_(True))
        people = list(s.scalars(q.order_by(Annotator.id)))
        if annotators:
            people = _by_name(people, annotators, "annotator")
        if not people:
            raise AssignError("no annotators: add some with `curate users add NAME`")

        all_sources = list(s.scalars(select(Source)))
        if sources:
            chosen = _by_name(all_sources, sources, "source")
        else:
            chosen = [x for x in all_sources if x.attribute_names] or all_sources
        rows = s.execute(select(Image.id, Image.attributes).where(
            Image.source_id.in_([x.id for x in chosen]), Image.missing_since.is_(None))).all()
        pool = pool_order([(r[0], r[1]) for r in rows], order, seed)

        existing = s.execute(select(Assignment.annotator_id, Assignment.image_id,
                                    Assignment.position, Assignment.is_overlap)).all()
        taken = {e.image_id for e in existing}
        length = {p.id: 0 for p in people}
        next_pos = {p.id: 0 for p in people}
        shared = {p.id: 0 for p in people}
        for e in existing:
            if e.annotator_id in length:
                length[e.annotator_id] += 1
                next_pos[e.annotator_id] = max(next_pos[e.annotator_id], e.position + 1)
                shared[e.annotator_id] += bool(e.is_overlap)

        target_shared = round(overlap * per_annotator) if len(people) > 1 else 0
        needs = [max(0, per_annotator - length[p.id]) for p in people]
        overlap_needs = [min(n, max(0, target_shared - shared[p.id])) for p, n in zip(people, needs)]
        available = [i for i in pool if i not in taken]
        planned = _schedule(needs, overlap_needs)
        plan = planned[: len(available)]
        if len(plan) < len(planned):
            log.warning("only %d unassigned images for %d queue slots: queues stay short",
                        len(available), len(planned))

        new_rows = []
        added = {p.id: 0 for p in people}
        for image_id, recipients in zip(available, plan):
            for r in recipients:
                pid = people[r].id
                new_rows.append(dict(annotator_id=pid, image_id=image_id, position=next_pos[pid],
                                     is_overlap=len(recipients) > 1))
                next_pos[pid] += 1
                added[pid] += 1
                shared[pid] += len(recipients) > 1
        for i in range(0, len(new_rows), 5000):
            s.execute(insert(Assignment), new_rows[i:i + 5000])

        report = AssignReport(pool=len(pool))
        for p in people:
            report.per_annotator[p.name] = length[p.id] + added[p.id]
            report.added[p.name] = added[p.id]
            report.overlap[p.name] = shared[p.id]
        in_queue = taken | {r["image_id"] for r in new_rows}
        report.unassigned = sum(1 for i in pool if i not in in_queue)
    return report


def queue_lengths(engine: Engine) -> dict[str, int]:
    with reading(engine) as s:
        rows = s.execute(select(Annotator.name, func.count(Assignment.id))
                         .join(Assignment, Assignment.annotator_id == Annotator.id)
                         .group_by(Annotator.name)).all()
    return dict(rows)
