"""The Dashboard's figures: progress, pace, agreement on the overlap, rule and tag use.

Every figure is a GROUP BY in the database (a handful of queries, none reading decisions one
by one), so the page opens in well under a second on all of CelebA with 100,000 decisions
(benchmarks/dashboard.py). The final verdicts come from curate.verdict_sql, the SQL statement
of curate.decisions.final_verdicts.

Agreement is measured on accept/reject (a skip is no opinion), over the overlap images where
the annotators compared all hold a standing accept or reject:
- Cohen's kappa per pair of annotators: (p_o − p_e) / (1 − p_e), p_e from each one's own rates;
- Fleiss' kappa overall, over the images rated by the most common number of raters (Fleiss
  assumes the same number of raters per image; with the ring overlap that is 2);
- Fleiss' kappa per overlap group: the annotators whose queues hold the same overlap images
  (curate.assign makes pairs), over those images that every member has decided.
A kappa is None when it is undefined (no shared images, or p_e = 1: everyone gave one answer).

Grid and single decisions apart (`views`): for each view (`Decision.via`), the standing
accept/reject decisions made in it, their accept rate, and — on images another annotator also
decided — how often they agree with that other annotator, so a lead sees whether confirming a
grid page costs accuracy.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Engine, and_, case, func, literal, select
from sqlalchemy.orm import Session

from curate import verdict_sql as vs
from curate.rules import RULES, TAGS
from db.engine import reading
from db.models import Annotator, Assignment, Decision, Role, StandingDecision, Verdict

TARGET_ACCEPTED = 2_500  # old_celebA's size in the seed write-up
CATEGORIES = ("accept", "reject")
_MASK_BITS = 62  # annotators per bit mask column (a signed 64-bit SUM stays exact)


@dataclass(frozen=True)
class AnnotatorStats:
    name: str
    queue: int
    decided: int  # standing accept + reject + skip
    accepted: int
    rejected: int
    skipped: int
    median_seconds: float | None  # over all their decisions with a time, undos left out

    @property
    def accept_rate(self) -> float | None:
        """Accepted / (accepted + rejected); None before any opinion."""
        n = self.accepted + self.rejected
        return self.accepted / n if n else None

    @property
    def done(self) -> float:
        return self.decided / self.queue if self.queue else 0.0

    @property
    def left(self) -> int:
        return max(0, self.queue - self.decided)


@dataclass(frozen=True)
class ViewStats:
    """Standing accept/reject decisions made in one view (single or grid)."""
    decisions: int
    accepted: int
    compared: int  # (this decision, another annotator's opinion on the image) pairs
    agreed: int  # of those, the same verdict

    @property
    def accept_rate(self) -> float | None:
        return self.accepted / self.decisions if self.decisions else None

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


@dataclass
class Dashboard:
    annotators: list[AnnotatorStats] = field(default_factory=list)
    cohen: dict[tuple[str, str], tuple[float | None, int]] = field(default_factory=dict)  # (kappa, n)
    fleiss: float | None = None
    fleiss_items: int = 0
    fleiss_groups: dict[tuple[str, ...], tuple[float | None, int]] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)  # failed rule key → standing rejects
    tags: dict[str, int] = field(default_factory=dict)  # tag key → standing decisions using it
    views: dict[str, ViewStats] = field(default_factory=dict)  # "single" | "grid" → figures
    accepted_final: int = 0  # images whose final verdict is accept
    disputed: int = 0
    target: int = TARGET_ACCEPTED
    as_of: dt.datetime = field(default_factory=dt.datetime.now)  # when the figures were read


def cohen_from_table(table: dict[tuple[str, str], int]) -> float | None:
    """Cohen's kappa from (label of rater a, label of rater b) → items; None when undefined."""
    n = sum(table.values())
    if n == 0:
        return None
    p_o = sum(c for (x, y), c in table.items() if x == y) / n
    ca, cb = Counter(), Counter()
    for (x, y), c in table.items():
        ca[x] += c
        cb[y] += c
    p_e = sum(ca[c] * cb[c] for c in set(ca) | set(cb)) / (n * n)
    return None if p_e == 1 else (p_o - p_e) / (1 - p_e)


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' paired labels; None when undefined."""
    if not a or len(a) != len(b):
        return None
    return cohen_from_table(Counter(zip(a, b)))


