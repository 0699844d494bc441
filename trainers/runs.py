"""The run folder both trainers write and the galleries read (DESIGN.md, "Run folder").

``<workspace>/runs/<trainer>-<UTC timestamp>/`` by default — the folder the app's Runs page
always searches — when a workspace is set (``$ROSTRO_WORKSPACE``) or ``./workspace`` exists,
else ``./runs/<trainer>-<UTC timestamp>/`` (:func:`runs_root`). It holds:

- ``config.json``: the trainer's settings, with ``"trainer": "stylegan"`` or ``"pix2pix"``;
- ``metrics.jsonl``: one JSON object per logged iteration (StyleGAN) or epoch (pix2pix);
- ``samples/``: one grid per logged step, named by the zero-padded step so names sort by time
  (StyleGAN ``000100.png``, pix2pix ``0001.png``);
- ``checkpoints/``: StyleGAN ``NNNNNN.pt``; pix2pix ``epoch-N.index`` + ``epoch-N.data-*``
  (TensorFlow's CheckpointManager names them; its prefix ``checkpoints/epoch-N`` is the checkpoint);
- the trainer's own extras: StyleGAN ``mixing/NNNNNN.png`` and TensorBoard events in the run
  folder, pix2pix TensorBoard events in ``tb/``.

Framework-free (no torch, no TensorFlow): the galleries import it on every page view.
Files that a reader may open while training runs are replaced atomically (trainers.common.fsutil).
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainers.common.fsutil import atomic_write_text
from trainers.common.safefiles import read_regular

log = logging.getLogger(__name__)

CONFIG = "config.json"
METRICS = "metrics.jsonl"
SAMPLES = "samples"
CHECKPOINTS = "checkpoints"
MIXING = "mixing"  # StyleGAN: a style-mixing grid per checkpoint
DEFAULT_ROOT = "runs"
ENV_WORKSPACE = "ROSTRO_WORKSPACE"  # the workspace variable of curate.workspace (not imported:
# the trainers stay free of the database layer)

MAX_CONFIG_BYTES = 1 << 20  # a config.json larger than this is not read (1 MiB)
MAX_JSON_DEPTH = 32  # nesting of arrays and objects a run folder's JSON may have
STEP_KEYS = {"stylegan": "iteration", "pix2pix": "epoch"}  # what a trainer's steps count
STEP_DIGITS = {"stylegan": 6, "pix2pix": 4}  # zero padding of the step in file names
LEGACY_SAMPLES = {"pix2pix": "epochs"}  # where runs made before the shared layout kept grids

_STYLEGAN_CKPT = re.compile(r"^(\d{6,})\.pt$")  # a temp file (".000020.pt.x.tmp") never matches
_PIX2PIX_CKPT = re.compile(r"^epoch-(\d+)\.index$")


def runs_root(cwd: str | os.PathLike | None = None) -> Path:
    """Where runs go by default, absolute: ``$ROSTRO_WORKSPACE/runs`` when that is set, else
    ``./workspace/runs`` when ``./workspace`` exists (the app's default workspace), else
    ``./runs`` (`cwd`: the folder "." means, default the current one)."""
    here = Path(cwd or ".")
    workspace = os.environ.get(ENV_WORKSPACE, "").strip()
    if workspace:
        return (here / Path(workspace).expanduser()).resolve() / DEFAULT_ROOT
    if (here / "workspace").is_dir():
        return (here / "workspace").resolve() / DEFAULT_ROOT
    return (here / DEFAULT_ROOT).resolve()


def default_run_dir(trainer: str, root: str | os.PathLike | None = None,
                    now: datetime | None = None) -> Path:
    """``<root>/<trainer>-<YYYYmmdd-HHMMSS>`` in UTC: sorts by start time, says which trainer.
    `root` defaults to :func:`runs_root` (the workspace's runs/ when there is a workspace)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    return Path(runs_root() if root is None else root) / f"{trainer}-{stamp}"


def step_key(trainer: str) -> str:
    """'iteration' (StyleGAN) or 'epoch' (pix2pix): the x of the curves and grid names."""
    return STEP_KEYS.get(trainer, "iteration")


def step_name(trainer: str, step: int, suffix: str) -> str:
    """A file name carrying the zero-padded step: ``step_name("stylegan", 20, ".png")`` → 000020.png."""
    return f"{step:0{STEP_DIGITS.get(trainer, 6)}d}{suffix}"


def samples_dir(run_dir: str | os.PathLike, trainer: str) -> Path:
    """The run's grid folder: ``samples/``, or the older layout's folder when only that exists
    (a pix2pix run started before the shared layout keeps its grids in ``epochs/``)."""
    run_dir = Path(run_dir)
    legacy = LEGACY_SAMPLES.get(trainer)
    if legacy and not (run_dir / SAMPLES).is_dir() and (run_dir / legacy).is_dir():
        return run_dir / legacy
    return run_dir / SAMPLES


def sample_path(run_dir: str | os.PathLike, trainer: str, step: int) -> Path:
    return samples_dir(run_dir, trainer) / step_name(trainer, step, ".png")


def list_steps(folder: str | os.PathLike, suffix: str = ".png") -> list[tuple[int, str]]:
    """(step, absolute path) of each ``<digits><suffix>`` file in ``folder``, oldest first.

    Hidden files (a grid or checkpoint being written) are skipped; a missing folder is empty.
    """
    out = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                stem = e.name[: -len(suffix)] if e.name.lower().endswith(suffix) else ""
                if stem.isdigit() and not e.name.startswith("."):
                    out.append((int(stem), os.path.abspath(e.path)))
    except OSError:
        return []
    return sorted(out)


# Config and metrics --------------------------------------------------------------------------

def write_config(run_dir: str | os.PathLike, config: dict[str, Any]) -> Path:
    path = Path(run_dir) / CONFIG
    atomic_write_text(path, json.dumps(config, indent=2) + "\n")
    return path


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with the nesting checked first: a document nested deeper than ``max_depth``
    raises ValueError (json's own parser recurses: 100,000 levels raised RecursionError)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.count("[") + text.count("{") > max_depth:  # only then can it be too deep
        depth, in_string, escaped = 0, False, False
        for ch in text:
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch in "[{":
                depth += 1
                if depth > max_depth:
                    raise ValueError(f"JSON nested deeper than {max_depth} levels")
            elif ch in "]}":
                depth -= 1
    return json.loads(text)


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """config.json as a dict; OSError when absent or not a regular file below
    MAX_CONFIG_BYTES, ValueError when it is not a JSON object (or is nested too deep)."""
    raw = read_regular(Path(run_dir) / CONFIG, max_bytes=MAX_CONFIG_BYTES)
    data = loads_bounded(raw)
    if not isinstance(data, dict):
        raise ValueError(f"{Path(run_dir) / CONFIG} does not hold a JSON object")
    return data


def is_run(folder: str | os.PathLike) -> bool:
    return (Path(folder) / CONFIG).is_file()


MAX_METRIC = 1e300  # a metric's magnitude; beyond it (or not finite) the row is skipped


def _number(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return -2**63 <= v < 2**63
    return isinstance(v, float) and math.isfinite(v) and abs(v) <= MAX_METRIC


def metrics_row_ok(row, nested: bool = True) -> bool:
    """A metrics row is a JSON object of finite numbers, or of objects of them (StyleGAN's
    "swd_levels"): what both trainers write. Strings, booleans, lists, 1e400 (inf), NaN or an
    int past 64 bits would break the charts and the run summary."""
    if not isinstance(row, dict) or not row:
        return False
    return all(isinstance(k, str) and (_number(v) or nested and metrics_row_ok(v, nested=False))
               for k, v in row.items())


def append_metrics(run_dir: str | os.PathLike, row: dict[str, Any]) -> None:
    """One line per call; readers parse complete lines only, so appending needs no temp file.

    A crash mid-append (a kill, a full disk) can leave a torn last line: readers skip it and
    :func:`truncate_metrics` drops it when the run resumes."""
    with open(Path(run_dir) / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def read_metrics_rows(run_dir: str | os.PathLike, key: str) -> tuple[list[dict[str, Any]], int]:
    """(rows of metrics.jsonl that parse and carry an integer ``key``, lines dropped).

    A torn or corrupt line (a crash mid-append) is logged with its line number and dropped,
    never fatal. A missing file has no rows."""
    path = Path(run_dir) / METRICS
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    rows, dropped = [], 0
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
            row = None
        if isinstance(row, dict) and isinstance(row.get(key), int):
            rows.append(row)
        else:
            dropped += 1
            log.warning("%s line %d: dropping a torn or corrupt metrics line: %.80r", path, n, raw)
    return rows, dropped


def truncate_metrics(run_dir: str | os.PathLike, key: str, last: int) -> None:
    """Keep the rows whose ``key`` is at most ``last`` (the checkpoint's own row included; a
    resumed run redoes the rest), drop torn or corrupt lines, and replace the file atomically
    (temp file + rename): a crash during the rewrite leaves the old file whole."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return
    rows, _ = read_metrics_rows(run_dir, key)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows if r[key] <= last))


# Leftovers of a killed or failed writer -------------------------------------------------------

_TEMP_FILE = re.compile(r"^\..+\.tmp$")  # trainers.common.fsutil's ".NAME.RANDOM.tmp"
_TF_TEMP = re.compile(r"(_temp($|[_/])|\.tempstate|^checkpoint\.tmp)")  # TensorFlow's savers


def clean_leftovers(run_dir: str | os.PathLike) -> list[Path]:
    """Remove what a killed or failed write left in the run folder, and return it.

    Temp files of atomic writes (``.000020.pt.x7f.tmp``, ``.000020.png.ab1.tmp``, config and
    metrics rewrites) in the run folder, ``samples/`` (and pix2pix's old ``epochs/``),
    ``mixing/`` and ``checkpoints/``; TensorFlow's ``epoch-N_temp*/`` folders, ``*.tempstate*``
    files and ``checkpoint.tmp*`` in ``checkpoints/``. Finished files never match. Called by
    both trainers before they write, and when a write fails. Symlinks are removed, never
    followed.
    """
    run_dir = Path(run_dir)
    removed = []
    for folder in (run_dir, run_dir / SAMPLES, run_dir / MIXING, run_dir / CHECKPOINTS,
                   *(run_dir / f for f in LEGACY_SAMPLES.values())):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            tf_temp = folder.name == CHECKPOINTS and _TF_TEMP.search(e.name)
            if not (_TEMP_FILE.match(e.name) or tf_temp):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path)
                else:
                    os.unlink(e.path)
            except FileNotFoundError:
                continue
            removed.append(Path(e.path))
            log.info("removed %s (left by an interrupted write)", e.path)
    return removed


# Checkpoints ----------------------------------------------------------------------------------

def checkpoint_path(run_dir: str | os.PathLike, iteration: int) -> Path:
    """Where the StyleGAN trainer writes the checkpoint of ``iteration``."""
    return Path(run_dir) / CHECKPOINTS / step_name("stylegan", iteration, ".pt")


def checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, checkpoint) of each finished checkpoint in ``run_dir/checkpoints``, newest first.

    StyleGAN ``NNNNNN.pt`` files and pix2pix prefixes ``epoch-N`` (for ``epoch-N.index``);
    temp files of a save that was killed are ignored.
    """
    try:
        names = os.listdir(Path(run_dir) / CHECKPOINTS)
    except OSError:
        return []
    folder = Path(run_dir) / CHECKPOINTS
    found = []
    for name in names:
        if m := _STYLEGAN_CKPT.match(name):
            found.append((int(m.group(1)), folder / name))
        elif m := _PIX2PIX_CKPT.match(name):
            found.append((int(m.group(1)), folder / name[: -len(".index")]))
    return sorted(found, reverse=True)


def newest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    found = checkpoints(run_dir)
    return found[0][1] if found else None
