"""Review, Dashboard and Admin pages through AppTest, logged in as the admin."""
from __future__ import annotations

import itertools
import json
import re

import pytest
from sqlalchemy import select

from curate import synth
from curate.assign import queue_lengths
from curate.users import list_users
from db.engine import reading
from db.models import Adjudication, Image
from tests.helpers.app import admin_page, as_user, page
from tests.helpers.curate import unescaped
from tests.helpers.html_charts import charts, figures, tables, text

_ids = itertools.count()


def _review(at) -> dict:
    [panel] = [e for e in at.get("bidi_component") if e.proto.component_name == "rostro_label_panel"]
    return json.loads(panel.proto.json)


def _review_send(at, **msg) -> dict:
    """The Review panel's browser message (as panel.js sends it), then the panel's new data."""
    at.session_state["review_panel"] = {"msg": msg}
    at.run()
    assert not at.exception, at.exception
    return _review(at)


def _verdict(item, verdict, rule=None, tags=(), note=None, version=None) -> dict:
    return dict(cid=f"r{next(_ids)}", kind="decide", image_id=item["image_id"],
                position=item["position"], verdict=verdict, rule=rule, tags=list(tags), note=note,
                seconds=1.0, version=item["version"] if version is None else version)


def _adjudications(engine):
    with reading(engine) as s:
        return [(a.image_id, a.admin_id, a.verdict.value, a.rule, a.tags, a.note)
                for a in s.scalars(select(Adjudication).order_by(Adjudication.id))]


def test_review_records_an_adjudication(engine, db_url, tmp_path, monkeypatch):
    at, users, shared = admin_page("curate/app/review.py", engine, db_url, tmp_path, monkeypatch)
    data = _review(at)
    assert "1 open disagreement(s)" in data["progress"]["text"]
    assert data["mode"] == "review" and data["progress"]["total"] == 1
    [item] = data["items"]
    assert [o["annotator"] for o in item["opinions"]] == ["ana", "luis"]  # side by side
    assert item["opinions"][0]["tags"] == ["two_faces"] and item["verdict"] is None
    press = _verdict(item, "reject", "not_facing", ["two_faces"], "looks away")
    data = _review_send(at, cursor=0, have=[], outbox=[press])
    assert data["outcomes"][press["cid"]] == {"ok": True, "dup": False, "row": press["cid"]}
    rows = _adjudications(engine)
    assert rows == [(shared[1], users["admin"], "reject", "not_facing", ["two_faces"], "looks away")]
    assert data["items"][0]["verdict"] == "reject"  # kept in place, shown as settled
    assert "0 open disagreement(s) · 1 settled" in _review(at)["progress"]["text"]
    fresh = page("curate/app/review.py", as_user(users, "admin")).run()
    assert not fresh.exception
    assert _review(fresh)["progress"]["empty_text"] == "No disagreements to settle."
    assert _review(fresh)["progress"]["total"] == 0
    at.toggle(key="review_settled").set_value(True).run()  # right after recording: no crash
    assert not at.exception, at.exception
    [item] = _review(at)["items"]
    assert (item["verdict"], item["settled_by"]) == ("reject", "admin")


def test_review_refuses_a_verdict_for_an_image_not_on_screen(engine, db_url, tmp_path, monkeypatch):
    at, users, shared = admin_page("curate/app/review.py", engine, db_url, tmp_path, monkeypatch)
    [item] = _review(at)["items"]
    other = dict(item, image_id=shared[0])  # an image the admin was not shown as a disagreement
    stale = _verdict(item, "accept", version=item["version"][:1])  # decisions changed since
    data = _review_send(at, cursor=0, have=[], outbox=[_verdict(other, "accept"), stale])
    outcomes = list(data["outcomes"].values())
    assert [o["ok"] for o in outcomes] == [False, False]
    assert all("not the disagreement you had on screen" in o["msg"] for o in outcomes)
    assert _adjudications(engine) == []


