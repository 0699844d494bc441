"""Label latency: server-side time to record a decision and load the next item, and (with
--browser) key press to next image visible in headless Chromium.

Server side: a SQLite database (or --database-url) with 202,599 synthetic image rows, 20
annotators with 10,000-image queues, half of each already decided; WRITERS processes label at
once, each timing, per decision, exactly what the Label page does on a key press:
record the decision, find the next undecided position, load it with the next few (prefetch
query), and — every PROGRESS_REFRESH decisions, as the page does — re-read the progress
figures. Writers press keys back to back (a stress far above a person's pace, one key every
~2 s); --pace-ms adds a think time. Targets: p95 under 50 ms on SQLite; in the browser under
300 ms.

Prints one JSON line per measurement. Usage:
    python benchmarks/label_latency.py [--images 202599] [--writers 10] [--decisions 200]
    python benchmarks/label_latency.py --browser   # needs /usr/bin/chromium
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CELEBA = 202_599


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def build(url: str, images: int, annotators: int, queue: int, decided: int) -> list[int]:
    """Bulk-insert the synthetic database; returns the annotator ids."""
    from sqlalchemy import insert, select

    from curate.assign import assign
    from db import migrate
    from db.auth import hash_password
    from db.engine import make_engine, reading, writing
    from db.models import Annotator, Assignment, Decision, Image, Role, Source

    engine = make_engine(url)
    migrate.upgrade(engine)
    with writing(engine) as s:
        src = Source(name="celeba", root="/nonexistent", attribute_names=["Young"])
        s.add(src)
        s.flush()
        rows = [dict(source_id=src.id, relpath=f"img_align_celeba/{i:06d}.jpg",
                     content_hash=f"{i:064x}", phash=i, width=178, height=218, mode="RGB",
                     file_size=10_000, attributes=["Young"] if i % 3 else ["Gray_Hair"],
                     partition=0) for i in range(1, images + 1)]
        for i in range(0, len(rows), 20_000):
            s.execute(insert(Image), rows[i:i + 20_000])
        pw = hash_password("pw")
        s.execute(insert(Annotator), [dict(name=f"a{i:02d}", role=Role.annotator, password_hash=pw)
                                      for i in range(annotators)])
    assign(engine, per_annotator=queue, overlap=0.05, order="attributes", seed=0)
    with reading(engine) as s:
        ids = list(s.scalars(select(Annotator.id).order_by(Annotator.id)))
        queues = s.execute(select(Assignment.annotator_id, Assignment.image_id)
                           .where(Assignment.position < decided)).all()
    with writing(engine) as s:
        rows = [dict(annotator_id=a, image_id=i, verdict="accept" if i % 4 else "reject",
                     rule=None if i % 4 else "too_young", tags=[], seconds=3.0)
                for a, i in queues]
        for i in range(0, len(rows), 20_000):
            s.execute(insert(Decision), rows[i:i + 20_000])
    engine.dispose()
    return ids


def _writer(url: str, annotator_id: int, n: int, pace_s: float, barrier, out) -> None:
    from curate import labeling
    from db.engine import make_engine, retry_busy
    engine = make_engine(url)
    pos = labeling.resume_position(engine, annotator_id)
    item, _ = retry_busy(labeling.window, engine, annotator_id, pos, ahead=0)
    barrier.wait()
    core, page, write = [], [], []
    for k in range(n):
        if pace_s:
            time.sleep(pace_s)
        t0 = time.perf_counter()
        # Retried while busy, as the page's db_call does (decide itself does not retry).
        retry_busy(labeling.decide, engine, annotator_id, item, "accept" if k % 5 else "skip",
                   seconds=2.0)
        write.append((time.perf_counter() - t0) * 1000)
        pos = labeling.next_position(engine, annotator_id, pos)
        item = labeling.items(engine, annotator_id, pos, 1 + labeling.PREFETCH)[0]
        t1 = time.perf_counter()
        if k % labeling.PROGRESS_REFRESH == 0:
            labeling.progress(engine, annotator_id)
        t2 = time.perf_counter()
        core.append((t1 - t0) * 1000)
        page.append((t2 - t0) * 1000)
    engine.dispose()
    out.put((core, page, write))


def server_side(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        if args.reuse:
            url = f"sqlite:///{Path(args.reuse).resolve()}"
            ids = list(range(1, args.annotators + 1))
        else:
            ids = build(url, args.images, args.annotators, args.queue, args.queue // 2)
        emit(measure="build_database", images=args.images, annotators=args.annotators,
             queue=args.queue, decided_before=args.queue // 2, reused=bool(args.reuse),
             seconds=round(time.perf_counter() - t0, 1))
        ctx = mp.get_context("spawn")
        barrier, out = ctx.Barrier(args.writers), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(url, a, args.decisions, args.pace_ms / 1000,
                                                       barrier, out))
                 for a in ids[:args.writers]]
        for p in procs:
            p.start()
        results = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
        core = [x for c, _, _ in results for x in c]
        page = [x for _, p, _ in results for x in p]
        write = [x for _, _, w in results for x in w]
        backend = url.split(":", 1)[0]
        for name, vals in (("decide_and_load_next", core), ("decide_load_next_and_progress", page),
                           ("record_decision_only", write)):
            emit(measure=name, backend=backend, writers=args.writers, pace_ms=args.pace_ms,
                 samples=len(vals),
                 p50_ms=round(statistics.median(vals), 2), p95_ms=round(pct(vals, 0.95), 2),
                 max_ms=round(max(vals), 2), target_p95_ms=50)


def browser(args) -> None:
    from tests.browser.harness import chromium_missing, label_run
    why = chromium_missing()
    if why:
        emit(measure="key_to_next_image", skipped=why)
        return
    with tempfile.TemporaryDirectory() as tmp:
        times = label_run(Path(tmp) / "ws", presses=args.presses)
    emit(measure="key_to_next_image", samples=len(times), p50_ms=round(statistics.median(times), 1),
         p95_ms=round(pct(times, 0.95), 1), max_ms=round(max(times), 1), target_p95_ms=300)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=CELEBA, help="image rows (default 202599)")
    p.add_argument("--annotators", type=int, default=20, help="annotators with queues (default 20)")
    p.add_argument("--queue", type=int, default=10_000, help="queue length (default 10000)")
    p.add_argument("--writers", type=int, default=10, help="concurrent labeling processes (default 10)")
    p.add_argument("--decisions", type=int, default=200, help="decisions per writer (default 200)")
    p.add_argument("--database-url", help="benchmark this database instead (must be empty)")
    p.add_argument("--reuse", metavar="SQLITE_FILE", help="a database built by an earlier run "
                   "(a copy: it gets more decisions)")
    p.add_argument("--pace-ms", type=float, default=0.0,
                   help="think time before each decision, per writer (default 0: back to back)")
    p.add_argument("--browser", action="store_true", help="also time key press → next image")
    p.add_argument("--browser-only", action="store_true", help="only the browser measurement")
    p.add_argument("--presses", type=int, default=60, help="browser key presses (default 60)")
    args = p.parse_args()
    if not args.browser_only:
        server_side(args)
    if args.browser or args.browser_only:
        browser(args)


if __name__ == "__main__":
    main()
