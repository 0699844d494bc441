"""Where the galleries may read training runs: the run roots, and the check that keeps every
read inside them.

The roots, in order:

1. the workspace's ``runs/`` (always);
2. the folders in ``$ROSTRO_RUNS`` (several separated by ``os.pathsep``), set by whoever starts
   the server — an operator's choice, outside the app;
3. the folders an admin added on the Runs page, kept in the database as the workspace setting
   ``run_roots`` (a JSON list of absolute, symlink-free paths; :mod:`curate.settings`).

No page takes a folder from an annotator. Every path a page reads — a run folder, its
``config.json`` and ``metrics.jsonl``, a grid, a checkpoint — is resolved (symlinks followed)
and must stay inside the root the run was found under (:func:`inside`): a symlink in a root that
points elsewhere is not listed, shown or loaded. Nothing here imports torch or TensorFlow.
"""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from curate.settings import get_setting, set_setting

ENV_RUNS = "ROSTRO_RUNS"  # operator-level run roots, separated by os.pathsep
SETTING = "run_roots"  # the admin-configured roots (a list of absolute paths)


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
