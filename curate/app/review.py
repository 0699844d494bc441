"""Review (admin): overlap images the annotators disagree on, settled from the keyboard.

The Label page's decision panel in `review` mode (curate/app/label_panel, review_protocol.py):
the same keys (label_panel/keys.py; no skips), with each annotator's decision, tags and note
beside the image, and a fresh form for every image.
A verdict carries the id of the image on screen and of the decisions shown, and is recorded as
an adjudication (append-only) only while that image is still that disagreement; the panel says
*Recorded* or why not. The rules sit beside it, as on the Label page.

A toggle beside it, off by default and showing their count, lists the rule disagreements
instead (every annotator rejects, on different rules: `curate.review.rule_disagreements`).
"""
import streamlit as st

from curate import review
from curate.app import label_panel
from curate.app.common import db_call, engine, panel_page_style, require_admin
from curate.app.label_panel.keys import REVIEW, caption
from curate.app.label_panel.review_protocol import ReviewMemory, respond

admin = require_admin()
eng = engine()
panel_page_style()
ss = st.session_state
if "review_memory" not in ss:
    ss.review_memory = ReviewMemory()


@st.fragment
def panel(settled_too: bool) -> None:
    label_panel.exchange(lambda msg, previous: respond(eng, admin.id, ss.review_memory, msg,
                                                       settled_too, previous),
                         key=label_panel.REVIEW_KEY)


main, side = st.columns([5, 2], gap="medium")
with side:
    settled_too = st.toggle("Show settled ones too", key="review_settled")
    spanish = st.toggle("Show the Spanish originals", key="review_spanish")
    label_panel.rules_panel(spanish)
    st.caption(caption(REVIEW))
    rule_split = db_call(review.rule_disagreements, eng, include_settled=settled_too)
    rules_only = st.toggle(f"Rule disagreements only (both reject, different rules): "
                           f"{len(rule_split):,}", key="review_rule_split")
with main:
    if rules_only:  # a listing; the keyboard panel settles accept-versus-reject ones
        st.dataframe([{"image": d.name, "decisions": " · ".join(
                           f"{o.annotator}: {o.verdict} {o.rule or ''}".strip() for o in d.opinions),
                       "settled": f"{d.settled} {d.settled_rule or ''} by {d.settled_by}".strip()
                       if d.settled else ""} for d in rule_split],
                     hide_index=True, width="stretch", key="review_rule_table")
        if not rule_split:
            st.caption("No image where every annotator rejects but on different rules.")
    else:
        panel(settled_too)
