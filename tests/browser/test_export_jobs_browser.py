"""Real browser: exports as background jobs (issue 20). The admin starts sketch pairs at 512 px
on the Export page and sees its progress bar count up; leaves for the Dashboard and comes back
to the same job still counting; closes the tab and finds it going on in a new one; cancels it,
and nothing is left in the exports folder. A small old_celebA export then runs to the end and
stays listed with its summary, and the form said how many images qualify and started its
count there."""
from __future__ import annotations

import re

import pytest

from curate import synth
from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAIRS = 400  # at 512 px, long enough to leave and come back before it ends
JOB_TIMEOUT_MS = 120_000
PROGRESS = re.compile(r"([\d,]+) of ([\d,]+) · [\d.]+/s · about .+ left")


def _nav(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()


def _done_count(page) -> int:
    """The count the job's progress bar shows now (waits for one to show)."""
    bar = page.get_by_text(PROGRESS).first
    bar.wait_for(timeout=JOB_TIMEOUT_MS)
    return int(PROGRESS.search(bar.inner_text()).group(1).replace(",", ""))


def _accept_some(root) -> int:
    from sqlalchemy import select

    from curate import labeling
    from tests.helpers.curate import decide
    from curate.workspace import Workspace
    from db.engine import reading
    from db.models import Annotator
    engine = Workspace.resolve(root).open()
    with reading(engine) as s:
        ana = s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
    for item in labeling.items(engine, ana, 0, 5):
        decide(engine, ana, item, "accept", seconds=2.0)
    engine.dispose()
    return 5


def test_a_job_shows_progress_survives_leaving_and_cancels_cleanly(tmp_path, artifacts_dir):
    root = harness.demo_workspace(tmp_path)
    accepted = _accept_some(root)
    synth.write_celeba(tmp_path / "many", PAIRS, seed=4)
    faces = tmp_path / "many" / "img_align_celeba"
    exports = root / "exports"
    with harness.serve(root) as url, harness.open_browser() as page:
        harness.log_in_as(page, url, "admin", "admin")
        _nav(page, "Export")
        page.get_by_text(f"{accepted} accepted images qualify now").wait_for()

        page.get_by_text("sketch pairs —").click()
        page.get_by_label("From (an export folder or a folder of images)").fill(str(faces))
        page.get_by_label("Size").click()
        page.get_by_role("option", name="512").click()
        page.get_by_role("button", name="Export").click()
        page.get_by_text("Started: sketch pairs").wait_for()
        first = _done_count(page)
        page.get_by_text(PROGRESS).filter(has_text=f"of {PAIRS}").first.wait_for()
        page.wait_for_function(  # the bar moves on by itself, without a click
            f"""() => [...document.querySelectorAll('[data-testid="stProgress"]')]
                 .some(e => {{ const m = e.innerText.match(/([\\d,]+) of /);
                              return m && +m[1].replace(/,/g, '') > {first}; }})""",
            timeout=JOB_TIMEOUT_MS, polling=200)
        page.get_by_role("heading", name="Jobs").scroll_into_view_if_needed()
        page.screenshot(path=artifacts_dir / "export_job_running.png")

        _nav(page, "Dashboard")
        page.get_by_text("Figures as of").wait_for()
        _nav(page, "Export")
        back = _done_count(page)  # the same job, still running, further along
        assert back > first
        assert page.get_by_text(f"sketch pairs → {(exports / 'sketch_pairs').resolve()}").count()

        # Close the tab; a new one (a new session, the login cookie) finds the job still going.
        harness.wait_for_login_cookie(page)
        context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies(page.context.cookies())
        page.close()
        page = context.new_page()
        page.set_default_timeout(harness.STEP_TIMEOUT_MS)
        page.goto(f"{url}/export")
        page.wait_for_function(  # further along than when the old tab closed
            f"""() => [...document.querySelectorAll('[data-testid="stProgress"]')]
                 .some(e => {{ const m = e.innerText.match(/([\\d,]+) of /);
                              return m && +m[1].replace(/,/g, '') > {back}; }})""",
            timeout=JOB_TIMEOUT_MS, polling=200)

        page.get_by_role("button", name="Cancel").click()
        jobs = page.get_by_test_id("stDataFrame").filter(has_text="cancelled")
        jobs.wait_for(timeout=JOB_TIMEOUT_MS)
        assert not page.get_by_text(PROGRESS).count()
        assert not exports.exists() or not any(exports.iterdir())  # no folder, no temp folder

        page.get_by_text("old_celebA —").click()
        count = page.get_by_role("spinbutton", name="Images")
        assert count.input_value() == str(accepted)  # what qualifies, not 2,500
        page.get_by_role("button", name="Export").click()
        page.get_by_test_id("stDataFrame").filter(has_text="done").wait_for(timeout=JOB_TIMEOUT_MS)
        page.get_by_role("heading", name="Recent exports").wait_for()
        page.get_by_test_id("stDataFrame").filter(has_text="old_celebA").last.wait_for()
        page.get_by_role("heading", name="Jobs").scroll_into_view_if_needed()
        page.screenshot(path=artifacts_dir / "export_jobs_done.png")
    assert sorted(p.name for p in exports.iterdir()) == ["old_celebA"]
    assert len(list((exports / "old_celebA").glob("*.jpg"))) == accepted
