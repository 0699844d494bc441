"""Real browser, two contexts of one annotator (two tabs or devices), as in the trial: tab 2
decides while tab 1 looks at the same image. Tab 1's press from before it heard is not recorded
silently (the panel shows what stands; a second press replaces it), and an idle tab 1 follows
tab 2's decisions and counts within one exchange."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _rows(workspace) -> list[tuple[int, str]]:
    from curate import labeling
    from curate.workspace import Workspace
    from db.engine import reading
    from db.models import Annotator, Decision
    engine = Workspace.resolve(workspace).open()
    with reading(engine) as s:
        ana = s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
        rows = s.execute(select(Decision.image_id, Decision.verdict).where(
            Decision.annotator_id == ana).order_by(Decision.id)).all()
    position = {i.image_id: i.position for i in labeling.items(engine, ana, 0, 1000)}
    progress = labeling.progress(engine, ana)
    engine.dispose()
    return [(position[r.image_id], r.verdict.value) for r in rows], progress.decided


def test_two_tabs_of_one_annotator_agree(demo):
    with harness.serve(demo) as url, harness.open_browser() as one:
        two = one.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        two.set_default_timeout(harness.STEP_TIMEOUT_MS)
        try:
            harness.login(one, url, "ana", "ana")
            harness.login(two, url, "ana", "ana")
            harness.wait_until_looked(one, 0)
            harness.wait_until_looked(two, 0)
            # Tab 1 has just heard from the server (a message now); its next poll is seconds away.
            one.keyboard.press("ArrowRight")
            one.keyboard.press("ArrowLeft")
            harness.wait_until_looked(one, 0)
            two.keyboard.press("a")  # tab 2 accepts #1
            harness.wait_confirmed(two)
            painted = one.evaluate("window.__rostro.paints.length")
            one.keyboard.press("1")  # tab 1, not told yet, rejects #1
            one.get_by_text("was decided in another tab").wait_for()
            harness.wait_for_position(one, 0)  # back on #1, showing what stands, painted anew
            one.wait_for_function("n => window.__rostro.paints.slice(n).some(p => p.position === 0)",
                                  arg=painted, polling=20)
            one.get_by_text("you accepted it").first.wait_for()
            assert _rows(demo)[0] == [(0, "accept")]  # nothing recorded silently
            harness.wait_until_looked(one, 0)
            one.keyboard.press("1")  # the second press replaces it
            harness.wait_until_looked(one, 1)
            harness.wait_confirmed(one)
            assert _rows(demo)[0] == [(0, "accept"), (0, "reject")]
            # Tab 2 decides #2–#5 while tab 1 sits idle on #2: tab 1 follows on its own.
            for pos in (1, 2, 3, 4):
                harness.wait_until_looked(two, pos)
                two.keyboard.press("a")
            harness.wait_until_looked(two, 5)
            harness.wait_confirmed(two)
            one.get_by_text("5 of ").first.wait_for(timeout=10_000)
            one.get_by_text("you accepted it").first.wait_for()  # #2, decided by tab 2
            rows, decided = _rows(demo)
            assert decided == 5 and "5 of " in one.locator(".rp-ptext").inner_text()
            harness.wait_until_looked(one, 1)
            one.keyboard.press("F")  # tab 1 now knows #6 is the first undecided one
            harness.wait_until_looked(one, 5)
            one.keyboard.press("a")
            harness.wait_until_looked(one, 6)
            harness.wait_confirmed(one)
            rows, decided = _rows(demo)
            assert rows == [(0, "accept"), (0, "reject"), (1, "accept"), (2, "accept"),
                            (3, "accept"), (4, "accept"), (5, "accept")]  # nothing twice
        except Exception as e:  # what the panels showed, to tell why
            raise AssertionError(f"tab 1: {harness.explain(one)}\ntab 2: {harness.explain(two)}") from e
