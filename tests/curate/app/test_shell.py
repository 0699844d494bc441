"""The page shell that each page's address answers with (curate/app/shell.py): Streamlit's own
index.html, with the line that tells its frontend where the server is first in its head. The
browser side (one health request per page load, a proxy's prefix) is in
tests/browser/test_app_shell.py."""
from __future__ import annotations

import asyncio
from pathlib import Path

from streamlit import file_util

from curate.app import shell

REPO = Path(__file__).resolve().parents[3]


def test_a_page_gets_streamlits_index_with_one_line_before_any_script():
    original = (Path(file_util.get_static_dir()) / "index.html").read_text(encoding="utf-8")
    page = shell.page_html("dashboard")
    line = page[page.index("<head>") + len("<head>"):page.index("</script>") + len("</script>")]
    assert line.startswith("<script>") and '"/dashboard"' in line
    assert page.replace(line, "", 1) == original  # the rest is Streamlit's file, unchanged
    assert page.index(line) < page.index('<script type="module"')  # before Streamlit's module


def test_the_routes_answer_each_page_once_and_nothing_else(monkeypatch):
    from streamlit import config
    # Importing the entry point builds its st.App, which notes the main script in Streamlit's
    # config if none is noted yet: put back what was there afterwards.
    monkeypatch.setattr(config, "_main_script_path", config._main_script_path)
    import streamlit_app
    paths = [shell.url_path(script) for _, script, *_ in streamlit_app.PAGES]
    assert "dashboard" in paths and "gallery_runs" in paths
    served = {r.path for r in streamlit_app.app._user_routes}  # as `streamlit run` serves it
    assert {f"/{p}" for p in paths} | {"/home"} <= served
    routes = shell.routes(paths + [streamlit_app.HOME, "dashboard"])
    assert [r.path for r in routes] == [f"/{p}" for p in paths] + ["/home"]
    # Streamlit's own files, the root and an unknown address stay Streamlit's.
    assert not any(r.path in ("/", "/favicon.png", "/static", "/nope") for r in routes)

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/dashboard", "headers": [],
             "query_string": b"", "root_path": ""}
    asyncio.run(routes[paths.index("dashboard")].handle(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    headers = dict(start["headers"])
    assert start["status"] == 200 and headers[b"cache-control"] == b"no-cache"
    assert headers[b"content-type"].startswith(b"text/html")
    assert body.decode() == shell.page_html("dashboard")
