"""Real browser: what every page shares (streamlit_app.py) — no request leaves 127.0.0.1 on any
page, a typed page address finds the server at once (curate/app/shell.py), a typed address is
honoured after the log-in, and an error shows an annotator an error id
(also in the server log), never a traceback, while an admin sees the traceback."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANNOTATOR_PAGES = ["label", "gallery_runs", "gallery_mixing", "gallery_sketch"]
ADMIN_PAGES = ["review", "dashboard", "admin", "export", "gallery_runs", "gallery_mixing",
               "gallery_sketch", "gallery_datasets"]


def test_no_page_asks_an_outside_host(demo):
    with harness.serve(demo) as url:
        for name, pages in (("ana", ANNOTATOR_PAGES), ("admin", ADMIN_PAGES)):
            with harness.open_browser() as page:
                outside = harness.watch_outside(page)
                # Where the frontend looked for the server: only the app's root, never a page's
                # path taken for the app's (that was a 404 and a retry on every typed address).
                health = []
                page.on("request", lambda r: health.append(r.url)
                        if "_stcore/health" in r.url else None)
                page.goto(url)
                harness.type_log_in(page, name, name)
                page.get_by_text("Logged in as").wait_for()
                harness.wait_for_login_cookie(page)
                for path in pages:
                    page.goto(f"{url}/{path}")
                    page.get_by_text("Logged in as").wait_for()  # the page, not the login form
                    harness.settled(page)
                    assert urlparse(page.url).path == f"/{path}"
                    assert "Page not found" not in page.locator("body").inner_text(), path
                    assert page.locator('[data-testid="stException"]').count() == 0, path
                assert outside == [], (name, outside)
                assert health and set(health) == {f"{url}/_stcore/health"}, health


def test_the_shell_line_finds_the_server_under_a_proxys_prefix(demo):
    from curate.app import shell
    with harness.serve(demo) as url, harness.open_browser() as page:
        page.goto(f"{url}/gallery_runs")
        assert page.evaluate("() => window.__streamlit.BACKEND_BASE_URL") == f"{url}/"
        page.goto(url)  # the root: Streamlit's own page, nothing to tell
        assert page.evaluate("() => window.__streamlit === undefined")
        # The line itself, run against other addresses: a proxy serving the app at /rostro/,
        # a trailing slash, an address that is not the page's, a value the host already set.
        run = """([js, path, preset]) => { const win = preset ? { __streamlit: preset } : {};
            new Function("location", "window", js)({ origin: "https://h", pathname: path }, win);
            return win.__streamlit ?? null; }"""
        js = shell.JS.replace("PAGE", '"/dashboard"')
        assert page.evaluate(run, [js, "/rostro/dashboard", None]) == {
            "BACKEND_BASE_URL": "https://h/rostro/"}
        assert page.evaluate(run, [js, "/dashboard/", None]) == {"BACKEND_BASE_URL": "https://h/"}
        assert page.evaluate(run, [js, "/review", None]) is None
        assert page.evaluate(run, [js, "/dashboard", {"BACKEND_BASE_URL": "x"}]) == {
            "BACKEND_BASE_URL": "x"}


def test_a_typed_address_is_honoured_after_the_log_in(demo):
    with harness.serve(demo) as url:
        with harness.open_browser() as page:
            page.goto(f"{url}/dashboard")
            page.get_by_label("Name").wait_for()
            harness.settled(page)
            assert "Page not found" not in page.locator("body").inner_text()
            harness.type_log_in(page, "admin", "admin")
            page.get_by_role("heading", name="Dashboard").wait_for()
            assert urlparse(page.url).path == "/dashboard"
            assert "Page not found" not in page.locator("body").inner_text()
        with harness.open_browser() as page:  # an annotator may not see it: their first page
            page.goto(f"{url}/dashboard")
            harness.type_log_in(page, "ana", "ana")
            page.locator(harness.IMAGE).wait_for()
            harness.settled(page)
            assert urlparse(page.url).path == "/label"
            assert "Page not found" not in page.locator("body").inner_text()
            assert "Dashboard" not in page.locator("body").inner_text()


def _break_a_decision(root) -> None:
    """ana and luis disagree on a shared image; then ana's row holds a verdict no code knows
    (a row the app cannot read): her Label page and the lead's Review page fail on it."""
    from sqlalchemy import select, text

    from curate import labeling
    from tests.helpers.curate import decide
    from curate.workspace import Workspace
    from db.engine import reading, writing
    from db.models import Annotator

    engine = Workspace.resolve(root).open()
    with reading(engine) as s:
        ids = dict(s.execute(select(Annotator.name, Annotator.id)).all())
    ana = {i.image_id: i for i in labeling.items(engine, ids["ana"], 0, 1000)}
    luis = {i.image_id: i for i in labeling.items(engine, ids["luis"], 0, 1000)}
    shared = min(set(ana) & set(luis))
    decide(engine, ids["ana"], ana[shared], "accept", seconds=1.0)
    decide(engine, ids["luis"], luis[shared], "reject", "too_young", seconds=1.0)
    with writing(engine) as s:
        s.execute(text("UPDATE decisions SET verdict = 'bogus' WHERE annotator_id = :a"),
                  {"a": ids["ana"]})
    engine.dispose()


def test_an_error_shows_an_annotator_an_error_id_and_an_admin_the_traceback(demo):
    _break_a_decision(demo)
    with harness.serve(demo) as url:
        with harness.open_browser() as page:
            page.goto(url)
            harness.type_log_in(page, "ana", "ana")
            page.get_by_text("Something went wrong on this page").wait_for()
            body = page.locator("body").inner_text()
            assert "Traceback" not in body and "LookupError" not in body and "/curate/" not in body
            assert page.locator('[data-testid="stException"]').count() == 0
            error_id = re.search(r"Error id ([0-9a-f]{8})", body).group(1)
        with harness.open_browser() as page:
            page.goto(f"{url}/review")
            harness.type_log_in(page, "admin", "admin")
            page.get_by_text("This page failed").wait_for()
            assert page.locator('[data-testid="stException"]').count() >= 1  # the traceback
        log = next(demo.glob("streamlit-*.log")).read_text()
        assert f"error {error_id} on a page run by ana" in log and "LookupError" in log
