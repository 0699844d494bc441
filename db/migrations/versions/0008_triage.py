"""triage: learned models, their scores per image, and the assignment rounds they ranked

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 01:10:00.000000

`triage_models` lists every model `curate triage train` wrote (its file lives under the
workspace; the row keeps what the Dashboard shows without loading it: when, from how many
decisions, held-out figures). `triage_scores` holds one row per image: the newest model's
p(accept) and its guesses of the failed rule and the tags. `assign_rounds` records each `curate
assign` run (its order, and the model that ranked it), and `assign_round_spans` the queue
positions it appended for each annotator, so looks per accepted face can be counted per round
without touching `assignments` (whose triggers keep `standing_decisions`).
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'triage_models',
        sa.Column('version', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('trained_at', sa.DateTime(), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('decisions_used', sa.Integer(), nullable=False),
        sa.Column('seed', sa.Integer(), nullable=False),
        sa.Column('device', sa.String(length=16), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
    )
    op.create_table(
        'triage_scores',
        sa.Column('image_id', sa.Integer(), sa.ForeignKey('images.id', ondelete='CASCADE'),
                  primary_key=True, autoincrement=False),
        sa.Column('model_version', sa.Integer(), nullable=False),
        sa.Column('p_accept', sa.Float(), nullable=False),
        sa.Column('rule', sa.String(length=32), nullable=True),
        sa.Column('p_rule', sa.Float(), nullable=True),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('scored_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_triage_scores_p_accept', 'triage_scores', ['p_accept'])
    op.create_table(
        'assign_rounds',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('order_name', sa.String(length=16), nullable=False),
        sa.Column('model_version', sa.Integer(), nullable=True),
        sa.Column('explore', sa.Float(), nullable=False, server_default='0'),
        sa.Column('seed', sa.Integer(), nullable=False, server_default='0'),
    )
    op.create_table(
        'assign_round_spans',
        sa.Column('round_id', sa.Integer(), sa.ForeignKey('assign_rounds.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('annotator_id', sa.Integer(), sa.ForeignKey('annotators.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('first_position', sa.Integer(), nullable=False),
        sa.Column('end_position', sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('assign_round_spans')
    op.drop_table('assign_rounds')
    op.drop_index('ix_triage_scores_p_accept', table_name='triage_scores')
    op.drop_table('triage_scores')
    op.drop_table('triage_models')
