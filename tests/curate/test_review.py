"""Review: disagreements listed with each decision; settling appends an adjudication."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curate import review
from curate.decisions import DecisionError
from db.engine import reading
from db.models import Adjudication
from tests.curate.test_dashboard import known_decisions


def test_disputes_list_each_annotators_decision(engine):
    users, shared = known_decisions(engine)
    found = review.disputes(engine)
    assert [d.image_id for d in found] == [shared[1]]  # two rejects on other rules agree
    d = next(x for x in found if x.image_id == shared[1])
    assert [(o.annotator, o.verdict, o.rule) for o in d.opinions] == [
        ("ana", "accept", None), ("luis", "reject", "not_facing")]
    assert d.opinions[0].tags == ("two_faces",) and d.opinions[1].seconds == 4.0
    assert d.settled is None and d.path.endswith(".jpg")


def test_settling_appends_and_the_newest_counts(engine):
    users, shared = known_decisions(engine)
    admin = users["admin"]
    review.settle(engine, admin, shared[1], "reject", "not_facing", note="profile")
    assert review.disputes(engine) == []
    settled = {d.image_id: d for d in review.disputes(engine, include_settled=True)}
    assert (settled[shared[1]].settled, settled[shared[1]].settled_by) == ("reject", "admin")
    review.settle(engine, admin, shared[1], "accept", "not_facing")  # rule dropped on accept
    settled = {d.image_id: d for d in review.disputes(engine, include_settled=True)}
    assert settled[shared[1]].settled == "accept"
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Adjudication)) == 2
    with pytest.raises(DecisionError):
        review.settle(engine, users["ana"], shared[1], "accept")  # not an admin
