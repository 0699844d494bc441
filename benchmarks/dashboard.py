"""Dashboard and the Datasets verdict filter at CelebA scale.

A database of 202,599 images (all of CelebA), 20 annotators with queues of 10,000 (5 % overlap,
assigned by `curate.assign`) and 100,000 decisions (each annotator decided the first 5,000 of
their queue: accepts, rejects with their rule, skips, tags, some disagreement on the overlap,
a few undos) plus 200 adjudications. Measured, each as one JSON line (median of --repeat runs,
the max too):
- dashboard_figures: `curate.dashboard.dashboard()`, every figure of the page;
- dashboard_page: the Dashboard page (AppTest, in-process) after Refresh, so nothing is cached;
- datasets_verdict_filter_first_view: the Datasets page's first view with a verdict filter
  (the verdict index emptied before each run), one line per verdict;
- dashboard_browser_first_view (with --browser, or --browser-only): the app served, at
  1280×800, the time from typing `/dashboard` until every chart has drawn its bars and every
  figure is shown, in a new browser (a new Chromium context: no HTTP cache, the login cookie
  only) and in a new tab of a browser that loaded the app before (a new session too), as one
  line with the median and max of each, where the time went (the new browser's medians, ms
  from the navigation: the page's shell, the title, the first figure, the first chart, all
  drawn), how fast the server hands out the page's own files (those index.html names, fetched
  over 6 connections as a browser does: the whole set and the median request; a server
  without uvloop and httptools took 44 ms a request here, 415 ms in all) and the load average
  before and after. The server's figures are cached first, as
  they are for any admin within 15 s. Targets: under 1 s
  on the demo (`--demo 400`: the demo workspace, browser only), under 1.5 s at 202,599 images.
Target: under 0.5 s each (the browser view: above). Usage: python benchmarks/dashboard.py
[--images 202599] [--annotators 20] [--decisions 100000] [--repeat 5] [--browser |
--browser-only] [--demo N] [--database-url URL (an empty database)]
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.gallery import emit, timed  # noqa: E402  (the same JSON lines, target 0.5 s)

QUEUE = 10_000
OVERLAP = 0.05
ADJUDICATIONS = 200
PASSWORD = "benchmark-pw"  # every user's, admin's included (the browser view logs in with it)


def build(engine, images: int, annotators: int, decisions: int) -> None:
    """The database described in the module doc, written with bulk inserts."""
    from sqlalchemy import func, insert, select

    from curate.assign import assign
    from curate.rules import RULES, TAGS
    from db.auth import hash_password
    from db.engine import writing
    from db.models import Adjudication, Annotator, Assignment, Decision, Image, Role, Source, Verdict

    rng = np.random.default_rng(0)
    with writing(engine) as s:
        src = Source(name="celeba", root="/nonexistent", attribute_names=["Young"])
        s.add(src)
        s.flush()
        for start in range(0, images, 20_000):
            s.execute(insert(Image), [dict(
                source_id=src.id, relpath=f"{i:06d}.jpg", content_hash=f"{i:064x}", phash=i,
                width=178, height=218, mode="RGB", file_size=9000,
                attributes=["Young"] if i % 3 else [], partition=0)
                for i in range(start + 1, min(images, start + 20_000) + 1)])
        # Password hashes are not what is measured: one scrypt hash for everyone.
        pw = hash_password(PASSWORD)
        s.execute(insert(Annotator), [dict(name="admin", role=Role.admin, password_hash=pw)]
                  + [dict(name=f"a{k:02d}", role=Role.annotator, password_hash=pw)
                     for k in range(annotators)])
    assign(engine, per_annotator=QUEUE, overlap=OVERLAP, order="random", seed=0)

    per = decisions // annotators
    rules, tags = [r.key for r in RULES], [t.key for t in TAGS]
    with writing(engine) as s:
        ids = dict(s.execute(select(Annotator.name, Annotator.id)).all())
        rows = []
        for k in range(annotators):
            aid = ids[f"a{k:02d}"]
            queue = s.scalars(select(Assignment.image_id).where(Assignment.annotator_id == aid)
                              .order_by(Assignment.position).limit(per)).all()
            pick = rng.random(len(queue))
            for img, p in zip(queue, pick):
                if p < 0.01:  # decided, then undone (the undo row is one of the decisions)
                    rows.append(dict(annotator_id=aid, image_id=img, verdict=Verdict.undo, tags=[]))
                elif p < 0.10:
                    rows.append(dict(annotator_id=aid, image_id=img, verdict=Verdict.skip, tags=[],
                                     seconds=float(1 + p * 10)))
                elif p < 0.40:
                    rows.append(dict(annotator_id=aid, image_id=img, verdict=Verdict.reject,
                                     rule=rules[int(p * 100) % 3], seconds=float(2 + p * 5),
                                     tags=[tags[int(p * 1000) % 4]] if p < 0.15 else []))
                else:
                    rows.append(dict(annotator_id=aid, image_id=img, verdict=Verdict.accept,
                                     seconds=float(1.5 + p * 3),
                                     tags=[tags[int(p * 1000) % 4]] if p > 0.95 else []))
        for i in range(0, len(rows), 20_000):
            s.execute(insert(Decision), rows[i:i + 20_000])
        disputed = s.scalars(select(Decision.image_id).group_by(Decision.image_id)
                             .having(func.count(func.distinct(Decision.annotator_id)) > 1)
                             .limit(ADJUDICATIONS)).all()
        s.execute(insert(Adjudication), [dict(image_id=i, admin_id=ids["admin"],
                                              verdict=Verdict.accept, tags=[]) for i in disputed])


def bench(engine, repeat: int) -> None:
    from streamlit.testing.v1 import AppTest

    from curate import dashboard
    from curate.app.common import User
    from curate.gallery import datasets as gd
    from curate.sessions import open_session

    figures = [timed(lambda: dashboard.dashboard(engine)) for _ in range(repeat)]
    d = dashboard.dashboard(engine)
    emit("dashboard_figures", figures, annotators=len(d.annotators),
         decided=sum(a.decided for a in d.annotators), accepted_final=d.accepted_final,
         disputed=d.disputed, pairs=len(d.cohen))

    admin = User(1, "admin", "admin", open_session(engine, 1))
    at = AppTest.from_file(str(REPO / "curate/app/dashboard.py"), default_timeout=600)
    at.session_state["user"] = admin
    at.run()
    assert not at.exception, at.exception
    emit("dashboard_page", [timed(lambda: at.button(key="dash_refresh").click().run())
                            for _ in range(repeat)], note="Refresh: figures recomputed")

    at = AppTest.from_file(str(REPO / "curate/app/gallery_datasets.py"), default_timeout=600)
    at.session_state["user"] = admin
    at.run()
    assert not at.exception, at.exception
    for verdict in ("accept", "reject", "disputed", "pending"):
        times = []
        for _ in range(repeat):
            at.selectbox(key="ds_f_verdict").select("(any)").run()
            gd._indexes.clear()  # a first view: nothing known about verdicts yet
            times.append(timed(lambda: at.selectbox(key="ds_f_verdict").select(verdict).run()))
            assert not at.exception, at.exception
        emit(f"datasets_verdict_filter_first_view_{verdict}", times,
             matching=at.caption[0].value.rsplit(" of ", 1)[-1])


def _demo_decisions(root: Path) -> None:
    """The demo's annotators decide most of their queues (accepts, rejects, tags, some
    disagreement on the overlap), so every Dashboard chart has bars to draw."""
    from sqlalchemy import select

    from curate import labeling, presses
    from curate.rules import RULES, TAGS
    from curate.workspace import Workspace
    from db.engine import reading
    from db.models import Annotator, Role
    engine = Workspace.resolve(root).open()
    with reading(engine) as s:
        people = s.execute(select(Annotator.id, Annotator.name)
                           .where(Annotator.role == Role.annotator)).all()
    for who, _ in people:
        items = labeling.items(engine, who, 0, 100_000)
        for k, item in enumerate(items[: int(len(items) * 0.8)]):
            reject = (item.image_id + who) % 3 == 0
            labeling.decide_pressed(engine, who, item.image_id, item.position, presses.Pressed(
                "reject" if reject else "accept", RULES[k % len(RULES)].key if reject else None,
                tuple([TAGS[k % len(TAGS)].key] if k % 4 == 0 else []), None,
                1.0 + (k % 7) / 2, press_id=f"bench-{who}-{k}"))
    engine.dispose()


CHARTS = 8  # as tests/browser/test_dashboard_browser.py counts them
METRICS = 8  # the key figures and the triage figures
# Drawn: every chart has a bar of some size and every key figure is shown.
CHARTS_DRAWN = """([n, m]) => { const charts = [...document.querySelectorAll('table.rd-chart')];
    return document.querySelectorAll('.rd-figure-value').length >= m
      && charts.length >= n && charts.every(c => [...c.querySelectorAll('.rd-bar')]
      .some(b => { const r = b.getBoundingClientRect();
                   return r.width > 0 && r.height > 0; })); }"""
VIEWPORT = {"width": 1280, "height": 800}
# In the page from its first script on: when each milestone is first on screen (ms from the
# navigation's start), checked every frame.
MILESTONES = """(() => { const at = window.__dashboard_milestones = {};
  const mark = (k, seen) => { if (!(k in at) && seen) at[k] = Math.round(performance.now()); };
  const tick = () => { const d = document;
    mark('shell_ms', d.querySelector('[data-testid="stApp"]'));
    mark('title_ms', [...d.querySelectorAll('h1')].some(h => h.textContent.includes('Dashboard')));
    mark('figures_ms', d.querySelector('.rd-figure-value'));
    mark('first_chart_ms', d.querySelector('table.rd-chart .rd-bar'));
    if (!('done' in at)) requestAnimationFrame(tick); };
  requestAnimationFrame(tick); })()"""


def browser_first_view(root: Path, repeat: int, images: int, database_url: str | None = None,
                       name: str = "admin", password: str = "admin") -> None:
    """dashboard_browser_first_view (see the module doc): one warm-up view, then `repeat`."""
    from playwright.sync_api import sync_playwright

    from tests.browser import harness

    load_before = [round(x, 2) for x in os.getloadavg()]
    with harness.serve(root, database_url) as url, sync_playwright() as p:
        files = _fetch_files(url)
        browser = p.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            page.get_by_label("Name").fill(name)
            page.get_by_role("textbox", name="Password").fill(password)
            page.keyboard.press("Enter")
            page.get_by_text("Logged in as").wait_for()
            harness.wait_for_login_cookie(page)
            cookies = [c for c in page.context.cookies() if c["name"] == "rostro_session"]
            page.goto(f"{url}/dashboard")  # warm-up: the server's figures are then cached,
            page.wait_for_function(CHARTS_DRAWN, arg=[CHARTS, METRICS], timeout=600_000,
                                   polling="raf")
            # As they are for any admin within 15 s: the page's own cost is what is measured.
            cold, warm, steps = [], [], []
            for _ in range(repeat):
                # A new browser (context): no HTTP cache, the login cookie only.
                context = browser.new_context(viewport=VIEWPORT)
                context.add_cookies(cookies)
                context.add_init_script(MILESTONES)
                seconds, milestones = _view(context.new_page(), url)
                cold.append(seconds)
                steps.append(milestones)
                # A new tab of a browser that has loaded the app before: a new session too.
                warm.append(_view(context.new_page(), url)[0])
                context.close()
        finally:
            browser.close()
    target = 1.0 if images <= 1_000 else 1.5
    print(json.dumps({
        "name": "dashboard_browser_first_view", "images": images, "viewport": "1280x800",
        "new_browser_s": round(statistics.median(cold), 3),
        "new_browser_max_s": round(max(cold), 3),
        "warm_tab_s": round(statistics.median(warm), 3), "warm_tab_max_s": round(max(warm), 3),
        "runs": repeat, "target": target,
        "pass": statistics.median(cold) < target and statistics.median(warm) < target,
        "new_browser_ms_from_navigation": {k: round(statistics.median(m[k] for m in steps))
                                           for k in steps[0] if all(k in m for m in steps)},
        "server_files": files, "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "note": "until every chart is drawn; figures cached by the server"}), flush=True)


def _fetch_files(url: str, connections: int = 6) -> dict:
    """The files the page shell names, fetched as a browser would (`connections` kept-alive
    connections): the whole set's time and the median request's, in ms."""
    from urllib.parse import urlparse
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("GET", "/dashboard")
    shell = conn.getresponse().read().decode()
    conn.close()
    todo = ["/" + f[2:] for f in re.findall(r'(?:href|src)="(\./static/[^"]+)"', shell)]
    files, lock, took = len(todo), threading.Lock(), []

    def fetch():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while True:
            with lock:
                if not todo:
                    return
                path = todo.pop()
            t = time.perf_counter()
            c.request("GET", path)
            c.getresponse().read()
            took.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    workers = [threading.Thread(target=fetch) for _ in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"files": files, "all_ms": round(1000 * (time.perf_counter() - t0)),
            "median_request_ms": round(1000 * statistics.median(took), 1)}


def _view(page, url: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    page.goto(f"{url}/dashboard")
    page.wait_for_function(CHARTS_DRAWN, arg=[CHARTS, METRICS], timeout=600_000, polling="raf")
    seconds = time.perf_counter() - t0
    milestones = page.evaluate("() => { const m = window.__dashboard_milestones || {};"
                               " m.done = 1; return m; }")
    milestones.pop("done", None)
    milestones["drawn_ms"] = round(seconds * 1000)
    return seconds, milestones


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=202_599)
    p.add_argument("--annotators", type=int, default=20)
    p.add_argument("--decisions", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--database-url", help="an empty database to fill (default: SQLite in a temp dir)")
    p.add_argument("--browser", action="store_true", help="also the browser's first view")
    p.add_argument("--browser-only", action="store_true",
                   help="only the browser's first view (on the database of --images)")
    p.add_argument("--demo", type=int, default=0,
                   help="only the browser's first view, on a demo workspace of N images")
    a = p.parse_args(argv)
    if a.demo:
        from tests.browser import harness
        with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
            root = harness.build_demo_workspace(Path(tmp) / "ws", count=a.demo)
            _demo_decisions(root)
            browser_first_view(root, a.repeat, a.demo)
        return 0
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from curate.workspace import Workspace
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
        os.environ["ROSTRO_WORKSPACE"] = str(Path(tmp) / "ws")
        if a.database_url:
            os.environ["ROSTRO_DATABASE_URL"] = a.database_url
        engine = Workspace.resolve().open()
        t0 = time.perf_counter()
        build(engine, a.images, a.annotators, a.decisions)
        if engine.dialect.name == "postgresql":  # as autovacuum would soon: planner statistics
            from sqlalchemy import text
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        print(json.dumps({"setup": f"{a.images:,} images, {a.annotators} annotators, "
                                   f"{a.decisions:,} decisions", "dialect": engine.dialect.name,
                          "seconds": round(time.perf_counter() - t0, 1)}), file=sys.stderr)
        if not a.browser_only:
            bench(engine, a.repeat)
        if a.browser or a.browser_only:
            engine.dispose()
            browser_first_view(Path(tmp) / "ws", a.repeat, a.images, a.database_url,
                               password=PASSWORD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
