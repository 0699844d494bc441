"""The standing_decisions table: the newest decision of each (image, annotator), kept by the
database's own trigger for every writer, and filled from existing rows by migration 0007."""
from __future__ import annotations

import json
import random

from sqlalchemy import func, insert, select

from db import migrate
from db.auth import hash_password
from db.engine import make_engine, reading, writing
from db.models import (Annotator, Assignment, Decision, Image, Role, Source, StandingDecision,
                       Verdict)

VERDICTS = [Verdict.accept, Verdict.reject, Verdict.skip, Verdict.undo]


def _people_and_images(engine, images: int = 12) -> tuple[list[int], list[int]]:
    with writing(engine) as s:
        src = Source(name="s", root="/r")
        s.add(src)
        s.flush()
        imgs = [Image(source_id=src.id, relpath=f"{i}.jpg", content_hash=f"{i:064x}", phash=i,
                      width=1, height=1, mode="RGB", file_size=1) for i in range(images)]
        people = [Annotator(name=n, role=Role.annotator, password_hash=hash_password("x"))
                  for n in ("ana", "luis", "maria")]
        s.add_all(imgs + people)
        s.flush()
        s.add_all(Assignment(annotator_id=p.id, image_id=i.id, position=k)
                  for p in people for k, i in enumerate(imgs))
        return [p.id for p in people], [i.id for i in imgs]


def _newest_by_hand(engine) -> dict:
    with reading(engine) as s:
        rows = s.execute(select(Decision.id, Decision.image_id, Decision.annotator_id,
                                Decision.verdict, Decision.rule, Decision.tags)
                         .order_by(Decision.id)).all()
    out = {}
    for r in rows:  # later rows replace earlier ones
        out[(r.image_id, r.annotator_id)] = (r.id, r.verdict, r.rule, r.tags)
    return out


def _table(engine) -> dict:
    with reading(engine) as s:
        return {(r.image_id, r.annotator_id): (r.decision_id, r.verdict, r.rule, json.loads(r.tags))
                for r in s.scalars(select(StandingDecision))}


def _queues_as_kept(engine) -> dict:
    with reading(engine) as s:
        return {(r.image_id, r.annotator_id): (r.in_queue, r.holders)
                for r in s.scalars(select(StandingDecision))}


def _queues_by_hand(engine) -> dict:
    with reading(engine) as s:
        held = {tuple(r) for r in s.execute(select(Assignment.image_id, Assignment.annotator_id))}
        pairs = [tuple(r) for r in s.execute(
            select(Decision.image_id, Decision.annotator_id).distinct())]
        return {(i, a): ((i, a) in held, sum(1 for h, _ in held if h == i)) for i, a in pairs}


def _random_rows(rng, people, images, n):
    for _ in range(n):
        v = rng.choice(VERDICTS)
        yield dict(annotator_id=rng.choice(people), image_id=rng.choice(images), verdict=v,
                   rule="too_young" if v is Verdict.reject else None,
                   tags=rng.sample(["deformity", "two_faces"], rng.randint(0, 2)))


def test_every_writer_keeps_the_newest_decision_of_each_pair(engine):
    # ORM rows one at a time, a bulk insert of many rows in one statement, and the Core
    # insert of a Label key press all go through the trigger; an undo stands as an undo.
    people, images = _people_and_images(engine)
    rng = random.Random(7)
    for row in _random_rows(rng, people, images, 40):
        with writing(engine) as s:
            s.add(Decision(**row))
    with writing(engine) as s:
        s.execute(insert(Decision), list(_random_rows(rng, people, images, 200)))
    from curate.presses import Pressed, record_pressed
    record_pressed(engine, people[0], images[3], 3, Pressed("accept", tags=("two_faces",)))
    table, expected = _table(engine), _newest_by_hand(engine)
    assert table == expected
    assert table[(images[3], people[0])][1:] == (Verdict.accept, None, ["two_faces"])


def test_migration_0007_fills_the_table_from_existing_decisions(db_url):
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0006")
    people, images = _people_and_images(engine)
    with writing(engine) as s:
        s.execute(insert(Decision), list(_random_rows(random.Random(3), people, images, 150)))
    expected = _newest_by_hand(engine)
    assert migrate.upgrade(engine) == migrate.head_revision(engine)
    assert _table(engine) == expected
    assert _queues_as_kept(engine) == _queues_by_hand(engine)
    with writing(engine) as s:  # and keeps it from then on
        s.add(Decision(annotator_id=people[1], image_id=images[0], verdict=Verdict.skip, tags=[]))
    assert _table(engine) == _newest_by_hand(engine)
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(StandingDecision)) == len(expected) + (
            (images[0], people[1]) not in expected)
    migrate.downgrade(engine, "0006")  # and goes away again, trigger included
    with writing(engine) as s:  # Core, naming the columns 0006 has (the model is the head's)
        s.execute(insert(Decision).values(annotator_id=people[1], image_id=images[1],
                                          verdict=Verdict.skip, tags=[]))
    engine.dispose()


def test_queue_membership_follows_assignments_added_and_removed(engine):
    # A decision by someone whose queue does not (yet) hold the image, then the image
    # assigned to them and to a third person, then an assignment removed: in_queue and
    # holders follow every change, whichever comes first.
    people, images = _people_and_images(engine, images=4)
    with writing(engine) as s:
        extra = Annotator(name="eva", role=Role.annotator, password_hash=hash_password("x"))
        s.add(extra)
        s.flush()
        eva = extra.id
        s.add(Decision(annotator_id=eva, image_id=images[0], verdict=Verdict.accept, tags=[]))
        s.add(Decision(annotator_id=people[0], image_id=images[0], verdict=Verdict.reject,
                       rule="too_young", tags=[]))
    assert _queues_as_kept(engine) == _queues_by_hand(engine)
    assert _queues_as_kept(engine)[(images[0], eva)] == (False, 3)
    with writing(engine) as s:
        s.add(Assignment(annotator_id=eva, image_id=images[0], position=0))
    assert _queues_as_kept(engine)[(images[0], eva)] == (True, 4)
    assert _queues_as_kept(engine) == _queues_by_hand(engine)
    from sqlalchemy import delete
    with writing(engine) as s:
        s.execute(delete(Assignment).where(Assignment.annotator_id == people[0],
                                           Assignment.image_id == images[0]))
    assert _queues_as_kept(engine)[(images[0], people[0])] == (False, 3)
    assert _queues_as_kept(engine) == _queues_by_hand(engine)
