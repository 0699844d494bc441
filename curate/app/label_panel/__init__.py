"""The Label page's decision panel: one Streamlit custom component (components v2), inline
HTML/CSS/JS from this folder, no iframe and no build step.

The browser side (`panel.js`, with its drawing in `view.js`) holds the current image and the ones around it, takes the keys
itself and moves on at once; every press goes to the server with the id and queue position of
the image it was pressed on, and stays *pending* in the strip until the server confirms it
(`protocol.py` applies it and answers). `exchange()` is a page fragment's whole run:
`message()` reads the browser's latest message, the page's `respond` answers it, `mount(data)`
draws the panel.

The Review page mounts the same component in `review` mode (data `mode: "review"`, its own key;
review_protocol.py): the same keys for verdicts and tags, over the disagreements. Both pages
show the rules beside it with `rules_panel()`.
"""
from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

from curate.app.common import calm_errors, still_logged_in
from curate.rules import NO_OTHER_FILTER_EN, NO_OTHER_FILTER_ES, RULES, TAGS

HERE = Path(__file__).resolve().parent
NAME = "rostro_label_panel"
KEY = "label_panel"  # the component's key: its state is st.session_state[KEY]
REVIEW_KEY = "review_panel"  # the Review page's instance
# One module in the browser, joined in this order: view.js defines the Panel's drawing and
# view methods, grid.js the grid view's (V), panel.js the Panel itself (state, keys, protocol)
# and the entry point.
JS_FILES = ("view.js", "grid.js", "panel.js")


@functools.cache
def _component():
    # Registered on first use, once per server process (a second registration only logs a
    # warning, and AppTest's fresh runtimes get the definition again at mount time).
    return st.components.v2.component(
        NAME, html=(HERE / "panel.html").read_text(), css=(HERE / "panel.css").read_text(),
        js="\n".join((HERE / name).read_text() for name in JS_FILES))


def _noop() -> None:
    """The state value `msg` must have a callback to be kept; the page reads it itself."""


def message(key: str = KEY) -> dict:
    """The browser's latest message (see protocol.py), or {} before the panel was drawn."""
    try:
        state = st.session_state[key]
    except KeyError:
        return {}
    msg = state.get("msg") if hasattr(state, "get") else None
    return msg if isinstance(msg, dict) else {}


def mount(data: dict, key: str = KEY) -> None:
    """Draw the panel with `data` (protocol.respond); its identity is its key, so new data
    never remounts it and the browser keeps its images and pending presses."""
    _component()(key=key, data=data, on_msg_change=_noop, width="stretch", height="content")


BULKY = ("items", "recent", "full", "grid")  # reply fields not kept for a database outage


def exchange(respond, key: str = KEY) -> None:
    """One exchange of a page's panel fragment (Label, Review): stop when this tab's session
    has ended (a fragment run skips the page's guard), answer the browser's message with
    `respond(message, previous_reply)` (label_protocol / review_protocol), keep that reply less
    its pictures (shown again, with a flash, while the database cannot be read), and draw it."""
    if not still_logged_in():
        st.rerun()
    with calm_errors():  # a fragment run is outside the page run's own calm_errors
        kept = f"{key}_reply"
        data = respond(message(key), st.session_state.get(kept))
        st.session_state[kept] = {k: v for k, v in data.items() if k not in BULKY}
        mount(data, key=key)


def rules_panel(spanish: bool) -> None:
    """The annotation rules and the kept-despite tags, in English (Spanish on hover, or shown
    with `spanish`): beside the image on the Label and Review pages."""
    st.markdown("**Accept when all three hold**")
    for r in RULES:
        st.markdown(f"{r.id}. {r.text_en}", help=r.text_es)
        if spanish:
            st.caption(f"*{r.text_es}*")
    st.markdown("**Kept despite (tags, never a reason to reject)**")
    for t in TAGS:
        st.markdown(f"- {t.text_en}", help=t.text_es)
        if spanish:
            st.caption(f"*{t.text_es}*")
    st.caption(NO_OTHER_FILTER_ES if spanish else NO_OTHER_FILTER_EN)
