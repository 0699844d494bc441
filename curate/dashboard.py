"""The Dashboard's figures: progress, pace, agreement on the overlap, rule and tag use.

Agreement is measured on accept/reject (a skip is no opinion), over the overlap images where
the annotators compared both hold a standing accept or reject:
- Cohen's kappa per pair of annotators: (p_o − p_e) / (1 − p_e), p_e from each one's own rates;
- Fleiss' kappa overall, over the images rated by the most common number of raters (Fleiss
  assumes the same number of raters per image; with the ring overlap that is 2).
A kappa is None when it is undefined (no shared images, or p_e = 1: everyone gave one answer).
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations

from sqlalchemy import Engine, func, select

from curate import decisions
from curate.rules import RULES, TAGS
from db.engine import reading
from db.models import Annotator, Assignment, Decision, Role, Verdict

TARGET_ACCEPTED = 2_500  # old_celebA's size in the seed write-up
CATEGORIES = ("accept", "reject")


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


@dataclass
class Dashboard:
    annotators: list[AnnotatorStats] = field(default_factory=list)
    cohen: dict[tuple[str, str], tuple[float | None, int]] = field(default_factory=dict)  # (kappa, n)
    fleiss: float | None = None
    fleiss_items: int = 0
    rules: dict[str, int] = field(default_factory=dict)  # failed rule key → standing rejects
    tags: dict[str, int] = field(default_factory=dict)  # tag key → standing decisions using it
    accepted_final: int = 0  # images whose final verdict is accept
    disputed: int = 0
    target: int = TARGET_ACCEPTED


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' paired labels; None when undefined."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[c] * cb[c] for c in set(ca) | set(cb)) / (n * n)
    return None if p_e == 1 else (p_o - p_e) / (1 - p_e)


def fleiss_kappa(counts: list[list[int]]) -> float | None:
    """Fleiss' kappa from per-item category counts (each row sums to the same n ≥ 2)."""
    if not counts:
        return None
    n = sum(counts[0])
    if n < 2 or any(sum(r) != n for r in counts):
        return None
    items = len(counts)
    k = len(counts[0])
    p_j = [sum(r[j] for r in counts) / (items * n) for j in range(k)]
    p_i = [(sum(c * c for c in r) - n) / (n * (n - 1)) for r in counts]
    p_bar = sum(p_i) / items
    p_e = sum(p * p for p in p_j)
    return None if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def dashboard(engine: Engine, target: int = TARGET_ACCEPTED) -> Dashboard:
    """Every figure of the Dashboard page, from the database (target: accepts wanted, 2,500)."""
    out = Dashboard(target=target)
    with reading(engine) as s:
        people = list(s.execute(select(Annotator.id, Annotator.name)
                                .where(Annotator.role == Role.annotator).order_by(Annotator.id)))
        queues = dict(s.execute(select(Assignment.annotator_id, func.count())
                                .group_by(Assignment.annotator_id)).all())
        overlap_images = set(s.scalars(select(Assignment.image_id).where(Assignment.is_overlap)))
        standing = decisions.standing_decisions(s)
        times = defaultdict(list)
        for aid, secs in s.execute(select(Decision.annotator_id, Decision.seconds).where(
                Decision.verdict != Verdict.undo, Decision.seconds.is_not(None))):
            times[aid].append(secs)
    by_person: dict[int, Counter] = defaultdict(Counter)
    opinions: dict[int, dict[int, str]] = defaultdict(dict)  # image → annotator → verdict
    rule_counts = Counter({r.key: 0 for r in RULES})
    tag_counts = Counter({t.key: 0 for t in TAGS})
    for d in standing:
        v = d.verdict.value
        by_person[d.annotator_id][v] += 1
        if v == "reject" and d.rule:
            rule_counts[d.rule] += 1
        for t in d.tags or ():
            tag_counts[t] += 1
        if v in CATEGORIES and d.image_id in overlap_images:
            opinions[d.image_id][d.annotator_id] = v
    names = {pid: name for pid, name in people}
    for pid, name in people:
        c = by_person[pid]
        out.annotators.append(AnnotatorStats(
            name=name, queue=queues.get(pid, 0), decided=c["accept"] + c["reject"] + c["skip"],
            accepted=c["accept"], rejected=c["reject"], skipped=c["skip"],
            median_seconds=statistics.median(times[pid]) if times[pid] else None))
    out.rules = dict(rule_counts)
    out.tags = dict(tag_counts)

    for a, b in combinations([pid for pid, _ in people], 2):
        shared = [img for img, op in opinions.items() if a in op and b in op]
        if not shared:
            continue
        k = cohen_kappa([opinions[i][a] for i in shared], [opinions[i][b] for i in shared])
        out.cohen[(names[a], names[b])] = (k, len(shared))
    rated = [op for op in opinions.values() if len(op) >= 2]
    if rated:
        n = Counter(len(op) for op in rated).most_common(1)[0][0]
        rows = [[sum(v == c for v in op.values()) for c in CATEGORIES] for op in rated if len(op) == n]
        out.fleiss, out.fleiss_items = fleiss_kappa(rows), len(rows)

    final = decisions.final_verdicts(engine)
    out.accepted_final = sum(1 for v in final.values() if v.verdict == "accept")
    out.disputed = sum(1 for v in final.values() if v.verdict == "disputed")
    return out
