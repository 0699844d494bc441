"""The labeling app's entry point: login and navigation only; pages live in curate/app/.

Run it with `python -m curate serve` (binds 127.0.0.1) or `make run` (demo workspace).
`streamlit run streamlit_app.py` finds the `st.App` below and serves the script through it,
with the two routes that set and clear the HttpOnly login cookie
(curate/app/session_cookie.py); Streamlit runs the script itself as `__main__`.

To add a page: one line in PAGES — (section, script, title, icon, roles). Roles say who sees it:
"annotator", "admin", or both. A page still guards itself (`require_login` / `require_admin`),
since a URL can be typed by hand.
"""
import streamlit as st

from curate.app.common import ENDED_KEY, ENDED_TEXT, current_user, log_out
from curate.app.session_cookie import keep

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


def main() -> None:
    st.set_page_config(page_title="rostro", page_icon=":material/face:", layout="wide")

    user = current_user()  # also a login restored from the session cookie
    keep(user.token if user else None)
    if user is None:
        if st.session_state.get(ENDED_KEY):  # e.g. deactivated while the Label page was open
            st.warning(ENDED_TEXT)
        nav = st.navigation([st.Page("curate/app/login.py", title="Log in", icon=":material/login:")],
                           position="hidden")
    else:
        sections: dict[str, list] = {}
        for section, script, title, icon, roles in PAGES:
            if user.role in roles:
                sections.setdefault(section, []).append(st.Page(script, title=title, icon=icon))
        with st.sidebar:
            st.caption(f"Logged in as **{user.name}** ({user.role})")
            if st.button("Log out", icon=":material/logout:"):
                log_out()
                st.rerun()
        nav = st.navigation(sections)
    nav.run()


if __name__ == "__main__":
    main()
else:  # imported by the server that `streamlit run` starts for this file
    from curate.app.session_cookie import routes
    app = st.App(__file__, routes=routes())
