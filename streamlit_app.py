"""The labeling app's entry point: login and navigation only; pages live in curate/app/.

Run it with `python -m curate serve` (binds 127.0.0.1) or `make run` (demo workspace).
`streamlit run streamlit_app.py` finds the `st.App` below and serves the script through it,
with the two routes that set and clear the HttpOnly login cookie
(curate/app/session_cookie.py); Streamlit runs the script itself as `__main__`.

To add a page: one line in PAGES — (section, script, title, icon, roles). Roles say who sees it:
"annotator", "admin", or both. A page still guards itself (`require_login` / `require_admin`),
since a URL can be typed by hand.

A typed address is honoured: before a log-in every page's address shows the login form (no
"Page not found"), and after it the user is on that page when their role may see it, else on
their first page. Every page run goes through `calm_errors` (tracebacks only for admins, an
error id for everyone else). Nothing is fetched from outside 127.0.0.1: the favicon is a local
file, and the page icons are Streamlit's bundled Material Symbols font. Each page's address
answers with Streamlit's page shell plus the line that tells its frontend where the server is
(curate/app/shell.py), so a typed address costs no extra round trip.
"""
from pathlib import Path

import streamlit as st

from curate.app.common import (ENDED_KEY, ENDED_TEXT, calm_errors, current_user,
                               freeze_long_lived, log_out)
from curate.app.session_cookie import keep
from curate.app.shell import url_path

ANNOTATOR, ADMIN = "annotator", "admin"
EVERYONE = (ANNOTATOR, ADMIN)

PAGES = [
    # section,   script,                      title,        icon,                   roles
    ("Labeling", "curate/app/label.py",      "Label",      ":material/label:",     (ANNOTATOR,)),
    ("Lead",     "curate/app/review.py",     "Review",     ":material/gavel:",     (ADMIN,)),
    ("Lead",     "curate/app/dashboard.py",  "Dashboard",  ":material/monitoring:", (ADMIN,)),
    ("Lead",     "curate/app/admin.py",      "Admin",      ":material/settings:",  (ADMIN,)),
    ("Lead",     "curate/app/export.py",     "Export",     ":material/output:",    (ADMIN,)),
    ("Galleries", "curate/app/gallery_runs.py",     "Runs",           ":material/show_chart:", EVERYONE),
    ("Galleries", "curate/app/gallery_mixing.py",   "Style mixing",   ":material/blender:",    EVERYONE),
    ("Galleries", "curate/app/gallery_sketch.py",   "Sketch to face", ":material/draw:",       EVERYONE),
    ("Galleries", "curate/app/gallery_datasets.py", "Datasets",       ":material/photo_library:", (ADMIN,)),
]


# A local file: a Material icon or an emoji as favicon is fetched from an outside host.
FAVICON = str(Path(__file__).resolve().parent / "curate" / "app" / "assets" / "favicon.png")
LOGIN = "curate/app/login.py"
HOME = "home"


def _pages() -> list[tuple[str, st.Page, tuple]]:
    return [(section, st.Page(script, title=title, icon=icon, url_path=url_path(script)), roles)
            for section, script, title, icon, roles in PAGES]


def _stand_ins(pages, script) -> list:
    """Hidden pages at the given pages' addresses that run `script` instead: a typed address
    is then known (no "Page not found") and stays in the address bar."""
    return [st.Page(script, title=p.title, url_path=p.url_path, visibility="hidden")
            for p in pages]


def main() -> None:
    st.set_page_config(page_title="rostro", page_icon=FAVICON, layout="wide")

    user = current_user()  # also a login restored from the session cookie
    keep(user.token if user else None)
    pages = _pages()
    if user is None:
        if st.session_state.get(ENDED_KEY):  # e.g. deactivated while the Label page was open
            st.warning(ENDED_TEXT)
        login = st.Page(LOGIN, title="Log in", icon=":material/login:", default=True)
        nav = st.navigation([login, *_stand_ins([p for _, p, _ in pages], LOGIN)],
                           position="hidden")
    else:
        sections: dict[str, list] = {}
        for section, page, roles in pages:
            if user.role in roles:
                sections.setdefault(section, []).append(page)
        first = next(p for ps in sections.values() for p in ps)

        def elsewhere() -> None:  # the root address, or one of a page this role may not see
            st.switch_page(first)

        # Every page keeps its own address (Streamlit's default page answers only at "/"),
        # so a typed /label finds the Label page; "/" moves on to the first page.
        home = st.Page(elsewhere, title="Home", url_path=HOME, default=True, visibility="hidden")
        denied = [p for _, p, roles in pages if user.role not in roles]
        sections.setdefault("", []).extend([home, *_stand_ins(denied, elsewhere)])
        with st.sidebar:
            st.caption(f"Logged in as **{user.name}** ({user.role})")
            if st.button("Log out", icon=":material/logout:"):
                log_out()
                st.rerun()
        nav = st.navigation(sections)
    with calm_errors():
        nav.run()
    freeze_long_lived()


if __name__ == "__main__":
    main()
else:  # imported by the server that `streamlit run` starts for this file
    from curate.app import session_cookie, shell
    app = st.App(__file__, routes=session_cookie.routes() + shell.routes(
        [url_path(script) for _, script, *_ in PAGES] + [HOME]))
