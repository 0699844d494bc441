"""decisions: indexes on (image_id, annotator_id, id, verdict) and (annotator_id, seconds, verdict)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:00:00.000000

The standing decision of an annotator on an image is the newest row of that pair. With this
index the Dashboard and the Datasets verdict filters find every standing decision and its
verdict from the index alone, in image order (no sort, no table reads): about a third less
time on 100,000 decisions (benchmarks/dashboard.py). The second gives each annotator's median
seconds per decision from the middle of an index range instead of sorting every time (about
15 ms instead of 200 ms).
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decisions_image_annotator_id_verdict", "decisions",
                    ["image_id", "annotator_id", "id", "verdict"])
    op.create_index("ix_decisions_annotator_seconds", "decisions",
                    ["annotator_id", "seconds", "verdict"])


def downgrade() -> None:
    op.drop_index("ix_decisions_annotator_seconds", table_name="decisions")
    op.drop_index("ix_decisions_image_annotator_id_verdict", table_name="decisions")
