"""jobs: exports and prepares run by the app in a worker process, with their progress

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:40:00.000000

One row per job the Export page started (curate.jobs): what it writes, its state (running,
done, failed, cancelled), how far it got (done of total, written by the worker about twice a
second, from `counting_at`: when it began counting items, after reading its inputs), a cancel
request from the page, the worker's pid (so a server start can tell a job
whose worker died with the old server), and its summary or error line.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('cancel', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('done', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('total', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('started_by', sa.Integer(), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('counting_at', sa.DateTime(), nullable=True),
        sa.Column('progress_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['started_by'], ['annotators.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_jobs_state', 'jobs', ['state'])


def downgrade() -> None:
    op.drop_index('ix_jobs_state', table_name='jobs')
    op.drop_table('jobs')
