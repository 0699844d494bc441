"""The schema: typed SQLAlchemy 2 models. Alembic (db/migrations) owns how an existing database
changes; a new one is created from these models in one step (`db.migrate.create_new`), so they,
and the triggers declared at the end, must build what the revisions build
(tests/db/test_new_database.py compares the two).

Decisions and adjudications are append-only: an undo or a change is a new row, and the newest
row per (image, annotator) — or per image for adjudications — is the one that counts.
"""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


# The server default of the decisions' and adjudications' created_at, as migration 0001 wrote it
# (func.now() would read `now()` on PostgreSQL, another text than the migrated column's).
_NOW_SQL = text("(CURRENT_TIMESTAMP)")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Role(str, enum.Enum):
    annotator = "annotator"
    admin = "admin"


class Verdict(str, enum.Enum):
    accept = "accept"
    reject = "reject"
    skip = "skip"
    undo = "undo"  # withdraws the previous decision: the image is undecided again


class Source(Base):
    """A registered image folder (a collection): CelebA, a peruvian_face folder, ..."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    root: Mapped[str] = mapped_column(Text)  # absolute path of the image root
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    last_ingest_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # Column names of the attribute file, when one was read (CelebA: its 40 names).
    attribute_names: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

    images: Mapped[list[Image]] = relationship(back_populates="source")


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("source_id", "relpath", name="uq_images_source_relpath"),
        # One row per content in the whole database, so concurrent ingests cannot record a
        # file twice (migration 0005). A unique index: SQLite adds it without rebuilding the
        # table that assignments and decisions point at.
        Index("uq_images_content_hash", "content_hash", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    relpath: Mapped[str] = mapped_column(String(1024))  # POSIX path under source.root
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the file bytes, hex
    phash: Mapped[int] = mapped_column(BigInteger)  # 64-bit perceptual (DCT) hash, signed
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))  # PIL mode as stored (RGB, L, CMYK, P, ...)
    file_size: Mapped[int] = mapped_column(BigInteger)  # bytes
    # Names of the attributes that are +1 (CelebA's file says 1); the others are -1. None when
    # the source has no attribute file. A list keeps 202,599 rows small.
    attributes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    partition: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0 train 1 val 2 test
    missing_since: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)

    source: Mapped[Source] = relationship(back_populates="images")


class IngestProblem(Base):
    """A file an ingest could not take (bad file) or noted (duplicate, near-duplicate, vanished)."""

    __tablename__ = "ingest_problems"
    __table_args__ = (Index("ix_ingest_problems_source", "source_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    relpath: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(32))  # bad | duplicate | near_duplicate | vanished
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Annotator(Base):
    __tablename__ = "annotators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    password_hash: Mapped[str] = mapped_column(String(255))  # scrypt, see db.auth
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Assignment(Base):
    """One image in one annotator's queue, at a position (0-based)."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("annotator_id", "image_id", name="uq_assignments_annotator_image"),
        UniqueConstraint("annotator_id", "position", name="uq_assignments_annotator_position"),
        Index("ix_assignments_image", "image_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    is_overlap: Mapped[bool] = mapped_column(default=False)  # also in another queue
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Decision(Base):
    """An annotator's decision on an image. Append-only; the newest row per pair counts."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_annotator_image_id", "annotator_id", "image_id", "id"),
        Index("ix_decisions_image", "image_id"),
        # Standing decisions and their verdicts from the index alone (migration 0006).
        Index("ix_decisions_image_annotator_id_verdict", "image_id", "annotator_id", "id", "verdict"),
        Index("ix_decisions_annotator_seconds", "annotator_id", "seconds", "verdict"),  # medians
        # A key press is recorded once: its client id, unique per annotator (migration 0009).
        Index("uq_decisions_annotator_press", "annotator_id", "press_id", unique=True),
        Index("ix_decisions_annotator_id", "annotator_id", "id"),  # rows since (other tabs)
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"))
    verdict: Mapped[Verdict] = mapped_column(Enum(Verdict, native_enum=False, length=16))
    rule: Mapped[str | None] = mapped_column(String(32), nullable=True)  # failed rule key
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)  # tolerance tag keys
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # time taken to decide
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now,
                                                 server_default=_NOW_SQL)
    press_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the browser's id
    via: Mapped[str] = mapped_column(String(8), server_default="single")  # single | grid


class StandingDecision(Base):
    """The newest decision of each (image, annotator) — an `undo` included, meaning none
    stands — with whether the decider's queue holds the image and how many queues hold it.

    Kept by the database itself: triggers on every insert into `decisions` and every insert or
    delete of an assignment (migration 0007), so each writer (the app, the CLI, a bulk insert)
    keeps it right; decisions are never updated or deleted. Whole-database figures (Dashboard,
    Datasets verdict filters, a Label queue's counts) read it instead of finding the newest
    row of every pair among all rows and looking each image up in the queues.
    """

    __tablename__ = "standing_decisions"
    # On SQLite a WITHOUT ROWID table: stored in (image_id, annotator_id) order, so a pass over
    # it by image reads no second b-tree. The index answers "per annotator: standing verdicts, rules and tag lists" in one pass
    # over it, without a sort (the Dashboard's progress, rules and tags).
    __table_args__ = (Index("ix_standing_annotator_verdict_rule_tags", "annotator_id", "verdict",
                            "rule", "tags"),
                      {"sqlite_with_rowid": False})
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"), primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"), primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    verdict: Mapped[Verdict] = mapped_column(Enum(Verdict, native_enum=False, length=16))
    rule: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tags: Mapped[str] = mapped_column(Text)  # the decision's JSON list as text (indexable)
    in_queue: Mapped[bool] = mapped_column(Boolean)  # the decider's queue holds the image
    holders: Mapped[int] = mapped_column(Integer)  # how many queues hold the image


class Adjudication(Base):
    """An admin's verdict settling a disagreement. Append-only; the newest row per image counts."""

    __tablename__ = "adjudications"
    __table_args__ = (Index("ix_adjudications_image_id", "image_id", "id"),
                      Index("uq_adjudications_admin_press", "admin_id", "press_id", unique=True))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    admin_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"))
    verdict: Mapped[Verdict] = mapped_column(Enum(Verdict, native_enum=False, length=16))
    rule: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now,
                                                 server_default=_NOW_SQL)
    press_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the browser's id


class Export(Base):
    """A dataset folder written by `curate export` or `curate prepare`."""

    __tablename__ = "exports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # old_celeba | peruvian_mix | sketch_pairs | lmdb
    path: Mapped[str] = mapped_column(Text)  # absolute path of the folder
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    # "pending" from before the folder is renamed into place until the rename is done, so a
    # crash in between is found and reconciled; "done" after.
    state: Mapped[str] = mapped_column(String(16), default="done", server_default="done")


class Job(Base):
    """An export or prepare the app runs in a worker process (curate.jobs): its progress, a
    cancel request, and how it ended."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # an export kind (curate.export.registry)
    path: Mapped[str] = mapped_column(Text)  # the destination folder
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # the params fields, as JSON
    state: Mapped[str] = mapped_column(String(16))  # running | done | failed | cancelled
    cancel: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # items written
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: not known yet
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the worker process
    message: Mapped[str | None] = mapped_column(Text, nullable=True)  # summary or error line
    started_by: Mapped[int | None] = mapped_column(
        ForeignKey("annotators.id", ondelete="SET NULL"), nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    # when it began counting items (its inputs read): the rate is measured from here
    counting_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    progress_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class LoginSession(Base):
    """A logged-in browser session. The token itself is never stored, only its SHA-256; a row
    counts while it is not ended, not expired and its user is active."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"),
                                              index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)  # address at login
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # log out, …


