"""images.content_hash unique: one row per content; duplicates already recorded are merged

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 14:00:00.000000

Concurrent ingests could record one content twice. Before the unique index is built, each set
of rows with the same hash is merged into its lowest id (the first recorded):
- decisions and adjudications of a removed copy are re-pointed to the kept row (append-only
  history, nothing typed is lost; the newest row per annotator still counts);
- a queue entry of a removed copy is re-pointed too, unless that annotator's queue already holds
  the kept row: then it is dropped and the later positions of that queue move up by one, so
  queues keep their 0..n-1 positions;
- the removed copy's file is noted as an ingest problem of its source ("duplicate"), as an
  ingest would have reported it.
Downgrade drops the unique index and restores the plain one; merged rows stay merged.
"""
import datetime as dt
import logging

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    conn = op.get_bind()
    copies = conn.execute(sa.text(
        "SELECT i.id, k.keep, i.source_id, i.relpath FROM images i JOIN ("
        " SELECT content_hash, MIN(id) AS keep FROM images GROUP BY content_hash"
        " HAVING COUNT(*) > 1) k ON i.content_hash = k.content_hash"
        " WHERE i.id <> k.keep ORDER BY i.id")).all()
    if copies:
        _merge(conn, copies)
        log.info("0005: merged %d images recorded twice into the first copy", len(copies))
    op.drop_index('ix_images_content_hash', table_name='images')
    op.create_index('uq_images_content_hash', 'images', ['content_hash'], unique=True)


def _merge(conn, copies) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    pairs = [dict(dup=d, keep=k) for d, k, _, _ in copies]
    for table in ("decisions", "adjudications"):
        conn.execute(sa.text(f"UPDATE {table} SET image_id = :keep WHERE image_id = :dup"), pairs)
    for d, k, _, _ in copies:  # one copy at a time: a queue may hold several copies
        clashes = conn.execute(sa.text(
            "SELECT a.annotator_id, a.position FROM assignments a JOIN assignments b"
            " ON a.annotator_id = b.annotator_id WHERE a.image_id = :dup AND b.image_id = :keep"),
            dict(dup=d, keep=k)).all()
        for annotator, position in clashes:
            _drop_queue_entry(conn, annotator, position)
        conn.execute(sa.text("UPDATE assignments SET image_id = :keep WHERE image_id = :dup"),
                     dict(dup=d, keep=k))
    kept = dict(conn.execute(sa.text(
        "SELECT i.id, s.name || ': ' || i.relpath FROM images i JOIN sources s"
        " ON s.id = i.source_id WHERE i.id IN (SELECT MIN(id) FROM images GROUP BY content_hash"
        " HAVING COUNT(*) > 1)")).all())
    conn.execute(sa.text(
        "INSERT INTO ingest_problems (source_id, relpath, kind, reason, created_at)"
        " VALUES (:source, :relpath, 'duplicate', :reason, :now)"),
        [dict(source=s, relpath=r, now=now,
              reason=f"same content as {kept[k]} (merged by migration 0005)")
         for _, k, s, r in copies])
    conn.execute(sa.text("DELETE FROM images WHERE id = :dup"), pairs)


def _drop_queue_entry(conn, annotator: int, position: int) -> None:
    """Remove one queue entry and close the gap. Two steps through negative positions, since a
    unique (annotator, position) index is checked row by row on PostgreSQL."""
    p = dict(a=annotator, p=position)
    conn.execute(sa.text("DELETE FROM assignments WHERE annotator_id = :a AND position = :p"), p)
    conn.execute(sa.text("UPDATE assignments SET position = -position"
                         " WHERE annotator_id = :a AND position > :p"), p)
    conn.execute(sa.text("UPDATE assignments SET position = -position - 1"
                         " WHERE annotator_id = :a AND position < 0"), p)


def downgrade() -> None:
    op.drop_index('uq_images_content_hash', table_name='images')
    op.create_index('ix_images_content_hash', 'images', ['content_hash'], unique=False)