def test_review_undoes_the_last_verdict_and_a_resend_counts_once(engine, db_url, tmp_path,
                                                                 monkeypatch):
    at, users, shared = admin_page("curate/app/review.py", engine, db_url, tmp_path, monkeypatch)
    [item] = _review(at)["items"]
    press = _verdict(item, "accept", tags=["deformity"])
    _review_send(at, cursor=0, have=[], outbox=[press])
    reloaded = page("curate/app/review.py", as_user(users, "admin")).run()  # a reload resends it
    data = _review_send(reloaded, cursor=0, have=[], outbox=[press])
    assert data["outcomes"][press["cid"]] == {"ok": True, "dup": True, "row": press["cid"]}
    undo = dict(cid=f"r{next(_ids)}", kind="undo", image_id=item["image_id"], position=0,
                target=press["cid"])
    data = _review_send(at, cursor=0, have=[], outbox=[undo])
    assert data["outcomes"][undo["cid"]]["ok"] and data["items"][0]["verdict"] is None  # open again
    assert [r[2] for r in _adjudications(engine)] == ["accept", "undo"]
    data = _review_send(reloaded, cursor=0, have=[], outbox=[undo])
    assert data["outcomes"][undo["cid"]]["dup"]
    assert [r[2] for r in _adjudications(engine)] == ["accept", "undo"]
    assert "1 open disagreement(s)" in _review(at)["progress"]["text"]
    # The same verdict under a new press id is a new verdict, never taken for a resend.
    data = _review_send(at, cursor=0, have=[], outbox=[dict(press, cid="same-content")])
    assert data["outcomes"]["same-content"] == {"ok": True, "dup": False, "row": "same-content"}
    assert [r[2] for r in _adjudications(engine)] == ["accept", "undo", "accept"]


def _dashboard_html(at) -> str:
    """Every chart and table the Dashboard page drew (st.html bodies), in order."""
    return "".join(e.proto.body for e in at.get("html"))


def test_dashboard_shows_the_known_figures(engine, db_url, tmp_path, monkeypatch):
    at, *_ = admin_page("curate/app/dashboard.py", engine, db_url, tmp_path, monkeypatch)
    shown = figures(_dashboard_html(at))
    assert shown["Accepted so far (final verdict)"] == ("2", "target 2,500 for old_celebA")
    assert shown["Decided (all queues)"][0] == "10"
    assert shown["Fleiss' kappa (overlap)"] == ("0.47", "4 images")
    assert shown["Open disagreements"][0] == "1"
    assert "2 of 2,500 accepted for old_celebA" in text(_dashboard_html(at))
    people, pairs, *_ = tables(_dashboard_html(at))
    assert people.header[:2] == ["annotator", "queue"] and people.header[-2] == "accept rate %"
    assert [r[0] for r in people.rows] == ["ana", "luis"]
    assert [r[-2] for r in people.rows] == ["60.0", "25.0"]
    assert pairs.header == ["Pair", "Cohen's kappa", "Images both decided"]
    assert pairs.rows == [["ana – luis", "0.50", "4"]]
    # The charts show the same figures: ana accepts 3 of 5, luis 1 of 4; kappa 0.50 on 4.
    drawn = {c.title: c for c in charts(_dashboard_html(at))}
    rate = drawn["Accept rate per annotator"]
    assert rate.row("ana").bars == [(0.0, 60.0)] and rate.row("ana").label == "60.0 %"
    assert rate.row("luis").bars == [(0.0, 25.0)] and rate.row("luis").label == "25.0 %"
    cohen = drawn["Cohen's kappa per pair of annotators"].row("ana – luis")
    assert cohen.bars == [(50.0, 25.0)] and cohen.label == "0.50 (n=4)" and cohen.label_at == 75.0
    fleiss = drawn["Fleiss' kappa per overlap group"].row("ana + luis")
    assert fleiss.label == "0.47 (n=4)" and fleiss.bars == [(50.0, pytest.approx(23.33, abs=0.01))]
    rules = drawn["Rejections per failed rule"]
    assert [r.label for r in rules.rows] == ["3", "1", "1"]  # too young, not facing, looks young
    tags = drawn["Tags used"]
    assert tags.row("two faces").label == "5" and tags.row("deformity").label == "1"
    progress = drawn["Queue progress: accepted, rejected, skipped, left"].row("ana")
    assert progress.said == "60 % done (3 accepted, 2 rejected, 1 skipped, 4 left)"
    assert not at.get("vega_lite_chart") and not at.get("arrow_data_frame")  # no chart JS to load


