"""An export's folder: written into a temp folder, recorded, renamed into place, recorded done.

`export_folder` is the tail every exporter shares (see its doc); the order of its steps is
what makes a crash at any moment recoverable (curate.export.records.reconcile): temp folder,
pending row, files, manifest.csv and export.json (with the row's id), rename, done.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from curate.export import ExportError
from curate.export.common import Item, manifest_bytes
from curate.export.records import (EXPORT_JSON, MANIFEST, begin_record, drop_record,
                                   fill_record, finish_record)
from trainers.common.fsutil import atomic_dir, chmod_tree

_REPO = Path(__file__).resolve().parent.parent.parent


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


def _refuse_reading_from(final: Path, reads: Iterable[Item]) -> None:
    """ExportError when an input file lies inside `final`: replacing it would delete the input
    (e.g. `curate prepare E --from E`)."""
    for d in sorted({os.path.dirname(it.path) for it in reads}):
        if any(Path(p).is_relative_to(final) for p in (d, os.path.realpath(d))):
            raise ExportError(f"destination {final} is an input of this export (it reads "
                              f"{d}); pick another folder, nothing was changed")


def _write_error(final: Path, e: OSError) -> ExportError:
    """The one-line message of a failed write; the temp folder is gone by then."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return ExportError(f"disk full while writing {final}: the partial export and its temp "
                           "files were removed, nothing changed; free some space and run it again")
    where = f" ({e.filename})" if e.filename else ""
    return ExportError(f"could not write {final}: {e.strerror or e}{where}; the partial export "
                       "was removed, nothing changed")


@contextlib.contextmanager
def export_folder(engine: Engine | None, final: Path, kind: str, params: dict,
                  seed: int | None, reads: Iterable[Item] = ()) -> Iterator[Written]:
    """The tail every exporter shares, around the files it writes.

    Yields a Written whose `tmp` is a temp folder beside `final`
    (trainers.common.fsutil.atomic_dir); the exporter fills it and calls done(items, counts).
    Then manifest.csv and export.json (with the row's id) are written into it, its folders made
    0750 and files 0640 (the group may read it), and it is renamed onto `final`. The database
    row (engine None: none) is pending from before the first file until after the rename, then
    done (curate.export.records). `.result` is the ExportResult.

    On any exception nothing is kept, the pending row is dropped and an earlier export at
    `final` stays; a failed write (a full disk) becomes one ExportError line. `final` comes
    from records.check_destination(), called before the exporter does any work so that a
    refused destination costs nothing; `reads` (the items read) must not lie inside it.
    """
    _refuse_reading_from(final, reads)
    export_id, placed = 0, False
    try:
        with atomic_dir(final) as tmp:
            # The row comes after the temp folder: reconcile() judges a pending row by its
            # owner's temp folder, so one must be on disk whenever the row exists.
            export_id = begin_record(engine, final, kind, params, seed)
            w = Written(tmp)
            yield w
            if w.items is None:
                raise RuntimeError(f"the {kind} exporter did not call done()")
            sha = _write_meta(tmp, kind, w.items, params, seed, w.counts, export_id)
            chmod_tree(tmp)
            fill_record(engine, export_id, w.counts, sha)
        placed = True
        finish_record(engine, export_id, final)
    except BaseException as e:
        if not placed:  # once in place, a pending row is settled by reconcile(), not dropped
            drop_record(engine, export_id)
        if isinstance(e, OSError):
            raise _write_error(final, e) from None
        raise
    w.result = ExportResult(kind, final, w.counts, sha, export_id)


def _write_meta(tmp: Path, kind: str, items: list[Item], params: dict, seed: int | None,
                counts: dict, export_id: int) -> str:
    """Write manifest.csv and export.json into the temp folder; returns the manifest's sha256."""
    data = manifest_bytes(items)
    sha = hashlib.sha256(data).hexdigest()
    (tmp / MANIFEST).write_bytes(data)
    meta = {"id": export_id or None, "kind": kind, "params": params, "seed": seed,
            "counts": counts, "code_version": code_version(), "manifest_sha256": sha,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    (tmp / EXPORT_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return sha
