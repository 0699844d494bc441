"""The schema round-trips on SQLite and PostgreSQL, and migrations go up and down."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from db import migrate
from db.auth import hash_password, verify_password
from db.engine import make_engine, reading, writing
from db.models import (Adjudication, Annotator, Assignment, Decision, Export, Image,
                       IngestProblem, Role, Source, Verdict)

# "!" never appears in the hash encoding, so this cannot be found in a hash by chance (as "pw"
# could, in the random salt).
ANA_PASSWORD = "ana-pw!"


def test_round_trip_every_table(engine):
    with writing(engine) as s:
        src = Source(name="celeba", root="/data/celeba", attribute_names=["Young", "Bald"])
        s.add(src)
        s.flush()
        img = Image(source_id=src.id, relpath="a/000001.jpg", content_hash="ab" * 32,
                    phash=-(2**63), width=178, height=218, mode="RGB", file_size=1234,
                    attributes=["Bald"], partition=2)
        admin = Annotator(name="lead", role=Role.admin, password_hash=hash_password("pw"))
        ann = Annotator(name="ana", role=Role.annotator, password_hash=hash_password(ANA_PASSWORD))
        s.add_all([img, admin, ann])
        s.flush()
        s.add(Assignment(annotator_id=ann.id, image_id=img.id, position=0, is_overlap=True))
        s.add(Decision(image_id=img.id, annotator_id=ann.id, verdict=Verdict.reject,
                       rule="too_young", tags=["two_faces"], note="ñ é", seconds=1.5))
        s.add(Adjudication(image_id=img.id, admin_id=admin.id, verdict=Verdict.accept, tags=[]))
        s.add(IngestProblem(source_id=src.id, relpath="bad.jpg", kind="bad", reason="truncated"))
        s.add(Export(kind="old_celeba", path="/x", params={"count": 1}, seed=3, counts={"images": 1}))
    with reading(engine) as s:
        img = s.scalar(select(Image))
        assert (img.phash, img.attributes, img.partition) == (-(2**63), ["Bald"], 2)
        d = s.scalar(select(Decision))
        assert (d.verdict, d.rule, d.tags, d.note, d.seconds) == (Verdict.reject, "too_young",
                                                                  ["two_faces"], "ñ é", 1.5)
        assert d.created_at is not None
        assert s.scalar(select(Adjudication.verdict)) is Verdict.accept
        assert s.scalar(select(Export.params)) == {"count": 1}
        assert s.scalar(select(Source.attribute_names)) == ["Young", "Bald"]
        ann = s.scalar(select(Annotator).where(Annotator.name == "ana"))
        assert ann.password_hash.startswith("scrypt$") and ANA_PASSWORD not in ann.password_hash


def test_migrations_reach_head_and_go_back_down(db_url):
    engine = make_engine(db_url)
    assert migrate.upgrade(engine) == migrate.head_revision(engine)
    assert migrate.upgrade(engine) == migrate.head_revision(engine)  # idempotent
    tables = set(inspect(engine).get_table_names())
    assert {"sources", "images", "annotators", "assignments", "decisions", "adjudications",
            "exports", "ingest_problems"} <= tables
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_duplicate_queue_position_is_refused(engine):
    from sqlalchemy.exc import IntegrityError
    with writing(engine) as s:
        src = Source(name="s", root="/r")
        ann = Annotator(name="a", role=Role.annotator, password_hash=hash_password("x"))
        s.add_all([src, ann])
        s.flush()
        imgs = [Image(source_id=src.id, relpath=f"{i}.jpg", content_hash=str(i), phash=i, width=1,
                      height=1, mode="RGB", file_size=1) for i in range(2)]
        s.add_all(imgs)
        s.flush()
        s.add(Assignment(annotator_id=ann.id, image_id=imgs[0].id, position=0))
    with pytest.raises(IntegrityError):
        with writing(engine) as s:
            s.add(Assignment(annotator_id=ann.id, image_id=imgs[1].id, position=0))


def test_password_hash_verifies_only_the_right_password():
    h = hash_password("s3cret")
    assert verify_password("s3cret", h)
    assert not verify_password("s3cret ", h)
    assert not verify_password("s3cret", "plain-text")
    assert hash_password("s3cret") != h  # salted


def test_models_match_the_migrated_schema(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from db.models import Base
    engine = make_engine(db_url)
    migrate.run_migrations(engine)  # the revisions replayed (upgrade() would create it in one step)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_0002_drops_other_image_id_from_an_existing_0001_database(db_url):
    from sqlalchemy import text
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    with writing(engine) as s:
        src = Source(name="s", root="/r")
        s.add(src)
        s.flush()
        s.add(IngestProblem(source_id=src.id, relpath="bad.jpg", kind="bad", reason="truncated"))
    def columns():
        return {c["name"] for c in inspect(engine).get_columns("ingest_problems")}
    assert "other_image_id" in columns()

    assert migrate.upgrade(engine, "0002") == "0002"
    assert "other_image_id" not in columns()
    fks = inspect(engine).get_foreign_keys("ingest_problems")
    assert [(f["constrained_columns"], f["referred_table"]) for f in fks] == [
        (["source_id"], "sources")]
    assert fks[0]["options"].get("ondelete") == "CASCADE"
    indexes = {i["name"] for i in inspect(engine).get_indexes("ingest_problems")}
    assert "ix_ingest_problems_source" in indexes
    with reading(engine) as s:  # the rows survive the rebuild
        assert [(p.relpath, p.kind, p.reason) for p in s.scalars(select(IngestProblem))] == [
            ("bad.jpg", "bad", "truncated")]

    migrate.downgrade(engine, "0001")
    assert "other_image_id" in columns()
    with engine.connect() as c:
        assert c.execute(text("SELECT relpath, other_image_id FROM ingest_problems")).all() == [
            ("bad.jpg", None)]
    engine.dispose()
