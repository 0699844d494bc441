"""Training runs as the galleries see them: the run roots, discovery, config, metrics and grids.

Both trainers share one run-folder layout, defined in `trainers.runs` (framework-free) and read
through it here: `config.json` (with "trainer": "stylegan" or "pix2pix"), `metrics.jsonl`, and
grids in `samples/` whose names carry the zero-padded iteration (StyleGAN `000100.png`) or epoch
(pix2pix `0001.png`; pix2pix runs made before the shared layout keep them in `epochs/`).

Runs are read only under the run roots, in order:

1. the workspace's ``runs/`` (always);
2. the folders in ``$ROSTRO_RUNS`` (several separated by ``os.pathsep``), set by whoever starts
   the server — an operator's choice, outside the app;
3. the folders an admin added on the Runs page, kept in the database as the workspace setting
   ``run_roots`` (a JSON list of absolute, symlink-free paths; :mod:`curate.settings`).

No page takes a folder from an annotator. Every path a page reads — a run folder, its
``config.json`` and ``metrics.jsonl``, a grid, a checkpoint — is resolved (symlinks followed)
and must stay inside the root the run was found under (:func:`inside`): a symlink in a root that
points elsewhere is not listed, shown or loaded.

Everything here is cheap to call on every page view, even on a run of 100,000 iterations with
1,000 grids: a grid listing is cached by (folder, folder mtime), and metrics.jsonl is parsed
incrementally — a file that only grew (training still appends to it) costs the new lines only.
Nothing imports torch or TensorFlow.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from curate.settings import get_setting, set_setting
from trainers import runs as layout
from trainers.common.safefiles import open_regular

log = logging.getLogger(__name__)

ENV_RUNS = "ROSTRO_RUNS"  # operator-level run roots, separated by os.pathsep
SETTING = "run_roots"  # the admin-configured run roots (a list of absolute paths)
MAX_POINTS = 2000  # points per curve sent to a chart; longer curves are thinned evenly


# The run roots ---------------------------------------------------------------------------

def inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """True when ``path``, symlinks followed, is ``root`` (resolved) or lies under it."""
    try:
        real = Path(os.path.realpath(path))
        return real.is_relative_to(os.path.realpath(root))
    except (OSError, ValueError):
        return False


def run_roots(workspace_runs: str | os.PathLike | None,
              configured: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """The folders to look for runs in: the workspace's runs/, $ROSTRO_RUNS, then the
    admin-configured folders. Resolved (symlinks followed); duplicates and folders that do not
    exist are left out."""
    names = [str(workspace_runs or "")]
    names += [p.strip() for p in os.environ.get(ENV_RUNS, "").split(os.pathsep)]
    names += [str(c) for c in configured]
    out: list[Path] = []
    for n in names:
        if not n:
            continue
        p = Path(n).expanduser().resolve()
        if p.is_dir() and p not in out:
            out.append(p)
    return out


def searched_folders(workspace_runs: str | os.PathLike | None,
                     configured: list[str] | tuple[str, ...] = ()) -> list[tuple[Path, bool]]:
    """Every folder :func:`run_roots` looks in, missing ones too, with whether it exists now
    (for the page to name them all: the workspace's runs/ first)."""
    names = [str(workspace_runs or "")]
    names += [p.strip() for p in os.environ.get(ENV_RUNS, "").split(os.pathsep)]
    names += [str(c) for c in configured]
    out: list[tuple[Path, bool]] = []
    for n in names:
        p = Path(n).expanduser().resolve() if n else None
        if p is not None and p not in [q for q, _ in out]:
            out.append((p, p.is_dir()))
    return out


def train_commands(workspace_root: str | os.PathLike) -> list[str]:
    """The commands that put a run where the Runs page looks: run from the workspace's parent
    folder, or with $ROSTRO_WORKSPACE set, the trainers' default --out is
    <workspace>/runs/<trainer>-<UTC> (trainers.runs.runs_root)."""
    ws = Path(workspace_root)
    return [f"ROSTRO_WORKSPACE={ws} python -m trainers.stylegan LMDB --init_size 64 --max_size 64",
            f"ROSTRO_WORKSPACE={ws} python -m trainers.pix2pix PAIRS_DIR",
            f"python -m trainers.stylegan LMDB --out {ws / layout.DEFAULT_ROOT}/NAME"]


def admin_roots(engine: Engine) -> list[str]:
    """The run roots an admin added (the ``run_roots`` setting), as stored; default none."""
    value = get_setting(engine, SETTING, [])
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def roots_for(engine: Engine, workspace_runs: str | os.PathLike | None) -> list[Path]:
    """Every run root of this workspace (:func:`run_roots` with the admin's folders)."""
    return run_roots(workspace_runs, admin_roots(engine))


def add_root(engine: Engine, folder: str) -> str:
    """Add an existing folder, given as an absolute path, to the admin's run roots; returns it
    as stored (resolved, so a symlink changed later does not move the root). Raises ValueError
    with a message for the admin: not absolute, not a folder, or the filesystem's root.
    Callers check that the user is an admin."""
    text = folder.strip()
    if not text or not os.path.isabs(text):
        raise ValueError(f"give an absolute folder path (starting with {os.sep}), got {text!r}")
    path = Path(text).resolve()
    if not path.is_dir():
        raise ValueError(f"{text} is not a folder on the server")
    if path == Path(path.anchor):
        raise ValueError("the filesystem's root cannot be a run folder; give the folder that holds the runs")
    stored = admin_roots(engine)
    if str(path) not in stored:
        set_setting(engine, SETTING, [*stored, str(path)])
    return str(path)


def remove_root(engine: Engine, folder: str) -> None:
    """Drop ``folder`` (as stored) from the admin's run roots; absent is fine."""
    stored = admin_roots(engine)
    if folder in stored:
        set_setting(engine, SETTING, [r for r in stored if r != folder])


# Runs --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    path: Path  # the run folder (absolute)
    trainer: str  # stylegan | pix2pix | unknown
    config: dict  # config.json as written by the trainer
    root: Path  # the run root it was found under: every file read must resolve inside it

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def step_key(self) -> str:
        """'iteration' (StyleGAN) or 'epoch' (pix2pix): what the grids and curves count."""
        return layout.step_key(self.trainer)

    @property
    def grid_dir(self) -> Path:
        return layout.samples_dir(self.path, self.trainer)

    @property
    def metrics_path(self) -> Path:
        return self.path / layout.METRICS

    @property
    def label(self) -> str:
        """The run's name and trainer: what everyone sees (no server path; `labels`)."""
        return f"{self.name} ({self.trainer})"

    def holds(self, path: str | os.PathLike) -> bool:
        """True when ``path`` (symlinks followed) stays inside the run's root."""
        return inside(path, self.root)


def read_run(folder: str | os.PathLike, root: str | os.PathLike | None = None) -> Run | None:
    """The run in `folder`, or None when it has no readable config.json, or when the folder or
    its config.json resolves outside `root` (default: the run folder itself)."""
    folder = Path(folder).resolve()
    root = Path(root).resolve() if root is not None else folder
    if not (inside(folder, root) and inside(folder / layout.CONFIG, root)):
        return None
    try:
        config = layout.read_config(folder)
    except (OSError, ValueError):
        return None
    trainer = str(config.get("trainer") or "unknown")
    return Run(folder, trainer, config, root)


def discover_runs(roots: list[Path]) -> list[Run]:
    """Every run directly under each root (a root that is itself a run counts too), newest
    first by the run folder's modification time. A folder or config.json that resolves
    outside its root (a symlink pointing elsewhere) is left out."""
    runs: dict[Path, Run] = {}
    for root in roots:
        candidates = [root]
        try:
            candidates += [Path(e.path) for e in os.scandir(root)
                           if e.is_dir() and not e.name.startswith(".")]
        except OSError:
            continue
        for c in candidates:
            if layout.is_run(c) and (run := read_run(c, root)) is not None:
                runs.setdefault(run.path, run)

    def mtime(r: Run) -> float:
        try:
            return max(r.path.stat().st_mtime, r.metrics_path.stat().st_mtime)
        except OSError:
            return 0.0

    return sorted(runs.values(), key=lambda r: (-mtime(r), r.name))


def labels(runs: list[Run], admin: bool = False) -> dict[str, Run]:
    """label → run, in the runs' order. Annotators see run names only (`Run.label`; two runs
    of one name under different roots get " · 2", " · 3"); an admin also sees the folder that
    holds each run."""
    out: dict[str, Run] = {}
    for run in runs:
        label = f"{run.label[:-1]}, {run.path.parent})" if admin else run.label
        n, unique = 1, label
        while unique in out:
            n += 1
            unique = f"{label} · {n}"
        out[unique] = run
    return out


def without_roots(text: str, roots: list[Path]) -> str:
    """`text` with every run root's path replaced by "…": an error naming a checkpoint file
    tells an annotator the run and file, not where the server keeps them."""
    for root in sorted({str(r) for r in roots} | {os.path.realpath(r) for r in roots},
                       key=len, reverse=True):
        if root not in ("", os.sep):
            text = text.replace(root, "…")
    return text


# Grid listing ------------------------------------------------------------------------------

_grid_cache: dict[tuple[str, str], tuple[int, list[tuple[int, str]]]] = {}
_lock = threading.Lock()


def list_grids(run: Run, folder: str | os.PathLike | None = None) -> list[tuple[int, str]]:
    """(iteration or epoch, absolute path) of each grid, oldest first.

    folder: default the run's sample grids (:func:`mixing_grids` passes StyleGAN's
    per-checkpoint mixing grids). One scandir per change of the folder: the result is cached by
    the folder's mtime, so switching the slider over 1,000 grids does not list it again.
    A folder or grid that resolves outside the run's root (a symlink) is left out.
    """
    folder = Path(folder) if folder is not None else run.grid_dir
    if not run.holds(folder):
        return []
    try:
        mtime = folder.stat().st_mtime_ns
    except OSError:
        return []
    key = (str(folder), str(run.root))
    with _lock:
        hit = _grid_cache.get(key)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    grids = [(step, path) for step, path in layout.list_steps(folder, ".png")
             if not os.path.islink(path) or run.holds(path)]
    with _lock:
        _grid_cache[key] = (mtime, grids)
    return grids


def mixing_grids(run: Run) -> list[tuple[int, str]]:
    """StyleGAN's per-checkpoint style-mixing grids, (iteration, path), oldest first."""
    return list_grids(run, run.path / layout.MIXING)


# Metrics -----------------------------------------------------------------------------------

@dataclass
class _Parsed:
    ident: tuple[int, int]  # (device, inode): a replaced file is parsed again from the start
    offset: int  # bytes consumed (complete lines only)
    rows: list[dict]
    frame: pd.DataFrame | None = None
    skipped: int = 0  # lines that are not a row of finite numbers


_metrics_cache: dict[str, _Parsed] = {}
def _parse_lines(data: bytes) -> tuple[list[dict], int, int]:
    """Rows of the complete lines in `data`, the bytes they span (a half-written last line
    waits for the next call) and how many lines were skipped: a corrupt line, or one that is
    not a row of finite numbers (`trainers.runs.metrics_row_ok`), is skipped and counted, never fatal."""
    end = data.rfind(b"\n") + 1
    rows, skipped = [], 0
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            row = layout.loads_bounded(line)
        except ValueError:
            log.warning("skipping a corrupt metrics line: %.80r", line)
            skipped += 1
            continue
        if layout.metrics_row_ok(row):
            rows.append(row)
        else:
            skipped += 1
    return rows, end, skipped


def read_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """metrics.jsonl as a DataFrame (one row per line), cached by (path, mtime, size).

    A file that only grew is read from where the last call stopped; a shorter or replaced
    file (a resumed run truncates it) is read again from the start. Missing file: empty frame.
    """
    path = str(Path(path).resolve())
    try:
        st = os.stat(path)
    except OSError:
        return pd.DataFrame()
    ident = (st.st_dev, st.st_ino)
    with _lock:
        parsed = _metrics_cache.get(path)
        if parsed is None or parsed.ident != ident or st.st_size < parsed.offset:
            parsed = _Parsed(ident, 0, [])
        if st.st_size > parsed.offset:
            try:
                with open_regular(path) as f:  # a FIFO named metrics.jsonl is not opened
                    f.seek(parsed.offset)
                    rows, used, skipped = _parse_lines(f.read(st.st_size - parsed.offset))
            except OSError as e:
                log.warning("metrics not read: %s", e)
                return pd.DataFrame()
            if rows:
                parsed.rows = parsed.rows + rows
                parsed.frame = None
            parsed.offset += used
            parsed.skipped += skipped
        if parsed.frame is None:
            parsed.frame = pd.DataFrame(parsed.rows)
        _metrics_cache[path] = parsed
        return parsed.frame


def metric_groups(frame: pd.DataFrame, step_key: str) -> dict[str, list[str]]:
    """The columns to chart, grouped: losses, quality (SWD/FID/val L1), images per second."""
    cols = [c for c in frame.columns if c != step_key and pd.api.types.is_numeric_dtype(frame[c])]
    groups = {
        "losses": [c for c in cols if c.startswith("loss")],
        "quality": [c for c in cols if c.startswith(("swd", "fid", "val_"))],
        "images per second": [c for c in cols if c == "images_per_s"],
    }
    return {k: v for k, v in groups.items() if v}


def thin(frame: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """At most max_points rows, evenly spaced, the last row always kept (charts stay light)."""
    n = len(frame)
    if n <= max_points:
        return frame
    stride = -(-n // max_points)
    idx = list(range(0, n, stride))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return frame.iloc[idx]


def run_metrics(run: Run) -> pd.DataFrame:
    """The run's metrics.jsonl (:func:`read_metrics`); empty when it resolves outside the root."""
    return read_metrics(run.metrics_path) if run.holds(run.metrics_path) else pd.DataFrame()


def curves(run: Run) -> dict[str, pd.DataFrame]:
    """Chart-ready frames per group, indexed by iteration (or epoch), thinned to MAX_POINTS.

    A metric logged only on some rows (SWD every N iterations) keeps just its own rows.
    """
    frame = run_metrics(run)
    key = run.step_key
    if frame.empty or key not in frame.columns:
        return {}
    out = {}
    for group, cols in metric_groups(frame, key).items():
        sub = frame[[key, *cols]].dropna(subset=cols, how="all").set_index(key)
        out[group] = thin(sub)
    return out


def grid_at(grids: list[tuple[int, str]], step: int) -> tuple[int, str] | None:
    """The newest grid at or before `step` (e.g. the mixing grid of the last checkpoint)."""
    import bisect

    i = bisect.bisect_right(grids, (step, "\uffff"))
    return grids[i - 1] if i else None


def skipped_rows(run: Run) -> int:
    """How many lines of the run's metrics.jsonl were skipped (corrupt, or not a row of finite
    numbers); 0 before it was read."""
    parsed = _metrics_cache.get(str(run.metrics_path.resolve()))
    return parsed.skipped if parsed is not None else 0


def summary(run: Run) -> dict:
    """Newest metrics row, the grid count and the skipped metrics lines: what the run list
    shows at a glance."""
    frame = run_metrics(run)
    last = frame.iloc[-1].dropna().to_dict() if not frame.empty else {}
    return {"grids": len(list_grids(run)), "last": last, "skipped": skipped_rows(run)}
