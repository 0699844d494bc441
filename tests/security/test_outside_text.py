"""Issue 19, point 5: text from files is shown as text. Markdown and HTML fed through the
pages' error paths (a manifest entry on the Export and Datasets pages; a checkpoint's global on
Style mixing is in test_run_folders.py) render no link, no image and nothing fetched from
another host."""
from __future__ import annotations

import csv
import html

import pytest
from markdown_it import MarkdownIt

from tests.helpers.app import as_user, page, two_accepted
from tests.helpers.curate import unescaped

HOSTILE = ("[win a prize](https://evil.example/x) ![p](https://evil.example/p.png) "
           "<img src=https://evil.example/i.png> www.evil.example :red[alert] **bold** `code` $x$")


def _safe(markdown: str) -> None:
    rendered = MarkdownIt("commonmark").render(markdown)
    assert "<a " not in rendered and "<img" not in rendered, rendered
    assert "https://" not in markdown and "www.evil" not in markdown  # no autolink either


def test_plain_shows_markdown_and_html_exactly_as_typed():
    from curate.app.text import plain

    for text in (HOSTILE, "a\\b", "line one\nline two", "ünïcode — ok", ""):
        escaped = plain(text)
        if "evil" in text:
            _safe(escaped)
        rendered = MarkdownIt("commonmark").render(escaped)
        shown = html.unescape(rendered.replace("<p>", "").replace("</p>", "")).strip()
        assert shown.replace("\u2060", "") == text.strip(), (text, rendered)  # joiners: invisible


def _crafted_export(folder):
    folder.mkdir(parents=True)
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "source", "relpath", "image_id", "content_hash", "provenance"])
        w.writerow([HOSTILE.replace("/", "_") + ".jpg", "x", "x.jpg", "", "", ""])
    return folder


def test_a_manifest_entry_with_markdown_is_text_on_the_export_page(sqlite_engine, sqlite_url,
                                                                    tmp_path, monkeypatch):
    # A manifest entry became a live link and an outside image on the Export page.
    monkeypatch.setenv("ROSTRO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("ROSTRO_DATABASE_URL", sqlite_url)
    crafted = _crafted_export(tmp_path / "crafted")
    at = page("curate/app/export.py", as_user(two_accepted(sqlite_engine, tmp_path), "admin"))
    at.run()
    at.radio(key="export_kind").set_value("sketch pairs").run()
    at.text_input(key="x_sketch_pairs_source").set_value(str(crafted))
    at.button[0].click().run()
    assert not at.exception
    if not at.error:  # refused when the job ran (exports are jobs): its result, as a table cell
        import time

        from curate import jobs
        deadline = time.monotonic() + 120
        while any(v.state == jobs.RUNNING for v in jobs.jobs(sqlite_engine)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        at.run()
        result = next(d.value for d in at.dataframe if "result" in d.value.columns)
        message = str(result["result"][0])
        assert "win a prize" in message
        shown = [*at.markdown, *at.caption, *at.error, *at.warning, *at.info, *at.success]
        assert not any("win a prize" in unescaped(str(e.value)) for e in shown)  # never Markdown
        return
    message = at.error[0].value
    assert "win a prize" in unescaped(message)
    _safe(message)


@pytest.mark.browser
@pytest.mark.slow
def test_in_a_real_browser_a_hostile_global_shows_no_link_no_image_and_asks_no_other_host(tmp_path):
    # The outside-host test of tests/browser/test_app_shell.py, fed a checkpoint whose refused
    # global is Markdown and HTML, on Style mixing as an annotator.
    from tests.browser import harness
    from tests.helpers.gallery import checkpoint_asking_for
    from trainers import runs

    ws = harness.demo_workspace(tmp_path)
    run = ws / "runs" / "evil"
    runs.write_config(run, {"trainer": "stylegan", "max_size": 8})
    checkpoint_asking_for(runs.checkpoint_path(run, 10), HOSTILE.replace("\n", " "))
    with harness.serve(ws) as url, harness.open_browser() as browser_page:
        outside = harness.watch_outside(browser_page)
        browser_page.goto(url)
        harness.type_log_in(browser_page, "ana", "ana")
        browser_page.get_by_text("Logged in as").wait_for()
        harness.wait_for_login_cookie(browser_page)
        browser_page.goto(f"{url}/gallery_mixing")
        browser_page.get_by_text("This checkpoint cannot be loaded").wait_for()
        harness.settled(browser_page)
        alert = browser_page.locator('[data-testid="stAlert"]').first
        assert "win a prize" in alert.inner_text()
        links = [a.get_attribute("href") for a in alert.locator("a").all()]
        assert links == [] and alert.locator("img").count() == 0, (links, alert.inner_html())
        assert outside == [], outside
