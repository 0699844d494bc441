"""Migration 0005: one row per content hash; copies a race recorded are merged, nothing lost."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from db import migrate
from db.engine import make_engine


def _rows(conn, sql):
    return [tuple(r) for r in conn.execute(text(sql))]


@pytest.fixture
def raced(db_url):
    """A 0004 database holding three copies of h1 and two of h2, queued, decided, adjudicated."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0004")
    with engine.begin() as c:
        c.execute(text("INSERT INTO sources (id, name, root, created_at) VALUES "
                       "(1, 'a', '/a', CURRENT_TIMESTAMP), (2, 'b', '/b', CURRENT_TIMESTAMP), "
                       "(3, 'c', '/c', CURRENT_TIMESTAMP)"))
        for id_, src, rel, h in [(1, 1, "1.jpg", "h1"), (2, 1, "2.jpg", "h2"), (3, 2, "1.jpg", "h1"),
                                 (4, 2, "2.jpg", "h2"), (5, 2, "3.jpg", "h3"), (6, 3, "1.jpg", "h1")]:
            c.execute(text("INSERT INTO images (id, source_id, relpath, content_hash, phash, width,"
                           " height, mode, file_size, created_at) VALUES (:i, :s, :r, :h, 0, 1, 1,"
                           " 'RGB', 1, CURRENT_TIMESTAMP)"), dict(i=id_, s=src, r=rel, h=h))
        c.execute(text("INSERT INTO annotators (id, name, role, password_hash, active, created_at)"
                       " VALUES (1, 'ana', 'annotator', 'x', true, CURRENT_TIMESTAMP),"
                       " (2, 'luis', 'annotator', 'x', true, CURRENT_TIMESTAMP),"
                       " (3, 'lead', 'admin', 'x', true, CURRENT_TIMESTAMP)"))
        # ana holds all three copies of h1 (positions 0-2), then h3; luis a copy of h2, then h3.
        for ann, image, pos in [(1, 1, 0), (1, 3, 1), (1, 6, 2), (1, 5, 3), (2, 4, 0), (2, 5, 1)]:
            c.execute(text("INSERT INTO assignments (annotator_id, image_id, position, is_overlap,"
                           " created_at) VALUES (:a, :i, :p, false, CURRENT_TIMESTAMP)"),
                      dict(a=ann, i=image, p=pos))
        for id_, image, ann, verdict in [(1, 3, 1, "accept"), (2, 4, 2, "reject"), (3, 1, 1, "skip")]:
            c.execute(text("INSERT INTO decisions (id, image_id, annotator_id, verdict, tags,"
                           " created_at) VALUES (:d, :i, :a, :v, '[]', CURRENT_TIMESTAMP)"),
                      dict(d=id_, i=image, a=ann, v=verdict))
        c.execute(text("INSERT INTO adjudications (image_id, admin_id, verdict, tags, created_at)"
                       " VALUES (6, 3, 'accept', '[]', CURRENT_TIMESTAMP)"))
    yield engine
    engine.dispose()


def test_0005_merges_copies_into_the_first_and_keeps_every_decision(raced):
    assert migrate.upgrade(raced) == migrate.head_revision(raced)
    with raced.connect() as c:
        assert _rows(c, "SELECT id, content_hash FROM images ORDER BY id") == [
            (1, "h1"), (2, "h2"), (5, "h3")]
        assert _rows(c, "SELECT id, image_id FROM decisions ORDER BY id") == [(1, 1), (2, 2), (3, 1)]
        assert _rows(c, "SELECT image_id FROM adjudications") == [(1,)]
        # ana's two extra copies left her queue, which closed up; luis's copy now points at h2.
        assert _rows(c, "SELECT annotator_id, position, image_id FROM assignments"
                        " ORDER BY annotator_id, position") == [
            (1, 0, 1), (1, 1, 5), (2, 0, 2), (2, 1, 5)]
        problems = _rows(c, "SELECT source_id, relpath, kind, reason FROM ingest_problems"
                            " ORDER BY source_id, relpath")
    assert [p[:3] for p in problems] == [(2, "1.jpg", "duplicate"), (2, "2.jpg", "duplicate"),
                                         (3, "1.jpg", "duplicate")]
    assert "same content as a: 1.jpg" in problems[0][3]
    indexes = {i["name"]: i["unique"] for i in inspect(raced).get_indexes("images")}
    assert indexes.get("uq_images_content_hash") in (True, 1)
    with pytest.raises(IntegrityError):
        with raced.begin() as c:
            c.execute(text("INSERT INTO images (source_id, relpath, content_hash, phash, width,"
                           " height, mode, file_size, created_at) VALUES (3, 'x.jpg', 'h3', 0, 1,"
                           " 1, 'RGB', 1, CURRENT_TIMESTAMP)"))


def test_0005_goes_down_to_a_plain_index(raced):
    migrate.upgrade(raced)
    migrate.downgrade(raced, "0004")
    indexes = {i["name"]: i["unique"] for i in inspect(raced).get_indexes("images")}
    assert "uq_images_content_hash" not in indexes and not indexes["ix_images_content_hash"]
