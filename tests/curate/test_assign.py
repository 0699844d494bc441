"""Queues: sizes, overlap, order, stability, and re-assigning keeps decisions."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from curate import synth
from curate.assign import AssignError, assign, old_score
from curate.decisions import record_decision
from curate.ingest import ingest
from curate.users import add_user
from db.engine import reading
from db.models import Assignment, Decision, Image


def _queues(engine):
    with reading(engine) as s:
        rows = s.execute(select(Assignment.annotator_id, Assignment.position, Assignment.image_id,
                                Assignment.is_overlap).order_by(Assignment.annotator_id,
                                                                Assignment.position)).all()
    out = {}
    for a, pos, img, ov in rows:
        out.setdefault(a, []).append((pos, img, ov))
    return out


@pytest.fixture
def celeba_db(engine, tmp_path):
    synth.write_celeba(tmp_path / "c", 120, seed=2)
    ingest(engine, tmp_path / "c" / "img_align_celeba", "celeba", progress=False, workers=1)
    ids = [add_user(engine, n, "pw") for n in ("a", "b", "c")]
    return engine, ids


def test_sizes_overlap_and_positions(celeba_db):
    engine, ids = celeba_db
    report = assign(engine, per_annotator=30, overlap=0.2, seed=1)
    q = _queues(engine)
    assert [len(q[i]) for i in ids] == [30, 30, 30]
    for i in ids:
        assert [p for p, _, _ in q[i]] == list(range(30))
        assert sum(ov for *_, ov in q[i]) == 6  # 20 % of 30 shared
    counts = Counter(img for i in ids for _, img, _ in q[i])
    assert max(counts.values()) == 2
    assert sum(1 for c in counts.values() if c == 2) == 9  # 3 annotators × 6 / 2
    assert report.per_annotator == {"a": 30, "b": 30, "c": 30}
    # shared images are spread along the queue, not bunched at the end
    first_half = sum(ov for p, _, ov in q[ids[0]] if p < 15)
    assert 2 <= first_half <= 4


def test_same_seed_same_queues_other_seed_differs(tmp_path):
    def build(seed, sub):
        from db.engine import make_engine
        from db import migrate
        e = make_engine(f"sqlite:///{tmp_path / sub}.db")
        migrate.upgrade(e)
        synth.write_celeba(tmp_path / "c", 60, seed=2)
        ingest(e, tmp_path / "c" / "img_align_celeba", "celeba", progress=False, workers=1)
        for n in ("a", "b"):
            add_user(e, n, "pw")
        assign(e, per_annotator=20, overlap=0.1, seed=seed)
        with reading(e) as s:
            return s.execute(select(Assignment.annotator_id, Assignment.position, Image.relpath)
                             .join(Image).order_by(Assignment.id)).all()
    one = build(5, "one")
    assert one == build(5, "two")
    assert one != build(6, "three")


def test_attribute_order_puts_likely_old_first(celeba_db):
    engine, ids = celeba_db
    assign(engine, per_annotator=40, overlap=0.0, order="attributes", seed=0)
    with reading(engine) as s:
        rows = s.execute(select(Assignment.position, Image.attributes).join(Image).where(
            Assignment.annotator_id == ids[0]).order_by(Assignment.position)).all()
    scores = [old_score(a) for _, a in rows]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0 and "Young" not in rows[0][1]


def test_reassigning_keeps_positions_and_decisions(celeba_db):
    engine, ids = celeba_db
    assign(engine, per_annotator=10, overlap=0.1, seed=3)
    before = _queues(engine)
    first_image = before[ids[0]][0][1]
    record_decision(engine, ids[0], first_image, "accept")
    assign(engine, per_annotator=25, overlap=0.1, seed=99)  # another seed: only appends
    after = _queues(engine)
    for i in ids:
        assert after[i][:10] == before[i]
        assert len(after[i]) == 25
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 1
    again = assign(engine, per_annotator=25, overlap=0.1, seed=3)
    assert sum(again.added.values()) == 0


def test_clear_errors(engine):
    with pytest.raises(AssignError, match="no annotators"):
        assign(engine, per_annotator=5)
    add_user(engine, "a", "pw")
    with pytest.raises(AssignError, match="no such annotator: zed"):
        assign(engine, per_annotator=5, annotators=["zed"])
    with pytest.raises(AssignError, match="between 0 and 1"):
        assign(engine, per_annotator=5, overlap=1.5)


def _overlap_images(engine, annotator_id) -> list[tuple[int, int]]:
    with reading(engine) as s:
        return s.execute(select(Assignment.position, Assignment.image_id).where(
            Assignment.annotator_id == annotator_id, Assignment.is_overlap)
            .order_by(Assignment.position)).all()


def test_a_late_hire_shares_images_with_an_existing_queue(celeba_db):
    from curate.dashboard import dashboard
    engine, ids = celeba_db
    assign(engine, per_annotator=30, overlap=0.2, seed=1)
    before = _queues(engine)
    solo_a = [img for _, img, ov in before[ids[0]] if not ov]
    for img in solo_a[3:8]:  # a has decided five of their own images
        record_decision(engine, ids[0], img, "accept" if img % 2 else "reject", rule="too_young")
    d = add_user(engine, "d", "pw")
    report = assign(engine, per_annotator=30, overlap=0.2, seed=1)  # everyone else is full
    after = _queues(engine)
    assert all(after[i] == before[i] for i in ids)  # only appends: nobody else's queue moved
    assert len(after[d]) == 30 and report.added == {"a": 0, "b": 0, "c": 0, "d": 30}
    shared = _overlap_images(engine, d)
    assert len(shared) == 6 and report.late == {"d": ("a", 6)}
    assert "6 of them from a's queue" in report.summary()
    held_by_a = {img for _, img, _ in before[ids[0]]}
    assert {img for _, img in shared} <= held_by_a  # each shared with a single existing queue
    assert set(solo_a[3:8]) <= {img for _, img in shared}  # what a decided comes first
    positions = [p for p, _ in shared]
    assert positions[0] < 10 and positions[-1] >= 20  # spread along the queue, not bunched
    for _, img in shared:  # d agrees with a on what a decided: a kappa exists for the pair
        if img in solo_a[3:8]:
            record_decision(engine, d, img, "accept" if img % 2 else "reject", rule="too_young")
    kappa, n = dashboard(engine).cohen[("a", "d")]
    assert n == 5 and kappa == pytest.approx(1.0)
    again = assign(engine, per_annotator=30, overlap=0.2, seed=1)  # nothing more to do
    assert again.added == {"a": 0, "b": 0, "c": 0, "d": 0} and _queues(engine) == after


def test_a_late_hire_alone_by_name_gets_the_same_overlap(celeba_db, tmp_path):
    engine, ids = celeba_db
    assign(engine, per_annotator=30, overlap=0.2, seed=1)
    d = add_user(engine, "d", "pw")
    report = assign(engine, per_annotator=30, overlap=0.2, seed=1, annotators=["d"])
    assert report.late == {"d": ("a", 6)} and len(_overlap_images(engine, d)) == 6


def test_warnings_say_why_nothing_was_assigned(celeba_db, tmp_path):
    from db.engine import writing
    from db.models import Source
    engine, ids = celeba_db
    assign(engine, per_annotator=40, overlap=0.0, seed=0)  # all 120 images queued
    synth.write_peruvian(tmp_path / "p", 30, seed=1)
    ingest(engine, tmp_path / "p", "peru", progress=False, workers=1)  # no attributes file
    add_user(engine, "maria", "a long secret")
    report = assign(engine, per_annotator=40, overlap=0.0, seed=0)
    assert report.total_added == 0
    assert any("source 'peru' (30 images) was left out" in w for w in report.warnings)
    assert any("all 120 eligible images were already in a queue" in w for w in report.warnings)
    assert "warning: source 'peru'" in report.summary()

    report = assign(engine, per_annotator=40, overlap=0.0, seed=0, sources=["peru"])
    assert report.added["maria"] == 30  # chosen by name: used, in random order
    assert any("no CelebA attributes for the 'attributes' order" in w for w in report.warnings)

    with writing(engine) as s:
        s.add(Source(name="empty", root=str(tmp_path / "empty")))
    report = assign(engine, per_annotator=40, overlap=0.0, sources=["empty"])
    assert any("source 'empty' has no images" in w for w in report.warnings)
    report = assign(engine, per_annotator=5, overlap=0.0)
    assert any("already has 5 or more images" in w for w in report.warnings)


def test_a_late_hire_gets_overlap_when_every_image_is_queued(celeba_db):
    engine, ids = celeba_db
    assign(engine, per_annotator=40, overlap=0.0, seed=0)  # all 120 images in a queue
    before = _queues(engine)
    d = add_user(engine, "d", "pw")
    report = assign(engine, per_annotator=40, overlap=0.1, seed=0)
    assert all(_queues(engine)[i] == before[i] for i in ids)  # only appends
    assert report.added["d"] == 4 and report.late == {"d": ("a", 4)}
    assert [p for p, _ in _overlap_images(engine, d)] == [0, 1, 2, 3]
    assert any("all 120 eligible images were already in a queue" in w for w in report.warnings)


def _accepted_and_exported(engine, out):
    from curate.dashboard import dashboard
    from curate.export.old_celeba import export_old_celeba
    result = export_old_celeba(engine, out, count=2500, allow_fewer=True, progress=False)
    return dashboard(engine).accepted_final, result.counts["images"]


def test_a_late_hire_changes_no_verdict_until_they_decide(celeba_db, tmp_path):
    """The lead's case: ana accepted images, then maria joins with overlap; maria's queue holds
    images ana accepted. Accepted count and old_celebA size stay; maria's reject disputes one."""
    from curate.decisions import disagreements, final_verdicts
    engine, ids = celeba_db
    assign(engine, per_annotator=40, overlap=0.0, seed=0)  # all 120 images queued, no overlap
    mine = [img for _, img, _ in _queues(engine)[ids[0]]]
    for img in mine[:10]:
        record_decision(engine, ids[0], img, "accept")
    record_decision(engine, ids[0], mine[10], "reject", rule="too_young")
    before = _accepted_and_exported(engine, tmp_path / "before")
    verdicts_before = {i: v.verdict for i, v in final_verdicts(engine).items()}
    assert before == (10, 10)

    maria = add_user(engine, "maria", "a long secret")
    report = assign(engine, per_annotator=40, overlap=0.1, seed=0)
    shared = [img for _, img in _overlap_images(engine, maria)]
    assert len(shared) == 4 and set(shared) <= set(mine[:11])  # decided images shared first
    assert report.late_decided == {"maria": 4}
    text = report.summary()
    assert "4 of them from a's queue, 4 already decided by a" in text
    assert "0 in no queue after this run" in text
    assert "4 of 40 queue places filled" in text
    assert ("all 120 eligible images were already in a queue: 36 of 40 queue places stay empty"
            in report.warnings)

    assert {i: v.verdict for i, v in final_verdicts(engine).items()} == verdicts_before
    assert _accepted_and_exported(engine, tmp_path / "after") == before
    assert not disagreements(engine)

    accepted_shared = [i for i in shared if verdicts_before[i] == "accept"]
    record_decision(engine, maria, accepted_shared[0], "accept")  # agrees: still accepted
    record_decision(engine, maria, accepted_shared[1], "reject", rule="not_facing")
    assert final_verdicts(engine)[accepted_shared[1]].verdict == "disputed"
    assert [v.image_id for v in disagreements(engine)] == [accepted_shared[1]]
    assert _accepted_and_exported(engine, tmp_path / "disputed") == (9, 9)
