"""The database side of an export: which folder it may replace, its row, and crash recovery.

An export's row goes through two states (db.models.Export.state):
1. `pending`, written after its temp folder exists and before its files (trainers.common.fsutil
   names the temp folder after its owner's pid, so a running export is told apart from a dead
   one);
2. `done`, written once the folder is renamed into place; the rows of the folder it replaced
   are dropped in the same transaction, so one path has one row.
export.json carries the row's id. `reconcile()` runs at the start of every `curate` command:
it removes the leftovers of dead processes and settles each pending row whose process is
gone — `done` when its folder is in place (its export.json names the row), else dropped — so
the database and the folders on disk describe the same exports.

`check_destination` decides what an export may replace: nothing but a folder that is an
export this database recorded, of the same kind, at that path, with the manifest it recorded.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from sqlalchemy import Engine, delete, select, update

from curate.export import ExportError
from curate.export.registry import kind_of
from db.engine import reading, writing
from db.models import Export
from trainers.common.fsutil import clean_leftovers, leftovers

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
EXPORT_JSON = "export.json"
PENDING, DONE = "pending", "done"


def export_meta(folder: str | os.PathLike) -> dict | None:
    """A folder's export.json as a dict (None: none, or not a JSON object)."""
    try:
        meta = json.loads((Path(folder) / EXPORT_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def export_kind(folder: str | os.PathLike) -> str | None:
    """The kind an export folder's export.json records, as written (None: none readable)."""
    kind = (export_meta(folder) or {}).get("kind")
    return kind if isinstance(kind, str) else None


def _sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def check_destination(out: str | os.PathLike, engine: Engine | None = None,
                      kind: str | None = None) -> Path:
    """OUT resolved, when an export of `kind` may be written there; else ExportError.

    Allowed: a missing or empty folder, or an export this database recorded (engine) at
    exactly that path, of the same kind, whose export.json names its row (an export written
    before ids were recorded: whose manifest sha256 is the recorded one) and whose manifest is
    the one recorded. Anything else — a file, a folder with a stray or copied export.json, an
    export of another kind or database, any other non-empty folder — is refused, untouched.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ExportError(f"destination {out} is a file, not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return out
    refuse = f"destination {out} is not empty and is not an export this database recorded"
    meta = export_meta(out)
    if meta is None:
        raise ExportError(f"{refuse}; nothing was changed (pick another folder or empty it)")
    if engine is None:
        raise ExportError(f"{refuse} (no database to check it against); nothing was changed")
    found_kind = kind_of(meta.get("kind") if isinstance(meta.get("kind"), str) else None)
    if kind is not None and found_kind is not None and found_kind != kind_of(kind):
        raise ExportError(f"destination {out} holds a {found_kind} export; a {kind_of(kind)} "
                          "export does not replace it (pick another folder)")
    sha = _sha256(out / MANIFEST)
    with reading(engine) as s:
        q = select(Export).where(Export.path == str(out), Export.state == DONE)
        if isinstance(meta.get("id"), int):
            q = q.where(Export.id == meta["id"])
        else:  # written before export.json carried the id
            q = q.where(Export.manifest_sha256 == meta.get("manifest_sha256")).order_by(
                Export.id.desc())
        row = s.scalars(q.limit(1)).first()
        ok = (row is not None and kind_of(row.kind) == found_kind and found_kind is not None
              and sha is not None and row.manifest_sha256 == sha)
    if not ok:
        raise ExportError(f"{refuse} (its export.json or manifest.csv does not match a "
                          "recorded export at this path); nothing was changed")
    return out


def begin_record(engine: Engine | None, final: Path, kind: str, params: dict,
                 seed: int | None) -> int:
    """Add the `pending` row of an export about to be written to `final`; its id (0: no db)."""
    if engine is None:
        return 0
    with writing(engine) as s:
        row = Export(kind=kind, path=str(final), params=params, seed=seed, counts={},
                     state=PENDING)
        s.add(row)
        s.flush()
        return row.id


def fill_record(engine: Engine | None, export_id: int, counts: dict, sha: str) -> None:
    """Give a pending row its counts and manifest sha256 (before the rename)."""
    if engine is not None and export_id:
        with writing(engine) as s:
            s.execute(update(Export).where(Export.id == export_id)
                      .values(counts=counts, manifest_sha256=sha))


def finish_record(engine: Engine | None, export_id: int, final: Path) -> None:
    """Mark the row done, dropping the done rows of the folder it replaced (same path)."""
    if engine is None or not export_id:
        return
    with writing(engine) as s:
        s.execute(update(Export).where(Export.id == export_id).values(state=DONE))
        s.execute(delete(Export).where(Export.path == str(final), Export.state == DONE,
                                       Export.id != export_id))


def drop_record(engine: Engine | None, export_id: int) -> None:
    """Remove the row of an export that failed before its folder was put in place. When the
    database cannot be written (a full disk), the row stays pending for reconcile()."""
    if engine is None or not export_id:
        return
    try:
        with writing(engine) as s:
            s.execute(delete(Export).where(Export.id == export_id, Export.state == PENDING))
    except Exception as e:  # noqa: BLE001 — the export's own error is the one to report
        log.warning("export %s stays pending until the next command: %s", export_id, e)


def reconcile(engine: Engine, folders: list[str | os.PathLike] = ()) -> list[str]:
    """Make the database and the export folders agree after a crash; returns what was done.

    First the leftovers of dead processes are removed from `folders` (e.g. the workspace's
    exports/) and from the folder of every recorded export (trainers.common.fsutil.clean_leftovers:
    half-written `.partial` folders and `.tmp` files; an `.old` folder is renamed back where
    its replacement never arrived). Then each pending row whose writer is gone becomes done
    when its folder is in place and its export.json names the row, and is dropped otherwise.
    A row whose writer still runs (its temp folder's owner is alive) or whose folder cannot
    be seen from here is left alone.
    """
    with reading(engine) as s:
        rows = s.execute(select(Export.id, Export.path, Export.state)).all()
    notes: list[str] = []
    for folder in sorted({str(Path(p).parent) for _, p, _ in rows} | {str(f) for f in folders}):
        notes += clean_leftovers(folder)
    for export_id, path, state in rows:
        if state != PENDING:
            continue
        final = Path(path)
        if not final.parent.is_dir():
            continue
        if any(x.name == final.name and not x.dead for x in leftovers(final.parent)):
            continue  # still being written
        if (export_meta(final) or {}).get("id") == export_id:
            finish_record(engine, export_id, final)
            notes.append(f"export {export_id} at {final} recorded as done")
        else:
            with writing(engine) as s:
                s.execute(delete(Export).where(Export.id == export_id, Export.state == PENDING))
            notes.append(f"export {export_id} at {final} never finished: its row was removed")
    for n in notes:
        log.info("%s", n)
    return notes


def recent_exports(engine: Engine, limit: int = 50) -> list[dict]:
    """The newest finished exports (kind, path, counts, seed, time), newest first (default 50)."""
    with reading(engine) as s:
        rows = s.scalars(select(Export).where(Export.state == DONE)
                         .order_by(Export.id.desc()).limit(limit)).all()
    return [dict(kind=r.kind, path=r.path, counts=r.counts, seed=r.seed,
                 created_at=r.created_at) for r in rows]
