"""Dataset browsing: a paged, filtered listing of the labeled images or of an export.

Sized for the whole of CelebA (200,000 images). A page view costs one small SQL query for
the 60 rows shown (LIMIT/OFFSET on the primary key) and a count; it never loads the table.
Filters on verdicts (verdict, annotator, failed rule, tag) follow the verdict that
`curate.decisions.final_verdicts` defines; the database works them out (curate.verdict_sql,
the same rules as GROUP BYs: about 0.3 s for a verdict on 200,000 images with 100,000
decisions, benchmarks/dashboard.py). The matching id list of each filter set is kept in memory
per *data version* (a handful of MAX/COUNT queries that change whenever a decision,
adjudication, assignment or image is added); new decisions and adjudications (append-only)
only re-decide the images they touch, so a team labeling while an admin browses does not pay
for the whole query again. New images or assignments start the lists anew.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select

from curate import rules, verdict_sql
from curate.decisions import final_verdicts
from curate.export.common import read_manifest
from db.engine import reading
from db.models import Adjudication, Annotator, Assignment, Decision, Export, Image, Source

LABELED = "labeled"  # the dataset id of "every image in the database"
VERDICTS = ("accept", "reject", "disputed", "pending", "unlabeled")  # unlabeled: in no queue
PHOTO_EXPORTS = ("old_celeba", "peruvian_mix")  # exports whose files are the original bytes
PAGE_SIZE = 60


@dataclass(frozen=True)
class Filters:
    """Empty string = no filter on that field."""

    verdict: str = ""  # one of VERDICTS
    annotator: str = ""  # has a standing decision by this annotator (name)
    rule: str = ""  # the failed rule of the verdict (a rule key)
    tag: str = ""  # a tag recorded on the verdict (a tag key)
    source: str = ""  # source name (for an export: the manifest's source column)

    @property
    def needs_verdicts(self) -> bool:
        return bool(self.verdict or self.annotator or self.rule or self.tag)


@dataclass(frozen=True)
class Tile:
    """One thumbnail of a page."""

    image_id: int | None  # None for an export item that is not in the database
    name: str  # caption: relpath, or the export's output name
    path: str  # absolute path of the file
    key: str | None  # thumbnail key (content hash) or None: derive from path and mtime
    source: str


@dataclass(frozen=True)
class Page:
    tiles: list[Tile]
    total: int  # items matching the filters
    number: int  # 1-based page shown (clamped into range)
    pages: int  # at least 1

    @property
    def first(self) -> int:
        """1-based position of the first tile (0 when empty)."""
        return (self.number - 1) * PAGE_SIZE + 1 if self.tiles else 0


@dataclass(frozen=True)
class Dataset:
    id: str  # LABELED, or "export:<id>"
    label: str
    path: str = ""  # the export folder
    kind: str = ""
    size: int | None = None  # a sketch_pairs export's side in px (its recorded params)


def datasets(engine: Engine) -> list[Dataset]:
    """The labeled images, then each recorded export whose folder holds a manifest (newest
    first); LMDB preparations have no image files to show and are left out."""
    out = [Dataset(LABELED, "Labeled images (database)")]
    with reading(engine) as s:
        rows = s.execute(select(Export.id, Export.kind, Export.path, Export.created_at,
                                Export.params).order_by(Export.id.desc())).all()
    for i, kind, path, created, params in rows:
        if kind == "lmdb" or not (Path(path) / "manifest.csv").is_file():
            continue
        size = params.get("size") if isinstance(params, dict) else None
        out.append(Dataset(f"export:{i}", f"{kind} — {path} ({created:%Y-%m-%d %H:%M})", path,
                           kind, size if isinstance(size, int) else None))
    return out


def filter_options(engine: Engine) -> dict[str, list[str]]:
    """Choices for each filter: verdicts, annotator names, rule keys, tag keys, source names."""
    with reading(engine) as s:
        names = list(s.scalars(select(Annotator.name).order_by(Annotator.name)))
        sources = list(s.scalars(select(Source.name).order_by(Source.name)))
    return {"verdict": list(VERDICTS), "annotator": names,
            "rule": [r.key for r in rules.RULES], "tag": [t.key for t in rules.TAGS],
            "source": sources}


def data_version(engine: Engine) -> tuple:
    """Changes whenever an image, assignment, decision or adjudication is added or removed."""
    with reading(engine) as s:
        return tuple(s.execute(select(
            select(func.max(Image.id)).scalar_subquery(),
            select(func.count()).select_from(Image).scalar_subquery(),
            select(func.max(Assignment.id)).scalar_subquery(),
            select(func.count()).select_from(Assignment).scalar_subquery(),
            select(func.max(Decision.id)).scalar_subquery(),
            select(func.max(Adjudication.id)).scalar_subquery(),
        )).one())


# The verdict index: cached per (database, data version) ---------------------------------

@dataclass
class _Index:
    matches: OrderedDict  # Filters → ascending np.ndarray of the matching image ids


_indexes: OrderedDict = OrderedDict()
_index_lock = threading.Lock()
_MAX_INDEXES = 2
_MAX_FILTER_SETS = 32
PATCH_LIMIT = 2_000  # images touched by new decisions above which the index is rebuilt instead


def _build_index(engine: Engine) -> _Index:
    """An empty index: each filter set's ids are asked of the database when first wanted."""
    return _Index(OrderedDict())


