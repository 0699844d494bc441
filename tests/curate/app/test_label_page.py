"""The Label page through AppTest: a decision, tags, undo, skip, browsing, resume, bad images."""
from __future__ import annotations

from sqlalchemy import select

from db.engine import reading
from db.models import Decision
from tests.curate.app.conftest import as_user, page


def _rows(engine, annotator_id):
    with reading(engine) as s:
        return [(d.verdict.value, d.rule, d.tags) for d in s.scalars(
            select(Decision).where(Decision.annotator_id == annotator_id).order_by(Decision.id))]


def _label(users, name="ana"):
    at = page("curate/app/label.py", as_user(users, name))
    at.run()
    assert not at.exception
    return at


def test_accept_with_tags_then_reject_then_undo(app_db, engine):
    ana = app_db["ana"]
    at = _label(app_db)
    assert at.session_state["label_pos"] == 0
    at.button(key="tag_two_faces").click().run()
    at.button(key="tag_deformity").click().run()
    at.button(key="tag_deformity").click().run()  # toggled off again
    at.button(key="accept").click().run()
    assert at.session_state["label_pos"] == 1
    at.button(key="reject_not_facing").click().run()
    assert at.session_state["label_pos"] == 2
    at.button(key="undo").click().run()
    assert at.session_state["label_pos"] == 1
    assert not at.exception
    assert _rows(engine, ana) == [("accept", None, ["two_faces"]),
                                  ("reject", "not_facing", []), ("undo", None, [])]
    assert "1 of 10" in at.get("progress")[0].proto.text


def test_skip_counts_as_decided_and_resume_on_a_new_session(app_db, engine):
    at = _label(app_db)
    at.button(key="accept").click().run()
    at.button(key="skip").click().run()
    at.button(key="accept").click().run()
    at.button(key="undo").click().run()  # position 2 is undecided again
    fresh = _label(app_db)  # a restart, or another computer
    assert fresh.session_state["label_pos"] == 2
    assert "2 of 10" in fresh.get("progress")[0].proto.text
    assert [r[0] for r in _rows(engine, app_db["ana"])] == ["accept", "skip", "accept", "undo"]


def test_browsing_back_shows_the_standing_decision_and_redeciding_appends(app_db, engine):
    at = _label(app_db)
    at.button(key="reject_too_young").click().run()
    at.button(key="back").click().run()
    assert at.session_state["label_pos"] == 0
    assert any("rejected it (too young)" in c.value for c in at.caption)
    at.button(key="accept").click().run()
    assert at.session_state["label_pos"] == 1
    assert [r[0] for r in _rows(engine, app_db["ana"])] == ["reject", "accept"]


def test_missing_image_file_shows_a_message_and_still_decides(app_db, engine):
    at = _label(app_db)  # the seeded images have no files
    assert any("cannot be shown" in e.value for e in at.error)
    at.button(key="accept").click().run()
    assert _rows(engine, app_db["ana"]) == [("accept", None, [])]


def test_undo_with_nothing_to_undo_says_so(app_db):
    at = _label(app_db)
    at.button(key="undo").click().run()
    assert [w.value for w in at.warning] == ["Nothing to undo."]
    assert at.session_state["label_pos"] == 0


def test_annotators_write_only_their_own_decisions(app_db, engine):
    _label(app_db, "luis").button(key="accept").click().run()
    assert _rows(engine, app_db["ana"]) == []
    assert len(_rows(engine, app_db["luis"])) == 1


def test_finished_queue_says_so(app_db):
    at = _label(app_db)
    for _ in range(10):
        at.button(key="accept").click().run()
    assert any("Queue finished" in s.value for s in at.success)
    assert at.button(key="accept").disabled


def test_a_busy_database_is_retried_and_never_shown_raw(app_db, engine, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from curate import decisions
    from db import engine as db_engine
    real = decisions.record_decision
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:  # busy twice, then fine: the retry hides it
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        if len(calls) >= 10:  # busy for good
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(decisions, "record_decision", flaky)
    monkeypatch.setattr(db_engine, "BUSY_BACKOFF_S", 0.001)
    at = _label(app_db)
    at.button(key="accept").click().run()
    assert not at.warning and at.session_state["label_pos"] == 1
    assert _rows(engine, app_db["ana"]) == [("accept", None, [])]

    calls.extend([1] * 10)
    at.button(key="accept").click().run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "The database is busy; nothing was recorded. Press the key again."]
    assert at.session_state["label_pos"] == 1  # still on the same image
