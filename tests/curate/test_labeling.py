"""The Label page's domain logic: cursor, resume, undo, progress; presses bound to the image on
screen, recorded once by their press id."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curate import labeling, presses
from curate.decisions import DecisionError
from db.engine import reading
from db.models import Decision
from tests.helpers.curate import decide, seed, undo


@pytest.fixture
def users(engine):
    return seed(engine, images=20, per_annotator=10, overlap=0.2)


def test_resume_starts_at_first_undecided_and_skips_count(engine, users):
    ana = users["ana"]
    assert labeling.resume_position(engine, ana) == 0
    q = labeling.items(engine, ana, 0, 10)
    assert [i.position for i in q] == list(range(10))
    decide(engine, ana, q[0], "accept", tags=["two_faces"], seconds=1.5)
    decide(engine, ana, q[1], "skip")
    decide(engine, ana, q[3], "reject", rule="too_young")
    assert labeling.resume_position(engine, ana) == 2
    assert labeling.first_undecided(engine, ana, 2) == 4
    assert labeling.first_undecided(engine, ana, 9) is None
    item = _at(engine, ana, 0)
    assert (item.verdict, item.tags) == ("accept", ("two_faces",))
    assert _at(engine, ana, 3).rule == "too_young"


def _at(engine, annotator_id, position):
    return labeling.items_at(engine, annotator_id, [position])[0]


def test_undo_withdraws_the_decision_it_names_and_keeps_every_row(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 3)
    for it in q:
        decide(engine, ana, it, "accept")
    undo(engine, ana, q[2])
    undo(engine, ana, q[1])
    assert labeling.resume_position(engine, ana) == 1
    assert _at(engine, ana, 1).verdict is None
    decide(engine, ana, q[1], "reject", rule="looks_young")
    assert (_at(engine, ana, 1).verdict, _at(engine, ana, 1).rule) == ("reject", "looks_young")
    undo(engine, ana, q[1])
    undo(engine, ana, q[0])
    assert labeling.resume_position(engine, ana) == 0
    with reading(engine) as s:  # append-only: 4 decisions + 4 undos
        assert s.scalar(select(func.count()).select_from(Decision)) == 8


def test_a_rule_counts_only_on_a_reject(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 2)
    decide(engine, ana, q[0], "accept", rule="too_young")  # a rule picked, then accepted
    decide(engine, ana, q[1], "skip", rule="not_facing")
    assert [_at(engine, ana, p).rule for p in (0, 1)] == [None, None]


def test_annotator_cannot_decide_outside_own_queue(engine, users):
    luis_items = labeling.items(engine, users["luis"], 0, 10)
    ana_images = {i.image_id for i in labeling.items(engine, users["ana"], 0, 10)}
    foreign = next(i for i in luis_items if i.image_id not in ana_images)
    with pytest.raises(DecisionError):
        decide(engine, users["ana"], foreign, "accept")


def test_progress_counts_standing_verdicts_and_pace(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 10)
    decide(engine, ana, q[0], "accept", seconds=2.0)
    decide(engine, ana, q[1], "reject", rule="not_facing", seconds=4.0)
    decide(engine, ana, q[2], "skip", seconds=6.0)
    decide(engine, ana, q[3], "accept", seconds=8.0)
    undo(engine, ana, q[3])
    p = labeling.progress(engine, ana)
    assert (p.total, p.decided, p.accepted, p.rejected, p.skipped) == (10, 3, 1, 1, 1)
    assert p.per_hour is None  # 4 timed decisions: too few for a pace
    decide(engine, ana, q[4], "accept", seconds=5.0)
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
        decide(engine, ana, q[2 + k], "accept", seconds=sec)
        p = p.after(None, "accept", sec)
    assert p.median_seconds is None  # 4 timed decisions: no pace yet
    decide(engine, ana, q[0], "accept", seconds=2.0)
    p = p.after(None, "accept", 2.0)
    assert p.median_seconds == 3.0  # the pace follows each decision without a read
    decide(engine, ana, q[1], "skip")
    p = p.after(None, "skip")
    decide(engine, ana, q[0], "reject", rule="too_young", seconds=7.0)  # re-decided
    p = p.after("accept", "reject", 7.0)
    undo(engine, ana, q[0])
    p = p.after("reject", None)
    fresh = labeling.progress(engine, ana)
    assert (p.decided, p.accepted, p.rejected, p.skipped) == (
        fresh.decided, fresh.accepted, fresh.rejected, fresh.skipped) == (5, 4, 0, 1)
    assert p.last_hour == 7 == fresh.last_hour  # undos are not decisions
    assert p.median_seconds == fresh.median_seconds == 3.5  # 3 1 9 4 2 7
    assert [sec for sec, _ in p.recent] == [sec for sec, _ in fresh.recent]


def test_format_duration():
    assert labeling.format_duration(None) == "—"
    assert labeling.format_duration(42) == "42 s"
    assert labeling.format_duration(125) == "2 min"
    assert labeling.format_duration(3 * 3600 + 5 * 60) == "3 h 05 min"


# --- decisions bound to the image on screen ---------------------------------------------------
def _rows(engine, annotator_id):
    with reading(engine) as s:
        return [(r.image_id, r.verdict.value, r.rule, tuple(r.tags), r.note) for r in s.scalars(
            select(Decision).where(Decision.annotator_id == annotator_id).order_by(Decision.id))]


def test_a_press_counts_only_for_the_image_at_that_position(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 3)
    pressed = presses.Pressed("accept", seconds=1.2)
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
                                    presses.Pressed("accept", seconds=seconds))
    assert _rows(engine, ana) == []
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, presses.Pressed("accept", seconds=0.15))
    assert len(_rows(engine, ana)) == 1


def test_a_resend_is_known_by_its_press_id_alone_and_a_note_is_kept(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 2)
    first = presses.Pressed("reject", "too_young", ("two_faces",), "  blurry\n scan ", 0.8123,
                              press_id="press-0001")
    a = labeling.decide_pressed(engine, ana, q[0].image_id, 0, first)
    later = presses.Pressed("accept", seconds=2.5, press_id="press-0002")
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, later)  # changed her mind
    b = labeling.decide_pressed(engine, ana, q[0].image_id, 0, first)  # the first one, resent
    assert b == presses.Recorded(a.id, True)
    assert a.before is None
    assert _rows(engine, ana) == [(q[0].image_id, "reject", "too_young", ("two_faces",), "blurry scan"),
                                  (q[0].image_id, "accept", None, (), None)]
    assert _at(engine, ana, 0).verdict == "accept"  # the resend changed nothing
    # Equal content is never a resend: the same verdict, the same milliseconds, a new press.
    got = labeling.decide_pressed(engine, ana, q[0].image_id, 0, later._replace(press_id="press-0003"))
    assert not got.duplicate and len(_rows(engine, ana)) == 3


def test_accept_undo_accept_with_equal_milliseconds_stands_accepted(engine, users):
    # An accept (1.234 s), its undo, and an accept of the same 1.234 s: three rows, accepted.
    ana = users["ana"]
    it = labeling.items(engine, ana, 0, 1)[0]
    press = presses.Pressed("accept", seconds=1.234, press_id="first-accept")
    labeling.decide_pressed(engine, ana, it.image_id, 0, press)
    labeling.undo_pressed(engine, ana, it.image_id, 0, "first-accept", "the-undo-01")
    again = labeling.decide_pressed(engine, ana, it.image_id, 0,
                                    press._replace(press_id="second-accept"))
    assert not again.duplicate
    assert [r[1] for r in _rows(engine, ana)] == ["accept", "undo", "accept"]
    assert _at(engine, ana, 0).verdict == "accept"


def test_a_press_id_reused_on_another_image_records_nothing(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 2)
    press = presses.Pressed("accept", seconds=1.0, press_id="same-id-01")
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, press)
    with pytest.raises(DecisionError, match="another image"):
        labeling.decide_pressed(engine, ana, q[1].image_id, 1, press)
    for bad in ("", "x" * 65, "has space!", 12345678):
        with pytest.raises(DecisionError, match="press id"):
            labeling.decide_pressed(engine, ana, q[1].image_id, 1, press._replace(press_id=bad))
    assert len(_rows(engine, ana)) == 1


def test_a_press_on_an_image_decided_elsewhere_since_is_not_recorded_silently(engine, users):
    ana = users["ana"]
    it = labeling.items(engine, ana, 0, 1)[0]
    assert it.row == ""  # nothing decided yet
    # Tab 2 accepts it; tab 1 still believes it undecided and presses reject.
    labeling.decide_pressed(engine, ana, it.image_id, 0,
                            presses.Pressed("accept", seconds=1.0, press_id="tab2-press", seen=""))
    stale = presses.Pressed("reject", "too_young", seconds=1.0, press_id="tab1-press", seen="")
    with pytest.raises(presses.Replaced) as got:
        labeling.decide_pressed(engine, ana, it.image_id, 0, stale)
    assert got.value.standing == dict(row="tab2-press", verdict="accept", rule=None, tags=[])
    assert _at(engine, ana, 0).verdict == "accept"
    # The second press, now knowing what stands, replaces it.
    labeling.decide_pressed(engine, ana, it.image_id, 0,
                            stale._replace(press_id="tab1-again", seen="tab2-press"))
    assert (_at(engine, ana, 0).verdict, _at(engine, ana, 0).row) == ("reject", "tab1-again")


def test_seconds_must_be_finite_and_in_range(engine, users):
    ana = users["ana"]
    it = labeling.items(engine, ana, 0, 1)[0]
    for bad in (float("nan"), float("inf"), -float("inf"), -1.0, 1e300, "0.5", True):
        with pytest.raises(DecisionError, match="seconds must be"):
            labeling.decide_pressed(engine, ana, it.image_id, 0,
                                    presses.Pressed("accept", seconds=bad, press_id="bad-seconds"))
    assert _rows(engine, ana) == []


def test_an_undo_withdraws_the_press_it_names_once(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 2)
    d = presses.Pressed("accept", seconds=1.0, press_id="decide-0001")
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, d)
    u = labeling.undo_pressed(engine, ana, q[0].image_id, 0, "decide-0001", "undo-00001")
    assert not u.duplicate
    assert labeling.undo_pressed(engine, ana, q[0].image_id, 0, "decide-0001",
                                 "undo-00001") == presses.Recorded(u.id, True)
    assert _at(engine, ana, 0).verdict is None
    with pytest.raises(DecisionError, match="not recorded"):  # a second undo of the same
        labeling.undo_pressed(engine, ana, q[0].image_id, 0, "undo-00001", "undo-00002")
    d2 = presses.Pressed("skip", seconds=2.0, press_id="decide-0002")
    labeling.decide_pressed(engine, ana, q[0].image_id, 0, d2)
    assert labeling.undo_pressed(engine, ana, q[0].image_id, 0, "decide-0001",
                                 "undo-00001").duplicate  # a late resend
    assert _at(engine, ana, 0).verdict == "skip"
    labeling.decide_pressed(engine, ana, q[1].image_id, 1, d._replace(press_id="decide-0003"))
    labeling.decide_pressed(engine, ana, q[1].image_id, 1, d2._replace(press_id="decide-0004"))
    with pytest.raises(DecisionError, match="decided again"):
        labeling.undo_pressed(engine, ana, q[1].image_id, 1, "decide-0003", "undo-00003")
    with pytest.raises(DecisionError, match="not recorded"):
        labeling.undo_pressed(engine, ana, q[1].image_id, 1, "never-pressed", "undo-00004")
    assert [r[1] for r in _rows(engine, ana)] == ["accept", "undo", "skip", "accept", "skip"]


def test_an_inactive_annotators_press_is_refused(engine, users):
    from curate.users import set_active
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 1)
    set_active(engine, "ana", False)
    with pytest.raises(DecisionError, match="deactivated"):
        labeling.decide_pressed(engine, ana, q[0].image_id, 0, presses.Pressed("accept", seconds=1.0))
    assert _rows(engine, ana) == []


def test_skipped_undecided_and_recent(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 10)
    for k, v in enumerate(["accept", "skip", "reject", "skip", "accept"]):
        decide(engine, ana, q[k], v, rule="too_young" if v == "reject" else None,
               note="n" if k == 4 else None, seconds=1.0 + k)
    assert [i.position for i in labeling.skipped(engine, ana)] == [1, 3]
    assert [i.position for i in labeling.skipped(engine, ana, after=1)] == [3]
    assert labeling.undecided_after(engine, ana, 0, 3) == [5, 6, 7]
    rec = labeling.recent(engine, ana, 3)
    assert [(i.position, i.verdict) for i in rec] == [(2, "reject"), (3, "skip"), (4, "accept")]
    assert (rec[-1].note, rec[-1].seconds) == ("n", 5.0)
    assert [i.position for i in labeling.items_at(engine, ana, [4, 0, 99])] == [0, 4]


def test_a_grid_pages_presses_are_recorded_together_each_checked(engine, users):
    ana = users["ana"]
    q = labeling.items(engine, ana, 0, 5)
    tile = lambda k, **kw: (q[k].image_id, q[k].position,  # noqa: E731
                            presses.Pressed("accept", seconds=0.1, press_id=f"tile-{k}",
                                            via="grid", seen="", **kw))
    labeling.decide_pressed(engine, ana, q[3].image_id, 3,  # decided in another tab meanwhile
                            presses.Pressed("reject", "too_young", seconds=1.0, press_id="other-tab"))
    got = labeling.decide_pressed_together(engine, ana, [
        tile(0), tile(1), (q[2].image_id, 4, tile(2)[2]), tile(3), tile(4)])
    assert [type(g).__name__ for g in got] == ["Recorded", "Recorded", "DecisionError",
                                               "Replaced", "Recorded"]
    assert "not #5" in str(got[2]) and got[3].standing["row"] == "other-tab"
    again = labeling.decide_pressed_together(engine, ana, [tile(0), tile(4)])  # a resend
    assert [g.duplicate for g in again] == [True, True]
    assert [r[1] for r in _rows(engine, ana)] == ["reject", "accept", "accept", "accept"]
    with pytest.raises(DecisionError, match="at least 100 ms"):  # a tile keeps the grid floor
        labeling.decide_pressed(engine, ana, q[2].image_id, 2, presses.Pressed(
            "accept", seconds=0.05, press_id="too-soon", via="grid"))
