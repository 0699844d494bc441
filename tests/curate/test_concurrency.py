"""Ten processes deciding at once on one database lose and duplicate nothing, and no
"database is locked" reaches anyone (SQLite: BEGIN IMMEDIATE + busy retry; and PostgreSQL)."""
from __future__ import annotations

import multiprocessing as mp
import queue
import sys
import time
import traceback
import types

import pytest
from sqlalchemy import select

from curate.users import add_user
from db.engine import reading
from db.models import Decision
from tests.helpers.curate import add_images

WRITERS = 10
DECISIONS = 20  # per writer, plus an undo every 7th
PLAN = ("accept", "reject", "skip", "accept")


def _writer(url: str, annotator_id: int, barrier, out) -> None:
    """Label like the panel does: the item at the cursor → a press bound to it (a press id,
    the write turn) → the next undecided position; undo now and then; each call retried while
    busy, as the page's `db_attempt` does."""
    try:
        from curate import labeling
        from curate.presses import Pressed
        from db.engine import make_engine, retry_busy
        engine = make_engine(url)
        done = []
        pos = retry_busy(labeling.resume_position, engine, annotator_id)
        barrier.wait(timeout=120)
        for n in range(DECISIONS):
            [item] = retry_busy(labeling.items_at, engine, annotator_id, [pos])
            verdict = PLAN[n % len(PLAN)]
            rule = "too_young" if verdict == "reject" else None
            cid = f"writer{annotator_id}-{n:04d}"
            retry_busy(labeling.decide_pressed, engine, annotator_id, item.image_id, item.position,
                       Pressed(verdict, rule, seconds=0.2, press_id=cid, seen=item.row))
            done.append((item.image_id, verdict))
            retry_busy(labeling.progress, engine, annotator_id)
            if n % 7 == 6:
                retry_busy(labeling.undo_pressed, engine, annotator_id, item.image_id,
                           item.position, cid, f"{cid}-undo")
                done.append((item.image_id, "undo"))
            else:
                pos = retry_busy(labeling.first_undecided, engine, annotator_id, pos)
        engine.dispose()
        out.put((annotator_id, done, None))
    except BaseException:  # noqa: BLE001 — report everything to the parent
        out.put((annotator_id, None, traceback.format_exc()))


def _collect(procs, out, timeout_s: float = 240.0) -> list:
    """Each worker's report; fails fast when one dies without reporting."""
    results, deadline = [], time.monotonic() + timeout_s
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                pytest.fail(f"workers died or hung (exit codes {dead}); see captured stderr")
    return results


@pytest.mark.slow
def test_ten_writers_lose_and_duplicate_nothing(engine, db_url, monkeypatch):
    # AppTest leaves a page script as __main__; spawned children would re-run it. Hide it.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    from curate.assign import assign
    add_images(engine, WRITERS * DECISIONS * 2)
    ids = [add_user(engine, f"w{i}", "pw") for i in range(WRITERS)]
    assign(engine, per_annotator=DECISIONS * 2, overlap=0.1, order="random", seed=0)

    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(db_url, a, barrier, out)) for a in ids]
    for p in procs:
        p.start()
    results = _collect(procs, out)
    for p in procs:
        p.join(timeout=60)
    errors = [err for _, _, err in results if err]
    assert not errors, errors[0]

    with reading(engine) as s:
        rows = s.execute(select(Decision.annotator_id, Decision.image_id, Decision.verdict)
                         .order_by(Decision.id)).all()
    for annotator_id, done, _ in results:
        mine = [(r.image_id, r.verdict.value) for r in rows if r.annotator_id == annotator_id]
        assert mine == done  # every decision once, in order: nothing lost, nothing doubled
    assert len(rows) == sum(len(d) for _, d, _ in results)
