"""Review: disagreements listed with each decision; settling appends an adjudication."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curate import review
from curate.decisions import DecisionError
from curate.presses import Pressed, Replaced
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
        review.settle_shown(engine, admin, shared[0], d.shown, Pressed("accept", press_id="verdict-01"))
    with pytest.raises(DecisionError, match="not the disagreement"):
        review.settle_shown(engine, admin, d.image_id, d.shown[:1], Pressed("accept", press_id="verdict-01"))
    press = Pressed("reject", "too_young", press_id="verdict-01", seen=d.newest)
    got = review.settle_shown(engine, admin, d.image_id, d.shown, press)
    assert not got.duplicate
    assert review.settle_shown(engine, admin, d.image_id, d.shown, press).duplicate  # a resend
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Adjudication)) == 1
    # Equal content under a new press id is a new verdict, not a resend.
    assert not review.settle_shown(engine, admin, d.image_id, d.shown,
                                   press._replace(press_id="verdict-02", seen=None)).duplicate


def test_a_verdict_on_an_image_settled_elsewhere_since_is_not_recorded_silently(engine):
    users, shared = known_decisions(engine)
    admin = users["admin"]
    [d] = review.disputes(engine)
    assert d.newest == ""
    review.settle_shown(engine, admin, d.image_id, d.shown,
                        Pressed("accept", press_id="other-tab-1", seen=""))
    with pytest.raises(Replaced) as got:  # this tab had not heard of it
        review.settle_shown(engine, admin, d.image_id, d.shown,
                            Pressed("reject", "too_young", press_id="this-tab-1", seen=""))
    assert got.value.standing["verdict"] == "accept"
    review.settle_shown(engine, admin, d.image_id, d.shown,
                        Pressed("reject", "too_young", press_id="this-tab-2", seen="other-tab-1"))
    [again] = review.disputes(engine, include_settled=True)
    assert (again.settled, again.newest) == ("reject", "this-tab-2")


def test_undo_withdraws_only_the_newest_verdict(engine):
    users, shared = known_decisions(engine)
    admin = users["admin"]
    [d] = review.disputes(engine)
    review.settle_shown(engine, admin, d.image_id, d.shown,
                        Pressed("accept", tags=("two_faces",), press_id="verdict-01"))
    review.settle_shown(engine, admin, d.image_id, d.shown,
                        Pressed("reject", "not_facing", press_id="verdict-02"))
    with pytest.raises(DecisionError, match="no longer"):
        review.undo_settled(engine, admin, d.image_id, "verdict-01", "undo-0001")
    assert not review.undo_settled(engine, admin, d.image_id, "verdict-02", "undo-0002").duplicate
    assert review.undo_settled(engine, admin, d.image_id, "verdict-02", "undo-0002").duplicate
    assert [x.image_id for x in review.disputes(engine)] == [d.image_id]  # open again
    with pytest.raises(DecisionError, match="admin"):  # an annotator cannot settle or undo
        review.settle_shown(engine, users["ana"], d.image_id, d.shown,
                            Pressed("accept", press_id="verdict-03"))


def test_rule_disagreements_list_rejects_on_different_rules_only(engine):
    users, shared = known_decisions(engine)
    # shared[2]: both reject as too_young (agree); shared[3]: too_young vs looks_young.
    [d] = review.rule_disagreements(engine)
    assert d.image_id == shared[3]
    assert [(o.annotator, o.verdict, o.rule) for o in d.opinions] == [
        ("ana", "reject", "too_young"), ("luis", "reject", "looks_young")]
    assert shared[1] not in [x.image_id for x in review.rule_disagreements(engine)]  # accept+reject
    review.settle(engine, users["admin"], shared[3], "reject", "looks_young")
    assert review.rule_disagreements(engine) == []
    [settled] = review.rule_disagreements(engine, include_settled=True)
    assert (settled.settled, settled.settled_rule) == ("reject", "looks_young")
