"""Label: one image at a time, decided from the keyboard; the rules beside it.

The decision panel is a client-side component (curate/app/label_panel): it takes the keys
itself, shows the next image at once, and sends each press bound to the image it was pressed
on. Each message from it reruns only the `panel` fragment, which applies the presses through
`curate.labeling` (label_protocol.py: the binding to the queue position is checked there) and
redraws the panel with the outcome. The keys are listed once, in label_panel/keys.py.
"""
import streamlit as st

from curate.app import label_panel
from curate.app.common import calm_errors, engine, panel_page_style, require_login, still_logged_in
from curate.app.label_panel.keys import LABEL, caption
from curate.app.label_panel.label_protocol import Memory, respond

user = require_login()
eng = engine()
panel_page_style()
ss = st.session_state
if "label_memory" not in ss:
    ss.label_memory = Memory()
    ss.label_data = None


@st.fragment
def panel() -> None:
    # A fragment run skips the page's guard: check the session here too, so a log-out
    # elsewhere or a deactivation stops this tab at its next key press.
    if not still_logged_in():
        st.rerun()
    with calm_errors():  # a fragment run is outside the page run's own calm_errors
        memory = ss.label_memory  # a plain object: updating it never yields to a new rerun
        data = respond(eng, user.id, memory, label_panel.message(), ss.label_data)
        ss.label_data = {k: v for k, v in data.items()
                         if k not in ("items", "recent", "full", "grid")}
        label_panel.mount(data)


main, side = st.columns([5, 2], gap="medium")
with main:
    panel()
with side:
    spanish = st.toggle("Show the Spanish originals", key="label_spanish")
    label_panel.rules_panel(spanish)
    st.caption(caption(LABEL))
