"""Real browser at 1280×800 (and 1400×900, 1920×1080): the Label panel fits one screen — image,
keys, caption, hint and the newest strip entry in the viewport without scrolling; the help and
the skipped list open over the image and Esc closes them; Z enlarges the image, then shows it
1:1; Review shows each annotator's decision beside the image, on screen."""
from __future__ import annotations

import time

import pytest

from tests.browser import harness
from tests.helpers.curate import disagreements

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = [(1280, 800), (1400, 900), (1920, 1080)]


def _box(page, selector: str) -> dict:
    loc = page.locator(selector)
    assert loc.count(), f"{selector} is not on the page"
    box = loc.bounding_box()
    assert box, f"{selector} is not shown"
    return box


def _on_screen(page, selector: str, size) -> dict:
    box = _box(page, selector)
    w, h = size
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= w + 0.5 and box["y"] + box["height"] <= h + 0.5, (selector, box, size)
    return box


def _over(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def _no_scroll(page) -> None:
    assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTop "
                         "?? window.scrollY") == 0


@pytest.fixture
def workspace(tmp_path):
    return harness.demo_workspace(tmp_path, count=160)


def test_the_label_panel_fits_one_screen_and_its_overlays_open_over_the_image(workspace):
    with harness.serve(workspace) as url, harness.open_browser() as page:
        try:
            page.set_viewport_size({"width": 1280, "height": 800})
            harness.login(page, url, "ana", "ana")
            start = 0
            for pos in range(start, start + 9):  # more than the strip's 8 entries
                harness.wait_until_looked(page, pos)
                page.keyboard.press("a")
            harness.wait_until_looked(page, start + 9)
            harness.wait_confirmed(page)
            for size in SIZES:
                page.set_viewport_size(dict(zip(("width", "height"), size)))
                page.wait_for_timeout(300)
                _no_scroll(page)
                view = _on_screen(page, ".rp-view", size)
                _on_screen(page, harness.IMAGE, size)
                for k in range(page.locator(".rp-keys button").count()):
                    _on_screen(page, f".rp-keys button >> nth={k}", size)
                _on_screen(page, ".rp-caption", size)
                _on_screen(page, ".rp-hint", size)
                _on_screen(page, ".rp-ptext", size)
                newest = _on_screen(page, ".rp-strip .entry >> nth=-1", size)
                assert f"#{start + 9} " in page.locator(".rp-strip .entry >> nth=-1").inner_text()
                assert newest["width"] > 40
                for key, box in (("?", ".rp-help"), ("k", ".rp-skipped")):
                    page.keyboard.press(key)
                    page.locator(box).wait_for()
                    overlay = _on_screen(page, box, size)
                    assert _over(overlay, view), (box, overlay, view)
                    page.keyboard.press("Escape")
                    page.locator(box).wait_for(state="hidden")
        except Exception as e:  # what the panel showed, to tell why
            raise AssertionError(harness.explain(page)) from e


def test_z_enlarges_the_image_then_shows_it_one_to_one(workspace):
    with harness.serve(workspace) as url, harness.open_browser() as page:
        page.set_viewport_size({"width": 1280, "height": 800})
        harness.login(page, url, "ana", "ana")
        harness.wait_until_looked(page, 0)
        fit = _box(page, harness.IMAGE)
        img = page.locator(harness.IMAGE)
        natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        page.keyboard.press("z")
        page.get_by_text("Z: 1:1").wait_for()
        # The full-resolution picture may arrive a moment after the label (the server checks
        # the file's hash first): wait for it to be laid out enlarged.
        want = 1.9 * min(fit["width"], _box(page, ".rp-view")["width"])
        deadline = time.monotonic() + 10
        while img.evaluate("i => i.width") < want and time.monotonic() < deadline:
            time.sleep(0.05)
        size = img.evaluate("i => [i.width, i.height]")
        view = _box(page, ".rp-view")
        # Enlarged: larger than the fitted picture, and it fills the panel (no empty bands).
        assert size[0] >= 1.9 * min(fit["width"], view["width"])
        assert size[0] >= view["width"] - 1 and size[1] >= view["height"] - 1
        assert abs(size[0] / size[1] - natural[0] / natural[1]) < 0.02  # not distorted
        page.keyboard.press("z")
        page.get_by_text("1:1 · Z: fit").wait_for()
        full = img.evaluate("i => [i.width, i.height, i.naturalWidth, i.naturalHeight]")
        assert full[:2] == full[2:]  # one image pixel per screen pixel
        box = _box(page, harness.IMAGE)
        view = _box(page, ".rp-view")
        if full[0] < view["width"]:  # centred, not in a corner
            assert abs((box["x"] - view["x"]) - (view["x"] + view["width"] - box["x"] - box["width"])) < 3
        page.keyboard.press("z")
        page.get_by_text("Z: 1:1").wait_for(state="detached")
        assert abs(_box(page, harness.IMAGE)["width"] - fit["width"]) < 2


def test_review_shows_each_opinion_beside_the_image_on_one_screen(workspace):
    disagreements(workspace, 2)
    with harness.serve(workspace) as url, harness.open_browser() as page:
        page.set_viewport_size({"width": 1280, "height": 800})
        harness.login(page, url, "admin", "admin")
        page.locator(".rp-opinions .opinion").first.wait_for()
        page.wait_for_timeout(300)
        size = (1280, 800)
        image = _on_screen(page, harness.IMAGE, size)
        cards = [_on_screen(page, f".rp-opinions .opinion >> nth={k}", size) for k in range(2)]
        assert all(c["x"] >= image["x"] + image["width"] for c in cards)  # beside the image
        assert abs(cards[0]["y"] - cards[1]["y"]) < 2  # side by side
        assert "ana 0" in page.locator(".rp-opinions").inner_text()  # the note is shown
        for k in range(page.locator(".rp-keys button").count()):
            _on_screen(page, f".rp-keys button >> nth={k}", size)
        _on_screen(page, ".rp-caption", size)
