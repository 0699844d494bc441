"""decisions and adjudications: the client id of the key press (`press_id`); decisions: `via`

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 01:20:00.000000

A resend of a key press is recognised by the id its browser gave it, stored with the row and
unique per annotator (per admin for adjudications), never by equal content: accept, undo,
accept with the same milliseconds on screen is three rows. Rows written before this (and by
scripts) have no press id; NULLs never collide in a unique index on SQLite or PostgreSQL.
`via` says which view decided: `single` (one image) or `grid` (a page of tiles confirmed at
once); earlier rows are `single`. An index on (annotator_id, id) lets the Label page ask, each
exchange, how many rows a user has written since a given one (another tab's decisions).
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('decisions', sa.Column('press_id', sa.String(length=64), nullable=True))
    op.add_column('decisions', sa.Column('via', sa.String(length=8), nullable=False,
                                         server_default='single'))
    op.create_index('uq_decisions_annotator_press', 'decisions', ['annotator_id', 'press_id'],
                    unique=True)
    op.create_index('ix_decisions_annotator_id', 'decisions', ['annotator_id', 'id'])
    op.add_column('adjudications', sa.Column('press_id', sa.String(length=64), nullable=True))
    op.create_index('uq_adjudications_admin_press', 'adjudications', ['admin_id', 'press_id'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_adjudications_admin_press', table_name='adjudications')
    op.drop_column('adjudications', 'press_id')
    op.drop_index('ix_decisions_annotator_id', table_name='decisions')
    op.drop_index('uq_decisions_annotator_press', table_name='decisions')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of `decisions`
    # would drop the triggers that keep standing_decisions (migration 0007).
    op.drop_column('decisions', 'via')
    op.drop_column('decisions', 'press_id')
