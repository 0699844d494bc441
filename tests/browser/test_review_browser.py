"""Real browser: the lead settles 5 disagreements on the Review page from the keyboard only
(tags, notes, one undo), each on a fresh form, with a visible confirmation; `curate labels`
then holds exactly those adjudications, row by row; the settled toggle right after recording
shows no exception."""
from __future__ import annotations

import pytest

from tests.browser import harness
from tests.helpers.curate import disagreements

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (key, verdict, rule, tags to toggle first, note) per disagreement, in list order.
PLAN = [
    ("1", "reject", "too_young", ("4",), "too young — deformity"),
    ("a", "accept", None, (), None),
    ("2", "reject", "not_facing", ("5", "7"), "profile"),
    ("a", "accept", None, ("6",), "hat, but old hands"),
    ("3", "reject", "looks_young", (), "make-up"),
]
TAG_OF_KEY = {"4": "deformity", "5": "text_on_face", "6": "covering_accessory", "7": "two_faces"}
UNDO_AFTER = 2  # after the 2nd verdict, Backspace withdraws it; it is then given again as "1"


def _panel(page, selector: str):
    return page.locator(f".rp {selector}").first


def _wait_looked(page, position: int, total: int) -> None:
    page.get_by_text(f"#{position + 1} of {total} ·").first.wait_for()
    page.wait_for_function(
        """(pos) => { const p = (window.__rostro || {paints: []}).paints
             .filter(x => x.position === pos).pop();
           return p && performance.timeOrigin + performance.now() - p.at >= 170; }""",
        arg=position, polling=20)


def _settle(page, key, tags, note, total) -> None:
    assert page.locator(".rp button.on").count() == 0, "a tag was carried over"
    assert "your note" not in _panel(page, ".rp-caption").inner_text(), "a note was carried over"
    for t in tags:
        page.keyboard.press(t)
        page.locator(".rp button.on", has_text=TAG_OF_KEY[t].replace("_", " ")).first.wait_for()
    if note:
        page.keyboard.press("n")
        page.keyboard.type(note)
        page.keyboard.press("Enter")
    page.keyboard.press(key)
    page.get_by_text("Recorded:").first.wait_for()


@pytest.fixture
def review_demo(tmp_path):
    """A demo workspace large enough that ana's and luis's queues share 6 images."""
    return harness.demo_workspace(tmp_path, count=160)


def test_review_five_verdicts_with_tags_notes_and_an_undo(review_demo):
    from curate.export.labels import labels_frame
    from curate.workspace import Workspace

    demo = review_demo
    shared = disagreements(demo, len(PLAN) + 1)
    total = len(shared)
    expected = []  # (image_id, verdict, rule, tags, note)
    with harness.serve(demo) as url, harness.open_browser() as page:
        harness.login(page, url, "admin", "admin")  # an admin lands on Review
        page.get_by_text(f"{total} open disagreement(s)").first.wait_for()
        assert page.get_by_text("ana 0").count() >= 1  # each opinion's note, beside the image
        for pos, (key, verdict, rule, tags, note) in enumerate(PLAN):
            _wait_looked(page, pos, total)
            _settle(page, key, tags, note, total)
            expected.append((shared[pos], verdict, rule,
                             sorted(TAG_OF_KEY[t] for t in tags), note))
            if pos + 1 == UNDO_AFTER:
                _wait_looked(page, pos + 1, total)
                page.keyboard.press("Backspace")
                page.get_by_text("Undone:").first.wait_for()
                _wait_looked(page, pos, total)
                expected.append((shared[pos], "undo", None, [], None))
                _settle(page, "1", (), None, total)
                expected.append((shared[pos], "reject", "too_young", [], None))
        page.locator(".rp-strip .pending").first.wait_for(state="detached")  # all confirmed
        page.get_by_text("1 open disagreement(s) · 5 settled").first.wait_for()
        page.get_by_text("Show settled ones too").click()  # right after recording
        page.get_by_text("Show settled ones too").wait_for()
        page.wait_for_timeout(1500)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "1 open disagreement(s)" in page.locator(".rp-ptext").inner_text()

    engine = Workspace.resolve(demo).open()
    df = labels_frame(engine)
    rows = df[df["kind"] == "adjudication"]
    rows = rows.astype(object).where(rows.notna(), None)  # empty rule / note: None, not NaN
    got = [(r.image_id, r.verdict, r.rule, list(r.tags), r.note) for r in rows.itertuples()]
    assert got == expected  # row by row: nothing doubled, nothing on the wrong image
    assert set(rows["annotator"]) == {"admin"}
    engine.dispose()
