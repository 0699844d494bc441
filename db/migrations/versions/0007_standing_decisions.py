"""standing_decisions: the newest decision per (image, annotator), kept by a trigger

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 16:00:00.000000

Finding each pair's newest row among all decisions was most of the Dashboard's time and of the
Datasets verdict filters' first view on 100,000 decisions (benchmarks/dashboard.py). The table
holds that row's id, verdict (an undo too: then nothing stands), rule and tags (the JSON list as
text, so that it can be indexed on PostgreSQL too); an AFTER INSERT
trigger on `decisions` upserts it, so every writer keeps it without knowing (decisions are
append-only: never updated, never deleted). Filled here from the existing rows.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = "image_id, annotator_id, decision_id, verdict, rule, tags"
UPSERT = f"""INSERT INTO standing_decisions ({COLUMNS})
    VALUES (NEW.image_id, NEW.annotator_id, NEW.id, NEW.verdict, NEW.rule, CAST(NEW.tags AS TEXT))
    ON CONFLICT (image_id, annotator_id) DO UPDATE SET decision_id = excluded.decision_id,
        verdict = excluded.verdict, rule = excluded.rule, tags = excluded.tags
    WHERE excluded.decision_id > standing_decisions.decision_id;"""


def upgrade() -> None:
    op.create_table(
        'standing_decisions',
        sa.Column('image_id', sa.Integer(), nullable=False),
        sa.Column('annotator_id', sa.Integer(), nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=False),
        sa.Column('verdict', sa.Enum('accept', 'reject', 'skip', 'undo', name='verdict',
                                     native_enum=False, length=16), nullable=False),
        sa.Column('rule', sa.String(length=32), nullable=True),
        sa.Column('tags', sa.Text(), nullable=False),  # the JSON list as text: indexable
        sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id']),
        sa.ForeignKeyConstraint(['decision_id'], ['decisions.id']),
        sa.ForeignKeyConstraint(['image_id'], ['images.id']),
        sa.PrimaryKeyConstraint('image_id', 'annotator_id'),
        sqlite_with_rowid=False,  # stored in key order: a pass by image reads one b-tree
    )
    op.create_index('ix_standing_annotator_verdict_rule_tags', 'standing_decisions',
                    ['annotator_id', 'verdict', 'rule', 'tags'])
    op.execute(f"""INSERT INTO standing_decisions ({COLUMNS})
        SELECT d.image_id, d.annotator_id, d.id, d.verdict, d.rule, CAST(d.tags AS TEXT)
        FROM decisions d
        WHERE NOT EXISTS (SELECT 1 FROM decisions n WHERE n.image_id = d.image_id
                          AND n.annotator_id = d.annotator_id AND n.id > d.id)""")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION decisions_keep_standing() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN {UPSERT} RETURN NULL; END $$""")
        op.execute("""CREATE TRIGGER decisions_keep_standing AFTER INSERT ON decisions
            FOR EACH ROW EXECUTE FUNCTION decisions_keep_standing()""")
    else:
        op.execute(f"""CREATE TRIGGER decisions_keep_standing AFTER INSERT ON decisions
            BEGIN {UPSERT} END""")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS decisions_keep_standing" +
               (" ON decisions" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS decisions_keep_standing()")
    op.drop_index('ix_standing_annotator_verdict_rule_tags', table_name='standing_decisions')
    op.drop_table('standing_decisions')