def _patched(engine: Engine, old: _Index, old_version: tuple, version: tuple) -> _Index | None:
    """`old` brought up to `version` when only decisions or adjudications were added since
    (they are append-only): just the images they touch are decided again (final_verdicts) and
    moved in or out of each cached id list. None when images or assignments changed, or too
    much changed: then the index starts anew."""
    if old_version[:4] != version[:4]:
        return None
    with reading(engine) as s:
        changed = set(s.scalars(select(Decision.image_id).where(Decision.id > (old_version[4] or 0))))
        changed |= set(s.scalars(select(Adjudication.image_id)
                                 .where(Adjudication.id > (old_version[5] or 0))))
        if len(changed) > PATCH_LIMIT:
            return None
        sources = dict(s.execute(select(Image.id, Source.name).join(Source)
                                 .where(Image.id.in_(changed))).all()) if changed else {}
    with _index_lock:
        cached = list(old.matches.items())
    if not changed:
        return _Index(OrderedDict(cached))
    fresh = final_verdicts(engine, image_ids=sorted(changed))
    touched = np.fromiter(sorted(changed), np.int64, len(changed))
    matches = OrderedDict()
    for f, ids in cached:
        now = [i for i in touched.tolist() if (not f.source or sources.get(i) == f.source)
               and _verdict_matches(fresh.get(i), f)]
        matches[f] = np.union1d(np.setdiff1d(ids, touched, assume_unique=True),
                                np.array(now, np.int64))
    return _Index(matches)


def _index(engine: Engine, version: tuple) -> _Index:
    url = engine.url.render_as_string(hide_password=True)
    key = (url, version)
    with _index_lock:
        hit = _indexes.get(key)
        if hit is not None:
            _indexes.move_to_end(key)
            return hit
        previous = next(((k[1], v) for k, v in reversed(_indexes.items()) if k[0] == url), None)
    built = _patched(engine, previous[1], previous[0], version) if previous else None
    if built is None:
        built = _build_index(engine)
    with _index_lock:
        _indexes[key] = built
        while len(_indexes) > _MAX_INDEXES:
            _indexes.popitem(last=False)
    return built


def _verdict_matches(v, f: Filters) -> bool:
    """Does a FinalVerdict (None: the image is in no queue and undecided) pass the filters?"""
    if v is None:
        return f.verdict in ("", "unlabeled") and not (f.annotator or f.rule or f.tag)
    if f.verdict and v.verdict != f.verdict:
        return False
    if f.annotator and f.annotator not in v.by:
        return False
    if f.rule and v.rule != f.rule:
        return False
    return not (f.tag and f.tag not in v.tags)


