"""Review: disagreements listed with each decision; settling appends an adjudication."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curate import review
from curate.decisions import DecisionError, Pressed
from db.engine import reading
from db.models import Adjudication
from tests.helpers.curate import known_decisions


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


def test_a_verdict_counts_only_for_the_disagreement_shown(engine):
    users, shared = known_decisions(engine)
    admin = users["admin"]
    [d] = review.disputes(engine)
    with pytest.raises(DecisionError, match="not the disagreement you had on screen"):
        review.settle_shown(engine, admin, shared[0], d.shown, Pressed("accept"))  # other image
    with pytest.raises(DecisionError, match="not the disagreement"):
        review.settle_shown(engine, admin, d.image_id, d.shown[:1], Pressed("accept"))
    got = review.settle_shown(engine, admin, d.image_id, d.shown, Pressed("reject", "too_young"))
    assert not got.duplicate
    assert review.settle_shown(engine, admin, d.image_id, d.shown,
                               Pressed("reject", "too_young")).duplicate  # a resend
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Adjudication)) == 1


def test_undo_withdraws_only_the_newest_verdict(engine):
    users, shared = known_decisions(engine)
    admin = users["admin"]
    [d] = review.disputes(engine)
    review.settle_shown(engine, admin, d.image_id, d.shown, Pressed("accept", tags=("two_faces",)))
    review.settle_shown(engine, admin, d.image_id, d.shown, Pressed("reject", "not_facing"))
    with pytest.raises(DecisionError, match="no longer"):
        review.undo_settled(engine, admin, d.image_id, Pressed("accept", tags=("two_faces",)))
    assert not review.undo_settled(engine, admin, d.image_id, Pressed("reject", "not_facing")).duplicate
    assert review.undo_settled(engine, admin, d.image_id, Pressed("reject", "not_facing")).duplicate
    assert [x.image_id for x in review.disputes(engine)] == [d.image_id]  # open again
