"""The Label page's domain logic: cursor, resume, undo, progress, the prefetch window."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curate import decisions, labeling
from curate.decisions import DecisionError
from db.engine import reading
from db.models import Decision
from tests.helpers.curate import seed


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
    assert p.per_hour is None  # 4 timed decisions: too few for a pace
    labeling.decide(engine, ana, q[4], "accept", seconds=5.0)
    p = labeling.progress(engine, ana)
    assert p.median_seconds == 5.0  # shown from the 5th: median of 2 4 6 8 5
    assert p.per_hour == 720.0
    assert p.seconds_left == 6 * 5.0
    assert p.last_hour == 5


def test_progress_after_matches_a_fresh_read(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 10)
    p = labeling.progress(engine, ana)
    for k, sec in enumerate((3.0, 1.0, 9.0, 4.0)):
        labeling.decide(engine, ana, q[2 + k], "accept", seconds=sec)
        p = p.after(None, "accept", sec)
    assert p.median_seconds is None  # 4 timed decisions: no pace yet
    labeling.decide(engine, ana, q[0], "accept", seconds=2.0)
    p = p.after(None, "accept", 2.0)
    assert p.median_seconds == 3.0  # the pace follows each decision without a read
    labeling.decide(engine, ana, q[1], "skip")
    p = p.after(None, "skip")
    labeling.decide(engine, ana, q[0], "reject", rule="too_young", seconds=7.0)  # re-decided
    p = p.after("accept", "reject", 7.0)
    undone = labeling.undo_last(engine, ana)
    p = p.after(undone.verdict, None)
    fresh = labeling.progress(engine, ana)
    assert (p.decided, p.accepted, p.rejected, p.skipped) == (
        fresh.decided, fresh.accepted, fresh.rejected, fresh.skipped) == (5, 4, 0, 1)
    assert p.last_hour == 7 == fresh.last_hour  # undos are not decisions
    assert p.median_seconds == fresh.median_seconds == 3.5  # 3 1 9 4 2 7
    assert [sec for sec, _ in p.recent] == [sec for sec, _ in fresh.recent]


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


# --- decisions bound to the image on screen ---------------------------------------------------
def _rows(engine, annotator_id):
    with reading(engine) as s:
        return [(r.image_id, r.verdict.value, r.rule, tuple(r.tags), r.note) for r in s.scalars(
            select(Decision).where(Decision.annotator_id == annotator_id).order_by(Decision.id))]


def test_a_press_counts_only_for_the_image_at_that_position(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 3)
    pressed = decisions.Pressed("accept", seconds=1.2)
    with pytest.raises(DecisionError, match="not #2"):  # image 0 is not at position 1
        labeling.decide_pressed(engine, ana, q[0].image_id, 1, pressed)
    foreign = labeling.items(engine, users["luis"], 0, 10)
    other = next(i for i in foreign if i.image_id not in {x.image_id for x in
                                                          labeling.items(engine, ana, 0, 10)})
    with pytest.raises(DecisionError):
        labeling.decide_pressed(engine, ana, other.image_id, other.position, pressed)
    assert _rows(engine, ana) == []
    got = labeling.decide_pressed(engine, ana, q[1].image_id, 1, pressed)
    assert not got.duplicate and _rows(engine, ana) == [(q[1].image_id, "accept", None, (), None)]


def test_a_key_too_soon_after_the_image_appeared_records_nothing(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 1)
    for seconds in (0.004, 0.149, None):
        with pytest.raises(DecisionError, match="nothing was recorded"):
            labeling.decide_pressed(engine, ana, q[0].image_id, 0,
                                    decisions.Pressed("accept", seconds=seconds))
    assert _rows(engine, ana) == []
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, decisions.Pressed("accept", seconds=0.15))
    assert len(_rows(engine, ana)) == 1


def test_a_resent_press_is_recorded_once_and_a_note_is_kept(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 2)
    first = decisions.Pressed("reject", "too_young", ("two_faces",), "  blurry\n scan ", 0.8123)
    again = decisions.Pressed("reject", "too_young", ("two_faces",), "blurry scan", 0.8123)
    a = labeling.decide_pressed(engine, ana, q[0].image_id, 0, first)
    later = decisions.Pressed("accept", seconds=2.5)
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, later)  # changed her mind
    b = labeling.decide_pressed(engine, ana, q[0].image_id, 0, again)  # the first one, resent
    assert b == decisions.Recorded(a.id, True)
    assert a.before is None
    assert _rows(engine, ana) == [(q[0].image_id, "reject", "too_young", ("two_faces",), "blurry scan"),
                                  (q[0].image_id, "accept", None, (), None)]
    assert labeling.item_at(engine, ana, 0).verdict == "accept"  # the resend changed nothing
    # The same verdict pressed again later (another time on screen) is a new decision.
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, decisions.Pressed("accept", seconds=3.0))
    assert len(_rows(engine, ana)) == 3


def test_an_undo_withdraws_the_press_it_names_once(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 2)
    d = decisions.Pressed("accept", seconds=1.0)
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, d)
    u = labeling.undo_pressed(engine, ana, q[0].image_id, 0, d)
    assert not u.duplicate
    assert labeling.undo_pressed(engine, ana, q[0].image_id, 0, d) == decisions.Recorded(u.id, True)
    assert labeling.item_at(engine, ana, 0).verdict is None
    d2 = decisions.Pressed("skip", seconds=2.0)
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, d2)
    assert labeling.undo_pressed(engine, ana, q[0].image_id, 0, d).duplicate  # a late resend
    assert labeling.item_at(engine, ana, 0).verdict == "skip"
    labeling.decide_pressed(engine, ana, q[1].image_id, 1, d)
    labeling.decide_pressed(engine, ana, q[1].image_id, 1, d2)
    with pytest.raises(DecisionError, match="decided again"):
        labeling.undo_pressed(engine, ana, q[1].image_id, 1, d)
    with pytest.raises(DecisionError, match="not recorded"):
        labeling.undo_pressed(engine, ana, q[1].image_id, 1, decisions.Pressed("accept", seconds=9.0))
    assert [r[1] for r in _rows(engine, ana)] == ["accept", "undo", "skip", "accept", "skip"]


def test_an_inactive_annotators_press_is_refused(engine, users):
    from curate.users import set_active
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 1)
    set_active(engine, "ana", False)
    with pytest.raises(DecisionError, match="deactivated"):
        labeling.decide_pressed(engine, ana, q[0].image_id, 0, decisions.Pressed("accept", seconds=1.0))
    assert _rows(engine, ana) == []


def test_skipped_undecided_and_recent(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 10)
    for k, v in enumerate(["accept", "skip", "reject", "skip", "accept"]):
        labeling.decide(engine, ana, q[k], v, rule="too_young" if v == "reject" else None,
                        note="n" if k == 4 else None, seconds=1.0 + k)
    assert [i.position for i in labeling.skipped(engine, ana)] == [1, 3]
    assert [i.position for i in labeling.skipped(engine, ana, after=1)] == [3]
    assert labeling.undecided_after(engine, ana, 0, 3) == [5, 6, 7]
    rec = labeling.recent(engine, ana, 3)
    assert [(i.position, i.verdict) for i in rec] == [(2, "reject"), (3, "skip"), (4, "accept")]
    assert (rec[-1].note, rec[-1].seconds) == ("n", 5.0)
    assert [i.position for i in labeling.items_at(engine, ana, [4, 0, 99])] == [0, 4]
