"""Hostile panel messages (Label and Review): ids, positions and cursors past any integer
column (2^63 and more), seconds that are not finite numbers, fields of the wrong type. Each is
refused as a bad message or ignored — never an error page, never a row."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from db.engine import reading
from db.models import Adjudication, Decision
from tests.helpers.app import as_user, page
from tests.helpers.curate import decide

HUGE = [2**63, 2**64 + 5, 10**30, -(2**63) - 1, -1]
NOT_SECONDS = [float("nan"), float("inf"), -float("inf"), "nan", "inf", "1.0", -0.5, 1e308, True,
               [1.0], {"s": 1}]


def _panel(at) -> dict:
    [p] = [e for e in at.get("bidi_component") if e.proto.component_name == "rostro_label_panel"]
    return json.loads(p.proto.json)


def _count(engine, table) -> int:
    with reading(engine) as s:
        return s.scalar(select(func.count()).select_from(table))


def _hostile(item: dict) -> list[dict]:
    """Presses that must all be refused, each with a usable id (so each gets an answer)."""
    base = dict(kind="decide", image_id=item["image_id"], position=item["position"],
                verdict="accept", rule=None, tags=[], note=None, seconds=1.0,
                version=item.get("version", []))
    out = []
    for k, n in enumerate(HUGE):
        out.append(dict(base, cid=f"id{k}", image_id=n))
        out.append(dict(base, cid=f"pos{k}", position=n))
        out.append(dict(base, cid=f"ver{k}", version=[n]))
    for k, s in enumerate(NOT_SECONDS):
        out.append(dict(base, cid=f"sec{k}", seconds=s))
    out.append(dict(base, cid="tags", tags="deformity"))
    out.append(dict(base, cid="float-id", image_id=float(item["image_id"])))
    out.append(dict(base, cid="str-pos", position=str(item["position"])))
    return out


def _odd_fields() -> dict:
    """Fields around the outbox that must be ignored, not trusted."""
    return dict(cursor=2**63, have=[2**64, "full:99999999999999999999", None, {"x": 1}],
                zoom=2**63, jump={"seq": 2**80, "to": "first"}, skipped_open="yes")


def test_label_refuses_out_of_range_and_non_finite_presses(app_db, engine):
    at = page("curate/app/label.py", as_user(app_db, "ana"))
    at.run()
    item = next(i for i in _panel(at)["items"] if i["position"] == 0)
    presses = _hostile(item) + [dict(cid="x" * 65, kind="decide"), "not a press", 7]
    at.session_state["label_panel"] = {"msg": dict(_odd_fields(), outbox=presses)}
    at.run()
    assert not at.exception and not at.error
    data = _panel(at)
    refused = {c: o for c, o in data["outcomes"].items() if not o["ok"]}
    assert set(data["outcomes"]) == set(refused) == {p["cid"] for p in presses[:-3]}
    assert all("bad message" in o["msg"] for o in refused.values())
    assert _count(engine, Decision) == 0


def test_review_refuses_out_of_range_and_non_finite_verdicts(app_db, engine):
    ids = app_db
    from curate import labeling
    ana = {i.image_id: i for i in labeling.items(engine, ids["ana"], 0, 10)}
    luis = {i.image_id: i for i in labeling.items(engine, ids["luis"], 0, 10)}
    shared = sorted(set(ana) & set(luis))
    assert shared, "the seed shares an image between ana and luis"
    decide(engine, ids["ana"], ana[shared[0]], "accept", seconds=1.0)
    decide(engine, ids["luis"], luis[shared[0]], "reject", "too_young", seconds=1.0)
    at = page("curate/app/review.py", as_user(ids, "admin"))
    at.run()
    item = next(i for i in _panel(at)["items"] if i["position"] == 0)
    presses = _hostile(item)
    at.session_state["review_panel"] = {"msg": dict(_odd_fields(), outbox=presses)}
    at.run()
    assert not at.exception and not at.error
    data = _panel(at)
    assert {c for c, o in data["outcomes"].items() if not o["ok"]} == {p["cid"] for p in presses}
    assert all("bad message" in o["msg"] or "not the disagreement" in o["msg"]
               for o in data["outcomes"].values())
    assert _count(engine, Adjudication) == 0


@pytest.mark.parametrize("seconds", ["nan", "inf"])
def test_seconds_sent_as_text_never_pass_the_floor(app_db, engine, seconds):
    at = page("curate/app/label.py", as_user(app_db, "ana"))
    at.run()
    item = next(i for i in _panel(at)["items"] if i["position"] == 0)
    press = dict(cid="p1", kind="decide", image_id=item["image_id"], position=0,
                 verdict="accept", tags=[], seconds=seconds)
    at.session_state["label_panel"] = {"msg": {"cursor": 1, "outbox": [press]}}
    at.run()
    assert not _panel(at)["outcomes"]["p1"]["ok"]
    assert _count(engine, Decision) == 0
