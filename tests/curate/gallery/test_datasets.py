"""Dataset listings: SQL paging, filters that agree with curate.decisions, exports, details."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from curate.decisions import adjudicate, final_verdicts, record_decision, undo
from curate.gallery import datasets as gd
from db.engine import reading
from db.models import Assignment
from sqlalchemy import select
from tests.helpers.curate import add_images, seed


@pytest.fixture
def labeled(engine):
    """30 queued images (ana, luis; 20 % overlap) + 100 unqueued ones in source `other`, and
    decisions covering accept, reject (rule, tag), disputed, adjudicated and pending."""
    users = seed(engine, images=30, per_annotator=15, overlap=0.2)
    add_images(engine, 100, source="other")
    with reading(engine) as s:
        queues = {who: list(s.scalars(select(Assignment.image_id).where(Assignment.annotator_id == uid)
                                      .order_by(Assignment.position)))
                  for who, uid in users.items() if who != "admin"}
    shared = sorted(set(queues["ana"]) & set(queues["luis"]))
    only_ana = [i for i in queues["ana"] if i not in shared]
    d = lambda who, i, v, **kw: record_decision(engine, users[who], i, v, **kw)  # noqa: E731
    d("ana", only_ana[0], "accept")
    d("ana", only_ana[1], "reject", rule="looks_young", tags=["two_faces"])
    d("ana", only_ana[2], "accept", tags=["deformity"])
    d("ana", shared[0], "accept")
    d("luis", shared[0], "reject", rule="too_young")  # disputed
    d("ana", shared[1], "reject", rule="not_facing")
    d("luis", shared[1], "reject", rule="not_facing")
    adjudicate(engine, users["admin"], only_ana[3], "accept")
    return users


def ids(page: gd.Page) -> list[int]:
    return [t.image_id for t in page.tiles]


def test_unfiltered_pages_come_from_sql_in_id_order_and_clamp(engine, labeled):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    first = gd.labeled_page(engine, number=1)
    assert first.total == 130 and first.pages == 3 and len(first.tiles) == 60
    assert ids(first) == sorted(ids(first)) and first.first == 1
    assert len([s for s in statements if "images" in s]) == 2  # a COUNT and one LIMIT/OFFSET page
    last = gd.labeled_page(engine, number=99)
    assert last.number == 3 and len(last.tiles) == 10 and last.first == 121
    other = gd.labeled_page(engine, gd.Filters(source="other"), size=1000)
    assert other.total == 100 and {t.source for t in other.tiles} == {"other"}
    tile = other.tiles[0]
    assert tile.path.endswith(tile.name) and len(tile.key) == 64
    assert gd.labeled_page(engine, gd.Filters(source="nope")).total == 0


@pytest.mark.parametrize("verdict", ["accept", "reject", "disputed", "pending"])
def test_verdict_filter_agrees_with_final_verdicts(engine, labeled, verdict):
    expected = sorted(i for i, v in final_verdicts(engine).items() if v.verdict == verdict)
    assert expected
    assert ids(gd.labeled_page(engine, gd.Filters(verdict=verdict), size=1000)) == expected


def test_annotator_rule_tag_and_unlabeled_filters(engine, labeled):
    fv = final_verdicts(engine)
    got = lambda **kw: ids(gd.labeled_page(engine, gd.Filters(**kw), size=1000))  # noqa: E731
    assert got(annotator="luis") == sorted(i for i, v in fv.items() if "luis" in v.by)
    assert got(rule="not_facing") == sorted(i for i, v in fv.items() if v.rule == "not_facing")
    assert got(verdict="reject", tag="two_faces") == sorted(
        i for i, v in fv.items() if v.verdict == "reject" and "two_faces" in v.tags)
    everything = ids(gd.labeled_page(engine, size=1000))
    assert got(verdict="unlabeled") == [i for i in everything if i not in fv]  # in no queue
    other = gd.labeled_page(engine, gd.Filters(verdict="unlabeled", source="other"), size=1000)
    assert other.total == 100 and {t.source for t in other.tiles} == {"other"}


def test_a_new_decision_shows_in_the_next_filtered_view(engine, labeled):
    before = gd.labeled_page(engine, gd.Filters(verdict="accept"), size=1000)
    pending = ids(gd.labeled_page(engine, gd.Filters(verdict="pending", annotator=""), size=1000))
    with reading(engine) as s:
        queued_ana = set(s.scalars(select(Assignment.image_id)
                                   .where(Assignment.annotator_id == labeled["ana"])))
        queued_luis = set(s.scalars(select(Assignment.image_id)
                                    .where(Assignment.annotator_id == labeled["luis"])))
    target = next(i for i in pending if i in queued_ana and i not in queued_luis)
    record_decision(engine, labeled["ana"], target, "accept")
    after = gd.labeled_page(engine, gd.Filters(verdict="accept"), size=1000)
    assert after.total == before.total + 1 and target in ids(after)


def test_detail_shows_decisions_verdict_and_attributes(engine, labeled):
    disputed = gd.labeled_page(engine, gd.Filters(verdict="disputed")).tiles[0].image_id
    detail = gd.image_detail(engine, disputed)
    assert detail["verdict"] == "disputed" and detail["by"] == {"ana": "accept", "luis": "reject"}
    assert [(h["who"], h["verdict"], h["rule"]) for h in detail["history"]] == [
        ("ana", "accept", ""), ("luis", "reject", "too_young")]
    assert detail["source"] == "celeba" and detail["attributes"] == []
    assert gd.image_detail(engine, 10**9) is None
    captions = gd.verdict_captions(engine, gd.labeled_page(engine, number=3).tiles)
    assert set(captions.values()) == {"unlabeled"}


def test_filter_options_list_people_rules_tags_and_sources(engine, labeled):
    opts = gd.filter_options(engine)
    assert opts["annotator"] == ["admin", "ana", "luis"]
    assert opts["source"] == ["celeba", "other"]
    assert "too_young" in opts["rule"] and "two_faces" in opts["tag"]
    assert opts["verdict"] == list(gd.VERDICTS)


@pytest.mark.slow
def test_exports_are_listed_and_paged_in_manifest_order(gallery):
    engine = gallery.ws.open()
    sets = {d.kind: d for d in gd.datasets(engine)}
    assert set(sets) == {"", "old_celeba", "sketch_pairs"}  # the LMDB has no images to show
    old = gd.export_page(engine, sets["old_celeba"])
    assert old.total == 2 and {t.image_id for t in old.tiles} == {gallery.decided["accept"],
                                                                   gallery.decided["tagged"]}
    assert all(t.key and t.path.startswith(str(gallery.exports["old_celeba"])) for t in old.tiles)
    tagged = gd.export_page(engine, sets["old_celeba"], gd.Filters(tag="two_faces"))
    assert [t.image_id for t in tagged.tiles] == [gallery.decided["tagged"]]
    pairs = gd.export_page(engine, sets["sketch_pairs"], size=4)
    assert pairs.total == 10 and pairs.pages == 3 and len(pairs.tiles) == 4
    assert all(t.key is None for t in pairs.tiles)  # the pair's bytes are not the source's
    assert gd.export_page(engine, sets["sketch_pairs"], gd.Filters(source="celeba")).total == 0


def test_new_decisions_patch_the_verdict_index_instead_of_rebuilding_it(engine, labeled, monkeypatch):
    gd.labeled_page(engine, gd.Filters(verdict="accept"))  # builds the index
    monkeypatch.setattr(gd, "_build_index", lambda e: pytest.fail("rebuilt instead of patched"))
    fv = final_verdicts(engine)
    accepted = next(i for i, v in fv.items() if v.verdict == "accept" and v.by == {"ana": "accept"})
    undo(engine, labeled["ana"], accepted)  # back to pending
    disputed = next(i for i, v in fv.items() if v.verdict == "disputed")
    adjudicate(engine, labeled["admin"], disputed, "reject", rule="too_young")
    for verdict in ("accept", "reject", "disputed", "pending"):
        expected = sorted(i for i, v in final_verdicts(engine).items() if v.verdict == verdict)
        assert ids(gd.labeled_page(engine, gd.Filters(verdict=verdict), size=1000)) == expected
    assert accepted in ids(gd.labeled_page(engine, gd.Filters(verdict="pending"), size=1000))
