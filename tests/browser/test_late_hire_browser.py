"""Real browser, the lead's late-hire case (issue 20): ana has accepted images; the admin adds
maria on the Admin page and assigns her a queue with overlap, which shares images ana already
decided. The Assign report says so, and the Dashboard's accepted count is the same after a
refresh as before (a new queue changes no verdict until its holder decides)."""
from __future__ import annotations

import pytest

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ACCEPTS = 12


def _ana_accepts(root) -> int:
    """ana accepts the first ACCEPTS images of her queue; returns the accepted count."""
    from sqlalchemy import select

    from curate import labeling
    from tests.helpers.curate import decide
    from curate.dashboard import dashboard
    from curate.workspace import Workspace
    from db.engine import reading
    from db.models import Annotator

    engine = Workspace.resolve(root).open()
    with reading(engine) as s:
        ana = s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
    for item in labeling.items(engine, ana, 0, ACCEPTS):
        decide(engine, ana, item, "accept", seconds=2.0)
    accepted = dashboard(engine).accepted_final
    engine.dispose()
    return accepted


def _accepted_metric(page) -> str:
    figure = page.locator(".rd-figure").filter(has_text="Accepted so far")
    return figure.locator(".rd-figure-value").inner_text().strip()


def _nav(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()


def test_a_late_hire_leaves_the_accepted_count_as_it_was(tmp_path, artifacts_dir):
    root = harness.demo_workspace(tmp_path)
    accepted = _ana_accepts(root)
    assert accepted >= ACCEPTS  # ana's accepts (and none disputed yet)
    with harness.serve(root) as url, harness.open_browser() as page:
        harness.log_in_as(page, url, "admin", "admin")
        _nav(page, "Dashboard")
        page.get_by_text("Figures as of").wait_for()
        assert _accepted_metric(page) == f"{accepted:,}"

        _nav(page, "Admin")
        page.get_by_role("tab", name="Users").click()
        page.get_by_label("Name", exact=True).fill("maria")
        page.get_by_label("Password", exact=True).fill("a long secret")
        page.get_by_role("button", name="Add user").click()
        page.get_by_text("Added annotator maria.").wait_for()

        page.get_by_role("tab", name="Assign queues").click()
        page.get_by_test_id("stMultiSelect").filter(has_text="Annotators").click()
        page.get_by_role("option", name="maria").click()
        page.keyboard.press("Escape")
        page.get_by_label("Images per annotator").fill("40")
        page.get_by_label("Overlap (share of each queue also in another's)").fill("0.1")
        page.get_by_role("button", name="Assign").click()
        report = page.get_by_test_id("stCode").filter(has_text="eligible images")
        report.wait_for()
        text = report.inner_text()
        # The demo leaves one image in no queue: maria gets it and 4 of ana's, as the lead saw.
        assert "maria: 5 in queue (+5 new), 4 shared" in text, text
        assert "4 already decided by ana: their verdicts stay until maria decides" in text, text
        assert "0 in no queue after this run" in text, text
        page.get_by_text("Only 1 eligible image was in no queue before this run: 35 of 40 "
                         "queue places stay empty.").wait_for()
        page.screenshot(path=artifacts_dir / "late_hire_assign.png", full_page=True)

        _nav(page, "Dashboard")
        page.get_by_role("button", name="Refresh").click()
        page.get_by_text("Figures as of").wait_for()
        assert _accepted_metric(page) == f"{accepted:,}"
