"""The Export page: the admin writes exports through the same functions as the CLI, as
background jobs (curate.jobs) whose end the page then lists."""
from __future__ import annotations

import time

from curate import jobs
from tests.curate.export.lmdb_read import read_lmdb
from tests.helpers.app import as_user, page, two_accepted
from tests.helpers.curate import unescaped


def finish_jobs(engine, at, timeout_s: float = 120) -> None:
    """Wait until no job runs (a deadline only so that a hung worker fails the test), then
    run the page again, as a person coming back to it would."""
    deadline = time.monotonic() + timeout_s
    while any(v.state == jobs.RUNNING for v in jobs.jobs(engine)):
        assert time.monotonic() < deadline, jobs.jobs(engine)
        time.sleep(0.1)
    at.run()
    assert not at.exception


def table(at, column: str):
    """The page's table that has `column` (jobs: "result"; recent exports: "counts")."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


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
               f"is under **{ws / 'exports'}**" in unescaped(c.value) for c in at.caption)
    assert any("**2** accepted images qualify now (target 2,500). Of them tagged: two_faces 1"
               in i.value for i in at.info)
    assert at.number_input(key="x_old_celeba_count").value == 2  # what qualifies, not 2,500
    at.number_input(key="x_old_celeba_count").set_value(5)
    at.button[0].click().run()
    assert any("Started: old_celebA" in unescaped(m.value) for m in at.success)
    finish_jobs(engine, at)
    result = table(at, "result")
    assert list(result["state"]) == ["failed"]
    error = result["result"][0]
    assert "only 2 image(s) are accepted" in error
    assert "--" not in error  # the page's words, not the command line's
    assert "tick “Take fewer when fewer qualify”" in error and "lower “Images”" in error
    assert not (ws / "exports" / "old_celebA").exists()

    at.checkbox(key="x_old_celeba_allow_fewer").check()
    at.button[0].click().run()
    finish_jobs(engine, at)
    out = ws / "exports" / "old_celebA"
    assert list(table(at, "result")["state"]) == ["done", "failed"], list(table(at, "result")["result"])
    assert len(list(out.glob("*.jpg"))) == 2 and (out / "manifest.csv").exists()

    at.radio(key="export_kind").set_value("LMDB").run()
    at.text_input(key="x_lmdb_source").input(str(out))
    at.text_input(key="x_lmdb_sizes").input("8,16")
    at.button[0].click().run()
    finish_jobs(engine, at)
    db = read_lmdb(ws / "exports" / "faces.lmdb")
    assert db.length == 2 and set(db.sizes) == {8, 16}
    recent = table(at, "counts")
    assert list(recent["what"]) == ["LMDB", "old_celebA"]  # both exports listed, newest first
    assert recent["counts"][1] == "images 2 · qualifying 2"  # words, not raw JSON


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
    assert not at.dataframe and not jobs.jobs(sqlite_engine)  # refused before any job


def test_replacing_an_export_asks_first(sqlite_engine, sqlite_url, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    at = admin_export_page(sqlite_engine, sqlite_url, tmp_path, monkeypatch)
    at.checkbox(key="x_old_celeba_allow_fewer").check()
    at.button[0].click().run()
    finish_jobs(sqlite_engine, at)
    out = ws / "exports" / "old_celebA"
    first = (out / "export.json").read_text()

    at.number_input(key="x_old_celeba_seed").set_value(7)
    at.button[0].click().run()  # the same folder again: nothing happens before a confirmation
    assert not at.success and not at.error and any("it exists" in unescaped(c.value) for c in at.caption)
    assert any(f"{out.resolve()}** already holds an earlier old_celebA export" in unescaped(w.value)
               for w in at.warning)
    assert (out / "export.json").read_text() == first and len(jobs.jobs(sqlite_engine)) == 1
    at.button(key="export_cancel").click().run()
    assert not at.warning and (out / "export.json").read_text() == first

    at.button[0].click().run()
    at.button(key="export_replace").click().run()
    assert not at.exception and any("Started" in unescaped(m.value) for m in at.success)
    assert not at.warning
    finish_jobs(sqlite_engine, at)
    second = (out / "export.json").read_text()
    assert second != first and '"seed": 7' in second
