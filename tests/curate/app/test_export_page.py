"""The Export page: the admin writes exports through the same functions as the CLI."""
from __future__ import annotations

from sqlalchemy import select

from curate import synth
from curate.assign import assign
from curate.decisions import record_decision
from curate.ingest import ingest
from curate.users import add_user
from db.engine import reading
from db.models import Assignment
from tests.curate.app.conftest import as_user, page
from tests.helpers.curate import unescaped
from tests.curate.export.lmdb_read import read_lmdb


def two_accepted(engine, tmp_path) -> dict[str, int]:
    """12 real synthetic images, one annotator who accepts two and rejects one."""
    synth.write_celeba(tmp_path / "c", 12, seed=5)
    ingest(engine, tmp_path / "c" / "img_align_celeba", "celeba", progress=False, workers=1)
    users = {"admin": add_user(engine, "admin", "admin", admin=True), "ana": add_user(engine, "ana", "ana")}
    assign(engine, per_annotator=12, overlap=0.0, seed=0)
    with reading(engine) as s:
        queue = list(s.scalars(select(Assignment.image_id).order_by(Assignment.position)))
    record_decision(engine, users["ana"], queue[0], "accept")
    record_decision(engine, users["ana"], queue[1], "accept", tags=["two_faces"])
    record_decision(engine, users["ana"], queue[2], "reject", rule="too_young")
    return users


def admin_export_page(engine, url, tmp_path, monkeypatch):
    """The Export page, run once, as the admin of `two_accepted` in workspace tmp_path/ws."""
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("ROSTRO_DATABASE_URL", url)
    at = page("curate/app/export.py", as_user(two_accepted(engine, tmp_path), "admin"))
    at.run()
    assert not at.exception
    return at


def test_admin_exports_old_celeba_then_an_lmdb(engine, db_url, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    at = admin_export_page(engine, db_url, tmp_path, monkeypatch)
    assert any(f"Writes to **{(ws / 'exports' / 'old_celebA').resolve()}**" in unescaped(c.value)
               for c in at.caption)  # the destination in full before running
    assert any(f"is under **{ws.resolve() / 'exports'}**" in unescaped(c.value) or
               f"is under **{ws / 'exports'}**" in c.value for c in at.caption)
    at.number_input(key="x_old_celeba_count").set_value(5)
    at.button[0].click().run()
    assert any("only 2 image(s) are accepted" in unescaped(e.value) for e in at.error)
    error = next(unescaped(e.value) for e in at.error if "only 2" in unescaped(e.value))
    assert "--" not in error  # the page's words, not the command line's
    assert "tick “Take fewer when fewer qualify”" in error and "lower “Images”" in error
    assert not (ws / "exports" / "old_celebA").exists()

    at.checkbox(key="x_old_celeba_allow_fewer").check()
    at.button[0].click().run()
    assert not at.exception and at.success
    out = ws / "exports" / "old_celebA"
    assert len(list(out.glob("*.jpg"))) == 2 and (out / "manifest.csv").exists()

    at.radio(key="export_kind").set_value("LMDB").run()
    at.text_input(key="x_lmdb_source").input(str(out))
    at.text_input(key="x_lmdb_sizes").input("8,16")
    at.button[0].click().run()
    assert not at.exception and at.success
    db = read_lmdb(ws / "exports" / "faces.lmdb")
    assert db.length == 2 and set(db.sizes) == {8, 16}
    assert len(at.dataframe[0].value) == 2  # both exports listed


def test_export_page_refuses_annotators(engine, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("ROSTRO_DATABASE_URL", db_url)
    users = two_accepted(engine, tmp_path)
    at = page("curate/app/export.py", as_user(users, "ana"))
    at.run()
    assert any("admins only" in e.value for e in at.error)
    assert not at.button


def test_export_page_refuses_a_folder_it_did_not_write(sqlite_engine, sqlite_url, tmp_path,
                                                        monkeypatch):
    ws = tmp_path / "ws"
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(ws))
    monkeypatch.setenv("ROSTRO_DATABASE_URL", sqlite_url)
    users = two_accepted(sqlite_engine, tmp_path)
    out = ws / "exports" / "old_celebA"
    out.mkdir(parents=True)
    (out / "export.json").write_text('{"kind": "old_celeba", "id": 1}')
    (out / "notes.txt").write_text("mine")
    at = page("curate/app/export.py", as_user(users, "admin"))
    at.run()
    at.checkbox(key="x_old_celeba_allow_fewer").check()
    at.button[0].click().run()
    assert any("is not an export this database recorded" in unescaped(e.value) for e in at.error)
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "notes.txt"]
    assert not at.dataframe or len(at.dataframe[0].value) == 0


def test_replacing_an_export_asks_first(sqlite_engine, sqlite_url, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    at = admin_export_page(sqlite_engine, sqlite_url, tmp_path, monkeypatch)
    at.checkbox(key="x_old_celeba_allow_fewer").check()
    at.button[0].click().run()
    out = ws / "exports" / "old_celebA"
    first = (out / "export.json").read_text()
    assert at.success

    at.number_input(key="x_old_celeba_seed").set_value(7)
    at.button[0].click().run()  # the same folder again: nothing happens before a confirmation
    assert not at.success and not at.error and any("it exists" in c.value for c in at.caption)
    assert any(f"{out.resolve()}** already holds an earlier old_celebA export" in unescaped(w.value)
               for w in at.warning)
    assert (out / "export.json").read_text() == first
    at.button(key="export_cancel").click().run()
    assert not at.warning and (out / "export.json").read_text() == first

    at.button[0].click().run()
    at.button(key="export_replace").click().run()
    assert not at.exception and at.success and not at.warning
    second = (out / "export.json").read_text()
    assert second != first and '"seed": 7' in second
