"""Ingest: record every image under a folder with its hashes and size.

Idempotent: files already recorded are not read again; new files are added; vanished files are
marked (never deleted: decisions may point at them). Bad files never stop an ingest: each is
recorded in `ingest_problems` with its reason and reported at the end; so is a file whose name is
not valid UTF-8 (the database cannot hold it), shown with its odd bytes escaped. Decoding runs
on all cores (the file side, `curate.probing`); rows are written in batches, each its own
transaction, so a killed ingest keeps what it had written and a re-run picks up the rest.

Each content is recorded once per database (a unique index on `images.content_hash`). Rows go
in with INSERT … ON CONFLICT DO NOTHING, so when two ingests race — one folder twice, or the
same files in two folders — the one that writes second skips what the first recorded and
reports those files as already recorded or as duplicates, instead of failing. A new source is
created in the transaction of its first rows, so an ingest that fails or finds nothing leaves
no empty source behind.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from curate import celeba
from curate.probing import EarlyProbes, is_utf8, scan, shown
from curate.probing import probe_all as _probe_all  # a seam the race tests hook
from db.engine import reading, writing
from db.models import Image, IngestProblem, Source

log = logging.getLogger(__name__)

NEAR_DUPLICATE_BITS = 4  # perceptual-hash Hamming distance at or under which images look alike
BATCH = 2000  # rows per write transaction


@dataclass
class IngestReport:
    source: str
    root: str
    seen: int = 0  # image files found under the root
    added: int = 0
    already: int = 0  # recorded by an earlier ingest
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, recorded copy)
    near_duplicates: list[tuple[str, str, int]] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    vanished: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)  # vanished before, back now
    with_attributes: int = 0
    seconds: float = 0.0
    recorded: bool = True  # False: a new source that found no files was not recorded

    @property
    def rate(self) -> float:
        return self.added / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        if not self.recorded:
            return f"source {self.source!r} at {self.root}: no image files; nothing recorded"
        lines = [
            f"source {self.source!r} at {self.root}: {self.seen} image files, {self.added} added, "
            f"{self.already} already recorded, {len(self.duplicates)} exact duplicates, "
            f"{len(self.near_duplicates)} near-duplicates, {len(self.bad)} bad, "
            f"{len(self.vanished)} vanished ({self.seconds:.1f} s, {self.rate:,.0f} images/s)"
        ]
        for name, reason in self.bad:
            lines.append(f"  bad: {name}: {reason}")
        for name, other in self.duplicates[:20]:
            lines.append(f"  duplicate: {name} = {other}")
        for a, b, d in self.near_duplicates[:20]:
            lines.append(f"  near-duplicate: {a} ~ {b} (distance {d})")
        for name in self.vanished[:20]:
            lines.append(f"  vanished: {name}")
        more = max(0, len(self.duplicates) - 20) + max(0, len(self.near_duplicates) - 20) + max(
            0, len(self.vanished) - 20)
        if more:
            lines.append(f"  … and {more} more (see `curate status --problems`)")
        return "\n".join(lines)


def find_source(session: Session, name: str, root: Path) -> int | None:
    """The id of source `name`, None when there is none; ValueError when it has another root."""
    row = session.execute(select(Source.id, Source.root).where(Source.name == name)).first()
    if row is not None and Path(row.root) != root:
        raise ValueError(f"source {name!r} is registered at {row.root}, not {root}; "
                         "pick another --source name")
    return None if row is None else row.id


def _create_source(session: Session, name: str, root: Path) -> int:
    """Source `name` inside the caller's write transaction; an ingest that created it first
    (a race) wins and its row is used, if its root is the same."""
    session.execute(_insert_skipping_conflicts(session, Source.__table__).values(
        name=name, root=str(root)))
    return find_source(session, name, root)


def _insert_skipping_conflicts(session: Session, table: Table):
    """INSERT … ON CONFLICT DO NOTHING on `table`: a row that breaks a unique index (recorded
    by a concurrent ingest) is skipped instead of failing the transaction."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise ValueError(f"ingest supports SQLite and PostgreSQL, not {dialect}")
    return dialect_insert(table).on_conflict_do_nothing()


