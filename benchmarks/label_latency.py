"""Label latency: the server's work per key press, and (with --browser) key press → next image
painted and key press → decision committed, in headless Chromium.

Server side: a SQLite database (or --database-url) with 202,599 synthetic image rows, 20
annotators with 10,000-image queues, half of each already decided; WRITERS processes label at
once, each timing, per press, exactly what the Label page's panel fragment does with one
press (`curate.app.label_panel.label_protocol.respond`: record the press bound to its queue
position, read the items around the next cursor, the pace, now and then the progress).
Writers press back to back (a stress far above a person's pace, one key every ~2 s);
--pace-ms adds a think time. Target: p95 under 50 ms.

--browser: then, on the same database and while the writers keep labeling, an annotator no
writer uses logs in in headless Chromium and decides --presses images at a person's pace
(each image looked at for 170 ms); the page itself logs when each image was painted and when
the server confirmed each press (window.__rostro). Targets: key → next image painted p95 under
50 ms; key → committed p95 under 300 ms. Then --grid-pages grid pages (V, every tile looked at
for its 100 ms, Enter): V → page of 16 tiles painted p95 under 150 ms; Enter → the page's 16
decisions committed p95 under 500 ms. --browser-only does the browser part on a small demo
workspace, without writers.

--after-galleries: on one server (a demo workspace with tiny trained StyleGAN and pix2pix runs),
the browser measurement fresh, then someone uses Style mixing and Sketch to face until they
show results, then the same measurement again: model work runs in worker processes, so the
second figure should stay within 1.1× of the first (issue 12). Prints one JSON line per state
(`state: fresh | after_galleries`) with the server process's memory.

Prints one JSON line per measurement. Usage:
    python benchmarks/label_latency.py [--images 202599] [--writers 10] [--decisions 200] [--browser]
    python benchmarks/label_latency.py --browser-only   # needs /usr/bin/chromium
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue
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


def _writer(url: str, annotator_id: int, n: int, pace_s: float, barrier, out, until=None) -> None:
    """Press n keys as the panel sends them (or, with `until`, until that event is set)."""
    from curate.app.label_panel.label_protocol import Memory, respond
    from db.engine import make_engine
    engine = make_engine(url)
    mem = Memory()
    data = respond(engine, annotator_id, mem, {}, None)
    cursor = data["start"]
    have: set[int] = set()
    barrier.wait()
    times, refused = [], 0
    k = 0
    while (k < n) if until is None else not until.is_set():
        items = {i["position"]: i for i in data["items"]}
        have |= {i["image_id"] for i in data["items"]}
        item = items.get(cursor)
        if item is None:
            break  # end of the queue
        if pace_s:
            time.sleep(pace_s)
        nxt = min([p for p in data["undecided"] if p > cursor], default=cursor + 1)
        press = dict(cid=f"{annotator_id}-{k}", kind="decide", image_id=item["image_id"],
                     position=cursor, verdict="accept" if k % 5 else "skip", rule=None, tags=[],
                     note=None, seconds=2.0)
        t0 = time.perf_counter()
        data = respond(engine, annotator_id, mem, dict(cursor=nxt, outbox=[press],
                                                       have=sorted(have)), data)
        times.append((time.perf_counter() - t0) * 1000)
        refused += not data["outcomes"].get(press["cid"], {}).get("ok", False)
        cursor = nxt
        k += 1
    engine.dispose()
    out.put((times, refused))


def _summary(vals: list[float]) -> dict:
    return dict(samples=len(vals), p50_ms=round(statistics.median(vals), 1),
                p95_ms=round(pct(vals, 0.95), 1), max_ms=round(max(vals), 1))


def server_side(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        if args.reuse:
            from db import migrate
            from db.engine import make_engine
            url = f"sqlite:///{Path(args.reuse).resolve()}"
            engine = make_engine(url)
            migrate.upgrade(engine)  # built by an older revision: bring it up to date first
            engine.dispose()
            ids = list(range(1, args.annotators + 1))
        else:
            ids = build(url, args.images, args.annotators, args.queue, args.queue // 2)
        emit(measure="build_database", images=args.images, annotators=args.annotators,
             queue=args.queue, decided_before=args.queue // 2, reused=bool(args.reuse),
             seconds=round(time.perf_counter() - t0, 1))
        ctx = mp.get_context("spawn")
        until = ctx.Event() if args.browser else None
        barrier, out = ctx.Barrier(args.writers + (until is not None)), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(url, a, args.decisions, args.pace_ms / 1000,
                                                   barrier, out, until))
                 for a in ids[:args.writers]]
        for p in procs:
            p.start()
        if until is not None:
            barrier.wait()
            try:
                browser_on(args, url, ids[args.writers], Path(tmp))
            finally:
                until.set()
        results = []
        while len(results) < len(procs):
            try:
                results.append(out.get(timeout=2))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    sys.exit("error: a writer process failed (its traceback is above)")
        for p in procs:
            p.join()
        times = [x for t, _ in results for x in t]
        emit(measure="server_press", backend=url.split(":", 1)[0], writers=args.writers,
             pace_ms=args.pace_ms, refused=sum(r for _, r in results), target_p95_ms=50,
             **_summary(times))


def _image_files(url: str, annotator_id: int, positions: list[int], root: Path) -> None:
    """Real JPEGs for the images at these positions of one queue (the rest stay missing),
    under `root`, which becomes the source's root."""
    import numpy as np
    from sqlalchemy import select, update

    from curate import synth
    from db.engine import make_engine, reading, writing
    from db.models import Assignment, Image, Source
    engine = make_engine(url)
    with reading(engine) as s:
        rels = s.scalars(select(Image.relpath).join(Assignment, Assignment.image_id == Image.id)
                         .where(Assignment.annotator_id == annotator_id,
                                Assignment.position.in_(positions))).all()
    import hashlib
    rng = np.random.default_rng(0)
    hashes = {}
    for k, rel in enumerate(rels):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = synth.face_jpeg(synth.draw_truth(rng, rel), seed=k)
        path.write_bytes(data)
        hashes[rel] = hashlib.sha256(data).hexdigest()
    with writing(engine) as s:
        s.execute(update(Source).values(root=str(root)))
        for rel, digest in hashes.items():  # the display checks a file against its recorded hash
            s.execute(update(Image).where(Image.relpath == rel).values(content_hash=digest))
    engine.dispose()


