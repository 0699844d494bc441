"""What every export shares: items, where they are read from, the manifest, checks, workers.

The folder itself is written by curate.export.folder.export_folder (temp folder, pending
row, rename, done) and recorded by curate.export.records. The manifest is a pure function of
the database, the parameters and the seed: rows in a fixed order, no times in it (times live
in export.json).

Input folders are not trusted: a manifest entry or a file found in a folder must resolve
inside that folder (no absolute name, no `..`, no symlink leaving it), a manifest's recorded
sha256 must match the bytes read, and a file whose name is not valid UTF-8 is skipped and
reported rather than carried into a manifest.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select

from curate.export import ExportError
from curate.export.records import MANIFEST, export_kind
from curate.export.registry import PHOTO_KINDS, kind_of
from curate.imaging import EXTENSIONS
from curate.progress import Progress, bar
from db.engine import reading
from db.models import Image, Source
from trainers.common.safefiles import RefusedFile, read_regular, walk
from trainers.common.workers import worker_pool

log = logging.getLogger(__name__)
MANIFEST_COLUMNS = ("name", "source", "relpath", "image_id", "content_hash", "provenance")
J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class Item:
    """One image going into an export, and where it came from."""

    path: str  # absolute path of the file read now
    source: str  # source name in the database, or the folder for a plain folder
    relpath: str  # POSIX path under the source
    image_id: int | None = None  # None for a plain folder
    content_hash: str = ""  # sha256 hex recorded at ingest ("" when unknown: a plain folder)
    provenance: str = ""  # who decided its verdict ("ana+luis", "adjudicated by admin")
    name: str = ""  # output name inside the export (set by the exporter)

    def row(self) -> tuple[str, ...]:
        return (self.name, self.source, self.relpath,
                "" if self.image_id is None else str(self.image_id), self.content_hash,
                self.provenance)


def check_file(item: Item) -> tuple[bytes | None, str | None]:
    """The file's bytes, or None and why it cannot be used (vanished, or changed since ingest)."""
    try:
        data = read_regular(item.path)  # a regular file below the size cap, never a FIFO
    except FileNotFoundError:
        return None, f"vanished: {item.path}"
    except RefusedFile as e:
        return None, f"refused: {e}"
    except OSError as e:
        return None, f"unreadable: {item.path}: {e.strerror or e}"
    if item.content_hash and hashlib.sha256(data).hexdigest() != item.content_hash:
        return None, f"changed since ingest (sha256 differs): {item.path}"
    return data, None


def fail_on_problems(problems: list[str]) -> None:
    """Raise ExportError listing every vanished or changed file (all of them, sorted)."""
    if problems:
        problems = sorted(problems)
        raise ExportError(f"{len(problems)} source file(s) vanished or changed since ingest; "
                          "nothing was written (re-run `curate ingest` or restore them):\n  "
                          + "\n  ".join(problems))


def manifest_bytes(items: Iterable[Item]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_COLUMNS)
    for it in items:
        w.writerow(it.row())
    return buf.getvalue().encode("utf-8")


def _inside(folder: Path, name: str) -> tuple[str | None, str]:
    """(real path, "") of `name` under `folder` (already resolved), or (None, why it is refused)."""
    if not name or "\x00" in name:
        return None, "an empty name or a NUL byte"
    if os.path.isabs(name):
        return None, "an absolute path"
    if ".." in Path(name).parts:
        return None, "'..' in the name"
    real = os.path.realpath(folder / name)
    if not Path(real).is_relative_to(folder):
        return None, f"a symlink to {real}, outside the folder"
    return real, ""


def _refuse_entries(what: str, bad: list[tuple[str, str]]) -> None:
    """One error line naming the first unsafe entry and how many there are; nothing is read."""
    if bad:
        name, why = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise ExportError(f"{what}: entry {name!r} leaves the folder ({why}){more}; "
                          "refused, nothing was read")


def read_manifest(folder: str | os.PathLike) -> list[Item]:
    """The items of an earlier export, in manifest order; `path` is the exported file's real path.

    The one manifest reader: exports, prepare, sketch pairs, the Datasets page and the Export
    page all read manifests here. Every entry must resolve inside the folder (see the module
    doc); a malformed manifest or an unsafe entry raises ExportError naming it. Recorded hashes
    are checked when the bytes are read (check_file; the Datasets page's thumbnails too).
    """
    folder = Path(folder).resolve()
    where = f"{folder / MANIFEST}"
    try:
        text = read_regular(folder / MANIFEST, root=folder).decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        items, bad = [], []
        for r in rows:
            name = r["name"] or ""
            real, why = _inside(folder, name)
            if real is None:
                bad.append((name, why))
                continue
            items.append(Item(path=real, source=r["source"] or "", relpath=r["relpath"] or "",
                              image_id=int(r["image_id"]) if r.get("image_id") else None,
                              content_hash=r.get("content_hash") or "",
                              provenance=r.get("provenance") or "", name=name))
    except OSError as e:
        raise ExportError(f"{where} cannot be read ({e})") from None
    except (UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError) as e:
        raise ExportError(f"{where} is not a manifest this tool reads "
                          f"({type(e).__name__}: {e})") from None
    _refuse_entries(where, bad)
    return items


