"""Real browser: the grid view (V). A grid decision lands exactly on the tiles painted (the
marked ones come back one by one in the single view); Enter pressed before the page was on
screen long enough records nothing; a held Enter counts once. `curate labels` shows `via`."""
from __future__ import annotations

import pytest

from tests.browser import harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LOOK_MS_PER_TILE = 100


def _labels(workspace):
    from curate.export.labels import labels_frame
    from curate.workspace import Workspace
    engine = Workspace.resolve(workspace).open()
    df = labels_frame(engine)
    engine.dispose()
    return df[df["kind"] == "decision"]


def _open_grid(page) -> list[dict]:
    """V, then wait until the page is painted; returns the tiles painted (in tile order)."""
    before = page.evaluate("window.__rostro.gridPaints.length")
    page.keyboard.press("v")
    page.wait_for_function("(n) => window.__rostro.gridPaints.length > n", arg=before, polling=20)
    page.wait_for_timeout(50)
    return page.evaluate("(n) => window.__rostro.gridPaints.slice(n)", before)


def _wait_looked(page, tiles: list[dict]) -> None:
    page.wait_for_function(
        "([at, ms]) => performance.timeOrigin + performance.now() - at >= ms",
        arg=[tiles[0]["at"], LOOK_MS_PER_TILE * len(tiles) + 30], polling=20)


def test_a_grid_decision_lands_on_the_tiles_painted(demo):
    with harness.serve(demo) as url, harness.open_browser() as page:
        try:
            harness.login(page, url, "ana", "ana")
            harness.wait_until_looked(page, 0)
            tiles = _open_grid(page)
            assert len(tiles) == 16
            assert page.locator(".rp-grid .tile").count() == 16
            page.keyboard.press("w")  # tile 6: not accepted
            page.locator(".rp-grid .tile >> nth=13").click()  # tile 14, by a click
            assert page.locator(".rp-grid .tile.marked").count() == 2
            _wait_looked(page, tiles)
            page.keyboard.press("Enter")
            marked = sorted([tiles[5]["position"], tiles[13]["position"]])
            harness.wait_for_position(page, marked[0])  # the first marked one, single view
            harness.wait_until_looked(page, marked[0])
            page.keyboard.press("1")  # decided with its rule
            harness.wait_until_looked(page, marked[1])  # then the next marked one
            page.keyboard.press("3")
            harness.wait_confirmed(page)
        except Exception as e:  # what the panel showed, to tell why
            raise AssertionError(harness.explain(page)) from e
    df = _labels(demo)
    grid = df[df["via"] == "grid"]
    painted = {t["name"]: t for t in tiles}
    expected = {n for n, t in painted.items() if t["position"] not in marked}
    assert set(grid["source"] + "/" + grid["relpath"]) == expected and len(grid) == 14
    assert set(grid["verdict"]) == {"accept"} and all(len(t) == 0 for t in grid["tags"])
    assert (grid["seconds"] >= LOOK_MS_PER_TILE / 1000).all()
    single = df[df["via"] == "single"]
    assert list(single["verdict"]) == ["reject", "reject"]
    assert list(single["rule"]) == ["too_young", "looks_young"]
    assert set(single["source"] + "/" + single["relpath"]) == {
        n for n, t in painted.items() if t["position"] in marked}
    assert df["press_id"].notna().all() and df["press_id"].is_unique


def test_enter_too_soon_records_nothing_and_a_held_enter_counts_once(demo):
    with harness.serve(demo) as url, harness.open_browser() as page:
        try:
            harness.login(page, url, "ana", "ana")
            harness.wait_until_looked(page, 0)
            tiles = _open_grid(page)
            page.keyboard.press("Enter")  # well under 16 × 100 ms
            assert "Too quick" in page.locator(".rp-hint").inner_text()
            assert page.locator(".rp-grid .tile").count() == 16  # still the same page
            page.wait_for_timeout(300)
            assert page.evaluate("window.__rostro.presses.length") == 0
            _wait_looked(page, tiles)
            page.keyboard.down("Enter")  # held: the browser repeats it
            for _ in range(10):
                page.wait_for_timeout(35)
                page.keyboard.down("Enter")
            page.keyboard.up("Enter")
            harness.wait_confirmed(page)
            page.wait_for_timeout(500)
            assert page.evaluate("window.__rostro.presses.length") == 16
        except Exception as e:  # what the panel showed, to tell why
            raise AssertionError(harness.explain(page)) from e
    df = _labels(demo)
    assert len(df) == 16 and set(df["via"]) == {"grid"} and df["image_id"].is_unique
    assert set(df["source"] + "/" + df["relpath"]) == {t["name"] for t in tiles}
