"""The grid view's order: p(accept) from the triage model's scores when it scored these images,
else the CelebA attribute score, else queue order; decided images never come back."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from curate import grid, labeling
from curate.assign import old_score
from db.engine import writing
from db.models import Annotator, Assignment, Image, TriageScore
from tests.helpers.curate import decide, seed, undo


def _page(engine, annotator_id, size=16):
    """A grid page as the Label page takes it: the order read, then walked."""
    ranked, how = grid.order(engine, annotator_id)
    return grid.next_page(engine, annotator_id, ranked, size)[0], how


def _ana(engine, attributes=True):
    users = seed(engine, images=20, per_annotator=10, overlap=0.0)
    items = labeling.items(engine, users["ana"], 0, 10)
    if attributes:  # a few likely-old images, the rest young
        old = {items[7].image_id: ["Bald", "Gray_Hair"], items[3].image_id: ["Gray_Hair"]}
        with writing(engine) as s:
            for i in items:
                s.execute(update(Image).where(Image.id == i.image_id)
                          .values(attributes=old.get(i.image_id, ["Young"])))
    else:
        with writing(engine) as s:
            s.execute(update(Image).values(attributes=None))
    return users["ana"], items


def test_without_scores_the_attribute_score_orders_the_page(engine):
    ana, items = _ana(engine)
    page, how = _page(engine, ana, size=4)
    assert how == "attributes"
    assert [i.position for i in page][:2] == [7, 3]  # Bald + Gray_Hair first, then Gray_Hair
    assert old_score(["Bald", "Gray_Hair"]) > old_score(["Gray_Hair"]) > old_score(["Young"])
    assert [i.position for i in page][2:] == [0, 1]  # ties keep queue order


def test_without_attributes_the_queue_order_stands_and_decided_ones_are_left_out(engine):
    ana, items = _ana(engine, attributes=False)
    decide(engine, ana, items[0], "accept", seconds=1.0)
    decide(engine, ana, items[2], "skip", seconds=1.0)
    decide(engine, ana, items[1], "accept", seconds=1.0)
    undo(engine, ana, items[1])  # undone: undecided again
    page, how = _page(engine, ana)
    assert how == "queue"
    assert [i.position for i in page] == [1, 3, 4, 5, 6, 7, 8, 9]


def test_triage_scores_order_the_page_when_the_model_scored_these_images(engine):
    ana, items = _ana(engine)
    other = seed_other_image_score(engine)
    page, how = _page(engine, ana, size=3)
    assert how == "attributes"  # scores, but none for ana's images
    with writing(engine) as s:
        for k, p in ((5, 0.9), (8, 0.95), (7, 0.1)):
            s.add(TriageScore(image_id=items[k].image_id, model_version=1, p_accept=p, tags=[],
                              scored_at=dt.datetime(2026, 12, 6)))
    page, how = _page(engine, ana, size=4)
    assert how == "triage"
    assert [i.position for i in page] == [8, 5, 7, 0]  # scored first; unscored in queue order
    assert other not in {i.image_id for i in page}


def seed_other_image_score(engine) -> int:
    """A high score for an image in another annotator's queue only."""
    with writing(engine) as s:
        ana = select(Assignment.image_id).join(Annotator, Annotator.id == Assignment.annotator_id
                                               ).where(Annotator.name == "ana")
        image_id = s.scalar(select(Image.id).where(Image.id.not_in(ana)).limit(1))
        s.add(TriageScore(image_id=image_id, model_version=1, p_accept=0.99, tags=[],
                          scored_at=dt.datetime(2026, 12, 6)))
    return image_id


def test_pages_from_one_reading_of_the_order_skip_what_was_decided_since(engine):
    ana, items = _ana(engine, attributes=False)
    ranked, how = grid.order(engine, ana)
    assert (ranked, how) == (list(range(10)), "queue")
    page, ranked = grid.next_page(engine, ana, ranked, size=4)
    assert [i.position for i in page] == [0, 1, 2, 3] and ranked == list(range(10))
    for k in (0, 2, 5):  # decided meanwhile (a grid page confirmed, another tab)
        decide(engine, ana, items[k], "accept", seconds=1.0, via="grid")
    page, ranked = grid.next_page(engine, ana, ranked, size=4)
    assert [i.position for i in page] == [1, 3, 4, 6]
    assert ranked == [1, 3, 4, 6, 7, 8, 9]


def test_the_page_read_ahead_leaves_out_the_page_on_screen(engine):
    ana, items = _ana(engine, attributes=False)
    ranked, _ = grid.order(engine, ana)
    shown, ranked = grid.next_page(engine, ana, ranked, size=4)
    ahead, ranked = grid.next_page(engine, ana, ranked, size=4,
                                   exclude={i.position for i in shown})
    assert [i.position for i in ahead] == [4, 5, 6, 7]
    assert ranked == list(range(10))  # nothing decided: the shown page stays in the order
