"""The Label page's domain logic: cursor, resume, undo, progress, the prefetch window."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curate import labeling
from curate.decisions import DecisionError
from db.engine import reading
from db.models import Decision
from tests.curate.app.helpers import seed


@pytest.fixture
def users(engine):
    return seed(engine, images=20, per_annotator=10, overlap=0.2)


def test_resume_starts_at_first_undecided_and_skips_count(engine, users):
    ana = users["ana"]
    assert labeling.resume_position(engine, ana) == 0
    q = labeling.items(engine, ana, 0, 10)
    assert [i.position for i in q] == list(range(10))
    labeling.decide(engine, ana, q[0], "accept", tags=["two_faces"], seconds=1.5)
    labeling.decide(engine, ana, q[1], "skip")
    labeling.decide(engine, ana, q[3], "reject", rule="too_young")
    assert labeling.resume_position(engine, ana) == 2
    assert labeling.next_position(engine, ana, 2) == 4
    assert labeling.next_position(engine, ana, 9) == 2  # wraps to the first one left
    item = labeling.item_at(engine, ana, 0)
    assert (item.verdict, item.tags) == ("accept", ("two_faces",))
    assert labeling.item_at(engine, ana, 3).rule == "too_young"


def test_undo_withdraws_the_most_recent_standing_decision(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 3)
    for it in q:
        labeling.decide(engine, ana, it, "accept")
    assert labeling.undo_last(engine, ana).position == 2
    assert labeling.undo_last(engine, ana).position == 1
    assert labeling.resume_position(engine, ana) == 1
    assert labeling.item_at(engine, ana, 1).verdict is None
    labeling.decide(engine, ana, q[1], "reject", rule="looks_young")
    undone = labeling.undo_last(engine, ana)  # the re-decision is the newest standing one
    assert (undone.position, undone.verdict, undone.rule) == (1, "reject", "looks_young")
    assert labeling.undo_last(engine, ana).position == 0
    assert labeling.undo_last(engine, ana) is None
    with reading(engine) as s:  # append-only: 4 decisions + 4 undos
        assert s.scalar(select(func.count()).select_from(Decision)) == 8


def test_a_rule_counts_only_on_a_reject(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 2)
    labeling.decide(engine, ana, q[0], "accept", rule="too_young")  # a rule picked, then accepted
    labeling.decide(engine, ana, q[1], "skip", rule="not_facing")
    assert [labeling.item_at(engine, ana, p).rule for p in (0, 1)] == [None, None]


def test_annotator_cannot_decide_outside_own_queue(engine, users):
    luis_items = labeling.items(engine, users["luis"], 0, 10)
    ana_images = {i.image_id for i in labeling.items(engine, users["ana"], 0, 10)}
    foreign = next(i for i in luis_items if i.image_id not in ana_images)
    with pytest.raises(DecisionError):
        labeling.decide(engine, users["ana"], foreign, "accept")


def test_progress_counts_standing_verdicts_and_pace(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 10)
    labeling.decide(engine, ana, q[0], "accept", seconds=2.0)
    labeling.decide(engine, ana, q[1], "reject", rule="not_facing", seconds=4.0)
    labeling.decide(engine, ana, q[2], "skip", seconds=6.0)
    labeling.decide(engine, ana, q[3], "accept", seconds=8.0)
    labeling.undo_last(engine, ana)
    p = labeling.progress(engine, ana)
    assert (p.total, p.decided, p.accepted, p.rejected, p.skipped) == (10, 3, 1, 1, 1)
    assert p.median_seconds == 5.0
    assert p.per_hour == 720.0
    assert p.seconds_left == 7 * 5.0
    assert p.last_hour == 4


def test_progress_after_matches_a_fresh_read(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 10)
    p = labeling.progress(engine, ana)
    labeling.decide(engine, ana, q[0], "accept")
    p = p.after(None, "accept")
    labeling.decide(engine, ana, q[1], "skip")
    p = p.after(None, "skip")
    labeling.decide(engine, ana, q[0], "reject", rule="too_young")  # re-decided
    p = p.after("accept", "reject")
    undone = labeling.undo_last(engine, ana)
    p = p.after(undone.verdict, None)
    fresh = labeling.progress(engine, ana)
    assert (p.decided, p.accepted, p.rejected, p.skipped) == (
        fresh.decided, fresh.accepted, fresh.rejected, fresh.skipped) == (1, 0, 0, 1)
    assert p.last_hour == 3 == fresh.last_hour  # undos are not decisions


def test_undo_looks_back_past_many_undos(engine, users, monkeypatch):
    monkeypatch.setattr(labeling, "UNDO_LOOKBACK", 3)
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 10)
    for it in q[:5]:
        labeling.decide(engine, ana, it, "accept")
    for expected in (4, 3, 2, 1, 0):  # later ones need the full query
        assert labeling.undo_last(engine, ana).position == expected
    assert labeling.undo_last(engine, ana) is None


def test_format_duration():
    assert labeling.format_duration(None) == "—"
    assert labeling.format_duration(42) == "42 s"
    assert labeling.format_duration(125) == "2 min"
    assert labeling.format_duration(3 * 3600 + 5 * 60) == "3 h 05 min"


def test_window_prefetches_the_next_images(engine, users, tmp_path):
    ana = users["ana"]
    current, upcoming = labeling.window(engine, ana, 0, ahead=3)
    assert current.position == 0 and [i.position for i in upcoming] == [1, 2, 3]
    current, upcoming = labeling.window(engine, ana, 10)
    assert current is None and upcoming == []
