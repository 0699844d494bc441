"""Each page's address answers with Streamlit's own page shell (its index.html), plus one
inline line that tells Streamlit's frontend where the server is.

Without it, a typed `/dashboard` leaves the frontend unsure whether it is a page of an app
served at `/` or the root of an app served at `/dashboard/`: it asks
`/dashboard/_stcore/health` first, gets a 404, waits and only then asks `/_stcore/health`.
That cost about 100 ms of a fresh browser's first view (issue 20). The frontend reads
`window.__streamlit.BACKEND_BASE_URL` when it is set (the hook Streamlit keeps for hosts that
embed it); the line sets it to the address the browser shows, with the page's own path taken
off, so an app that a proxy serves under a prefix (`/rostro/dashboard`) still finds its server.

`st.App` checks user routes before its own, so these answer the page addresses and everything
else (scripts, styles, `/`, an unknown address) is Streamlit's as before.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

# Run before Streamlit's module script (modules run after the document is parsed). It leaves
# a value the host set alone, and does nothing when the address does not end in the page's path
# (PAGE: the path, as a JSON string).
JS = """(() => {
  const page = PAGE, path = location.pathname.replace(/\\/+$/, "");
  if (window.__streamlit || !path.endsWith(page)) return;
  window.__streamlit = { BACKEND_BASE_URL: location.origin + path.slice(0, -page.length) + "/" };
})();"""


def url_path(script: str) -> str:
    """A page's address (without the slash) for its script: the file's name. streamlit_app.py
    passes it to `st.Page`, so the page and its route cannot disagree."""
    return Path(script).stem


@functools.cache
def _index() -> str:
    from streamlit import file_util
    return (Path(file_util.get_static_dir()) / "index.html").read_text(encoding="utf-8")


@functools.cache
def page_html(path: str) -> str:
    """Streamlit's index.html with the line for the page at `/<path>` first in its head (the
    file unchanged when it has no head)."""
    script = "<script>" + JS.replace("PAGE", json.dumps("/" + path), 1) + "</script>"
    return re.sub(r"<head>", lambda m: m.group(0) + script, _index(), count=1)


def routes(paths) -> list:
    """GET routes at `/<path>` for each page address in `paths`."""
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    def endpoint(path: str):
        async def shell(request):
            # As Streamlit answers its index.html: never kept by a cache.
            return HTMLResponse(page_html(path), headers={"Cache-Control": "no-cache"})
        return shell

    return [Route(f"/{p}", endpoint(p), methods=["GET"]) for p in dict.fromkeys(paths)]
