"""`python -m curate.triage.worker`: one triage training for the app (see curate.triage.job).

Takes the workspace from ROSTRO_WORKSPACE / ROSTRO_DATABASE_URL, as the app does, and the
training settings as `curate triage train` flags. Holds the
training lock for its whole run; when another run holds it, exits at once and writes nothing.
After a model is made, tops up queues when the admin turned that on (curate.triage.auto).
"""
from __future__ import annotations

import logging
import os
import sys

from trainers.common.workers import die_with_parent


def main(argv: list[str] | None = None) -> int:
    die_with_parent(os.getppid())  # the fallback watchdog; PR_SET_PDEATHSIG was set before exec
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import argparse
    from curate.triage.cli import passive_threads
    passive_threads()
    from curate.triage import train as tt
    from curate.triage.config import TriageError, add_train_flags, from_flags
    from curate.triage.job import Reporter
    from curate.workspace import Workspace, explain

    parser = argparse.ArgumentParser(prog="python -m curate.triage.worker")
    add_train_flags(parser)
    ws = Workspace.resolve()
    try:
        cfg = from_flags(parser.parse_args(argv))
    except TriageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        lock = tt.training_lock(ws)
        lock.__enter__()
    except TriageError:
        return 0  # another run has it: that one reports
    reporter = Reporter(ws)
    try:
        engine = ws.open()
        report = tt.train_locked(engine, ws, cfg, reporter, True)
        reporter.finish("done", report.summary(), report.version, report.figures)
    except TriageError as e:
        reporter.finish("failed", str(e))
        return 2
    except Exception as e:  # a bug or a database that went away: one line for the page
        why = explain(e, ws.url) or f"{type(e).__name__}: {e}"
        reporter.finish("failed", why.splitlines()[0][:500])
        logging.getLogger(__name__).exception("triage training failed")
        return 1
    finally:
        lock.__exit__(None, None, None)
    try:
        from curate.triage import auto
        for line in auto.top_up(engine):
            print(line, file=sys.stderr)
    except Exception:  # a top-up that fails is retried by the server's next check
        logging.getLogger(__name__).exception("queue top-up after training failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
