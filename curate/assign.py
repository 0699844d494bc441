"""Queues: which images each annotator reviews, in what order.

A fraction of each queue (`overlap`) is shared with one other annotator (partners in a ring:
0–1, 1–2, …, last–0), spread evenly along the queue, so agreement can be measured from the start.
Re-assigning only appends: existing queue positions, and so every decision made, stay as they are.
The same database, parameters and seed give the same queues.

Late hires: an annotator added once the others' queues are full has no ring partner with room
left, so new images alone would give them no overlap and never a kappa. Their shared share is
then taken from one existing annotator's queue instead: images only that annotator holds
(the ones they already decided first, so a kappa shows as soon as the new hire decides them),
spread evenly along the new queue. The partner is the annotator with the most such images
(ties: the lowest id); their own queue rows are left as they are (only appends).

When nothing (or less than asked) can be assigned, the report's `warnings` say why: no
images in a source, a source left out for lack of attributes, every eligible image already
queued, queues already full, no attributes for the `attributes` order.
"""
from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, insert, select

from curate import verdict_sql
from db.engine import reading, writing
from db.models import (Annotator, Assignment, AssignRound, AssignRoundSpan, Image, Role, Source,
                       TriageModel, TriageScore)

log = logging.getLogger(__name__)

ORDERS = ("attributes", "random", "model")
EXPLORE = 0.1  # share of a model-ordered round drawn at random from the images it ranks lower

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
    late: dict[str, tuple[str, int]] = field(default_factory=dict)  # new hire → (partner, copied)
    warnings: list[str] = field(default_factory=list)  # why less (or nothing) was assigned

    @property
    def total_added(self) -> int:
        return sum(self.added.values())

    def summary(self) -> str:
        lines = [f"{self.pool} eligible images, {self.unassigned} in no queue"]
        for name, n in self.per_annotator.items():
            late = (f" ({self.late[name][1]} of them from {self.late[name][0]}'s queue)"
                    if name in self.late else "")
            lines.append(f"  {name}: {n} in queue (+{self.added[name]} new), "
                         f"{self.overlap[name]} shared with another annotator{late}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def old_score(attributes: list[str] | None) -> float:
    """How likely the CelebA attributes say the face is old (higher first)."""
    if attributes is None:
        return 0.0
    present = set(attributes)
    score = 0.0 if "Young" in present else NOT_YOUNG_WEIGHT
    return score + sum(w for a, w in OLD_HINTS.items() if a in present)


def pool_order(rows: list[tuple[int, list[str] | None]], order: str, seed: int) -> list[int]:
    """Image ids in review order: seeded shuffle, then (for 'attributes') likely-old first.
    ('model' is ordered later, by `model_order`, once the free images are known.)"""
    if order not in ORDERS:
        raise AssignError(f"unknown order {order!r}: use one of {', '.join(ORDERS)}")
    ids = sorted(rows, key=lambda r: r[0])
    random.Random(seed).shuffle(ids)
    if order == "attributes":
        ids.sort(key=lambda r: -old_score(r[1]))  # stable: the shuffle breaks ties
    return [r[0] for r in ids]


def model_order(available: list[int], p_accept: dict[int, float], default_p: float, taken: int,
                explore: float, seed: int) -> list[int]:
    """The free images in a model-ranked round's order. Of the `taken` places the round fills,
    round(explore · taken) go to images drawn at random (seeded) from those ranked below the
    rest, spread evenly along the round; the others take the highest p(accept) first (images
    the model never scored count as `default_p`; ties keep the seeded shuffle of `available`).
    The images past `taken` follow in score order."""
    ranked = sorted(available, key=lambda i: -p_accept.get(i, default_p))  # stable
    taken = min(taken, len(ranked))
    k = min(round(explore * taken), taken)
    top, rest = ranked[:taken - k], ranked[taken - k:]
    rng = random.Random(seed)
    drawn = rng.sample(rest, k) if k else []
    chosen = set(drawn)
    at = {(j * taken) // k + (taken // k) // 2 for j in range(k)} if k else set()
    out, ti, di = [], iter(top), iter(drawn)
    for slot in range(taken):
        out.append(next(di) if slot in at else next(ti))
    return out + [i for i in rest if i not in chosen]


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


def _late_overlap(s, people: list, queued: dict[int, list[tuple[int, bool]]], shared: dict[int, int],
                  room: dict[int, int], target: int, eligible: set[int], existing: list,
                  partners: dict[int, str]) -> tuple[dict[int, tuple[int, int]], list[int]]:
    """Give each annotator still short of `target` shared images copies of images that only one
    existing annotator holds (see the module doc): in the queue places the pool left empty
    (`room`: places wanted), else in place of evenly spaced new solo images, which stay free.
    Returns {annotator id: (partner id, copies)} and the annotators no partner could serve."""
    holders = Counter(e.image_id for e in existing)
    solo: dict[int, list[tuple[int, int]]] = defaultdict(list)  # partner → [(position, image)]
    for e in existing:
        if holders[e.image_id] == 1 and e.image_id in eligible and e.annotator_id in partners:
            solo[e.annotator_id].append((e.position, e.image_id))
    st = verdict_sql.standing()
    decided = set(s.execute(select(st.c.annotator_id, st.c.image_id)
                            .where(st.c.verdict.in_(verdict_sql.OPINIONS))).all())
    copied: set[int] = set()
    late, unserved = {}, []
    for p in people:
        new = queued[p.id]
        slots = [k for k, (_, ov) in enumerate(new) if not ov]
        spare = room[p.id] - len(new)  # places the pool could not fill
        short = min(target - shared[p.id] - sum(ov for _, ov in new), len(slots) + spare)
        if short <= 0:
            continue
        mine = {i for i, _ in queued[p.id]} | {e.image_id for e in existing if e.annotator_id == p.id}
        best: tuple[int, list[int]] | None = None
        for q in sorted(solo):
            if q == p.id:
                continue
            images = sorted(solo[q], key=lambda r: ((q, r[1]) not in decided, r[0]))
            free = [i for _, i in images if i not in mine and i not in copied]
            if free and (best is None or len(free) > len(best[1])):
                best = (q, free)
        if best is None:
            if not shared[p.id] + sum(ov for _, ov in queued[p.id]):  # no overlap at all
                unserved.append(p.id)
            continue
        take = best[1][:short]
        replaced = max(0, len(take) - spare)
        for k, image_id in enumerate(take[:replaced]):  # evenly spread along the new part
            new[slots[k * len(slots) // replaced]] = (image_id, True)
        extra = take[replaced:]
        if extra:  # into the spare places, evenly among the new images
            total = len(new) + len(extra)
            at = {k * total // len(extra) for k in range(len(extra))}
            rest, copies = iter(new), iter(extra)
            new[:] = [(next(copies), True) if i in at else next(rest) for i in range(total)]
        copied.update(take)
        late[p.id] = (best[0], len(take))
    return late, unserved


def _warnings(report: "AssignReport", *, chosen: list, left_out: list, per_source: Counter,
              order: str, attributes_seen: bool, available: int, slots: int, full: bool,
              per_annotator: int, unserved: list[str]) -> list[str]:
    """Why less than asked (or nothing) was assigned, in words for the page and the CLI."""
    out = []
    for x in chosen:
        if not per_source[x.id]:
            out.append(f"source '{x.name}' has no images to assign (none ingested, or all missing)")
    for x, n in left_out:
        out.append(f"source '{x.name}' ({n} images) was left out: a source without CelebA "
                   "attributes is used only when chosen by name")
    if order == "attributes" and report.pool and not attributes_seen:
        out.append("no CelebA attributes for the 'attributes' order in the chosen source(s): "
                   "the images keep the seeded random order")
    if full:
        out.append(f"every chosen annotator already has {per_annotator:,} or more images in "
                   "their queue: raise the images per annotator to add more")
    elif report.pool and not available:
        out.append(f"all {report.pool:,} eligible images are already in a queue")
    elif available < slots:
        out.append(f"only {available:,} unassigned images for {slots:,} queue places: queues "
                   "stay short")
    for name in unserved:
        out.append(f"no image held by one other annotator alone to share with {name}: "
                   "no overlap (and no kappa) for them yet")
    return out


def assign(
    engine: Engine,
    *,
    per_annotator: int = 10_000,
    overlap: float = 0.05,
    order: str = "attributes",
    seed: int = 0,
    annotators: list[str] | None = None,
    sources: list[str] | None = None,
    explore: float = EXPLORE,
) -> AssignReport:
    """Fill each annotator's queue up to `per_annotator` images.

    overlap: share of each queue also in another annotator's queue (default 0.05).
    order: attributes | random | model (the newest triage model's p(accept), highest first, with
    an `explore` share — default 0.1 — drawn at random from the images it ranks lower).
    annotators: names (default: every active annotator). sources: source names (default: the
    sources that have CelebA-style attributes, or all sources when none has).
    """
    if per_annotator < 1:
        raise AssignError("--per-annotator must be at least 1")
    if not 0.0 <= overlap <= 1.0:
        raise AssignError("--overlap is a fraction between 0 and 1")
    if not 0.0 <= explore <= 1.0:
        raise AssignError("--explore is a fraction between 0 and 1")
    model = _model_scores(engine) if order == "model" else None
    with writing(engine) as s:
        q = select(Annotator).where(Annotator.role == Role.annotator, Annotator.active.is_(True))
        active = list(s.scalars(q.order_by(Annotator.id)))
        people = _by_name(active, annotators, "annotator") if annotators else active
        if not people:
            raise AssignError("no annotators: add some with `curate users add NAME`")

        all_sources = list(s.scalars(select(Source).order_by(Source.id)))
        if sources:
            chosen = _by_name(all_sources, sources, "source")
        else:
            chosen = [x for x in all_sources if x.attribute_names] or all_sources
        rows = s.execute(select(Image.id, Image.attributes, Image.source_id).where(
            Image.source_id.in_([x.id for x in chosen]), Image.missing_since.is_(None))).all()
        pool = pool_order([(r[0], r[1]) for r in rows], "random" if model else order, seed)

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

        # Overlap needs someone to share with: another chosen annotator, or one with a queue.
        queued_by = {e.annotator_id for e in existing}
        partners = {p.id: p.name for p in active}
        others = len(people) > 1 or any(a in queued_by for a in partners if a != people[0].id)
        target_shared = round(overlap * per_annotator) if others else 0
        needs = [max(0, per_annotator - length[p.id]) for p in people]
        overlap_needs = [min(n, max(0, target_shared - shared[p.id])) for p, n in zip(people, needs)]
        available = [i for i in pool if i not in taken]
        planned = _schedule(needs, overlap_needs)
        unscored = 0
        if model is not None:
            version, p_accept, default_p = model
            unscored = sum(1 for i in available if i not in p_accept)
            available = model_order(available, p_accept, default_p, len(planned), explore, seed)
        plan = planned[: len(available)]  # fewer images than places: the report says so

        queued: dict[int, list[tuple[int, bool]]] = {p.id: [] for p in people}
        for image_id, recipients in zip(available, plan):
            for r in recipients:
                queued[people[r].id].append((image_id, len(recipients) > 1))
        late, unserved = ({}, [])
        if target_shared:
            with_queues = {a: n for a, n in partners.items() if a in queued_by}
            room = {p.id: n for p, n in zip(people, needs)}
            late, unserved = _late_overlap(s, people, queued, shared, room, target_shared,
                                           set(pool), existing, with_queues)
        new_rows = []
        added = {p.id: 0 for p in people}
        for p in people:
            for image_id, is_overlap in queued[p.id]:
                new_rows.append(dict(annotator_id=p.id, image_id=image_id, position=next_pos[p.id],
                                     is_overlap=is_overlap))
                next_pos[p.id] += 1
                added[p.id] += 1
                shared[p.id] += is_overlap
        for i in range(0, len(new_rows), 5000):
            s.execute(insert(Assignment), new_rows[i:i + 5000])
        if new_rows:  # the round, for looks per accepted face by order (curate.triage.rounds)
            r = AssignRound(order_name=order, model_version=model[0] if model else None,
                            explore=explore if model else 0.0, seed=seed)
            s.add(r)
            s.flush()
            s.add_all(AssignRoundSpan(round_id=r.id, annotator_id=p.id,
                                      first_position=next_pos[p.id] - added[p.id],
                                      end_position=next_pos[p.id])
                      for p in people if added[p.id])

        report = AssignReport(pool=len(pool))
        for p in people:
            report.per_annotator[p.name] = length[p.id] + added[p.id]
            report.added[p.name] = added[p.id]
            report.overlap[p.name] = shared[p.id]
            if p.id in late:
                report.late[p.name] = (partners[late[p.id][0]], late[p.id][1])
        in_queue = taken | {r["image_id"] for r in new_rows}
        report.unassigned = sum(1 for i in pool if i not in in_queue)

        per_source = Counter(r[2] for r in rows)
        left_out = []
        if not sources:
            for x in all_sources:
                if x not in chosen:
                    n = s.scalar(select(func.count()).select_from(Image).where(
                        Image.source_id == x.id, Image.missing_since.is_(None),
                        ~Image.id.in_(select(Assignment.image_id))))
                    if n:
                        left_out.append((x, n))
        report.warnings = _warnings(
            report, chosen=chosen, left_out=left_out, per_source=per_source, order=order,
            attributes_seen=any(r[1] is not None for r in rows), available=len(available),
            slots=len(planned), full=not any(needs), per_annotator=per_annotator,
            unserved=[partners[i] for i in unserved])
        if unscored:
            report.warnings.append(
                f"{unscored:,} free images have no triage score (ingested after model "
                f"{model[0]} scored): ranked at its accept rate; `curate triage score` scores them")
    return report


def _model_scores(engine: Engine) -> tuple[int, dict[int, float], float]:
    """(newest model version, {image: p_accept}, the p an unscored image counts as) for
    `order='model'`; AssignError before any model."""
    with reading(engine) as s:
        row = s.execute(select(TriageModel.version, TriageModel.figures)
                        .order_by(TriageModel.version.desc()).limit(1)).first()
        if row is None:
            raise AssignError("no triage model yet: run `curate triage train` first, or assign "
                              "with --order attributes")
        p = {int(i): float(v) for i, v in s.execute(select(TriageScore.image_id,
                                                           TriageScore.p_accept))}
    rate = (row.figures or {}).get("base_rate") if isinstance(row.figures, dict) else None
    return int(row.version), p, float(rate) if isinstance(rate, (int, float)) else 0.0


def choices(engine: Engine) -> tuple[list[str], list[str]]:
    """The names a front offers: active annotators (by id) and sources (by name)."""
    with reading(engine) as s:
        people = list(s.scalars(select(Annotator.name).where(
            Annotator.role == Role.annotator, Annotator.active.is_(True)).order_by(Annotator.id)))
        sources = list(s.scalars(select(Source.name).order_by(Source.name)))
    return people, sources


def queue_lengths(engine: Engine) -> dict[str, int]:
    with reading(engine) as s:
        rows = s.execute(select(Annotator.name, func.count(Assignment.id))
                         .join(Assignment, Assignment.annotator_id == Annotator.id)
                         .group_by(Annotator.name)).all()
    return dict(rows)