def browser_on(args, url: str, annotator_id: int, tmp: Path) -> None:
    """The browser measurement on this database, as annotator `annotator_id` (password pw)."""
    from sqlalchemy import select

    from db.engine import make_engine, reading
    from db.models import Annotator
    from tests.browser.harness import chromium_missing, grid_on, label_on, serve
    why = chromium_missing()
    if why:
        emit(measure="key_to_next_image", skipped=why)
        return
    engine = make_engine(url)
    with reading(engine) as s:
        name = s.scalar(select(Annotator.name).where(Annotator.id == annotator_id))
    engine.dispose()
    first = args.queue // 2  # build() decided the first half of every queue
    from curate import grid
    engine = make_engine(url)
    tiles = grid.order(engine, annotator_id)[0][:(args.grid_pages + 2) * grid.GRID_SIZE]
    engine.dispose()
    _image_files(url, annotator_id, list(range(first, first + args.presses + 40)) + tiles,
                 tmp / "images")
    (tmp / "ws").mkdir(parents=True, exist_ok=True)
    with serve(tmp / "ws", url) as app:
        painted, committed = label_on(app, args.presses, name, "pw", first)
        grid_painted, grid_committed = grid_on(app, args.grid_pages, name, "pw")
    _emit_browser(args, painted, committed, images=args.images)
    _emit_grid(args, grid_painted, grid_committed, images=args.images)


def _emit_browser(args, painted, committed, **where) -> None:
    emit(measure="key_to_next_image_painted", writers=args.writers if where else 0,
         target_p95_ms=50, **where, **_summary(painted))
    emit(measure="key_to_decision_committed", writers=args.writers if where else 0,
         target_p95_ms=300, **where, **_summary(committed))