def _matching_ids(engine: Engine, idx: _Index, f: Filters) -> np.ndarray:
    """The ids of the images passing `f`, ascending: one SQL query (curate.verdict_sql, the
    SQL statement of final_verdicts) the first time, then from the index."""
    with _index_lock:
        hit = idx.matches.get(f)
    if hit is not None:
        return hit
    with reading(engine) as s:
        annotator = source = None
        if f.annotator:
            annotator = s.scalar(select(Annotator.id).where(Annotator.name == f.annotator))
        if f.source:
            source = s.scalar(select(Source.id).where(Source.name == f.source))
        if (f.annotator and annotator is None) or (f.source and source is None):
            found = []
        else:
            verdict_sql.whole_table_read(s)
            # The DBAPI cursor's own tuples, not Row objects: 100,000 ids come back faster.
            result = s.connection().execute(verdict_sql.matching_ids(verdict_sql.Wanted(
                f.verdict, annotator, f.rule, f.tag, source), ordered=False))
            try:
                found = [r[0] for r in result.cursor.fetchall()]
            finally:
                result.close()
    out = np.sort(np.fromiter(found, np.int64, len(found)))  # sorted here: faster than in SQL
    with _index_lock:
        idx.matches[f] = out
        while len(idx.matches) > _MAX_FILTER_SETS:
            idx.matches.popitem(last=False)
    return out


