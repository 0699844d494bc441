"""One convention for both trainers' settings: a frozen dataclass whose fields carry their help,
and a command line generated from those fields.

- Each field is declared with :func:`setting` (default, help, unit in the help) — declared once.
- Every option is accepted as ``--a_b`` and ``--a-b`` (the reference StyleGAN spells
  ``--init_size``, Unix tools ``--l1-lambda``; the README and docs use both); booleans also get
  ``--no-a_b`` / ``--no-a-b``.
- ``--dry-run`` (or ``--dry_run``) is an option of the command, not a setting: the trainer prints
  the resolved settings as JSON and writes nothing.
- ``--out`` defaults to :func:`trainers.runs.default_run_dir` (``<workspace>/runs/<trainer>-<UTC>``
  when there is a workspace, else ``runs/<trainer>-<UTC>``).
- With ``--resume --out RUN`` the run's saved ``config.json`` fills every option not given.

Values are validated by the dataclass's ``__post_init__`` (a ``ValueError``), which only looks at
the values: checks that files exist belong where training starts, so the config of a saved run
can be read back after its data set has moved. Framework-free.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from trainers import runs

T = TypeVar("T")
_TYPES = {"int": int, "float": float, "str": str}


def setting(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field with its --help text (and argparse extras such as ``choices``)."""
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def build_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """argparse parser generated from ``cls``'s fields; options not given are absent."""
    p = argparse.ArgumentParser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata)
        help_ = f"{meta.pop('help', '')} (default: {f.default})"
        if meta.pop("positional", False):
            p.add_argument(f.name, help=help_)
            continue
        flags = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        if f.type in ("bool", bool):
            p.add_argument(*flags, dest=f.name, action=argparse.BooleanOptionalAction, help=help_)
        else:
            p.add_argument(*flags, dest=f.name, type=_TYPES[str(f.type)], help=help_, **meta)
    p.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true", default=False,
                   help="print the resolved settings as JSON and write nothing")
    return p


def from_dict(cls: type[T], data: dict[str, Any], **overrides: Any) -> T:
    """``cls`` from a saved config.json (keys it does not know, such as "trainer", are ignored).

    A config.json may come from anyone: each value must have its field's type (an int field
    takes an int, not a bool or a string; a float field an int or a float), else ValueError;
    ``cls.__post_init__`` then checks the ranges."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {k: v for k, v in {**data, **overrides}.items() if k in fields}
    for name, value in values.items():
        declared = {"int": int, "float": float, "bool": bool, "str": str}
        kind = declared.get(fields[name].type, type(fields[name].default))
        ok = (isinstance(value, bool) if kind is bool
              else isinstance(value, int) and not isinstance(value, bool) if kind is int
              else isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
              else isinstance(value, str) if kind is str else True)
        if not ok:
            raise ValueError(f"config value {name}={str(value)[:80]!r} is not a {kind.__name__}")
    return cls(**values)


def parse(cls: type[T], trainer: str, argv: list[str] | None, prog: str,
          description: str) -> tuple[T, bool]:
    """(settings, dry_run) from the command line; raises ValueError on impossible values.

    ``cls`` needs the fields ``out`` and ``resume``.
    """
    given = vars(build_parser(cls, prog, description).parse_args(argv))
    dry_run = given.pop("dry_run")
    if given.get("resume") and given.get("out"):
        saved = Path(given["out"]) / runs.CONFIG
        if not saved.is_file():
            raise ValueError(f"--resume: no run to continue, {saved} not found")
        data = runs.read_config(given["out"])
        if data.get("trainer") not in (None, trainer):
            raise ValueError(f"--resume: {saved} is a {data.get('trainer')!r} run, not a {trainer} one")
        cfg = from_dict(cls, data, **given)
    else:
        cfg = cls(**given)
    if not cfg.out:
        cfg = dataclasses.replace(cfg, out=str(runs.default_run_dir(trainer)))
    return cfg, dry_run
