"""drop ingest_problems.other_image_id (never written nor read)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# The foreign key was created unnamed in 0001; this is the name PostgreSQL gave it, used again
# when the column comes back (SQLite's batch mode rebuilds the table and needs a name too).
_FK = 'ingest_problems_other_image_id_fkey'


def upgrade() -> None:
    # Batch mode: SQLite cannot drop a column under a foreign key in place, so the table is
    # rebuilt without it (the column's foreign key goes with it); PostgreSQL drops it directly.
    with op.batch_alter_table('ingest_problems', schema=None) as batch_op:
        batch_op.drop_column('other_image_id')


def downgrade() -> None:
    with op.batch_alter_table('ingest_problems', schema=None) as batch_op:
        batch_op.add_column(sa.Column('other_image_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(_FK, 'images', ['other_image_id'], ['id'])