class LoginThrottle(Base):
    """Failed logins per key ("name:<name>" or "addr:<address>"), for exponential back-off."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the last success
    blocked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Setting(Base):
    """Workspace-wide settings an admin (or `curate demo`) chose, as JSON values."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)


class TriageModel(Base):
    """A ranker `curate triage train` wrote: its file under the workspace and what it scored on
    the held-out images (see docs/triage.md)."""

    __tablename__ = "triage_models"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    trained_at: Mapped[dt.datetime] = mapped_column(DateTime)
    path: Mapped[str] = mapped_column(Text)  # relative to the workspace
    decisions_used: Mapped[int] = mapped_column(Integer)  # images with a standing verdict
    seed: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(16))  # where it trained: cpu | cuda
    figures: Mapped[dict] = mapped_column(JSON)  # held-out AUC, precision, calibration, times


class TriageScore(Base):
    """The newest model's guess for one image: p(accept), the likeliest failed rule, the tags."""

    __tablename__ = "triage_scores"
    __table_args__ = (Index("ix_triage_scores_p_accept", "p_accept"),)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          primary_key=True, autoincrement=False)
    model_version: Mapped[int] = mapped_column(Integer)
    p_accept: Mapped[float] = mapped_column(Float)
    rule: Mapped[str | None] = mapped_column(String(32), nullable=True)  # likeliest failed rule
    p_rule: Mapped[float | None] = mapped_column(Float, nullable=True)  # p(reject under `rule`)
    tags: Mapped[list[str]] = mapped_column(JSON)  # tags with p > 0.5, should it be accepted
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AssignRound(Base):
    """One `curate assign` run: the order it used (and the model that ranked it)."""

    __tablename__ = "assign_rounds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    order_name: Mapped[str] = mapped_column(String(16))  # attributes | random | model
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    explore: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    seed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AssignRoundSpan(Base):
    """The queue positions [first, end) a round appended to one annotator's queue."""

    __tablename__ = "assign_round_spans"
    round_id: Mapped[int] = mapped_column(ForeignKey("assign_rounds.id", ondelete="CASCADE"),
                                          primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"),
                                              primary_key=True)
    first_position: Mapped[int] = mapped_column(Integer)
    end_position: Mapped[int] = mapped_column(Integer)


