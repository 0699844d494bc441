"""Label: one image at a time, decided from the keyboard; the rules beside it.

The decision panel is a client-side component (curate/app/label_panel): it takes the keys
itself, shows the next image at once, and sends each press bound to the image it was pressed
on. Each message from it reruns only the `panel` fragment, which applies the presses through
`curate.labeling` (label_protocol.py: the binding to the queue position is checked there) and
redraws the panel with the outcome. The keys are listed once, in label_panel/keys.py.
"""
import streamlit as st

from curate.app import label_panel
from curate.app.common import engine, panel_page_style, require_login
from curate.app.label_panel.keys import LABEL, caption
from curate.app.label_panel.label_protocol import Memory, respond

user = require_login()
eng = engine()
panel_page_style()
ss = st.session_state
if "label_memory" not in ss:
    ss.label_memory = Memory()  # a plain object: updating it never yields to a new rerun


@st.fragment
def panel() -> None:
    # Each message from the browser reruns only this; a log-out elsewhere or a deactivation
    # stops the tab at its next message.
    label_panel.exchange(lambda msg, previous: respond(eng, user.id, ss.label_memory, msg, previous))


main, side = st.columns([5, 2], gap="medium")
with main:
    panel()
with side:
    spanish = st.toggle("Show the Spanish originals", key="label_spanish")
    label_panel.rules_panel(spanish)
    st.caption(caption(LABEL))
