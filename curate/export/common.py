"""What every export shares: items, the manifest, export.json, the database record, checks.

An export is written into a temp folder beside OUT and renamed into place at the end
(curate.fsutil.atomic_dir), so a crash or Ctrl-C leaves no half export and an earlier export
of the same name untouched. The manifest is a pure function of the database, the parameters
and the seed: rows in a fixed order, no times in it (times live in export.json).
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import hashlib
import io
import json
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select
from tqdm import tqdm

from curate.export import ExportError
from curate.export.registry import PHOTO_KINDS, kind_of
from curate.fsutil import atomic_dir
from curate.imaging import EXTENSIONS
from curate.workers import worker_pool
from db.engine import reading, writing
from db.models import Export, Image, Source

MANIFEST = "manifest.csv"
EXPORT_JSON = "export.json"
MANIFEST_COLUMNS = ("name", "source", "relpath", "image_id", "content_hash", "provenance")
_REPO = Path(__file__).resolve().parent.parent.parent
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
        with open(item.path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, f"vanished: {item.path}"
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


def read_manifest(folder: str | os.PathLike) -> list[Item]:
    """The items of an earlier export, in manifest order; `path` points at the exported file."""
    folder = Path(folder).resolve()
    with open(folder / MANIFEST, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [Item(path=str(folder / r["name"]), source=r["source"], relpath=r["relpath"],
                 image_id=int(r["image_id"]) if r.get("image_id") else None,
                 content_hash=r.get("content_hash", ""), provenance=r.get("provenance", ""),
                 name=r["name"]) for r in rows]


def image_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the images under a folder, sorted; hidden files skipped."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for n in filenames:
            if Path(n).suffix.lower() in EXTENSIONS and not n.startswith("."):
                out.append((Path(dirpath) / n).relative_to(folder).as_posix())
    return sorted(out)


def items_from(path: str | os.PathLike, engine: Engine | None = None) -> list[Item]:
    """EXPORT_OR_DIR: an export's items in manifest order, or a folder's images sorted.

    A folder that is the root of a source in the database (given `engine`) gives that source's
    recorded images, with their ids and ingest hashes.

    Items of an export keep their original source, id, hash and provenance; the exported copy
    must still match the hash (old-celeba and peruvian-mix copy the original bytes). A plain
    folder's items carry no hash: nothing to compare with.
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise ExportError(f"input not found: {folder} (an export folder or a folder of images)")
    if (folder / MANIFEST).is_file():
        items = read_manifest(folder)
        kind = export_kind(folder)
        if kind is not None and kind_of(kind) not in PHOTO_KINDS:
            raise ExportError(f"{folder} is a {kind} export; give an export of photos "
                              "(old-celeba, peruvian-mix) or a folder of images")
        return items
    if engine is not None:
        with reading(engine) as s:
            name = s.scalar(select(Source.name).where(Source.root == str(folder)))
        if name is not None:
            return source_items(engine, name) or []
    rels = image_files(folder)
    if not rels:
        raise ExportError(f"no images (jpg, jpeg, png, webp) under {folder}")
    return [Item(path=str(folder / r), source=str(folder), relpath=r) for r in rels]


def export_kind(folder: Path) -> str | None:
    """The kind an export folder's export.json records, as written (None: none readable)."""
    try:
        return json.loads((folder / EXPORT_JSON).read_text(encoding="utf-8")).get("kind")
    except (FileNotFoundError, ValueError, AttributeError):
        return None


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


def check_destination(out: str | os.PathLike) -> Path:
    """OUT resolved; refuses a non-empty folder that isn't an earlier export (or a file)."""
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ExportError(f"destination {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_JSON).is_file():
        raise ExportError(f"destination {out} is not empty and is not an earlier export; "
                          "pick another folder or empty it")
    return out


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        v = version("rostro")
    except PackageNotFoundError:
        v = "unknown"
    try:
        sha = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        return f"{v}+g{sha}" if sha else v
    except (OSError, subprocess.SubprocessError):
        return v


@dataclass(frozen=True)
class ExportResult:
    kind: str
    path: Path
    counts: dict
    manifest_sha256: str
    export_id: int

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{self.kind} export written to {self.path}: {counts} (manifest sha256 {self.manifest_sha256[:12]})"


@dataclass
class Written:
    """An export being written: its files go into `tmp`; done() hands over manifest and counts."""

    tmp: Path
    items: list[Item] | None = None
    counts: dict | None = None
    result: ExportResult | None = None  # set once the folder is in place and recorded

    def done(self, items: Iterable[Item], counts: dict) -> None:
        self.items, self.counts = list(items), counts


@contextlib.contextmanager
def export_folder(engine: Engine | None, final: Path, kind: str, params: dict,
                  seed: int | None) -> Iterator[Written]:
    """The tail every exporter shares, around the files it writes.

    Yields a Written whose `tmp` is a temp folder beside `final` (curate.fsutil.atomic_dir);
    the exporter fills it and calls done(items, counts). Then manifest.csv and export.json are
    written into it, it is renamed onto `final`, and the export is recorded in the database
    (engine None: not recorded); `.result` is the ExportResult. On any exception nothing is
    kept and an earlier export at `final` stays. `final` comes from check_destination(),
    called before the exporter does any work so that a refused destination costs nothing.
    """
    with atomic_dir(final) as tmp:
        w = Written(tmp)
        yield w
        if w.items is None:
            raise RuntimeError(f"the {kind} exporter did not call done()")
        sha = _write_meta(tmp, kind, w.items, params, seed, w.counts)
    export_id = _record(engine, final, kind, params, seed, w.counts, sha)
    w.result = ExportResult(kind, final, w.counts, sha, export_id)


def _write_meta(tmp: Path, kind: str, items: list[Item], params: dict, seed: int | None,
                counts: dict) -> str:
    """Write manifest.csv and export.json into the temp folder; returns the manifest's sha256."""
    data = manifest_bytes(items)
    sha = hashlib.sha256(data).hexdigest()
    (tmp / MANIFEST).write_bytes(data)
    meta = {"kind": kind, "params": params, "seed": seed, "counts": counts,
            "code_version": code_version(), "manifest_sha256": sha,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    (tmp / EXPORT_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return sha


def _record(engine: Engine | None, final: Path, kind: str, params: dict, seed: int | None,
            counts: dict, sha: str) -> int:
    """Record a finished export in the database (db.models.Export); returns its id (0: no db)."""
    if engine is None:
        return 0
    with writing(engine) as s:
        row = Export(kind=kind, path=str(final), params=params, seed=seed, counts=counts,
                     manifest_sha256=sha)
        s.add(row)
        s.flush()
        return row.id


def copy_items(tmp: Path, items: list[Item], *, desc: str, progress: bool) -> None:
    """Copy each item's original bytes to tmp/name after checking its hash; raises ExportError
    listing every vanished or changed file (nothing is kept: the temp folder is dropped)."""
    problems: list[str] = []
    for it in tqdm(items, desc=desc, unit="img", disable=not progress):
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
    ext = Path(item.relpath).suffix.lower() or ".jpg"
    return f"{index + 1:06d}{ext}"


def recent_exports(engine: Engine, limit: int = 50) -> list[dict]:
    """The newest recorded exports (kind, path, counts, seed, time), newest first (default 50)."""
    with reading(engine) as s:
        rows = s.scalars(select(Export).order_by(Export.id.desc()).limit(limit)).all()
    return [dict(kind=r.kind, path=r.path, counts=r.counts, seed=r.seed,
                 created_at=r.created_at) for r in rows]