def _pages(total: int, number: int, size: int) -> tuple[int, int]:
    pages = max(1, -(-total // size))
    return pages, min(max(1, number), pages)


def _tiles_by_id(engine: Engine, ids: list[int]) -> list[Tile]:
    with reading(engine) as s:
        rows = s.execute(select(Image.id, Image.relpath, Image.content_hash, Source.name, Source.root)
                         .join(Source, Image.source_id == Source.id)
                         .where(Image.id.in_(ids))).all()
    by_id = {r[0]: Tile(r[0], r[1], os.path.join(r[4], r[1]), r[2], r[3]) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def labeled_page(engine: Engine, filters: Filters = Filters(), number: int = 1,
                 size: int = PAGE_SIZE) -> Page:
    """Page `number` (1-based, clamped) of the database's images, ordered by id.

    Without verdict filters this is SQL only (COUNT + LIMIT/OFFSET); with them, a slice of the
    cached id list for these filters (see the module doc).
    """
    if filters.needs_verdicts:
        ids = _matching_ids(engine, _index(engine, data_version(engine)), filters)
        pages, number = _pages(len(ids), number, size)
        chunk = ids[(number - 1) * size:number * size].tolist()
        return Page(_tiles_by_id(engine, chunk), len(ids), number, pages)
    with reading(engine) as s:
        count = select(func.count()).select_from(Image)
        rows = (select(Image.id, Image.relpath, Image.content_hash, Source.name, Source.root)
                .join(Source, Image.source_id == Source.id).order_by(Image.id))
        if filters.source:
            count = count.join(Source, Image.source_id == Source.id).where(Source.name == filters.source)
            rows = rows.where(Source.name == filters.source)
        total = s.scalar(count) or 0
        pages, number = _pages(total, number, size)
        rows = s.execute(rows.limit(size).offset((number - 1) * size)).all()
    tiles = [Tile(i, rel, os.path.join(root, rel), h, src) for i, rel, h, src, root in rows]
    return Page(tiles, total, number, pages)


# Exports ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _manifest(folder: str, mtime_ns: int, size: int) -> tuple[tuple, ...]:
    return tuple((it.name, it.source, it.relpath, it.image_id, it.content_hash, it.path)
                 for it in read_manifest(folder))


def manifest_rows(folder: str | os.PathLike) -> tuple[tuple, ...]:
    """(name, source, relpath, image_id, content_hash, real path) per manifest row, cached by
    mtime; read by the one manifest reader (`curate.export.common.read_manifest`), so an entry
    leaving the folder raises ExportError and nothing of the manifest is shown."""
    st = os.stat(os.path.join(folder, "manifest.csv"))
    return _manifest(os.fspath(folder), st.st_mtime_ns, st.st_size)


def export_page(engine: Engine, dataset: Dataset, filters: Filters = Filters(), number: int = 1,
                size: int = PAGE_SIZE) -> Page:
    """Page `number` of an export's items in manifest order, filtered like labeled_page (the
    verdict filters apply through each item's image id)."""
    rows = manifest_rows(dataset.path)
    if filters.source:
        rows = [r for r in rows if r[1] == filters.source]
    if filters.needs_verdicts:
        wanted = dataclasses.replace(filters, source="")  # the manifest's source is filtered above
        ids = set(_matching_ids(engine, _index(engine, data_version(engine)), wanted).tolist())
        rows = [r for r in rows if (r[3] in ids if r[3] is not None
                                    else _verdict_matches(None, filters))]
    total = len(rows)
    pages, number = _pages(total, number, size)
    same_bytes = dataset.kind in PHOTO_EXPORTS
    tiles = [Tile(i, name, real, h if same_bytes and h else None, src)
             for name, src, _rel, i, h, real in rows[(number - 1) * size:number * size]]
    return Page(tiles, total, number, pages)


def page_of(engine: Engine, dataset: Dataset, filters: Filters = Filters(), number: int = 1,
            size: int = PAGE_SIZE) -> Page:
    if dataset.id == LABELED:
        return labeled_page(engine, filters, number, size)
    return export_page(engine, dataset, filters, number, size)


def verdict_captions(engine: Engine, tiles: list[Tile]) -> dict[int, str]:
    """image id → its verdict ("accept", "pending", …) for the tiles of one page."""
    ids = [t.image_id for t in tiles if t.image_id is not None]
    if not ids:
        return {}
    found = final_verdicts(engine, image_ids=ids)
    return {i: (found[i].verdict if i in found else "unlabeled") for i in ids}


def image_detail(engine: Engine, image_id: int) -> dict | None:
    """What the detail view shows: file facts, attributes, the verdict and every decision."""
    with reading(engine) as s:
        row = s.execute(select(Image, Source.name, Source.root)
                        .join(Source, Image.source_id == Source.id)
                        .where(Image.id == image_id)).one_or_none()
        if row is None:
            return None
        img, source, root = row
        names = dict(s.execute(select(Annotator.id, Annotator.name)).all())
        decisions = s.execute(select(Decision).where(Decision.image_id == image_id)
                              .order_by(Decision.id)).scalars().all()
        adjudications = s.execute(select(Adjudication).where(Adjudication.image_id == image_id)
                                  .order_by(Adjudication.id)).scalars().all()
    verdict = final_verdicts(engine, image_ids=[image_id]).get(image_id)
    history = [{"when": d.created_at, "who": names.get(d.annotator_id, d.annotator_id),
                "verdict": d.verdict.value, "rule": d.rule or "", "tags": ", ".join(d.tags or []),
                "note": d.note or ""} for d in decisions]
    history += [{"when": a.created_at, "who": f"{names.get(a.admin_id, a.admin_id)} (adjudication)",
                 "verdict": a.verdict.value, "rule": a.rule or "", "tags": ", ".join(a.tags or []),
                 "note": a.note or ""} for a in adjudications]
    history.sort(key=lambda h: h["when"])
    return {
        "id": img.id, "path": os.path.join(root, img.relpath), "source": source,
        "relpath": img.relpath, "size": f"{img.width}×{img.height}", "mode": img.mode,
        "file_size": img.file_size, "content_hash": img.content_hash,
        "partition": img.partition, "missing": img.missing_since is not None,
        "attributes": list(img.attributes or []),
        "verdict": verdict.verdict if verdict else "unlabeled",
        "rule": (verdict.rule or "") if verdict else "",
        "tags": list(verdict.tags) if verdict else [],
        "provenance": verdict.provenance if verdict else "",
        "by": dict(verdict.by) if verdict else {},
        "history": history,
    }
