"""The file side of ingest: the image files under a root, and each one read, checked and hashed
in worker processes. No database code: `curate ingest` on a new workspace starts the decoding
here (`EarlyProbes`) before SQLAlchemy is imported and while the schema is created.

`scan` finds the files; links that leave the root and names that are not valid UTF-8 come back
as (name, reason) instead. `probe_path` is what a worker does with one file: it reads it only as
a regular file inside the root below the size cap (`trainers.common.safefiles.read_regular`) and turns
every way it can be bad into a reason (`curate.imaging.probe_bytes`). `probe_all` runs it over
a list of files on a pool of processes that die with the command (`trainers.common.workers`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from curate.imaging import EXTENSIONS, BadImage, probe_bytes
from trainers.common.safefiles import RefusedFile, inside, read_regular, walk
from trainers.common.workers import worker_pool

CHUNK = 256  # files per task sent to a worker
MIN_POOL = 64  # fewer files than this are probed in this process (a pool costs more)

Result = tuple[str, "dict | str"]  # (relative path, Probe fields or the reason it is bad)


def scan(root: str | os.PathLike) -> tuple[list[str], list[tuple[str, str]]]:
    """Relative POSIX paths of image files under root (sorted), and (name, reason) for the
    files that cannot be taken: links that leave the root, names that are not valid UTF-8."""
    files: list[str] = []
    escaping: list[tuple[str, str]] = []
    root = os.path.realpath(root)
    # Plain strings, not Path objects: 12,000 files are scanned before any decoding starts.
    for dirpath, dirnames, filenames in walk(root):  # iterative: loops and deep trees are fine
        prefix = dirpath[len(root):].lstrip(os.sep)
        prefix = prefix.replace(os.sep, "/") + "/" if prefix else ""
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p) and inside(p, root) is None:
                escaping.append((shown(prefix + name), "symlink leaves the image root"))
        dirnames.sort()
        for name in filenames:
            if _suffix(name) not in EXTENSIONS or name.startswith("._"):
                continue
            rel = prefix + name
            if not is_utf8(rel):
                escaping.append((shown(rel), "file name is not valid UTF-8; rename the file to "
                                             "ingest it"))
                continue
            p = os.path.join(dirpath, name)
            if os.path.islink(p) and inside(p, root) is None:
                escaping.append((rel, f"symlink leaves the image root (→ {shown(os.readlink(p))})"))
                continue
            files.append(rel)
    files.sort()
    return files, escaping


def _suffix(name: str) -> str:
    """The file's extension in lower case, as PurePath.suffix finds it ('' for '.jpg')."""
    i = name.rfind(".")
    return name[i:].lower() if 0 < i < len(name) - 1 else ""


def is_utf8(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (os gives them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(name: str) -> str:
    """A file name as it can be printed and stored: bytes that are not UTF-8 escaped (\\xe9)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def probe_path(args: tuple[str, str]) -> Result:
    """(rel, Probe fields as a dict) for the file `rel` under `root`, or (rel, why it is bad)."""
    root, rel = args
    try:
        # A regular file inside the root, below the size cap: a FIFO would hang the ingest and
        # a device node would be read until the kernel stopped it.
        data = read_regular(os.path.join(root, rel), root=root)
        p = probe_bytes(data, rel)
    except BadImage as e:
        return rel, str(e)
    except FileNotFoundError:
        return rel, "missing file (vanished during ingest, or a broken symlink)"
    except RefusedFile as e:
        return rel, f"refused: {e}"
    except OSError as e:
        return rel, f"unreadable file: {e.strerror or e}"
    except Exception as e:  # noqa: BLE001 — a decoder bug in one file must not stop the ingest
        return rel, f"could not decode: {type(e).__name__}: {e}"
    return rel, p.__dict__


def _start(root: Path, rels: list[str], workers: int):
    """(pool, iterator of results in the order of rels): every file submitted at once."""
    # Pillow finds its format plugins on the first open; done here, before the workers fork,
    # it is done once instead of once in each worker.
    Image.preinit()
    pool = worker_pool(workers)
    try:
        return pool, pool.map(probe_path, [(str(root), r) for r in rels], chunksize=CHUNK)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def probe_all(root: Path, rels: list[str], workers: int, progress: bool) -> Iterator[Result]:
    """`probe_path` over every file of `rels` under `root`, in order, on `workers` processes
    (in this one for a few files); a progress bar on stderr when `progress`."""
    bar = tqdm(total=len(rels), desc="ingest", unit="img", disable=not progress, smoothing=0.05)
    try:
        if workers <= 1 or len(rels) < MIN_POOL:
            for r in rels:
                yield probe_path((str(root), r))
                bar.update()
        else:
            pool, results = _start(root, rels, workers)
            with pool:
                for result in results:
                    yield result
                    bar.update()
    finally:
        bar.close()


class EarlyProbes:
    """The scan and the decoding of every file under `root`, started before the database is
    opened, for `ingest(..., early=...)`. Meant for a database that is new, where nothing
    recorded can be skipped: the ingest then takes the results of the files it wants and
    ignores the others (a rival ingest may have recorded some in the meantime).

    A root that is not a folder, or whose path is not UTF-8, starts nothing (`started` is
    False): `ingest` reports it. Use as a context manager: leaving it stops the workers.
    """

    def __init__(self, root: str | os.PathLike, workers: int | None = None):
        self.root = Path(root).expanduser().resolve()
        self.files: list[str] = []
        self.escaping: list[tuple[str, str]] = []
        self._pool = self._results = None
        if not self.root.is_dir() or not is_utf8(str(self.root)):
            return
        self.files, self.escaping = scan(self.root)
        workers = workers or os.cpu_count() or 1
        if workers > 1 and len(self.files) >= MIN_POOL:
            self._pool, self._results = _start(self.root, self.files, workers)

    @property
    def started(self) -> bool:
        return self._pool is not None

    def results(self, wanted: Iterable[str], progress: bool) -> Iterator[Result]:
        """The results of the files of `wanted` (scanned here), in scan order."""
        wanted = set(wanted)
        bar = tqdm(total=len(wanted), desc="ingest", unit="img", disable=not progress,
                   smoothing=0.05)
        try:
            for rel, result in self._results:
                if rel in wanted:
                    yield rel, result
                    bar.update()
        finally:
            bar.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> EarlyProbes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