def test_every_dashboard_chart_is_titled_and_readable(engine, db_url, tmp_path, monkeypatch):
    at, *_ = admin_page("curate/app/dashboard.py", engine, db_url, tmp_path, monkeypatch)
    drawn = charts(_dashboard_html(at))
    assert [c.title for c in drawn] == [
        "Queue progress: accepted, rejected, skipped, left", "Accept rate per annotator",
        "Pace: median seconds per decision", "Cohen's kappa per pair of annotators",
        "Fleiss' kappa per overlap group", "Rejections per failed rule", "Tags used",
        "Looks per accepted face, per round"]
    for chart in drawn:
        # Both axes say what they show, the value axis has its ticks, every bar its label.
        assert len(chart.axis_titles) == 2 and all(chart.axis_titles), chart.title
        assert len(chart.ticks) >= 2 and chart.rows, chart.title
        assert all(r.category and r.label for r in chart.rows), chart.title
        for row in chart.rows:  # the label starts where the bar ends (or at 0), not on it
            end = max([x + w for x, w in row.bars if x + w > 50 or chart.ticks[0][1] == 0.0]
                      or [0.0])
            assert row.label_at >= end - 1e-6, (chart.title, row)
    for chart in drawn[3:5]:  # kappa: the fixed scale −1…1 with a line at 0 in every row
        assert [t for t, _ in chart.ticks] == ["\u22121.0", "\u22120.5", "0.0", "0.5", "1.0"]
        assert chart.zero_lines == len(chart.rows)
    progress = drawn[0]
    assert progress.legend == ["accepted", "rejected", "skipped", "left"]
    ana = progress.row("ana")  # stacked left to right in that order: accepted first, left last
    assert [t.split(" ", 2)[2] for t in ana.tooltips] == ["accepted", "rejected", "skipped", "left"]
    assert [x for x, _ in ana.bars] == sorted(x for x, _ in ana.bars)
    assert re.search(r"Figures as of \d\d:\d\d:\d\d — kept for up to 15 s; press Refresh",
                     text(_dashboard_html(at)))
    # One element below the button: the page's figures, charts and tables in one st.html.
    assert not at.metric and not at.get("progress") and len(at.get("html")) == 2  # + the styles


def test_dashboard_names_are_shown_as_text(engine, db_url, tmp_path, monkeypatch):
    from curate.users import add_user
    at, *_ = admin_page("curate/app/dashboard.py", engine, db_url, tmp_path, monkeypatch)
    add_user(engine, "<b>eve</b>", "a long password")  # an annotator with no queue yet
    at.button(key="dash_refresh").click().run()
    html = _dashboard_html(at)
    assert "<b>eve</b>" not in html and "&lt;b&gt;eve&lt;/b&gt;" in html
    assert "<b>eve</b>" in [r.category for r in charts(html)[1].rows]


def test_dashboard_refresh_shows_a_new_decision(engine, db_url, tmp_path, monkeypatch):
    from curate.decisions import adjudicate
    at, users, shared = admin_page("curate/app/dashboard.py", engine, db_url, tmp_path, monkeypatch)
    counted = ("Accepted so far (final verdict)", "Looks per accept: before")
    before = [figures(_dashboard_html(at))[k][0] for k in counted]
    adjudicate(engine, users["admin"], shared[2], "accept")  # both had rejected it
    at.run()
    assert [figures(_dashboard_html(at))[k][0] for k in counted] == before  # kept for 15 s
    at.button(key="dash_refresh").click().run()  # "press Refresh to count again now"
    after = [figures(_dashboard_html(at))[k][0] for k in counted]
    assert int(after[0]) == int(before[0]) + 1
    assert float(after[1]) < float(before[1])  # the triage figures are counted again too


