"""Real browser: the login survives a reload (on the same image) and a server restart, and a
deactivated annotator's open tab records nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _decisions(engine) -> int:
    from db.engine import reading
    from db.models import Decision
    with reading(engine) as s:
        return s.scalar(select(func.count()).select_from(Decision))


def test_reload_and_restart_keep_the_login_and_deactivation_stops_the_tab(demo):
    from curate import labeling
    from curate.users import set_active
    from curate.workspace import Workspace

    engine = Workspace.resolve(demo).open()
    with harness.open_browser() as page:
        try:
            with harness.serve(demo) as url:
                harness.login(page, url, "ana", "ana")
                for pos in (0, 1):
                    harness.wait_until_looked(page, pos)
                    page.keyboard.press("a")
                harness.wait_until_looked(page, 2)
                page.keyboard.press("ArrowLeft")  # back to #2 to look again
                harness.wait_until_looked(page, 1)
                harness.wait_confirmed(page)
                page.reload()  # F5: still logged in, on the same image
                harness.wait_until_looked(page, 1)
                shown = page.locator(harness.IMAGE).get_attribute("alt")
                page.goto(url)  # a typed address: still logged in
                harness.wait_for_position(page, 1)
            with harness.serve(demo) as url:  # the server restarted
                page.goto(url)
                harness.wait_until_looked(page, 2)  # resumes at the first undecided image
                assert page.get_by_text("2 of").first.is_visible()
                before = _decisions(engine)
                set_active(engine, "ana", False)  # the lead deactivates ana; her tab stays open
                page.keyboard.press("a")
                page.get_by_text("Your session has ended").wait_for()
                page.wait_for_timeout(500)
                assert _decisions(engine) == before  # nothing recorded
                page.reload()  # and the cookie no longer logs her in
                page.get_by_label("Name").wait_for()
        except Exception as e:  # what the panel showed, to tell why
            raise AssertionError(harness.explain(page)) from e
    [first] = labeling.items_at(engine, _ana(engine), [1])
    assert shown == first.name
    engine.dispose()


def _ana(engine) -> int:
    from db.engine import reading
    from db.models import Annotator
    with reading(engine) as s:
        return s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
