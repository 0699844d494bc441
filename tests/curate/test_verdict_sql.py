"""The SQL aggregates (curate.verdict_sql, curate.dashboard) against the Python definitions
(curate.decisions.final_verdicts, newest_decisions) on random databases, SQLite and
PostgreSQL: every image's verdict, every filter, every Dashboard figure."""
from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from itertools import combinations

import pytest
from sqlalchemy import select

from curate import dashboard, verdict_sql
from curate.decisions import adjudicate, final_verdicts, newest_decisions, record_decision, undo
from curate.gallery import datasets as gd
from curate.rules import RULES, TAGS
from db.engine import reading
from db.models import Annotator, Assignment, Decision, Image, Verdict
from tests.helpers.curate import add_images, seed

PEOPLE = ("ana", "luis", "eva", "tom")


def random_history(engine, seed_: int) -> dict[str, int]:
    """40 queued images among 4 annotators (30 % overlap), 10 unqueued; random decisions with
    rules, tags, skips, re-decisions and undos; adjudications, some undone, one off-queue."""
    rng = random.Random(seed_)
    users = seed(engine, images=40, annotators=PEOPLE, per_annotator=12, overlap=0.3)
    extra = add_images(engine, 10, source="other")
    with reading(engine) as s:
        queues = defaultdict(list)
        for aid, img in s.execute(select(Assignment.annotator_id, Assignment.image_id)):
            queues[aid].append(img)
    for name in PEOPLE:
        for img in queues[users[name]]:
            for _ in range(rng.choice((0, 1, 1, 1, 2))):
                v = rng.choice(("accept", "accept", "reject", "reject", "skip", "undo"))
                if v == "undo":
                    undo(engine, users[name], img)
                    continue
                record_decision(engine, users[name], img, v, rule=rng.choice(RULES).key,
                                tags=rng.sample([t.key for t in TAGS], rng.choice((0, 0, 1, 2))),
                                seconds=round(rng.uniform(0.5, 9), 2) if rng.random() < 0.9 else None)
    queued = sorted({i for q in queues.values() for i in q})
    for img in rng.sample(queued, 6) + [extra[0]]:
        v = rng.choice(("accept", "reject"))
        adjudicate(engine, users["admin"], img, v, rule=rng.choice(RULES).key,
                   tags=rng.sample([t.key for t in TAGS], rng.choice((0, 1))))
        if rng.random() < 0.3:
            adjudicate(engine, users["admin"], img, "undo")
    return users


def sql_ids(engine, **wanted) -> list[int]:
    with reading(engine) as s:
        return list(s.scalars(verdict_sql.matching_ids(verdict_sql.Wanted(**wanted))))


@pytest.mark.parametrize("seed_", [1, 2, 3])
def test_sql_verdicts_match_final_verdicts(engine, seed_):
    users = random_history(engine, seed_)
    fv = final_verdicts(engine)
    with reading(engine) as s:
        every = list(s.scalars(select(Image.id).order_by(Image.id)))
    for verdict in ("accept", "reject", "disputed", "pending"):
        assert sql_ids(engine, verdict=verdict) == sorted(i for i, v in fv.items()
                                                          if v.verdict == verdict), verdict
    assert sql_ids(engine, verdict="unlabeled") == [i for i in every if i not in fv]
    with reading(engine) as s:
        counts = dict(s.execute(verdict_sql.verdict_counts()).all())
    for verdict in ("accept", "reject", "disputed"):
        assert counts.get(verdict, 0) == sum(v.verdict == verdict for v in fv.values())
    # The filters, alone and combined, as the Datasets page asks for them.
    for f in ([gd.Filters(annotator=n) for n in PEOPLE] + [gd.Filters(rule=r.key) for r in RULES]
              + [gd.Filters(tag=t.key) for t in TAGS]
              + [gd.Filters(verdict="reject", rule=r.key, tag=t.key) for r in RULES for t in TAGS]
              + [gd.Filters(verdict="accept", annotator="ana", tag=t.key) for t in TAGS]):
        wanted = sql_ids(engine, verdict=f.verdict, rule=f.rule, tag=f.tag,
                         annotator_id=users[f.annotator] if f.annotator else None)
        assert wanted == sorted(i for i, v in fv.items() if gd._verdict_matches(v, f)), f


def python_figures(engine):
    """The Dashboard's figures computed the way it did before SQL: from every standing
    decision, in Python."""
    with reading(engine) as s:
        people = list(s.execute(select(Annotator.id, Annotator.name)
                                .where(Annotator.role == "annotator").order_by(Annotator.id)))
        overlap = set(s.scalars(select(Assignment.image_id).where(Assignment.is_overlap)))
        standing = newest_decisions(s)
        times = defaultdict(list)
        for aid, secs in s.execute(select(Decision.annotator_id, Decision.seconds).where(
                Decision.verdict != Verdict.undo, Decision.seconds.is_not(None))):
            times[aid].append(secs)
    per = defaultdict(Counter)
    opinions = defaultdict(dict)
    rules, tags = Counter(), Counter()
    for d in standing:
        per[d.annotator_id][d.verdict.value] += 1
        rules[d.rule] += d.verdict is Verdict.reject and bool(d.rule)
        tags.update(d.tags)
        if d.verdict.value in ("accept", "reject") and d.image_id in overlap:
            opinions[d.image_id][d.annotator_id] = d.verdict.value
    names = dict(people)
    cohen = {}
    for a, b in combinations(names, 2):
        shared = [i for i, op in opinions.items() if a in op and b in op]
        if shared:
            cohen[(names[a], names[b])] = (dashboard.cohen_kappa(
                [opinions[i][a] for i in shared], [opinions[i][b] for i in shared]), len(shared))
    return per, times, rules, tags, cohen, opinions


@pytest.mark.parametrize("seed_", [1, 2, 4])
def test_dashboard_figures_match_the_python_definition(engine, seed_):
    random_history(engine, seed_)
    d = dashboard.dashboard(engine)
    per, times, rules, tags, cohen, opinions = python_figures(engine)
    with reading(engine) as s:
        ids = dict(s.execute(select(Annotator.name, Annotator.id)).all())
    for a in d.annotators:
        c = per[ids[a.name]]
        assert (a.accepted, a.rejected, a.skipped) == (c["accept"], c["reject"], c["skip"])
        t = times[ids[a.name]]
        assert a.median_seconds == (pytest.approx(statistics.median(t)) if t else None)
    assert d.rules == {r.key: rules[r.key] for r in RULES}
    assert d.tags == {t.key: tags[t.key] for t in TAGS}
    assert d.cohen.keys() == cohen.keys()
    for pair, (k, n) in cohen.items():
        assert d.cohen[pair][1] == n
        assert d.cohen[pair][0] == (None if k is None else pytest.approx(k))
    rated = [op for op in opinions.values() if len(op) >= 2]
    n = Counter(len(op) for op in rated).most_common(1)[0][0] if rated else 0
    rows = [[sum(v == c for v in op.values()) for c in ("accept", "reject")]
            for op in rated if len(op) == n]
    expected = dashboard.fleiss_kappa(rows)
    assert d.fleiss_items == len(rows)
    assert d.fleiss == (None if expected is None else pytest.approx(expected))
    fv = final_verdicts(engine)
    assert d.accepted_final == sum(v.verdict == "accept" for v in fv.values())
    assert d.disputed == sum(v.verdict == "disputed" for v in fv.values())
    # Each overlap group is a pair here: its Fleiss' kappa counts the images both decided.
    for group, (k, items) in d.fleiss_groups.items():
        assert len(group) == 2 and items == cohen[group][1]