# The triggers that keep standing_decisions, word for word as migration 0007 created them (a
# revision stays as it was written; a change to them is a new revision and a change here).
# Emitted by create_all once every table exists.
_STANDING_COLUMNS = "image_id, annotator_id, decision_id, verdict, rule, tags, in_queue, holders"
_IN_QUEUE = """EXISTS (SELECT 1 FROM assignments a WHERE a.image_id = {d}.image_id
                    AND a.annotator_id = {d}.annotator_id)"""
_HOLDERS = "(SELECT count(*) FROM assignments a WHERE a.image_id = {d}.image_id)"
_ON_DECISION = f"""INSERT INTO standing_decisions ({_STANDING_COLUMNS})
    VALUES (NEW.image_id, NEW.annotator_id, NEW.id, NEW.verdict, NEW.rule, CAST(NEW.tags AS TEXT),
            {_IN_QUEUE.format(d="NEW")}, {_HOLDERS.format(d="NEW")})
    ON CONFLICT (image_id, annotator_id) DO UPDATE SET decision_id = excluded.decision_id,
        verdict = excluded.verdict, rule = excluded.rule, tags = excluded.tags
    WHERE excluded.decision_id > standing_decisions.decision_id;"""
_ON_ASSIGN = """UPDATE standing_decisions SET holders = holders + 1,
        in_queue = (in_queue OR annotator_id = NEW.annotator_id)
    WHERE image_id = NEW.image_id;"""
_ON_UNASSIGN = """UPDATE standing_decisions SET holders = holders - 1,
        in_queue = (in_queue AND annotator_id <> OLD.annotator_id)
    WHERE image_id = OLD.image_id;"""
STANDING_TRIGGERS = (("decisions_keep_standing", "AFTER INSERT ON decisions", _ON_DECISION),
                     ("assignments_add_standing", "AFTER INSERT ON assignments", _ON_ASSIGN),
                     ("assignments_drop_standing", "AFTER DELETE ON assignments", _ON_UNASSIGN))
for _name, _when, _body in STANDING_TRIGGERS:
    event.listen(Base.metadata, "after_create", DDL(
        f"CREATE TRIGGER {_name} {_when} BEGIN {_body} END").execute_if(dialect="sqlite"))
    event.listen(Base.metadata, "after_create", DDL(
        f"""CREATE FUNCTION {_name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN {_body} RETURN NULL; END $$""").execute_if(dialect="postgresql"))
    event.listen(Base.metadata, "after_create", DDL(
        f"CREATE TRIGGER {_name} {_when} FOR EACH ROW EXECUTE FUNCTION {_name}()"
    ).execute_if(dialect="postgresql"))
