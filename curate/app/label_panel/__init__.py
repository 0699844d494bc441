"""The Label page's decision panel: one Streamlit custom component (components v2), inline
HTML/CSS/JS from this folder, no iframe and no build step.

The browser side (`panel.js`) holds the current image and the ones around it, takes the keys
itself and moves on at once; every press goes to the server with the id and queue position of
the image it was pressed on, and stays *pending* in the strip until the server confirms it
(`protocol.py` applies it and answers). `mount(data)` draws the panel and returns the
browser's latest message; `message()` reads that message before the panel is drawn again.
"""
from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
NAME = "rostro_label_panel"
KEY = "label_panel"  # the component's key: its state is st.session_state[KEY]


@functools.cache
def _component():
    # Registered on first use, once per server process (a second registration only logs a
    # warning, and AppTest's fresh runtimes get the definition again at mount time).
    return st.components.v2.component(
        NAME, html=(HERE / "panel.html").read_text(), css=(HERE / "panel.css").read_text(),
        js=(HERE / "panel.js").read_text())


def _noop() -> None:
    """The state value `msg` must have a callback to be kept; the page reads it itself."""


def message() -> dict:
    """The browser's latest message (see protocol.py), or {} before the panel was drawn."""
    try:
        state = st.session_state[KEY]
    except KeyError:
        return {}
    msg = state.get("msg") if hasattr(state, "get") else None
    return msg if isinstance(msg, dict) else {}


def mount(data: dict) -> None:
    """Draw the panel with `data` (protocol.respond); its identity is its key, so new data
    never remounts it and the browser keeps its images and pending presses."""
    _component()(key=KEY, data=data, on_msg_change=_noop, width="stretch", height="content")