def fleiss_weighted(rows: list[tuple[list[int], int]]) -> float | None:
    """Fleiss' kappa from (per-item category counts, how many items have them) pairs; every
    row sums to the same n ≥ 2."""
    rows = [(r, w) for r, w in rows if w]
    if not rows:
        return None
    n = sum(rows[0][0])
    if n < 2 or any(sum(r) != n for r, _ in rows):
        return None
    items = sum(w for _, w in rows)
    k = len(rows[0][0])
    p_j = [sum(r[j] * w for r, w in rows) / (items * n) for j in range(k)]
    p_bar = sum(w * (sum(c * c for c in r) - n) / (n * (n - 1)) for r, w in rows) / items
    p_e = sum(p * p for p in p_j)
    return None if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def fleiss_kappa(counts: list[list[int]]) -> float | None:
    """Fleiss' kappa from per-item category counts (each row sums to the same n ≥ 2)."""
    return fleiss_weighted([(r, 1) for r in counts])


def _progress(s: Session, out: Dashboard, people: list[tuple[int, str]]) -> None:
    """Per annotator: queue and standing verdicts; rules failed and tags used."""
    queues = dict(s.execute(select(Assignment.annotator_id, func.count())
                            .group_by(Assignment.annotator_id)).all())
    # One pass over the standing index, grouped by its own columns (no sort): a few hundred
    # rows, one per (annotator, verdict, rule, tag list).
    sd = StandingDecision
    by_person: dict[int, Counter] = defaultdict(Counter)
    rules = Counter({r.key: 0 for r in RULES})
    tags = Counter({t.key: 0 for t in TAGS})
    for aid, verdict, rule, tag_list, n in s.execute(
            select(sd.annotator_id, sd.verdict, sd.rule, sd.tags, func.count())
            .where(sd.verdict != Verdict.undo)
            .group_by(sd.annotator_id, sd.verdict, sd.rule, sd.tags)):
        by_person[aid][verdict.value] += n
        if verdict is Verdict.reject and rule:
            rules[rule] += n
        for key in _tag_keys(tag_list):
            if key in tags:
                tags[key] += n
    for pid, name in people:
        c = by_person[pid]
        out.annotators.append(AnnotatorStats(
            name=name, queue=queues.get(pid, 0), decided=c["accept"] + c["reject"] + c["skip"],
            accepted=c["accept"], rejected=c["reject"], skipped=c["skip"], median_seconds=None))
    out.rules, out.tags = dict(rules), dict(tags)


@functools.lru_cache(maxsize=4096)
def _tag_keys(tag_list: str | None) -> frozenset[str]:
    """The keys of a stored JSON tag list (its text), once each."""
    try:
        got = json.loads(tag_list or "[]")
    except ValueError:
        return frozenset()
    return frozenset(k for k in got if isinstance(k, str)) if isinstance(got, list) else frozenset()