def ingest(
    engine: Engine,
    root: str | os.PathLike,
    source: str,
    *,
    attributes: str | os.PathLike | None = None,
    partition: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    near_duplicate_bits: int = NEAR_DUPLICATE_BITS,
    early: EarlyProbes | None = None,
) -> IngestReport:
    """Ingest every image under `root` as source `source` and return what happened.

    attributes/partition: CelebA's list_attr_celeba.txt / list_eval_partition.txt; by default
    looked for in `root` and its parent. workers: decoding processes (default: all cores).
    early: the scan and decoding of `root` already under way (`curate.probing.EarlyProbes`,
    started before the database was opened); its files stand for the scan, and only the
    results of files this ingest would read are used. Default None: scan and decode here.
    """
    t0 = time.perf_counter()
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    if not is_utf8(str(root)):
        raise ValueError(f"the image folder's path is not valid UTF-8: {shown(str(root))}; rename it")
    report = IngestReport(source=source, root=str(root))

    attr_names, attrs = celeba.read_attributes(attributes or celeba.find(root, celeba.ATTR_FILE))
    parts = celeba.read_partition(partition or celeba.find(root, celeba.PARTITION_FILE))

    if early is not None and early.root != root:
        early = None
    files, escaping = (early.files, early.escaping) if early is not None else scan(root)
    report.seen = len(files)
    with reading(engine) as s:
        src_id = find_source(s, source, root)  # None: created with its first rows
        known = {} if src_id is None else dict(s.execute(select(Image.relpath, Image.missing_since)
                                                         .where(Image.source_id == src_id)).all())
        recorded = set(s.scalars(select(Image.content_hash)))  # every source: exact duplicates
    if src_id is None and not files and not escaping:
        report.recorded = False  # an empty or mistyped folder must not claim the name
        report.seconds = time.perf_counter() - t0
        return report
    present = set(files)
    report.vanished = sorted(r for r, missing in known.items() if r not in present and missing is None)
    report.returned = sorted(r for r, missing in known.items() if r in present and missing is not None)
    new = [r for r in files if r not in known]
    report.already = len(files) - len(new)

    problems: list[dict] = [dict(relpath=r, kind="bad", reason=why) for r, why in escaping]
    report.bad.extend(escaping)
    batch: list[dict] = []
    added: list[str] = []
    this_run: dict[str, str] = {}  # content hash → file added by this ingest

    def flush() -> None:
        nonlocal src_id
        if not batch:
            return
        with writing(engine) as s:
            if src_id is None:
                src_id = _create_source(s, source, root)
            done, skipped = _record(s, src_id, batch)
        added.extend(row["relpath"] for row in done)
        report.with_attributes += sum(row["attributes"] is not None for row in done)
        for rel, other in skipped:  # recorded meanwhile by a concurrent ingest
            if other is None:
                report.already += 1
            else:
                report.duplicates.append((rel, other))
                problems.append(dict(relpath=rel, kind="duplicate", reason=f"same content as {other}"))
        batch.clear()

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if early is not None and early.started:
        probes = early.results(new, progress)
    else:
        probes = _probe_all(root, new, workers or os.cpu_count() or 1, progress)
    for rel, result in probes:
        if isinstance(result, str):
            report.bad.append((rel, result))
            problems.append(dict(relpath=rel, kind="bad", reason=result))
            continue
        h = result["content_hash"]
        if h in recorded or h in this_run:
            other = this_run.get(h) or _relpath_of_hash(engine, h)
            report.duplicates.append((rel, other))
            problems.append(dict(relpath=rel, kind="duplicate", reason=f"same content as {other}"))
            continue
        name = rel.rsplit("/", 1)[-1]
        batch.append(dict(relpath=rel, created_at=now, partition=parts.get(name),
                          attributes=attrs.get(name) if attrs else None, **result))
        this_run[h] = rel
        if len(batch) >= BATCH:
            flush()
    flush()
    report.added = len(added)

    report.near_duplicates = _near_duplicates(engine, src_id, set(added), near_duplicate_bits)
    for a, b, dist in report.near_duplicates:
        problems.append(dict(relpath=a, kind="near_duplicate", reason=f"looks like {b} (distance {dist})"))
    for rel in report.vanished:
        problems.append(dict(relpath=rel, kind="vanished", reason="file no longer under the root"))

    with writing(engine) as s:
        if src_id is None:  # nothing added: the source comes with its problems
            src_id = _create_source(s, source, root)
        # Problems describe the latest ingest of this source.
        s.execute(delete(IngestProblem).where(IngestProblem.source_id == src_id))
        if problems:
            s.execute(insert(IngestProblem), [dict(source_id=src_id, created_at=now, **p) for p in problems])
        for rels, missing_since in ((report.vanished, now), (report.returned, None)):
            for chunk in _chunks(rels, 500):
                s.execute(update(Image).where(Image.source_id == src_id, Image.relpath.in_(chunk))
                          .values(missing_since=missing_since))
        values = dict(last_ingest_at=now)
        if attr_names:
            values["attribute_names"] = attr_names
        s.execute(update(Source).where(Source.id == src_id).values(**values))
    report.seconds = time.perf_counter() - t0
    log.info("ingest done: %s added in %.1f s", report.added, report.seconds)
    return report


