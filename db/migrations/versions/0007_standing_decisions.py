"""standing_decisions: the newest decision per (image, annotator), kept by triggers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 16:00:00.000000

Finding each pair's newest row among all decisions, and then for each image how many queues
hold it, was most of the Dashboard's time and of the Datasets verdict filters' first view on
100,000 decisions (benchmarks/dashboard.py). The table holds that row's id, verdict (an undo
too: then nothing stands), rule and tags (the JSON list as text, so that it can be indexed on
PostgreSQL too), whether the decider's queue holds the image (`in_queue`) and how many queues
hold it (`holders`). Triggers keep it: on every insert into `decisions` (append-only: never
updated, never deleted) and on every insert or delete of an assignment, so every writer keeps it
without knowing. Filled here from the existing rows.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = "image_id, annotator_id, decision_id, verdict, rule, tags, in_queue, holders"
IN_QUEUE = """EXISTS (SELECT 1 FROM assignments a WHERE a.image_id = {d}.image_id
                    AND a.annotator_id = {d}.annotator_id)"""
HOLDERS = "(SELECT count(*) FROM assignments a WHERE a.image_id = {d}.image_id)"
ON_DECISION = f"""INSERT INTO standing_decisions ({COLUMNS})
    VALUES (NEW.image_id, NEW.annotator_id, NEW.id, NEW.verdict, NEW.rule, CAST(NEW.tags AS TEXT),
            {IN_QUEUE.format(d="NEW")}, {HOLDERS.format(d="NEW")})
    ON CONFLICT (image_id, annotator_id) DO UPDATE SET decision_id = excluded.decision_id,
        verdict = excluded.verdict, rule = excluded.rule, tags = excluded.tags
    WHERE excluded.decision_id > standing_decisions.decision_id;"""
ON_ASSIGN = """UPDATE standing_decisions SET holders = holders + 1,
        in_queue = (in_queue OR annotator_id = NEW.annotator_id)
    WHERE image_id = NEW.image_id;"""
ON_UNASSIGN = """UPDATE standing_decisions SET holders = holders - 1,
        in_queue = (in_queue AND annotator_id <> OLD.annotator_id)
    WHERE image_id = OLD.image_id;"""
TRIGGERS = (("decisions_keep_standing", "AFTER INSERT ON decisions", ON_DECISION),
            ("assignments_add_standing", "AFTER INSERT ON assignments", ON_ASSIGN),
            ("assignments_drop_standing", "AFTER DELETE ON assignments", ON_UNASSIGN))


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
        sa.Column('in_queue', sa.Boolean(), nullable=False),
        sa.Column('holders', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id']),
        sa.ForeignKeyConstraint(['decision_id'], ['decisions.id']),
        sa.ForeignKeyConstraint(['image_id'], ['images.id']),
        sa.PrimaryKeyConstraint('image_id', 'annotator_id'),
        sqlite_with_rowid=False,  # stored in key order: a pass by image reads one b-tree
    )
    op.create_index('ix_standing_annotator_verdict_rule_tags', 'standing_decisions',
                    ['annotator_id', 'verdict', 'rule', 'tags'])
    op.execute(f"""INSERT INTO standing_decisions ({COLUMNS})
        SELECT d.image_id, d.annotator_id, d.id, d.verdict, d.rule, CAST(d.tags AS TEXT),
               {IN_QUEUE.format(d="d")}, {HOLDERS.format(d="d")}
        FROM decisions d
        WHERE NOT EXISTS (SELECT 1 FROM decisions n WHERE n.image_id = d.image_id
                          AND n.annotator_id = d.annotator_id AND n.id > d.id)""")
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, when, body in TRIGGERS:
        if postgres:
            op.execute(f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN {body} RETURN NULL; END $$""")
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, when, _body in TRIGGERS:
        table = when.rsplit(" ", 1)[-1]
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index('ix_standing_annotator_verdict_rule_tags', table_name='standing_decisions')
    op.drop_table('standing_decisions')