def _medians(s: Session) -> dict[int, float]:
    """Annotator id → median seconds per decision, undos left out."""
    # The middle one or two of each annotator's times, read in order from the index on
    # (annotator_id, seconds, verdict): one short query per annotator, no sort of every time.
    timed = (Decision.seconds.is_not(None), Decision.verdict != Verdict.undo)
    counts = s.execute(select(Decision.annotator_id, func.count()).where(*timed)
                       .group_by(Decision.annotator_id)).all()
    out = {}
    for aid, n in counts:
        middle = s.scalars(select(Decision.seconds).where(Decision.annotator_id == aid, *timed)
                           .order_by(Decision.seconds).limit(2 - n % 2).offset((n - 1) // 2)).all()
        out[aid] = sum(middle) / len(middle)
    return out


def _agreement(s: Session, out: Dashboard, names: dict[int, str]) -> None:
    """Cohen's kappa per pair, Fleiss' kappa overall and per overlap group."""
    if not names:
        return
    overlap = select(Assignment.image_id).where(Assignment.is_overlap)
    st = vs.standing(overlap)
    # A CTE: read twice by the self-join, computed once (SQLite and PostgreSQL materialize it).
    ops = select(st).where(st.c.verdict.in_(vs.OPINIONS)).cte("ops")
    a, b = ops.alias("a"), ops.alias("b")
    tables: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for x, y, vx, vy, n in s.execute(
            select(a.c.annotator_id, b.c.annotator_id, a.c.verdict, b.c.verdict, func.count())
            .join(b, and_(a.c.image_id == b.c.image_id, a.c.annotator_id < b.c.annotator_id))
            .group_by(a.c.annotator_id, b.c.annotator_id, a.c.verdict, b.c.verdict)):
        tables[(x, y)][(Verdict(vx).value, Verdict(vy).value)] += n
    for (x, y), table in sorted(tables.items()):
        if x in names and y in names:
            out.cohen[(names[x], names[y])] = (cohen_from_table(table), sum(table.values()))

    # Per overlap image: who holds it (bit masks over the annotators), how many opinions, how
    # many accepts; then items counted per (group, opinions, accepts).
    order = sorted(names)
    masks = [func.sum(case({aid: literal(1 << (i - lo), BigInteger)
                            for i, aid in enumerate(order) if lo <= i < lo + _MASK_BITS},
                           value=Assignment.annotator_id, else_=0)).label(f"m{lo}")
             for lo in range(0, max(len(order), 1), _MASK_BITS)]
    holders = (select(Assignment.image_id, func.count().label("h"), *masks)
               .where(Assignment.image_id.in_(overlap)).group_by(Assignment.image_id).subquery())
    per_image = (select(ops.c.image_id, func.count().label("n"),
                        func.sum(case((ops.c.verdict == vs.ACCEPT, 1), else_=0)).label("acc"))
                 .group_by(ops.c.image_id).subquery())
    mask_cols = [holders.c[m.name] for m in masks]
    overall: Counter = Counter()
    groups: dict[tuple, list] = defaultdict(list)
    for h, n, acc, items, *bits in s.execute(
            select(holders.c.h, per_image.c.n, per_image.c.acc, func.count(), *mask_cols)
            .join(per_image, per_image.c.image_id == holders.c.image_id)
            .group_by(holders.c.h, per_image.c.n, per_image.c.acc, *mask_cols)):
        overall[(n, acc)] += items
        if n == h:  # every holder decided (deciders are holders: a decision needs the queue)
            groups[tuple(bits)].append(([acc, n - acc], items))
    rated = Counter()
    for (n, _), items in overall.items():
        if n >= 2:
            rated[n] += items
    if rated:
        n = rated.most_common(1)[0][0]
        rows = [([acc, n - acc], items) for (m, acc), items in overall.items() if m == n]
        out.fleiss, out.fleiss_items = fleiss_weighted(rows), rated[n]
    for bits, rows in sorted(groups.items()):
        members = tuple(names[aid] for i, aid in enumerate(order)
                        if (int(bits[i // _MASK_BITS] or 0) >> (i % _MASK_BITS)) & 1)
        if len(members) >= 2:
            out.fleiss_groups[members] = (fleiss_weighted(rows), sum(w for _, w in rows))


def _views(s: Session, out: Dashboard) -> None:
    """Accept rate and agreement of grid and single decisions apart (see the module doc)."""
    a, b = StandingDecision.__table__.alias("a"), StandingDecision.__table__.alias("b")
    opinions = [Verdict.accept, Verdict.reject]
    mine = (select(a.c.image_id, a.c.annotator_id, a.c.verdict, Decision.via)
            .join(Decision, Decision.id == a.c.decision_id)
            .where(a.c.in_queue, a.c.verdict.in_(opinions)).subquery("mine"))
    rates = dict((via, (n, acc)) for via, n, acc in s.execute(
        select(mine.c.via, func.count(), func.sum(case((mine.c.verdict == Verdict.accept, 1),
                                                       else_=0)))
        .group_by(mine.c.via)))
    pairs = dict((via, (n, same)) for via, n, same in s.execute(
        select(mine.c.via, func.count(), func.sum(case((mine.c.verdict == b.c.verdict, 1), else_=0)))
        .join(b, and_(b.c.image_id == mine.c.image_id, b.c.annotator_id != mine.c.annotator_id))
        .where(b.c.in_queue, b.c.verdict.in_(opinions)).group_by(mine.c.via)))
    for via in ("single", "grid"):
        n, acc = rates.get(via, (0, 0))
        compared, agreed = pairs.get(via, (0, 0))
        out.views[via] = ViewStats(n, int(acc or 0), compared, int(agreed or 0))


def _final(s: Session, out: Dashboard) -> None:
    final = dict(s.execute(vs.verdict_counts()).all())
    out.accepted_final = final.get("accept", 0)
    out.disputed = final.get("disputed", 0)


def dashboard(engine: Engine, target: int = TARGET_ACCEPTED) -> Dashboard:
    """Every figure of the Dashboard page, from the database (target: accepts wanted, 2,500).

    The three groups of queries (progress, agreement, final verdicts) are independent reads:
    they run at once on their own connections, so the page waits for the slowest, not the sum.
    """
    out = Dashboard(target=target)
    with reading(engine) as s:
        people = [(pid, name) for pid, name in s.execute(
            select(Annotator.id, Annotator.name).where(Annotator.role == Role.annotator)
            .order_by(Annotator.id))]

    def run(part, *args):
        with reading(engine) as s:
            vs.whole_table_read(s)
            return part(s, *args)

    with ThreadPoolExecutor(4, thread_name_prefix="dashboard") as pool:
        jobs = [pool.submit(run, _progress, out, people), pool.submit(run, _medians),
                pool.submit(run, _agreement, out, dict(people)), pool.submit(run, _final, out),
                pool.submit(run, _views, out)]
        medians = jobs[1].result()
        for job in jobs:
            job.result()
    out.annotators = [dataclasses.replace(a, median_seconds=medians.get(pid))
                      for (pid, _), a in zip(people, out.annotators)]
    return out
