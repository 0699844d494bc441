"""`python -m curate`: the command line. Each command calls the same functions the app does.

Commands are registered in COMMANDS as (name, help, add_arguments, run), in the order --help
lists them. The export commands' flags are generated from curate.export.registry, where each
setting's default and help are declared once (the Export page reads the same table).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import logging
import os
import sys
import typing
from collections.abc import Callable
from pathlib import Path

from curate.export.registry import KINDS, shown
from curate.workspace import Workspace, explain

Handler = Callable[[argparse.Namespace, Workspace], int]
COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = []
REPO = Path(__file__).resolve().parent.parent


def command(name: str, help: str, args: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    def register(fn: Handler) -> Handler:
        COMMANDS.append((name, help, args, fn))
        return fn
    return register


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


# --- init -------------------------------------------------------------------------------------
@command("init", "create the database or migrate it to the newest schema")
def _init(a, ws):
    from db import migrate
    engine = ws.engine()
    rev = migrate.upgrade(engine)
    print(f"database ready at {engine.url.render_as_string(hide_password=True)} (schema {rev})")
    return 0


# --- ingest -----------------------------------------------------------------------------------
def _ingest_args(p):
    p.add_argument("dir", help="folder of images (jpg, jpeg, png, webp; searched recursively)")
    p.add_argument("--source", required=True, help="name of this collection, e.g. celeba")
    p.add_argument("--attributes", help="CelebA list_attr_celeba.txt (default: looked for in DIR "
                   "and its parent)")
    p.add_argument("--partition", help="CelebA list_eval_partition.txt (default: as --attributes)")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: all "
                   "cores; on a new workspace they start before the database is created)")
    p.add_argument("--near-duplicate-bits", type=int, default=4,
                   help="perceptual-hash distance reported as a near-duplicate (default 4)")


@command("ingest", "record every image under a folder (idempotent)", _ingest_args)
def _ingest(a, ws):
    from curate.celeba import AttributeFileError
    from curate.probing import EarlyProbes
    # A new workspace holds nothing to skip, so the decoding starts now, beside the import of
    # SQLAlchemy and the creation of the database: 12,000 images on 2 idle cores, the workers
    # start 0.25 s after launch instead of 0.75 s, of a 2.2 s run (docs/ingest.md).
    with EarlyProbes(a.dir, a.workers) if ws.is_new() else contextlib.nullcontext() as early:
        from curate.ingest import ingest
        try:
            report = ingest(ws.open(), a.dir, a.source, attributes=a.attributes,
                            partition=a.partition, workers=a.workers,
                            near_duplicate_bits=a.near_duplicate_bits,
                            progress=sys.stderr.isatty(), early=early)
        except (FileNotFoundError, AttributeFileError, ValueError) as e:
            raise CliError(str(e)) from None
    print(report.summary())
    return 0


# --- users ------------------------------------------------------------------------------------
def _users_args(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    pw_help = "default: asked for on the terminal, or env ROSTRO_PASSWORD"
    add = sub.add_parser("add", help="add an annotator (or an admin with --admin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may ingest, assign, review and export")
    add.add_argument("--password", help=pw_help)
    sub.add_parser("list", help="list users and roles")
    pw = sub.add_parser("passwd", help="set a user's password (ends their sessions)")
    pw.add_argument("name")
    pw.add_argument("--password", help=pw_help)
    for action, what in (("deactivate", "no login, no decisions; ends their sessions"),
                         ("activate", "let a deactivated user in again")):
        sub.add_parser(action, help=what).add_argument("name")


def _read_password(a) -> str:
    password = a.password or os.environ.get("ROSTRO_PASSWORD")
    if password:
        return password
    import getpass
    if not sys.stdin.isatty():
        raise CliError("no password: pass --password or set ROSTRO_PASSWORD")
    password = getpass.getpass(f"password for {a.name}: ")
    if password != getpass.getpass("again: "):
        raise CliError("the passwords differ")
    return password


@command("users", "add, list, deactivate or activate users; set a password", _users_args)
def _users(a, ws):
    from curate import users
    engine = ws.open()
    if a.action == "list":
        for u in users.list_users(engine):
            print(f"{u.name}\t{u.role.value}\t{'active' if u.active else 'inactive'}")
        return 0
    try:
        if a.action == "add":
            password = _read_password(a)
            users.check_password_policy(engine, password)
            users.add_user(engine, a.name, password, admin=a.admin)
            print(f"added {'admin' if a.admin else 'annotator'} {a.name}")
        elif a.action == "passwd":
            ended = users.set_password(engine, a.name, _read_password(a))
            print(f"password of {a.name} changed; {ended} session(s) ended")
        else:
            ended = users.set_active(engine, a.name, a.action == "activate")
            print(f"{a.name} {a.action}d" + ("" if a.action == "activate"
                                             else f"; {ended} session(s) ended"))
    except users.UserError as e:
        raise CliError(str(e)) from None
    return 0


# --- assign -----------------------------------------------------------------------------------
def _assign_args(p):
    p.add_argument("--per-annotator", type=int, default=10_000, help="queue length (default 10000)")
    p.add_argument("--overlap", type=float, default=0.05,
                   help="share of each queue also given to another annotator (default 0.05)")
    p.add_argument("--order", choices=("attributes", "random", "model"), default="attributes",
                   help="attributes: likely-old faces first (CelebA attributes); random; model: "
                   "highest p(accept) of the newest triage model first (default attributes)")
    p.add_argument("--explore", type=float, default=0.1,
                   help="with --order model: share drawn at random from the images the model "
                   "ranks lower, so it keeps seeing the whole pool (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    p.add_argument("--annotator", action="append", dest="annotators", metavar="NAME",
                   help="only these annotators (repeatable; default all)")
    p.add_argument("--source", action="append", dest="sources", metavar="NAME",
                   help="only images of these sources (repeatable; default those with attributes)")


@command("assign", "fill each annotator's queue (never drops decisions made)", _assign_args)
def _assign(a, ws):
    from curate.assign import AssignError, assign
    try:
        report = assign(ws.open(), per_annotator=a.per_annotator, overlap=a.overlap, order=a.order,
                        seed=a.seed, annotators=a.annotators, sources=a.sources,
                        explore=a.explore)
    except AssignError as e:
        raise CliError(str(e)) from None
    print(report.summary())
    return 0


# --- triage -----------------------------------------------------------------------------------
def _triage_args(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="learn the standing verdicts, then score every image")
    from curate.triage.config import add_train_flags
    add_train_flags(t)
    sc = sub.add_parser("score", help="score every image again with the newest model")
    sc.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto: CUDA when there is one (default auto)")
    sc.add_argument("--workers", type=int, default=0, help="decoding processes (default: all cores)")
    sub.add_parser("status", help="the newest model, its held-out figures and looks per accept")


@command("triage", "learn from the team's decisions which faces to show next", _triage_args)
def _triage(a, ws):
    from curate.triage import cli as triage_cli
    return triage_cli.run(a, ws, CliError)


# --- status -----------------------------------------------------------------------------------
def _status_args(p):
    p.add_argument("--problems", action="store_true", help="list every ingest problem")


@command("status", "what the workspace holds", _status_args)
def _status(a, ws):
    from curate.status import problems, status
    engine = ws.open()
    print(f"workspace: {ws.root}")
    print(status(engine).summary())
    if a.problems:
        for src, rel, kind, reason in problems(engine):
            print(f"{src}\t{kind}\t{rel}\t{reason}")
    return 0


# --- demo -------------------------------------------------------------------------------------
def _demo_args(p):
    p.add_argument("--count", type=int, default=200, help="CelebA-style images (default 200)")
    p.add_argument("--peruvian", type=int, default=100, help="peruvian_face-style images (default 100)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--if-missing", action="store_true", help="do nothing when the demo is built")
    p.add_argument("--old-share", type=float, default=0.35,
                   help="share of CelebA-style faces over 55 (default 0.35: about 20 %% pass every "
                   "rule; 0.08 gives about CelebA's 5 %%)")


@command("demo", "build the synthetic demo set, users and queues", _demo_args)
def _demo(a, ws):
    from curate.demo import DemoError, build_demo
    if a.count < 1 or a.peruvian < 0:
        raise CliError("--count must be at least 1 and --peruvian at least 0")
    if not 0.0 <= a.old_share <= 1.0:
        raise CliError("--old-share is a fraction between 0 and 1")
    try:
        report = build_demo(ws, ws.open(), count=a.count, peruvian=a.peruvian, seed=a.seed,
                            if_missing=a.if_missing, progress=sys.stderr.isatty(),
                            old_share=a.old_share, workers=os.cpu_count() or 1)
    except DemoError as e:
        raise CliError(str(e)) from None
    print(report.summary())
    return 0


# --- serve ------------------------------------------------------------------------------------
def _serve_args(p):
    p.add_argument("--address", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--trusted-proxy", default=None, metavar="ADDR[,ADDR]",
                   help="the reverse proxy whose X-Forwarded-For names the client (default: "
                        "$ROSTRO_TRUSTED_PROXY, else none: the socket's address is used)")


def serve_env(base: dict, ws, trusted_proxy: str | None) -> dict:
    """The server's environment: the workspace, and the proxies whose X-Forwarded-For is
    believed (the admin's setting, passed to uvicorn as FORWARDED_ALLOW_IPS; empty trusts none,
    where uvicorn's own default would believe any loopback client)."""
    from curate.app.client import TRUSTED_PROXY_ENV, trusted_proxies
    env = dict(base, ROSTRO_WORKSPACE=str(ws.root))
    if ws.database_url:
        env["ROSTRO_DATABASE_URL"] = ws.database_url
    if trusted_proxy is not None:
        env[TRUSTED_PROXY_ENV] = trusted_proxy
    env["FORWARDED_ALLOW_IPS"] = ",".join(trusted_proxies(env))
    return env


@command("serve", "start the labeling app (Streamlit) on this workspace", _serve_args)
def _serve(a, ws):
    from curate.status import status
    engine = ws.open()
    print(f"workspace: {ws.root}")
    print(status(engine).summary())
    app = REPO / "streamlit_app.py"
    if not app.exists():
        return 0
    env = serve_env(dict(os.environ), ws, a.trusted_proxy)
    print(f"serving on http://{a.address}:{a.port}  (Ctrl-C stops)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", a.address,
           "--server.port", str(a.port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false",
           # No file watching: a served app does not reload on edits, and watching a tree
           # with .venv in it overflows inotify and slows the server.
           "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           "--client.toolbarMode", "minimal",
           # Tracebacks only for admins: the app shows them itself (curate.app.common).
           "--client.showErrorDetails", "none",
           # No full garbage collection after every run: it holds the GIL for ~100 ms, and a
           # Label key press is a run (a fragment's); Python's own collector still runs.
           "--runner.postScriptGC", "false"]
    sys.stdout.flush()
    # Replace this process, so a signal sent to `curate serve` reaches Streamlit itself.
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


# --- export, prepare (built from curate.export.registry) ---------------------------------------
def _add_params(p: argparse.ArgumentParser, kind) -> None:
    """OUT, then one flag per field of the kind's params dataclass, with its help and default."""
    p.add_argument("out", metavar=kind.out_metavar, help=kind.out_help)
    for f in dataclasses.fields(kind.params):
        cli = dict(f.metadata["cli"])
        flag = cli.pop("flag", "--" + f.name.replace("_", "-"))
        kw: dict = {"dest": f.name, "help": f.metadata["help"]}
        if f.default is dataclasses.MISSING:
            kw["required"] = True
        elif isinstance(f.default, bool):
            kw.update(action="store_true", default=f.default)
        else:
            kw["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
            if f.default not in (None, ()):
                kw["help"] += f" (default {shown(f.default)})"
        if "action" not in kw and cli.get("action") != "extend":
            cli.setdefault("type", _scalar(f.type))
        p.add_argument(flag, **kw, **cli)


def _scalar(tp):
    """int for `int | None`, str for `tuple[str, ...]`: what argparse converts each value to."""
    args = [a for a in typing.get_args(tp) if a not in (type(None), Ellipsis)]
    return args[0] if args else tp


def _export_args(p):
    sub = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in KINDS.values():
        if kind.command == "export":
            _add_params(sub.add_parser(kind.cli_name, help=kind.summary), kind)


def _run_export(kind, a, ws) -> int:
    """Build the kind's params from the parsed flags and write it; refusals exit with status 2."""
    from curate.export import ExportError
    try:
        params = kind.params(**{f.name: getattr(a, f.name) for f in dataclasses.fields(kind.params)})
        r = kind.run(ws.open(), a.out, params, progress=sys.stderr.isatty())
    except (ExportError, FileExistsError) as e:
        raise CliError(str(e)) from None
    print(r.summary())
    return 0


_EXPORTS = ", ".join(k.cli_name for k in KINDS.values() if k.command == "export")


@command("export", f"write a dataset folder ({_EXPORTS})", _export_args)
def _export(a, ws):
    return _run_export(next(k for k in KINDS.values() if k.cli_name == a.kind), a, ws)


@command("prepare", KINDS["lmdb"].summary, lambda p: _add_params(p, KINDS["lmdb"]))
def _prepare(a, ws):
    return _run_export(KINDS["lmdb"], a, ws)


def _reconcile(ws) -> None:
    """Settle what a killed export left (curate.export.records.reconcile) before any command.
    A database that cannot be opened is left for the command itself to report."""
    if ws.is_new():
        return  # nothing was exported yet (and SQLAlchemy need not be imported for it)
    from sqlalchemy.exc import SQLAlchemyError
    from curate.export.records import reconcile
    from curate.workspace import WorkspaceError, sqlite_path
    try:
        db_file = sqlite_path(ws.url)
        if db_file is not None and not db_file.is_file():
            return  # a new workspace: nothing was exported yet
        reconcile(ws.open(), [ws.exports_dir])
    except (SQLAlchemyError, OSError, ValueError, WorkspaceError) as e:
        # A bad URL or database is the command's to report, in its one error line.
        logging.getLogger(__name__).info("export clean-up skipped: %s", e)


# --- labels -----------------------------------------------------------------------------------
def _labels_args(p):
    p.add_argument("out", metavar="LABELS", help="LABELS.csv or LABELS.parquet")


@command("labels", "write every decision (annotator, rule, tags, times) to CSV or Parquet",
         _labels_args)
def _labels(a, ws):
    from curate.export.labels import write_labels
    try:
        n = write_labels(ws.open(), a.out)
    except ValueError as e:
        raise CliError(str(e)) from None
    print(f"{n} rows written to {a.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m curate",
        description="rostro: curate face datasets — ingest, assign, label, export.")
    parser.add_argument("--workspace", help="workspace folder (default $ROSTRO_WORKSPACE or ./workspace)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default $ROSTRO_DATABASE_URL or "
                        "SQLite in the workspace)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_, add_args, fn in COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        add_args(p)
        p.set_defaults(handler=fn)
    return parser


def run() -> int:
    """`main()` for a process that ends right after it (`python -m curate`, the `curate` script).

    Before the exit the workspace's database connections are closed (a SQLite file is then
    complete without its WAL) and the garbage collector is frozen: the interpreter's teardown,
    its last collection over the ~70,000 objects SQLAlchemy and the rest leave, took 0.16–0.2 s
    of a 3.2 s `curate ingest` of 12,000 images on 2 idle cores (0.02 s frozen), and finalizers
    at exit are not promised by the language anyway (files and connections are closed
    explicitly).
    """
    code = main()
    from curate.workspace import close_engines
    close_engines()
    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    ws = Workspace.resolve(a.workspace, a.database_url)
    try:
        _reconcile(ws)
        return a.handler(a, ws)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        # A database or workspace the user can fix (corrupt, unreachable, read-only, a bad URL)
        # is one line; anything else is a bug and keeps its traceback.
        why = explain(e, ws.url)
        if why is None:
            raise
        print(f"error: {why}", file=sys.stderr)
        return 2
