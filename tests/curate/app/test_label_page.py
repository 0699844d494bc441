"""The Label page through AppTest: the decision panel's messages (as its browser side sends
them) applied to the database, and what the panel is told to show."""
from __future__ import annotations

import itertools
import json

from sqlalchemy import select

from db.engine import reading
from db.models import Decision
from tests.helpers.app import as_user, page

_ids = itertools.count()


def _rows(engine, annotator_id):
    with reading(engine) as s:
        return [(d.verdict.value, d.rule, d.tags, d.note) for d in s.scalars(
            select(Decision).where(Decision.annotator_id == annotator_id).order_by(Decision.id))]


def _panel(at) -> dict:
    [panel] = [e for e in at.get("bidi_component") if e.proto.component_name == "rostro_label_panel"]
    return json.loads(panel.proto.json)


def _label(users, name="ana"):
    at = page("curate/app/label.py", as_user(users, name))
    at.run()
    assert not at.exception
    return at


def _send(at, **msg) -> dict:
    """The browser side's message (its component state), then the panel's new data."""
    at.session_state["label_panel"] = {"msg": msg}
    at.run()
    assert not at.exception
    return _panel(at)


def _item(data, position) -> dict:
    return next(i for i in data["items"] if i["position"] == position)


def _press(item, verdict, rule=None, tags=(), note=None, seconds=1.0) -> dict:
    return dict(cid=f"c{next(_ids)}", kind="decide", image_id=item["image_id"],
                position=item["position"], verdict=verdict, rule=rule, tags=list(tags), note=note,
                seconds=seconds)


def _undo(press) -> dict:
    return dict(cid=f"c{next(_ids)}", kind="undo", image_id=press["image_id"],
                position=press["position"], target=press["cid"])


def test_accept_with_tags_and_a_note_then_reject_then_undo(app_db, engine):
    at = _label(app_db)
    data = _panel(at)
    assert data["start"] == 0 and data["progress"]["text"] == "0 of 10 decided · 0 accepted"
    a = _press(_item(data, 0), "accept", tags=["two_faces"], note="hat, half the face")
    r = _press(_item(data, 1), "reject", rule="not_facing")
    data = _send(at, cursor=2, outbox=[a, r])
    assert data["outcomes"] == {a["cid"]: {"ok": True, "dup": False, "row": a["cid"]},
                                r["cid"]: {"ok": True, "dup": False, "row": r["cid"]}}
    u = _undo(r)
    data = _send(at, cursor=1, outbox=[u])
    assert data["outcomes"][u["cid"]]["ok"]
    assert _item(data, 1)["verdict"] is None and _item(data, 0)["note"] == "hat, half the face"
    assert _rows(engine, app_db["ana"]) == [("accept", None, ["two_faces"], "hat, half the face"),
                                            ("reject", "not_facing", [], None),
                                            ("undo", None, [], None)]
    assert data["progress"]["text"] == "1 of 10 decided · 1 accepted"


def test_a_resent_outbox_is_recorded_once(app_db, engine):
    at = _label(app_db)
    a = _press(_item(_panel(at), 0), "accept")
    _send(at, cursor=1, outbox=[a])
    data = _send(at, cursor=1, outbox=[a], nonce=1)  # the browser had not heard back
    assert data["outcomes"][a["cid"]]["ok"]
    fresh = _label(app_db)  # a reload (or a server restart) resending it from sessionStorage
    assert _send(fresh, cursor=1, outbox=[a])["outcomes"][a["cid"]] == {"ok": True, "dup": True,
                                                                         "row": a["cid"]}
    assert len(_rows(engine, app_db["ana"])) == 1


def test_a_press_on_an_image_not_at_that_position_records_nothing_and_says_so(app_db, engine):
    at = _label(app_db)
    data = _panel(at)
    wrong = dict(_press(_item(data, 0), "accept"), position=1)
    too_soon = _press(_item(data, 1), "accept", seconds=0.04)
    data = _send(at, cursor=1, outbox=[wrong, too_soon])
    assert not data["outcomes"][wrong["cid"]]["ok"]
    assert "not #2" in data["outcomes"][wrong["cid"]]["msg"]
    assert "40 ms" in data["outcomes"][too_soon["cid"]]["msg"]
    luis = _label(app_db, "luis")  # one annotator's press never lands in another's queue
    theirs = _press(_item(_panel(at), 2), "accept")
    data = _send(luis, cursor=0, outbox=[theirs])
    assert not data["outcomes"][theirs["cid"]]["ok"]
    assert _rows(engine, app_db["ana"]) == [] and _rows(engine, app_db["luis"]) == []