def test_admin_page_ingests_adds_users_and_assigns(engine, db_url, tmp_path, monkeypatch):
    at, users, _ = admin_page("curate/app/admin.py", engine, db_url, tmp_path, monkeypatch)
    folder = tmp_path / "faces"
    synth.write_peruvian(folder, 6, seed=1)
    at.text_input(key="ingest_dir").input(str(folder))
    at.text_input(key="ingest_source").input("peru")
    at.button[0].click().run()
    assert not at.exception
    assert any("Ingest done" in s.value for s in at.success)
    with reading(engine) as s:
        assert len(s.scalars(select(Image.id).where(Image.relpath.like("%"))).all()) == 26

    at.text_input(key="user_name").input("maria")
    at.text_input(key="user_password").input("secret")  # too short
    at.button[1].click().run()
    assert any("User maria was not added: a password needs at least 10 characters. Nothing "
               "was created" in unescaped(e.value) for e in at.error)
    assert "maria" not in [u.name for u in list_users(engine)]
    at.text_input(key="user_name").input("maria")
    at.text_input(key="user_password").input("a long secret")
    at.button[1].click().run()
    assert any("Added annotator maria" in s.value for s in at.success)
    at.text_input(key="user_name").input("maria")
    at.text_input(key="user_password").input("again and again")
    at.button[1].click().run()
    assert any("already exists" in e.value for e in at.error)
    assert "maria" in [u.name for u in list_users(engine)]

    at.number_input(key="assign_per").set_value(5)
    at.number_input(key="assign_overlap").set_value(0.0)
    at.button[3].click().run()  # ingest, add user, change an account, assign
    assert not at.exception
    assert any("Queues assigned" in s.value for s in at.success)
    assert queue_lengths(engine)["maria"] == 4  # the 4 CelebA images in no queue yet

    at.text_input(key="ingest_dir").input(str(tmp_path / "nowhere"))
    at.text_input(key="ingest_source").input("x")
    at.button[0].click().run()
    assert any("not found" in e.value for e in at.error)


def test_admin_assigns_by_source_and_annotator_and_says_why_not(engine, db_url, tmp_path,
                                                                 monkeypatch):
    from curate.ingest import ingest
    from curate.users import add_user
    at, users, _ = admin_page("curate/app/admin.py", engine, db_url, tmp_path, monkeypatch)
    synth.write_peruvian(tmp_path / "faces", 6, seed=1)
    ingest(engine, tmp_path / "faces", "peru", progress=False, workers=1)  # no attributes file
    add_user(engine, "maria", "a long secret")
    at.run()
    assert at.multiselect(key="assign_annotators").options == ["ana", "luis", "maria"]
    assert at.multiselect(key="assign_sources").options == ["celeba", "peru"]
    at.number_input(key="assign_per").set_value(10)
    at.number_input(key="assign_overlap").set_value(0.0)
    assign_button = at.button[3]  # ingest, add user, change an account, assign

    assign_button.click().run()
    assert any("Queues assigned: 4 new queue places" in s.value for s in at.success)
    assert any("Source 'peru' (6 images) was left out" in unescaped(w.value) for w in at.warning)

    at.button[3].click().run()  # again: nothing left among the CelebA images
    assert not at.success and any("Nothing was assigned" in w.value for w in at.warning)
    assert any("All 20 eligible images were already in a queue" in w.value for w in at.warning)

    at.multiselect(key="assign_annotators").set_value(["maria"])
    at.multiselect(key="assign_sources").set_value(["peru"])
    at.button[3].click().run()
    assert not at.exception
    assert any("Queues assigned: 6 new queue places" in s.value for s in at.success)
    assert any("No CelebA attributes for the 'attributes' order" in unescaped(w.value)
               for w in at.warning)
    assert queue_lengths(engine) == {"ana": 10, "luis": 10, "maria": 10}
