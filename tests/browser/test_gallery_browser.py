"""Real browser: log in as the admin, open each gallery page from the sidebar and check that
its images render (loaded, non-zero size); a screenshot of each page goes to test-artifacts/.

Runs on the gallery workspace of tests/curate/gallery (tiny real StyleGAN and pix2pix runs,
exports), built once per test process.
"""
from __future__ import annotations

import os

import pytest

from tests.browser import harness
from tests.helpers.gallery import build_gallery

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOADED = """([sel, n]) => { const imgs = [...document.querySelectorAll(sel)];
    return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0); }"""
GEN_TIMEOUT_MS = 120_000  # the first mixing grid / rebuild starts a worker, loads its framework
PICTURE = '[data-testid="stImage"] img'  # st.image (harness.IMAGE is the Label panel's image)


@pytest.fixture
def site(tmp_path_factory):
    why = harness.chromium_missing()
    if why:
        pytest.skip(why)
    return build_gallery(tmp_path_factory)


def _open(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).wait_for()


def _images_render(page, n: int, timeout_ms: int = harness.STEP_TIMEOUT_MS) -> int:
    page.wait_for_function(LOADED, arg=[PICTURE, n], timeout=timeout_ms, polling=200)
    return page.locator(PICTURE).count()


def test_each_gallery_page_renders_its_images(site, artifacts_dir):
    photo = next((site.ws.demo_dir / "peruvian_face").glob("*.jpg"))
    os.utime(site.stylegan / "metrics.jsonl")  # the newest run is listed first: make it StyleGAN's
    with harness.serve(site.ws.root) as url, harness.open_browser() as page:
        harness.log_in_as(page, url, "admin", "admin")  # waits for "/" to move on

        _open(page, "Runs")
        assert _images_render(page, 1) >= 1  # the newest grid (and its mixing grid, StyleGAN)
        page.get_by_role("tab", name="Curves").click()  # lazy tab: its charts run now
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
        page.get_by_role("tab", name="Grids").click()
        page.get_by_text("iteration 6 —").wait_for()  # the newest grid first
        page.screenshot(path=artifacts_dir / "gallery_runs.png", full_page=True)
        page.get_by_text("Play through the grids").click()  # the fragment wraps round to 2
        page.get_by_text("iteration 2 —").wait_for()
        page.get_by_text("Play through the grids").click()

        _open(page, "Style mixing")
        assert _images_render(page, 2, GEN_TIMEOUT_MS) == 2  # mixing grid and strip
        page.screenshot(path=artifacts_dir / "gallery_mixing.png", full_page=True)

        _open(page, "Sketch to face")
        page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(photo))
        # Uploaded and rebuilt; at this model's 32 px the sketch would be blank white, so the
        # page says so in words instead of showing it.
        assert _images_render(page, 2, GEN_TIMEOUT_MS) == 2
        page.get_by_text("the sketch effect leaves nothing to see").wait_for()
        page.screenshot(path=artifacts_dir / "gallery_sketch.png", full_page=True)

        _open(page, "Datasets")
        assert _images_render(page, 50) == 50  # 40 CelebA-style + 10 peruvian faces
        page.locator(".st-key-ds_open_0 button").click()  # the first thumbnail's button
        page.get_by_text("Verdict:").wait_for()
        _images_render(page, 51)
        page.screenshot(path=artifacts_dir / "gallery_datasets.png", full_page=True)