def test_skips_count_as_not_finished_and_are_listed(app_db, engine):
    at = _label(app_db)
    data = _panel(at)
    presses = [_press(_item(data, 0), "skip")]
    presses += [_press(i, "accept") for i in data["items"] if i["position"] > 0]
    data = _send(at, cursor=len(presses), outbox=presses)
    rest = [_press(i, "accept") for i in data["items"] if i["verdict"] is None]
    data = _send(at, cursor=10, outbox=rest, skipped_open=True, jump={"seq": 1, "to": "skipped"})
    assert data["progress"]["decided"] == 10 and data["progress"]["skipped"] == 1
    assert not data["progress"]["finished"]  # a skip is not an answer
    assert [s[0] for s in data["skipped"]] == [0]
    assert data["moved"] == {"seq": 1, "position": 0}
    fresh = _label(app_db)  # resume: every image has a standing verdict, so the end
    assert _panel(fresh)["start"] == 10


def test_resume_at_the_first_undecided_and_the_strip_is_read_back(app_db, engine):
    at = _label(app_db)
    data = _panel(at)
    _send(at, cursor=2, outbox=[_press(_item(data, 0), "accept"),
                                _press(_item(data, 1), "reject", rule="too_young")])
    fresh = _label(app_db)
    data = _send(fresh, cursor=None, seed=True)
    assert data["start"] == 2
    assert [(r["position"], r["verdict"]) for r in data["recent"]] == [(0, "accept"), (1, "reject")]


def test_pictures_are_sent_once_and_a_missing_file_says_so(app_db):
    at = _label(app_db)  # the seeded images have no files
    data = _panel(at)
    first = _item(data, 0)
    assert "cannot be shown" in first["error"]
    data = _send(at, cursor=0, have=[i["image_id"] for i in data["items"]])
    assert "error" not in _item(data, 0) and "src" not in _item(data, 0)


def test_pace_shows_from_the_fifth_decision(app_db):
    at = _label(app_db)
    data = _panel(at)
    items = sorted(data["items"], key=lambda i: i["position"])
    data = _send(at, cursor=4, outbox=[_press(i, "accept", seconds=2.0) for i in items[:4]])
    assert data["progress"]["pace"] == ""
    data = _send(at, cursor=5, outbox=[_press(_item(data, 4), "accept", seconds=2.0)])
    assert data["progress"]["pace"].startswith("1,800 per hour")


