"""Real browser: headless Chromium against `streamlit run` on 127.0.0.1 logs in and labels 20
demo images from the keyboard only, with one undo; the database then holds exactly those
decisions."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (key, verdict, rule, tags) per image; "4"/"7" toggle deformity/two_faces first.
PLAN = [
    ("a", "accept", None, ()), ("1", "reject", "too_young", ()), ("a", "accept", None, ("4",)),
    ("2", "reject", "not_facing", ()), ("s", "skip", None, ()), ("a", "accept", None, ("4", "7")),
    ("3", "reject", "looks_young", ()), ("a", "accept", None, ()), ("1", "reject", "too_young", ("7",)),
    ("a", "accept", None, ()), ("a", "accept", None, ()), ("2", "reject", "not_facing", ()),
    ("a", "accept", None, ("5",)), ("s", "skip", None, ()), ("a", "accept", None, ()),
    ("1", "reject", "too_young", ()), ("a", "accept", None, ("6",)), ("a", "accept", None, ()),
    ("3", "reject", "looks_young", ()), ("a", "accept", None, ()),
]
TAG_OF_KEY = {"4": "deformity", "5": "text_on_face", "6": "covering_accessory", "7": "two_faces"}
UNDO_AFTER = 8  # after the 8th image, Backspace undoes it; it is then decided again ("1")


def _toggle(page, key: str) -> None:
    label = TAG_OF_KEY[key].replace("_", " ")
    page.keyboard.press(key)
    page.locator("button.on", has_text=label).first.wait_for()


def test_label_twenty_images_with_the_keyboard_and_one_undo(demo):
    from curate import labeling
    from curate.workspace import Workspace
    from db.engine import reading
    from db.models import Annotator, Decision

    expected = []  # (position, verdict, rule, tags)
    with harness.serve(demo) as url, harness.open_browser() as page:
        harness.login(page, url, "ana", "ana")
        for pos, (key, verdict, rule, tags) in enumerate(PLAN):
            harness.wait_until_looked(page, pos)  # a person's pace: the image was seen
            for t in tags:
                _toggle(page, t)
            page.keyboard.press(key)
            expected.append((pos, verdict, rule, tuple(sorted(TAG_OF_KEY[t] for t in tags))))
            if pos + 1 == UNDO_AFTER:
                harness.wait_until_looked(page, pos + 1)
                page.keyboard.press("Backspace")
                harness.wait_until_looked(page, pos)
                expected.append((pos, "undo", None, ()))
                page.keyboard.press("1")
                expected.append((pos, "reject", "too_young", ()))
        harness.wait_for_position(page, len(PLAN))
        page.get_by_text("20 of").first.wait_for()
        page.locator(".rp-strip .pending").first.wait_for(state="detached")  # all confirmed

    engine = Workspace.resolve(demo).open()
    with reading(engine) as s:
        ana = s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
        rows = s.execute(select(Decision.image_id, Decision.verdict, Decision.rule, Decision.tags,
                                Decision.seconds).order_by(Decision.id)).all()
    position_of = {i.image_id: i.position for i in labeling.items(engine, ana, 0, 100)}
    got = [(position_of[r.image_id], r.verdict.value, r.rule, tuple(r.tags)) for r in rows]
    assert got == expected  # exactly those decisions, nobody else's, nothing doubled
    assert all(r.seconds is not None and r.seconds > 0 for r in rows if r.verdict.value != "undo")
    assert labeling.progress(engine, ana).decided == 20
    assert labeling.resume_position(engine, ana) == 20
    engine.dispose()