def _emit_grid(args, painted, committed, **where) -> None:
    emit(measure="grid_v_to_page_painted", tiles=16, writers=args.writers if where else 0,
         target_p95_ms=150, **where, **_summary(painted))
    emit(measure="grid_enter_to_16_committed", writers=args.writers if where else 0,
         target_p95_ms=500, **where, **_summary(committed))


def browser(args) -> None:
    """--browser-only: the browser measurement on a small demo workspace, no writers."""
    from tests.browser import harness
    why = harness.chromium_missing()
    if why:
        emit(measure="key_to_next_image", skipped=why)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # ana's queue holds about half the demo images: enough for the presses and the pages.
        count = int((args.presses + args.grid_pages * 16) * 2.4) + 40
        root = harness.build_demo_workspace(Path(tmp) / "ws", count=count)
        with harness.serve(root) as url:
            painted, committed = harness.label_on(url, args.presses)
            grid_painted, grid_committed = harness.grid_on(url, args.grid_pages)
    _emit_browser(args, painted, committed)
    _emit_grid(args, grid_painted, grid_committed)


def after_galleries(args) -> None:
    """--after-galleries: fresh, then both model galleries used, then again (module doc)."""
    from tests.browser import harness
    why = harness.chromium_missing()
    if why:
        emit(measure="key_to_next_image", skipped=why)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = _gallery_workspace(Path(tmp) / "ws", images=max(80, args.presses * 5))
        photo = next((root / "demo" / "peruvian_face").glob("*.jpg"))
        with harness.serve(root) as url:
            pid = harness.SERVERS[url].pid
            for state in ("fresh", "after_galleries"):
                if state == "after_galleries":
                    t0 = time.perf_counter()
                    harness.use_model_galleries(url, "admin", "admin", photo)
                    gallery_s = round(time.perf_counter() - t0, 1)
                first = 0 if state == "fresh" else args.presses
                painted, committed = harness.label_on(url, args.presses, "luis", "luis", first)
                extra = {} if state == "fresh" else {"galleries_s": gallery_s}
                emit(measure="key_to_next_image_painted", state=state, server_rss_mb=harness.rss_mb(pid),
                     torch_or_tf_in_server=_frameworks_loaded(pid), **extra, **_summary(painted))
                emit(measure="key_to_decision_committed", state=state, **_summary(committed))


def _frameworks_loaded(pid: int) -> list[str]:
    """Which of torch / TensorFlow the server process has mapped (its shared libraries)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return []
    return [n for n, lib in (("torch", "libtorch"), ("tensorflow", "libtensorflow")) if lib in maps]


def _gallery_workspace(root: Path, images: int) -> Path:
    """A demo workspace (CelebA-style images, 10 peruvian faces) with tiny trained runs."""
    from curate.demo import build_demo
    from curate.export.lmdb import prepare
    from curate.export.sketch_pairs import export_sketch_pairs
    from curate.workspace import Workspace
    from tests.helpers.gallery import train_runs

    ws = Workspace.resolve(root)
    engine = ws.open()
    build_demo(ws, engine, count=images, peruvian=10, seed=3)
    peru = ws.demo_dir / "peruvian_face"
    export_sketch_pairs(engine, ws.exports_dir / "sketch_pairs", peru, size=32, val=0.2, workers=1,
                        progress=False)
    prepare(engine, ws.exports_dir / "peru.lmdb", peru, sizes="8,16", workers=1, progress=False)
    engine.dispose()
    train_runs(ws, ws.exports_dir / "peru.lmdb", ws.exports_dir / "sketch_pairs")
    return root


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
    p.add_argument("--browser", action="store_true",
                   help="also time key press → next image painted / → committed, in Chromium")
    p.add_argument("--browser-only", action="store_true", help="only the browser measurement")
    p.add_argument("--after-galleries", action="store_true",
                   help="the browser measurement fresh and after both model galleries were used")
    p.add_argument("--presses", type=int, default=60, help="browser key presses (default 60)")
    p.add_argument("--grid-pages", type=int, default=8,
                   help="grid pages confirmed in the browser, 16 tiles each (default 8)")
    args = p.parse_args()
    if args.after_galleries:
        after_galleries(args)
    elif args.browser_only:
        browser(args)
    else:
        server_side(args)


if __name__ == "__main__":
    main()