def test_a_busy_database_keeps_the_press_and_the_resend_records_it(app_db, engine, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from curate import presses
    from db import engine as db_engine
    real = presses.record_pressed
    busy = [True]

    def flaky(*args, **kwargs):
        if busy[0]:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(presses, "record_pressed", flaky)
    monkeypatch.setattr(db_engine, "BUSY_BACKOFF_S", 0.001)
    at = _label(app_db)
    a = _press(_item(_panel(at), 0), "accept")
    data = _send(at, cursor=1, outbox=[a])
    assert a["cid"] not in data["outcomes"]  # not answered: the browser keeps it and resends
    assert data["flash"].startswith("The database is busy")
    busy[0] = False
    data = _send(at, cursor=1, outbox=[a], nonce=1)
    assert data["outcomes"][a["cid"]]["ok"] and not data["flash"]
    assert _rows(engine, app_db["ana"]) == [("accept", None, [], None)]


def test_a_deactivated_annotators_open_tab_records_nothing(app_db, engine):
    from curate import users
    at = _label(app_db)
    a = _press(_item(_panel(at), 0), "accept")
    users.set_active(engine, "ana", False)
    at.session_state["label_panel"] = {"msg": {"cursor": 1, "outbox": [a]}}
    at.run()
    assert any("session has ended" in w.value for w in at.warning)
    assert _rows(engine, app_db["ana"]) == []


def test_a_note_shows_in_review_and_in_curate_labels(app_db, engine):
    from curate.export.labels import labels_frame
    ana_at, luis_at = _label(app_db, "ana"), _label(app_db, "luis")
    ana_data, luis_data = _send(ana_at, cursor=0, have=[]), _send(luis_at, cursor=0, have=[])
    shared = {i["image_id"] for i in ana_data["items"] if i["overlap"]}
    theirs = [i for i in luis_data["items"] if i["image_id"] in shared]
    assert theirs, "the seed shares an overlap image near the start of both queues"
    mine = next(i for i in ana_data["items"] if i["image_id"] == theirs[0]["image_id"])
    _send(ana_at, cursor=0, outbox=[_press(mine, "accept", note="wig, but old hands")])
    _send(luis_at, cursor=0, outbox=[_press(theirs[0], "reject", rule="too_young")])
    review = page("curate/app/review.py", as_user(app_db, "admin"))
    review.run()
    [panel] = [e for e in review.get("bidi_component") if e.proto.component_name == "rostro_label_panel"]
    opinions = [o for i in json.loads(panel.proto.json)["items"] for o in i["opinions"]]
    assert "wig, but old hands" in [o["note"] for o in opinions]  # drawn as "note: …"
    assert "wig, but old hands" in set(labels_frame(engine)["note"].dropna())


def test_a_second_tab_learns_of_the_firsts_decisions_and_is_not_silently_overruled(app_db, engine):
    tab1, tab2 = _label(app_db), _label(app_db)
    one = _panel(tab1)
    data = _send(tab2, cursor=0, have=[])
    presses = [_press(_item(data, p), "accept") for p in (0, 1, 2)]
    _send(tab2, cursor=3, outbox=presses)
    # Tab 1's next exchange (a key, or its idle poll) carries what stands and the counts.
    one = _send(tab1, cursor=0, nonce=1)
    assert one["progress"]["decided"] == 3
    assert [_item(one, p)["verdict"] for p in (0, 1)] == ["accept"] * 2
    # A press from what tab 1 had seen before it heard (undecided) is refused with what stands.
    stale = dict(_press(_item(data, 1), "reject", rule="too_young"), seen="")
    one = _send(tab1, cursor=2, outbox=[stale])
    out = one["outcomes"][stale["cid"]]
    assert not out["ok"] and "decided elsewhere" in out["msg"]
    assert out["standing"]["verdict"] == "accept" and out["standing"]["row"] == presses[1]["cid"]
    again = dict(_press(_item(one, 1), "reject", rule="too_young"), seen=out["standing"]["row"])
    one = _send(tab1, cursor=2, outbox=[again])
    assert one["outcomes"][again["cid"]]["ok"]
    assert _rows(engine, app_db["ana"])[-1] == ("reject", "too_young", [], None)
    assert _send(tab2, cursor=3, nonce=2)["progress"]["text"] == "3 of 10 decided · 2 accepted"


def test_a_grid_page_is_sent_recorded_together_and_the_next_one_read_ahead(app_db, engine):
    at = _label(app_db)
    data = _send(at, cursor=0, grid=True)
    tiles = data["grid"]["items"]
    assert len(tiles) == 10 and data["grid"]["look_ms_per_tile"] == 100  # ana's whole queue
    presses = [dict(_press(t, "accept", seconds=0.1), via="grid", seen=t["row"]) for t in tiles[:4]]
    presses[2]["seconds"] = float("nan")  # a bad message among them
    shown = [t["position"] for t in tiles[:6]]
    data = _send(at, cursor=0, outbox=presses, grid=True, grid_not=shown)
    assert [data["outcomes"][p["cid"]]["ok"] for p in presses] == [True, True, False, True]
    assert "bad message" in data["outcomes"][presses[2]["cid"]]["msg"]
    assert [r[0] for r in _rows(engine, app_db["ana"])] == ["accept"] * 3
    ahead = [t["position"] for t in data["grid"]["items"]]
    assert not set(ahead) & set(shown) and len(ahead) == 4  # not the page on screen
    from curate.export.labels import labels_frame
    assert list(labels_frame(engine)["via"]) == ["grid"] * 3