def _record(s: Session, src_id: int,
            rows: list[dict]) -> tuple[list[dict], list[tuple[str, str | None]]]:
    """Insert `rows` as images of source `src_id`, skipping any whose content or file a
    concurrent ingest recorded first. Returns the rows inserted and, per row skipped, (file,
    the copy holding its content) — the copy None when it is this very file (the same folder
    ingested twice at once)."""
    for row in rows:
        row["source_id"] = src_id
    # Core executemany; RETURNING names the rows that went in (batched by SQLAlchemy's
    # insertmanyvalues, unlike the ORM's per-row bookkeeping).
    stmt = _insert_skipping_conflicts(s, Image.__table__).returning(Image.relpath)
    inserted = set(s.scalars(stmt, rows))
    lost = [row for row in rows if row["relpath"] not in inserted]
    holders: dict[str, tuple[int, str, str]] = {}
    for chunk in _chunks([row["content_hash"] for row in lost], 500):
        q = (select(Image.content_hash, Image.source_id, Image.relpath, Source.name).join(Source)
             .where(Image.content_hash.in_(chunk)))
        holders.update((h, (sid, rel, name)) for h, sid, rel, name in s.execute(q))
    skipped = []
    for row in lost:
        sid, rel, name = holders.get(row["content_hash"], (src_id, row["relpath"], ""))
        same_file = (sid, rel) == (src_id, row["relpath"])
        skipped.append((row["relpath"], None if same_file else f"{rel} ({name})"))
    return [row for row in rows if row["relpath"] in inserted], skipped


def _chunks(items: list, n: int) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _relpath_of_hash(engine: Engine, content_hash: str) -> str:
    with reading(engine) as s:
        row = s.execute(select(Source.name, Image.relpath).join(Source).where(
            Image.content_hash == content_hash).limit(1)).first()
    return f"{row[1]} ({row[0]})" if row else "an earlier image"


def _near_duplicates(engine: Engine, src_id: int, new: set[str],
                     max_bits: int) -> list[tuple[str, str, int]]:
    """Pairs (new image, any image) whose perceptual hashes are within `max_bits`, in the order
    of the images' ids, with their distance."""
    if not new or max_bits < 0:
        return []
    with engine.connect() as conn:  # Core rows: the ORM's cost more than the query here
        rows = conn.execute(select(Image.id, Image.phash, Image.relpath, Image.source_id)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    hashes = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)).view(np.uint64)
    is_new = np.fromiter((r[3] == src_id and r[2] in new for r in rows), dtype=bool, count=len(rows))
    out = []
    for a, m in sorted(close_pairs(hashes, is_new, max_bits), key=lambda p: (ids[p[0]], ids[p[1]])):
        d = int(np.bitwise_count(hashes[a] ^ hashes[m]))
        out.append((rows[a][2], rows[m][2], d))
    return out


SMALL_GROUP = 64  # band groups up to this size are compared in one vector pass per offset
FLAT_GROUP = 5000  # a band group larger than this is a flat band (blank images): skipped


def close_pairs(hashes: np.ndarray, is_new: np.ndarray, max_bits: int) -> set[tuple[int, int]]:
    """Index pairs (a, m) with hashes[a] new, a != m, within `max_bits` bits of each other;
    when both are new, only a < m. hashes: uint64.

    Pigeonhole banding: split the 64 bits into max_bits+1 bands; two hashes within max_bits
    differ in at most max_bits bands, so they share at least one band exactly. Per band, a sort
    groups equal values and only images in the same group are compared — near-linear instead
    of all pairs. Small groups (most of them) are compared all at once, offset by offset in
    the sorted order (position i against i+d); the few larger ones one by one, new members
    against all.
    """
    n_bands = max_bits + 1
    width = -(-64 // n_bands)
    pairs: set[tuple[int, int]] = set()
    for b in range(n_bands):
        keys = (hashes >> np.uint64(b * width)) & np.uint64((1 << width) - 1)
        order = np.argsort(keys, kind="stable")
        k = keys[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        sizes = np.diff(np.r_[starts, len(k)])
        small = np.repeat((sizes >= 2) & (sizes <= SMALL_GROUP), sizes)  # per sorted position
        for d in range(1, SMALL_GROUP):
            i = np.flatnonzero(small[:-d] & (k[:-d] == k[d:]))
            if len(i) == 0:  # no small group holds more than d members
                break
            x, y = order[i], order[i + d]
            near = np.bitwise_count(hashes[x] ^ hashes[y]) <= max_bits
            x, y = x[near], y[near]
            for a, m in ((x, y), (y, x)):
                keep = is_new[a] & ~(is_new[m] & (m < a))
                pairs.update(zip(a[keep].tolist(), m[keep].tolist()))
        big = (sizes > SMALL_GROUP) & (sizes <= FLAT_GROUP)
        for st, size in zip(starts[big], sizes[big]):
            members = order[st:st + size]
            fresh = members[is_new[members]]
            if len(fresh) == 0:
                continue
            dist = np.bitwise_count(hashes[fresh][:, None] ^ hashes[members][None, :])
            for fi, mi in zip(*np.nonzero(dist <= max_bits)):
                a, m = int(fresh[fi]), int(members[mi])
                if a != m and not (is_new[m] and m < a):
                    pairs.add((a, m))
    return pairs