def image_files(folder: Path, bad_names: list[str] | None = None) -> list[str]:
    """Relative POSIX paths of the images under a folder (resolved), sorted; hidden files skipped.

    A symlinked file must stay inside the folder (ExportError names the first that does not);
    symlinked folders are not followed. A name that is not valid UTF-8 cannot be written to a
    manifest, and a FIFO, device or socket is never opened: either is skipped and, when
    `bad_names` is given, appended there (a name as its bytes' repr).
    """
    out, bad = [], []
    for dirpath, dirnames, filenames in walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for n in filenames:
            if Path(n).suffix.lower() not in EXTENSIONS or n.startswith("."):
                continue
            rel = (Path(dirpath) / n).relative_to(folder).as_posix()
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                if bad_names is not None:
                    bad_names.append(repr(os.fsencode(rel)))
                continue
            if os.path.islink(os.path.join(dirpath, n)):
                real, why = _inside(folder, rel)
                if real is None:
                    bad.append((rel, why))
                    continue
            if not _regular(os.path.join(dirpath, n)):  # a FIFO or a device: never opened
                if bad_names is not None:
                    bad_names.append(f"{rel} (not a regular file)")
                continue
            out.append(rel)
    _refuse_entries(str(folder), bad)
    return sorted(out)


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a symlink loop, a vanished file
        return False


def items_from(path: str | os.PathLike, engine: Engine | None = None) -> list[Item]:
    """EXPORT_OR_DIR: an export's items in manifest order, or a folder's images sorted.

    A folder that is the root of a source in the database (given `engine`) gives that source's
    recorded images, with their ids and ingest hashes.

    Items of an export keep their original source, id, hash and provenance; the exported copy
    must still match the hash (old-celeba and peruvian-mix copy the original bytes). A plain
    folder's items carry no hash: nothing to compare with. An input without images is refused.
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise ExportError(f"input not found: {folder} (an export folder or a folder of images)")
    try:
        str(folder).encode("utf-8")
    except UnicodeEncodeError:
        raise ExportError(f"input {os.fsencode(folder)!r}: the folder's name is not valid "
                          "UTF-8; rename it") from None
    if (folder / MANIFEST).is_file():
        kind = export_kind(folder)
        if kind is not None and kind_of(kind) not in PHOTO_KINDS:
            raise ExportError(f"{folder} is a {kind} export; give an export of photos "
                              "(old-celeba, peruvian-mix) or a folder of images")
        items = read_manifest(folder)
    else:
        items = None
        if engine is not None:
            with reading(engine) as s:
                name = s.scalar(select(Source.name).where(Source.root == str(folder)))
            if name is not None:
                items = source_items(engine, name) or []
        if items is None:
            bad_names: list[str] = []
            rels = image_files(folder, bad_names)
            if bad_names:
                log.warning("skipped %d bad file(s) under %s (names not valid UTF-8, or not "
                            "regular files): %s",
                            len(bad_names), folder, ", ".join(bad_names[:5]))
            items = [Item(path=str(folder / r), source=str(folder), relpath=r) for r in rels]
    if not items:
        raise ExportError(f"no images (jpg, jpeg, png, webp) in {folder}: nothing to export")
    return items


def source_items(engine: Engine, source: str) -> list[Item] | None:
    """Every recorded, present image of a database source (by relpath), or None if unknown."""
    with reading(engine) as s:
        src = s.scalar(select(Source).where(Source.name == source))
        if src is None:
            return None
        rows = s.execute(select(Image.id, Image.relpath, Image.content_hash)
                         .where(Image.source_id == src.id, Image.missing_since.is_(None))
                         .order_by(Image.relpath)).all()
    return [Item(path=str(Path(src.root) / rel), source=source, relpath=rel, image_id=i,
                 content_hash=h) for i, rel, h in rows]


def items_by_id(engine: Engine, image_ids: Iterable[int]) -> dict[int, Item]:
    ids = list(image_ids)
    out: dict[int, Item] = {}
    with reading(engine) as s:
        for chunk in range(0, len(ids), 5000):
            q = (select(Image.id, Image.relpath, Image.content_hash, Source.name, Source.root)
                 .join(Source, Image.source_id == Source.id)
                 .where(Image.id.in_(ids[chunk:chunk + 5000])))
            for i, rel, h, name, root in s.execute(q):
                out[i] = Item(path=str(Path(root) / rel), source=name, relpath=rel, image_id=i,
                              content_hash=h)
    return out


def copy_items(tmp: Path, items: list[Item], *, desc: str, progress: Progress) -> None:
    """Copy each item's original bytes to tmp/name after checking its hash; raises ExportError
    listing every vanished or changed file (nothing is kept: the temp folder is dropped).
    `progress`: a terminal bar, none, or a report callable (curate.progress)."""
    problems: list[str] = []
    for it in bar(progress, iterable=items, total=len(items), desc=desc, unit="img"):
        data, problem = check_file(it)
        if problem:
            problems.append(problem)
        elif not problems:
            dest = tmp / it.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    fail_on_problems(problems)


def run_jobs(work: Callable[[J], R], jobs: list[J], workers: int, *, inline_below: int,
             chunksize: int) -> Iterator[R]:
    """work(job) for each job, in order: in this process when workers <= 1 or there are fewer
    than `inline_below` jobs (a pool costs more than it saves), else in a process pool."""
    if workers <= 1 or len(jobs) < inline_below:
        yield from map(work, jobs)
        return
    pool = worker_pool(workers)
    try:
        yield from pool.map(work, jobs, chunksize=chunksize)
    finally:  # on an error or Ctrl-C, drop the queued work instead of finishing it
        pool.shutdown(wait=True, cancel_futures=True)


def output_name(index: int, item: Item) -> str:
    """000001.jpg, … keeping the original extension (lower case) since the bytes are copied."""
    ext = Path(item.relpath).suffix.lower()
    ext = ext if ext in EXTENSIONS else ".jpg"  # a manifest's relpath is not trusted
    return f"{index + 1:06d}{ext}"
